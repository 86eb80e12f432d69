"""Column normalisers, one module per kind of value: each takes a column of text and returns the normalised
values with a mask of invalid entries (``Normalised``)."""

from cdp.ingest.normalisers.common import (
    NULL_TOKENS,
    Normalised,
    as_text,
    per_distinct,
    sql_over,
    strip_nulls,
    text,
)
from cdp.ingest.normalisers.dates import date, timestamp
from cdp.ingest.normalisers.emails import EMAIL_PATTERN, email
from cdp.ingest.normalisers.names import NAME_PARTICLES, name, reference_name_case
from cdp.ingest.normalisers.phones import phone
from cdp.ingest.normalisers.values import FALSE_TOKENS, TRUE_TOKENS, boolean, country, number

__all__ = [
    "EMAIL_PATTERN", "FALSE_TOKENS", "NAME_PARTICLES", "NULL_TOKENS", "TRUE_TOKENS", "Normalised", "as_text",
    "boolean", "country", "date", "email", "name", "number", "per_distinct", "phone", "reference_name_case",
    "sql_over", "strip_nulls", "text", "timestamp",
]
