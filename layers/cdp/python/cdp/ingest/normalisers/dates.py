"""Dates and date-times: ISO 8601 and the source's own formats, impossible and implausible dates refused."""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as date_type

import pyarrow as pa
import pyarrow.compute as pc

from cdp.ingest.normalisers.common import Normalised, flag, invalid_where, sql_over
from cdp.sql import literal
from cdp.tables import TIMESTAMP


def _parse_with_duckdb(raw: pa.Array, formats: tuple[str, ...], kind: str) -> pa.Array:
    """ISO 8601 first (with or without time and offset), then each format in order; naive times are UTC.

    DuckDB rejects impossible dates (31/02) where Arrow's strptime would roll them over into March.
    """
    parsed = f"try_cast(v AS {kind})"
    if formats:
        parsed = f"coalesce({parsed}, try_strptime(v, [{', '.join(map(literal, formats))}])::{kind})"
    return sql_over({"v": raw}, f"SELECT {parsed} AS t FROM batch")["t"].combine_chunks()


def date(raw: pa.Array, formats: tuple[str, ...], today: datetime | None = None) -> Normalised:
    """Calendar dates; impossible (31/02) and future dates are invalid, and so is anything before 1900."""
    today = today or datetime.now(UTC)
    parsed = _parse_with_duckdb(raw, formats, "DATE").cast(pa.date32())
    plausible = flag(pc.and_(pc.greater_equal(parsed, pa.scalar(date_type(1900, 1, 1), pa.date32())),
                              pc.less_equal(parsed, pa.scalar(today.date(), pa.date32()))))
    values = pc.if_else(plausible, parsed, pa.scalar(None, pa.date32()))
    return Normalised(values, pc.and_(pc.is_valid(raw), pc.invert(plausible)), "date")


def timestamp(raw: pa.Array, formats: tuple[str, ...]) -> Normalised:
    """Date-times; ISO 8601 with an offset is converted to UTC, and times without one are taken as UTC."""
    try:
        # Machine-written columns are usually clean ISO 8601 throughout: Arrow's cast reads them fastest.
        parsed = raw.cast(pa.timestamp("us")).cast(TIMESTAMP)
    except pa.ArrowInvalid:
        try:
            parsed = raw.cast(TIMESTAMP)
        except pa.ArrowInvalid:
            parsed = _parse_with_duckdb(raw, formats, "TIMESTAMPTZ").cast(TIMESTAMP)
    return Normalised(parsed, invalid_where(raw, parsed), "datetime")
