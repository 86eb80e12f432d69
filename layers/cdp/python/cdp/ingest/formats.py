"""Read a landed file as batches of text rows, whatever its format, compression or encoding, in bounded memory.

Values stay text here: typing and normalisation belong to the source contract (``domain.validate``). Rows that
cannot even be split into fields are returned apart, with their raw text, so that nothing is lost.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cdp.ingest.normalisers import per_distinct

CSV_DELIMITERS = ",;\t|"
HEAD_BYTES = 1 << 20
# The CSV reader parses blocks of READ_BYTES (it reads several ahead, so small blocks keep its memory small);
# consecutive blocks are handed on together as batches of about BATCH_BYTES, large enough for fast validation.
READ_BYTES = 2 << 20
BATCH_BYTES = 8 << 20
MAX_READ_BYTES = 256 << 20
JSON_LINES_PER_BATCH = 100_000
PARQUET_ROWS_PER_BATCH = 200_000
PLAN_CHUNK_BYTES = 8 << 20

Content = Path | bytes


class FileRejected(Exception):
    """The whole file is unusable; the message says why and what to do."""


@dataclass
class MalformedRow:
    row_number: int
    raw: str
    problem: str


@dataclass
class RawRows:
    table: pa.Table  # one string column per field found in the file, in file order
    row_numbers: list[int] | np.ndarray  # 1-based number of each row in the file (CSV: header excluded)
    malformed: list[MalformedRow] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str | None = None

    @property
    def rows_in(self) -> int:
        return self.table.num_rows + len(self.malformed)


@dataclass(frozen=True)
class Part:
    """A slice of a file that one worker can read on its own: lines of a text file, cut at line ends, or row
    groups of a Parquet file."""

    index: int
    start: int  # byte offset of the part's first line (Parquet: of its first row group's data)
    end: int  # byte offset just past its last line (Parquet: past its last row group's data)
    first_row: int  # file-wide number of its first row (CSV: header excluded; JSON Lines: the line number)
    row_groups: tuple[int, int] | None = None  # Parquet only: the row groups [first, last + 1) it reads


def plan_parquet_parts(source: str | Path | BinaryIO, part_bytes: int) -> list[Part]:
    """Group a Parquet file's row groups into parts of about ``part_bytes`` of compressed data each.

    A row group is never cut, so a file written as one big row group stays one part. ``source`` may be any
    seekable file object, such as an object read by ranges from S3: only the footer is read.
    """
    metadata = pq.ParquetFile(source).metadata
    parts: list[Part] = []
    first_group, start, end, row, rows = 0, None, 0, 1, 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        columns = [group.column(c) for c in range(group.num_columns)]
        offsets = [c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset for c in columns]
        group_start = min(offsets) if offsets else 0
        start = group_start if start is None else start
        end = max([o + c.total_compressed_size for o, c in zip(offsets, columns, strict=True)] + [end])
        rows += group.num_rows
        if end - start >= part_bytes or index == metadata.num_row_groups - 1:
            parts.append(Part(len(parts), start, end, row, (first_group, index + 1)))
            first_group, start, row, rows = index + 1, None, row + rows, 0
    return parts or [Part(0, 0, 0, 1, (0, 0))]


def plan_parts(path: Path, file_format: str, part_bytes: int) -> list[Part]:
    """Cut a CSV or JSON Lines file into parts of about ``part_bytes`` at line ends, counting rows as it goes.

    Compressed files are one part; Parquet files are cut between row groups. Rows are counted by line: a
    quoted value holding a line break shifts the numbers of the rows after it (the rows themselves stay whole
    only if no part boundary falls inside such a value, which cutting at line ends cannot promise: split only
    exports without them).
    """
    with open(path, "rb") as handle:
        if handle.read(4) == b"PAR1":
            return plan_parquet_parts(path, part_bytes)
        handle.seek(0)
        return plan_parts_of_stream(handle, path.stat().st_size, file_format, part_bytes)


def plan_parts_of_stream(stream: BinaryIO, size: int, file_format: str, part_bytes: int) -> list[Part]:
    """`plan_parts` of a text file in one sequential pass, so that it also runs over an object streamed from S3.

    Parquet needs its footer first: see ``plan_parquet_parts``; here a Parquet file is one part."""
    chunk = stream.read(PLAN_CHUNK_BYTES)
    if chunk[:2] == b"\x1f\x8b" or chunk[:4] == b"PAR1" or size <= part_bytes:
        return [Part(0, 0, size, 1)]
    is_csv = file_format == "csv" and not chunk.lstrip(b"\xef\xbb\xbf").startswith(b"{")
    start = chunk.find(b"\n") + 1 if is_csv else 0
    parts: list[Part] = []
    row, lines = 1, 0  # first row of the current part; rows seen in it so far
    offset, position = 0, start  # offset of the chunk in the file; where counting resumes within the chunk
    while chunk:
        target = parts[-1].end + part_bytes if parts else start + part_bytes
        cut = chunk.find(b"\n", max(position, target - 1 - offset)) if target - 1 < offset + len(chunk) else -1
        if cut == -1:
            lines += chunk.count(b"\n", position)
            offset, position = offset + len(chunk), 0
            chunk = stream.read(PLAN_CHUNK_BYTES)
            continue
        lines += chunk.count(b"\n", position, cut + 1)
        part_start = parts[-1].end if parts else start
        parts.append(Part(len(parts), part_start, offset + cut + 1, row))
        row, lines, position = row + lines, 0, cut + 1
    last_start = parts[-1].end if parts else start
    if last_start < size:
        parts.append(Part(len(parts), last_start, size, row))
    return parts


class _PartStream(io.RawIOBase):
    """The file's header (for CSV) followed by one part's bytes: what a worker parses."""

    def __init__(self, path: Path, prefix: bytes, part: Part):
        self._handle = open(path, "rb")  # noqa: SIM115
        self._handle.seek(part.start)
        self._prefix = prefix
        self._remaining = part.end - part.start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n], self._prefix = self._prefix[:n], self._prefix[n:]
            return n
        n = min(len(buffer), self._remaining)
        data = self._handle.read(n)
        buffer[: len(data)] = data
        self._remaining -= len(data)
        return len(data)

    def close(self) -> None:
        self._handle.close()
        super().close()


@contextmanager
def _open(content: Content, part: Part | None = None, prefix: bytes = b"") -> Iterator[BinaryIO]:
    size = Path(content).stat().st_size if part is not None and part.row_groups is None else 0  # type: ignore[arg-type]
    if part is not None and part.row_groups is None and (part.start > 0 or part.end < size):
        stream = io.BufferedReader(_PartStream(content, prefix, part))  # type: ignore[arg-type]
        try:
            yield stream  # type: ignore[misc]
        finally:
            stream.close()
        return
    with _open_whole(content) as whole:
        yield whole


@contextmanager
def _open_whole(content: Content) -> Iterator[BinaryIO]:
    """The file's bytes as a stream, gunzipped on the fly when the file is gzip."""
    raw: BinaryIO = io.BytesIO(content) if isinstance(content, bytes) else open(content, "rb")  # noqa: SIM115
    try:
        magic = raw.read(2)
        raw.seek(0)
        yield gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw  # type: ignore[misc]
    finally:
        raw.close()


def _head(content: Content) -> bytes:
    with _open(content) as stream:
        try:
            return stream.read(HEAD_BYTES)
        except (EOFError, OSError, zlib.error) as exc:
            raise _truncated(exc) from exc


def without_row_content(error: Exception) -> str:
    """An error's first line without the row text that pyarrow appends to a parse error ("Expected 13 columns, got
    14: <the row>"): a rejection's reason goes to the files table, events and logs, where no personal data may."""
    lines = str(error).splitlines()
    return re.sub(r"(got \d+)\s*:.*$", r"\1", lines[0]) if lines else type(error).__name__


def _truncated(exc: Exception) -> FileRejected:
    return FileRejected(f"the gzip archive is truncated or corrupt ({without_row_content(exc)}); re-export and drop "
                        "it again")


UTF8 = "utf-8"
# Every value read as UTF-8 where it is valid UTF-8, and as cp1252 where it is not: Windows exports from French
# tools are cp1252 (a superset of Latin-1 for printable text), and files glued together from several exports
# mix both, so the choice is made value by value.
MIXED = "utf-8/cp1252"


def _encoding(head: bytes) -> str:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is not evidence against UTF-8.
        if exc.start < len(head) - 3:
            return MIXED
    return UTF8


def decode_text(raw: bytes) -> str:
    """A value's text: UTF-8 where valid, else cp1252 (its five unassigned bytes read as U+FFFD)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _decoded(column: pa.Array) -> pa.Array:
    """A column read as bytes, as text: at native speed when it is all UTF-8, else per distinct value."""
    try:
        return column.cast(pa.string())  # validates UTF-8
    except pa.ArrowInvalid:
        return per_distinct(column, decode_text)


def _check_text(head: bytes) -> None:
    sample = head[:65536]
    control = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 13))
    if control > max(8, len(sample) // 100):
        raise FileRejected(
            "the file is binary, not text: check that the right file was exported (expected "
            "CSV, JSON Lines or Parquet, optionally gzip-compressed)"
        )


def _sniff_delimiter(text: str) -> str:
    lines = text.splitlines()[:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        return max(CSV_DELIMITERS, key=(lines[0] if lines else "").count)


def _csv_batches(
    content: Content, head: bytes, delimiter: str | None, encoding: str, part: Part | None = None,
    read_bytes: int = READ_BYTES,
) -> Iterator[RawRows]:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if not text.strip():
        raise FileRejected("the file is empty: it has no header line")
    delimiter = delimiter or _sniff_delimiter(text)
    header_text = decode_text(head.split(b"\n", 1)[0]).lstrip("\ufeff")
    header = [h.strip().replace("\x00", "") for h in next(csv.reader(io.StringIO(header_text), delimiter=delimiter))]
    skipped: list[MalformedRow] = []
    recovered: list[tuple[int, list[str]]] = []
    first_row = part.first_row if part else 1
    header_line = head.split(b"\n", 1)[0] + b"\n"

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        # Line numbers count the header as line 1, so a data row's number is its line number - 1.
        number = (row.number or 0) - 2 + first_row
        lines = row.text.splitlines()
        if len(lines) > 1 and row.actual_columns < row.expected_columns:
            # An unbalanced quote swallowed the lines after it: only its own line is bad; read the others alone.
            skipped.append(MalformedRow(number, lines[0], "unbalanced quote"))
            for offset, line in enumerate(lines[1:], start=1):
                values = next(csv.reader([line], delimiter=delimiter), [])
                if len(values) == len(header):
                    recovered.append((number + offset, values))
                else:
                    skipped.append(MalformedRow(number + offset, line,
                                                f"expected {len(header)} fields, found {len(values)}"))
        else:
            skipped.append(MalformedRow(number, row.text,
                                        f"expected {row.expected_columns} fields, found {row.actual_columns}"))
        return "skip"

    with _open(content, part, header_line) as stream:
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, use_threads=False,
                                               block_size=read_bytes),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                                 invalid_row_handler=on_invalid_row),
                # Mixed encodings: bytes first, decoded column by column.
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() if encoding == UTF8 else pa.binary() for name in header},
                    strings_can_be_null=False),
            )
            next_number = first_row
            pending: set[int] = set()
            yielded = False
            held: RawRows | None = None  # the last batch is held back until the end of the file is known
            for batch in reader:
                pending |= {m.row_number for m in skipped} | {number for number, _ in recovered}
                table = pa.Table.from_batches([batch])
                if encoding != UTF8:
                    table = pa.table({n: _decoded(c.combine_chunks()) for n, c in zip(header, table.columns,
                                                                                      strict=True)})
                candidates = np.arange(next_number, next_number + table.num_rows + len(pending) + 1)
                numbers = candidates[~np.isin(candidates, list(pending))][: table.num_rows]
                if len(numbers):
                    next_number = int(numbers[-1]) + 1
                    pending = {n for n in pending if n > numbers[-1]}
                if recovered:
                    extra = pa.table([pa.array(column, pa.string()) for column in zip(*(v for _, v in recovered))],
                                     schema=table.schema)
                    table = pa.concat_tables([table, extra])
                    numbers = np.concatenate([numbers, [number for number, _ in recovered]])
                    next_number = max(next_number, max(number for number, _ in recovered) + 1)
                    recovered.clear()
                if held is not None:
                    yield held
                held = RawRows(table, numbers, skipped.copy(), encoding, delimiter)
                skipped.clear()
                yielded = True
            if held is not None:
                yield _unswallowed(held, header, delimiter)
            # The last part may end on a partial line: pyarrow reads it as a row, as it would in the whole file.
            if skipped or not yielded:
                yield RawRows(_empty(header), [], skipped.copy(), encoding, delimiter)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise _truncated(exc) from exc
        except pa.ArrowInvalid as exc:
            if encoding == UTF8 and "UTF8" in str(exc):
                raise NotUtf8 from exc
            if "straddling" in str(exc):
                raise _RowLongerThanBlock from exc
            raise FileRejected(f"the CSV cannot be parsed ({without_row_content(exc)}); check quoting and the "
                               "delimiter") from exc


def _unswallowed(rows: RawRows, header: list[str], delimiter: str) -> RawRows:
    """A quote left open in the last field of a row takes every line after it, to the end of the file, into that
    field, and the field count still matches. When those lines read as rows of the file, the row is set apart as
    an unbalanced quote and the lines are read on their own, as for a quote left open elsewhere."""
    table = rows.table
    if not table.num_rows or not table.num_columns:
        return rows
    last = table.column(table.num_columns - 1)[-1].as_py()
    if not last or "\n" not in last:
        return rows
    first, *lines = last.replace("\r\n", "\n").split("\n")
    number = int(np.asarray(rows.row_numbers)[-1])
    swallowed = [(number + offset, next(csv.reader([line], delimiter=delimiter), []))
                 for offset, line in enumerate(lines, start=1) if line.strip()]
    if not swallowed or any(len(values) != len(header) for _, values in swallowed):
        return rows  # a value written over several lines, not rows
    values = list(table.slice(table.num_rows - 1).to_pylist()[0].values())
    raw = delimiter.join([*(value or "" for value in values[:-1]), '"' + first])
    recovered = pa.table([pa.array(column, pa.string()) for column in zip(*(v for _, v in swallowed))],
                         schema=table.schema)
    return RawRows(
        pa.concat_tables([table.slice(0, table.num_rows - 1), recovered]),
        np.concatenate([np.asarray(rows.row_numbers, dtype=np.int64)[:-1], [n for n, _ in swallowed]]),
        [*rows.malformed, MalformedRow(number, raw, "unbalanced quote")], rows.encoding, rows.delimiter,
    )


class NotUtf8(Exception):
    """Bytes past the sampled head are not UTF-8: the file must be read again, value by value (``MIXED``)."""


def _text_schema(names: list[str]) -> pa.Schema:
    return pa.schema([(name, pa.string()) for name in names])


def _empty(names: list[str]) -> pa.Table:
    return _text_schema(names).empty_table()


def _as_text(column: pa.Array) -> pa.Array:
    """A typed Parquet column as text, for the source contract to read like any other file's."""
    try:
        return column.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([_value_as_text(value) for value in column.to_pylist()], pa.string())


def _value_as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _is_event(item: dict) -> bool:
    return isinstance(item.get("detail"), dict) and "detail-type" in item and "source" in item


def _jsonl_batches(content: Content, encoding: str, part: Part | None = None) -> Iterator[RawRows]:
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    malformed: list[MalformedRow] = []

    def flush() -> RawRows:
        # Lines may differ in their keys: the batch has every key seen, in the order first seen.
        names = list(dict.fromkeys(key for row in rows for key in row))
        table = pa.Table.from_pylist(rows, schema=_text_schema(names)) if rows else pa.table({})
        batch = RawRows(table, numbers.copy(), malformed.copy(), encoding)
        rows.clear(), numbers.clear(), malformed.clear()
        return batch

    with _open(content, part) as stream:
        try:
            # Line by line, each decoded on its own: a cp1252 line among UTF-8 ones keeps its accents.
            for number, raw_line in enumerate(stream, start=part.first_row if part else 1):
                line = decode_text(raw_line).lstrip("\ufeff").rstrip("\r\n")
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    malformed.append(MalformedRow(number, line, f"not valid JSON: {exc.msg} at column {exc.colno}"))
                else:
                    if isinstance(item, dict) and _is_event(item):
                        # An integration event (EventBridge envelope): its detail is the row, so events published
                        # by other systems ingest under the same source contract as files.
                        item = item["detail"]
                    if isinstance(item, dict):
                        rows.append({key: _value_as_text(value) for key, value in item.items()})
                        numbers.append(number)
                    else:
                        malformed.append(MalformedRow(number, line, "expected a JSON object per line"))
                if len(rows) + len(malformed) >= JSON_LINES_PER_BATCH:
                    yield flush()
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise _truncated(exc) from exc
    yield flush()


def _parquet_batches(content: Content, part: Part | None = None) -> Iterator[RawRows]:
    with _open(content) as stream:
        try:
            parquet = pq.ParquetFile(stream)
            groups = range(*part.row_groups) if part and part.row_groups else range(parquet.num_row_groups)
            start = part.first_row if part else 1
            for batch in parquet.iter_batches(batch_size=PARQUET_ROWS_PER_BATCH, row_groups=groups):
                table = pa.table({name: _as_text(column) for name, column in zip(batch.schema.names, batch.columns,
                                                                                  strict=True)})
                yield RawRows(table, np.arange(start, start + table.num_rows))
                start += table.num_rows
            if parquet.metadata.num_rows == 0:
                yield RawRows(_empty(parquet.schema_arrow.names), [])
        except (pa.ArrowInvalid, OSError, EOFError) as exc:
            raise FileRejected(f"not a readable Parquet file ({without_row_content(exc)}); re-export it") from exc


def read_batches(
    content: Content,
    file_format: str,
    delimiter: str | None = None,
    encoding: str | None = None,
    part: Part | None = None,
) -> Iterator[RawRows]:
    """Batches of rows of a file given as a path (streamed) or bytes.

    Parquet is recognised by its magic bytes whatever the declared format (sources such as orders arrive as CSV
    or Parquet); gzip by its own; text is UTF-8 (with or without BOM), or UTF-8 and cp1252 value by value
    (``MIXED``) when the start of the file is not all UTF-8. Raises ``NotUtf8`` when a CSV whose start is
    UTF-8 turns out not to be: read it again with ``encoding=MIXED``.
    """
    head = _head(content)
    if head[:4] == b"PAR1":
        yield from _parquet_batches(content, part)
        return
    _check_text(head)
    encoding = encoding or _encoding(head)
    if file_format == "parquet":
        raise FileRejected("expected a Parquet file, but the file does not start with Parquet's magic bytes")
    # Integration events arrive as JSON Lines whatever the source's file format; a CSV header never opens with {.
    if file_format == "jsonl" or head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        yield from _jsonl_batches(content, encoding, part)
        return
    if file_format != "csv":
        raise FileRejected(f"unsupported format {file_format!r}")
    yield from _csv_rows(content, head, delimiter, encoding, part)


class _RowLongerThanBlock(Exception):
    """A row does not fit in the reader's block."""


def _csv_rows(
    content: Content, head: bytes, delimiter: str | None, encoding: str, part: Part | None
) -> Iterator[RawRows]:
    """CSV batches, read in small blocks; a row longer than a block (a field of megabytes) makes the reader start
    again with blocks sixteen times larger, passing over the rows it has already handed on."""
    read_bytes, last_row, handed = READ_BYTES, 0, False
    while True:
        try:
            for rows in _gathered(_csv_batches(content, head, delimiter, encoding, part, read_bytes), BATCH_BYTES):
                rows = _after(rows, last_row)
                if rows.rows_in or not handed:  # a file of a header alone is still one (empty) batch
                    yield rows
                    handed = True
                    numbers = np.asarray(rows.row_numbers, dtype=np.int64)
                    last_row = max([last_row, int(numbers.max(initial=0)), *(m.row_number for m in rows.malformed)])
            return
        except _RowLongerThanBlock:
            if read_bytes >= MAX_READ_BYTES:
                raise FileRejected(f"a row is longer than {MAX_READ_BYTES >> 20} MB, or a quote opened in it is never "
                                   "closed; check the quoting") from None
            read_bytes *= 16


def _after(rows: RawRows, last_row: int) -> RawRows:
    """The rows numbered after ``last_row``."""
    numbers = np.asarray(rows.row_numbers, dtype=np.int64)
    if not last_row or not len(numbers) or numbers.min() > last_row:
        return RawRows(rows.table, numbers, [m for m in rows.malformed if m.row_number > last_row], rows.encoding,
                       rows.delimiter)
    later = numbers > last_row
    return RawRows(rows.table.filter(pa.array(later)), numbers[later],
                   [m for m in rows.malformed if m.row_number > last_row], rows.encoding, rows.delimiter)


def _gathered(batches: Iterator[RawRows], batch_bytes: int) -> Iterator[RawRows]:
    """Consecutive batches put together until they hold about ``batch_bytes`` of values."""
    pending: list[RawRows] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.table.nbytes
        if size >= batch_bytes:
            yield _joined(pending)
            pending, size = [], 0
    if pending:
        yield _joined(pending)


def _joined(batches: list[RawRows]) -> RawRows:
    """Batches as one; JSON Lines batches may differ in their keys, so missing columns are filled with nulls."""
    if len(batches) == 1:
        return batches[0]
    tables = [b.table for b in batches if b.table.num_columns]
    table = pa.concat_tables(tables, promote_options="default") if tables else pa.table({})
    numbers = np.concatenate([np.asarray(b.row_numbers, dtype=np.int64) for b in batches])
    return RawRows(table, numbers, [m for b in batches for m in b.malformed], batches[0].encoding,
                   batches[0].delimiter)


def read_rows(content: Content, file_format: str, delimiter: str | None = None) -> RawRows:
    """All rows at once: for small files and tests."""
    batches = list(read_batches(content, file_format, delimiter))
    return _joined(batches) if batches else RawRows(pa.table({}), [])
