"""What every column normaliser shares: the result type, null tokens, byte-level tests on string arrays, and
running a function once per distinct value or a DuckDB query over a batch.

Normalisers run on whole Arrow arrays with Arrow's compute kernels (RE2 regular expressions, Unicode case and
normalisation) and DuckDB's date parsing, so no Python code runs per row. Where a library must look at a value
(phone numbers outside the default region, country names) it looks at each *distinct* value once.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cdp import sql

NULL_TOKENS = frozenset({"", "null", "n/a", "na", "none", "nan", "nil", "-", "--", "?", "#n/a", "undefined", "(null)"})

SPACE = r"[\s\x{00a0}\x{202f}]"
STRING_NULL = pa.scalar(None, pa.string())


@dataclass(frozen=True)
class Normalised:
    values: pa.Array
    invalid: pa.Array  # boolean, never null: True where a non-null input could not be read as the expected type
    rule: str


def flag(mask: pa.Array) -> pa.Array:
    return pc.fill_null(mask, False)


def invalid_where(raw: pa.Array, values: pa.Array) -> pa.Array:
    """Present in the input, missing after normalisation."""
    return pc.and_(pc.is_valid(raw), pc.is_null(values))


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous string array, whatever Arrow gave (chunks, large strings)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values if values.type == pa.string() else values.cast(pa.string())


def value_offsets(text: pa.Array) -> np.ndarray:
    """Where each value of a string array starts and ends in its data buffer (len + 1 entries), without copying."""
    if not len(text) or text.buffers()[1] is None:
        return np.zeros(1, dtype=np.int32)
    return np.frombuffer(text.buffers()[1], dtype=np.int32, count=len(text) + 1, offset=4 * text.offset)


def value_bytes(text: pa.Array) -> np.ndarray:
    """The UTF-8 bytes of a string array's values, without copying."""
    offsets = value_offsets(text)
    data = text.buffers()[2]
    if data is None or offsets[-1] == offsets[0]:
        return np.zeros(0, dtype=np.uint8)
    return np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]]


def has_non_ascii(text: pa.Array) -> bool:
    data = value_bytes(text)
    return bool(len(data)) and int(data.max()) >= 0x80


# First and last bytes of a value that may be (part of) white space: ASCII spaces and controls, the lead bytes
# of no-break (C2 A0), Ogham, and the general-punctuation and ideographic spaces (E1, E2, E3), and any
# continuation byte at the end.
_MAY_OPEN_SPACE = np.zeros(256, dtype=bool)
_MAY_OPEN_SPACE[[9, 10, 11, 12, 13, 0x20, 0xC2, 0xE1, 0xE2, 0xE3]] = True
_MAY_CLOSE_SPACE = np.zeros(256, dtype=bool)
_MAY_CLOSE_SPACE[[9, 10, 11, 12, 13, 0x20]] = True
_MAY_CLOSE_SPACE[0x80:0xC0] = True


def _may_have_outer_spaces(text: pa.Array) -> bool:
    """Whether some value may start or end with white space, from its first and last bytes only."""
    offsets = value_offsets(text)
    starts, ends = offsets[:-1], offsets[1:]
    present = ends > starts
    if not present.any():
        return False
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    return bool(_MAY_OPEN_SPACE[data[starts[present]]].any() or _MAY_CLOSE_SPACE[data[ends[present] - 1]].any())


def strip_nulls(raw: pa.Array) -> pa.Array:
    """Trim text and read null-like tokens as missing."""
    text = as_text(raw)
    data = value_bytes(text)
    if len(data) and data.min() == 0:  # a NUL byte somewhere: a column-wide test, far cheaper than a search
        text = pc.replace_substring(text, "\x00", "")
    if _may_have_outer_spaces(text):
        text = pc.utf8_trim_whitespace(text)
    # Every upper/lower-case spelling of the tokens is in the set: no need to lower-case the whole column.
    return pc.if_else(pc.is_in(text, value_set=_null_token_spellings()), STRING_NULL, text)


@cache
def _null_token_spellings() -> pa.Array:
    spellings: set[str] = set()
    for token in NULL_TOKENS:
        spellings |= {"".join(chars) for chars in itertools.product(*({c.lower(), c.upper()} for c in token))}
    return pa.array(sorted(spellings), pa.string())


@cache
def value_set(tokens: frozenset[str]) -> pa.Array:
    return pa.array(sorted(tokens), pa.string())


def per_distinct(values: pa.Array, function: Callable[[str], object], type: pa.DataType = pa.string()) -> pa.Array:
    """Apply a Python function once per distinct non-null value, and spread the results back over the rows."""
    if values.null_count == len(values):
        return pa.nulls(len(values), type)
    encoded = pc.dictionary_encode(values)
    mapped = pa.array([function(value) for value in encoded.dictionary.to_pylist()], type=type)
    return mapped.take(encoded.indices)


def collapse_spaces(text: pa.Array) -> pa.Array:
    data = value_bytes(text)
    if len(data) < 2:
        return text
    # Two spaces in a row, a tab or line break, or a no-break space (C2 A0) or narrow one (E2 80 AF).
    pairs = ((data[:-1] == 0x20) & (data[1:] == 0x20)) | ((data[:-1] == 0xC2) & (data[1:] == 0xA0)) \
        | ((data[:-1] == 0x80) & (data[1:] == 0xAF))
    if pairs.any() or np.isin(data, np.array([9, 10, 11, 12, 13], dtype=np.uint8)).any():
        return pc.replace_substring_regex(text, SPACE + "+", " ")
    return text  # a single space between words already (the usual case)


_duckdb = threading.local()


def duckdb_connection() -> duckdb.DuckDBPyConnection:
    """One DuckDB connection per thread (connections are not shared across threads), in UTC."""
    con = getattr(_duckdb, "con", None)
    if con is None:
        con = sql.connect(threads=1)
        _duckdb.con = con
    return con


def sql_over(columns: dict[str, pa.Array], query: str) -> pa.Table:
    """Run a DuckDB query over arrays given as the table ``batch``."""
    batch = pa.table(columns)
    con = duckdb_connection()
    con.register("batch", batch)
    try:
        return con.sql(query).to_arrow_table()
    finally:
        con.unregister("batch")


def text(raw: pa.Array) -> Normalised:
    return Normalised(raw, pa.array(np.zeros(len(raw), dtype=bool)), "text")
