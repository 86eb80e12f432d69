"""A landed file without some of its rows: what erasure leaves of a file that held a person's rows.

Rows are numbered as ingestion numbers them (``cdp.ingest.formats``): from 1, a CSV's header excluded, a JSON
Lines file's blank lines counted, a Parquet file's rows in order. The kept rows keep their bytes as they were.
"""

from __future__ import annotations

import csv
import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq

GZIP_MAGIC = b"\x1f\x8b"


def without_rows(content: bytes, file_format: str, rows: set[int], delimiter: str | None = None) -> tuple[bytes, int]:
    """``content`` without the rows numbered ``rows``, compressed as it was, and how many rows went."""
    if content[:2] == GZIP_MAGIC:
        inner, removed = without_rows(gzip.decompress(content), file_format, rows, delimiter)
        return (gzip.compress(inner, mtime=0) if removed else content), removed
    if file_format == "parquet":
        table = pq.read_table(io.BytesIO(content))
        keep = [number not in rows for number in range(1, table.num_rows + 1)]
        removed = keep.count(False)
        if not removed:
            return content, 0
        sink = io.BytesIO()
        pq.write_table(table.filter(pa.array(keep, pa.bool_())), sink)
        return sink.getvalue(), removed
    # Text, byte for byte: undecodable bytes travel through as surrogates and come back unchanged.
    lines = content.decode("utf-8", errors="surrogateescape").splitlines(keepends=True)
    if file_format == "csv":
        kept, removed = _csv_without(lines, rows, delimiter)
    else:
        kept = [line for number, line in enumerate(lines, start=1) if number not in rows]
        removed = len(lines) - len(kept)
    return "".join(kept).encode("utf-8", errors="surrogateescape"), removed


def _csv_without(lines: list[str], rows: set[int], delimiter: str | None) -> tuple[list[str], int]:
    if not lines:
        return lines, 0
    if delimiter is None:
        counts = {d: lines[0].count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=counts.get)
    kept, removed = [lines[0]], 0
    # A record may span lines (a quoted value with a line break): the reader tells where each one ends.
    reader = csv.reader(iter(lines[1:]), delimiter=delimiter)
    start, number = 0, 0
    for values in reader:
        span = lines[1 + start: 1 + reader.line_num]
        start = reader.line_num
        number += 1 if values else 0  # blank lines are no rows, as ingestion reads them
        if values and number in rows:
            removed += 1
        else:
            kept.extend(span)
    kept.extend(lines[1 + start:])
    return kept, removed
