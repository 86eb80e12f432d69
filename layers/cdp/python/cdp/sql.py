"""DuckDB connections for the stages, all in UTC: a day is cut the same way on a laptop and in Lambda."""

from __future__ import annotations

import duckdb


def connect(**config: object) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config=config) if config else duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error:
        pass  # without the ICU extension DuckDB reads and writes TIMESTAMPTZ in UTC already
    return con


def literal(text: str) -> str:
    """A string literal, quotes doubled: for DuckDB SQL and for the tables' row filters, which quote alike."""
    return "'" + text.replace("'", "''") + "'"
