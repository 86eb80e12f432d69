"""Read a landed file into rows of text, whatever its format, compression or encoding.

Values stay text here: typing and normalisation belong to the source contract (``domain.validate``). Rows that
cannot even be split into fields are returned apart, with their raw text, so that nothing is lost.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CSV_DELIMITERS = ",;\t|"


class FileRejected(Exception):
    """The whole file is unusable; the message says why and what to do."""


@dataclass
class MalformedRow:
    row_number: int
    raw: str
    problem: str


@dataclass
class RawRows:
    frame: pd.DataFrame  # one text column per field found in the file, in file order
    row_numbers: list[int]  # 1-based number of each data row in the file (header excluded)
    malformed: list[MalformedRow] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str | None = None

    @property
    def rows_in(self) -> int:
        return len(self.frame) + len(self.malformed)


def _decompress(data: bytes) -> bytes:
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise FileRejected(f"the gzip archive is truncated or corrupt ({exc}); re-export and drop it again") from exc


def _decode(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        # Windows exports from French tools are cp1252, a superset of Latin-1 for printable text.
        return data.decode("cp1252", errors="replace"), "cp1252"


def _check_text(text: str) -> None:
    sample = text[:65536]
    if not sample.strip():
        return
    control = sum(1 for c in sample if c < " " and c not in "\r\n\t")
    if control > max(8, len(sample) // 100):
        raise FileRejected(
            "the file is binary, not text: check that the right file was exported (expected "
            "CSV, JSON Lines or Parquet, optionally gzip-compressed)"
        )


def _sniff_delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(head, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        first = text.splitlines()[0] if text else ""
        return max(CSV_DELIMITERS, key=first.count)


def read_csv(data: bytes, delimiter: str | None = None) -> RawRows:
    text, encoding = _decode(_decompress(data))
    _check_text(text)
    text = text.replace("\x00", "")
    if not text.strip():
        raise FileRejected("the file is empty: it has no header line")
    delimiter = delimiter or _sniff_delimiter(text)
    header = next(csv.reader(io.StringIO(text.splitlines()[0]), delimiter=delimiter))
    header = [h.strip() for h in header]
    skipped: list[MalformedRow] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        # Line numbers count the header as line 1, so they equal the 1-based data row number + 1.
        number = (row.number or 0) - 1
        skipped.append(MalformedRow(number, row.text, f"expected {row.expected_columns} fields, found {row.actual_columns}"))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, use_threads=False),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid_row
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise FileRejected(f"the CSV cannot be parsed ({exc}); check quoting and the delimiter") from exc
    frame = table.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
    skipped_numbers = {m.row_number for m in skipped}
    row_numbers = [n for n in range(1, len(frame) + len(skipped) + 1) if n not in skipped_numbers][: len(frame)]
    return RawRows(frame, row_numbers, skipped, encoding, delimiter)


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False)


def read_jsonl(data: bytes) -> RawRows:
    text, encoding = _decode(_decompress(data))
    _check_text(text)
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    malformed: list[MalformedRow] = []
    number = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        number += 1
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            malformed.append(MalformedRow(number, line, f"not valid JSON: {exc.msg} at column {exc.colno}"))
            continue
        if not isinstance(item, dict):
            malformed.append(MalformedRow(number, line, "expected a JSON object per line"))
            continue
        rows.append({key: _as_text(value) for key, value in item.items()})
        numbers.append(number)
    frame = pd.DataFrame.from_records(rows).astype("string") if rows else pd.DataFrame()
    return RawRows(frame, numbers, malformed, encoding)


def read_parquet(data: bytes) -> RawRows:
    try:
        table = pq.read_table(io.BytesIO(_decompress(data)))
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileRejected(f"not a readable Parquet file ({exc}); re-export it") from exc
    frame = table.to_pandas().astype("string")
    return RawRows(frame, list(range(1, len(frame) + 1)))


def read_rows(data: bytes, file_format: str, delimiter: str | None = None) -> RawRows:
    """Read by the declared format, except that Parquet is recognised by its magic bytes (sources such as
    orders arrive as CSV or Parquet)."""
    if data[:4] == b"PAR1":
        return read_parquet(data)
    if file_format == "csv":
        return read_csv(data, delimiter)
    if file_format == "jsonl":
        return read_jsonl(data)
    if file_format == "parquet":
        return read_parquet(data)
    raise FileRejected(f"unsupported format {file_format!r}")
