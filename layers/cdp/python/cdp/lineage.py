"""The current version of a record or fact: the one rule every stage, report and query uses.

Ingestion appends a new version of a row whenever its content changes; the rows then share a ``record_key``. The
current one is the most recently updated (records carry ``updated_at``; a row without it counts as the oldest),
then the most recently ingested, then the last in its file.
"""

from __future__ import annotations

import pyarrow as pa

from cdp import sql


def version_order(columns: list[str] | tuple[str, ...]) -> str:
    """The SQL ORDER BY, newest first, that picks the current version among rows of one ``record_key``."""
    keys = ["updated_at DESC NULLS LAST"] if "updated_at" in columns else []
    return ", ".join(keys + ["ingested_at DESC", "row_number DESC"])


def current_versions(rows: pa.Table, ordered: bool = True) -> pa.Table:
    """One row per ``record_key``: its current version, in the table's own schema; in ``record_key`` order unless
    ``ordered`` is False (then a table whose keys each have one version comes back as it is, without a copy)."""
    if rows.num_rows == 0:
        return rows
    con = sql.connect()
    con.register("versions", rows.select(["record_key"]))
    # Most keys have one version: only the others go through the window, which costs far more than a grouping.
    repeated = con.sql("SELECT record_key FROM versions GROUP BY record_key HAVING count(*) > 1").to_arrow_table()
    if repeated.num_rows == 0 and not ordered:
        return rows
    con.register("versions", rows)
    con.register("repeated", repeated)
    current = con.sql(f"""
        SELECT * FROM versions ANTI JOIN repeated USING (record_key)
        UNION ALL
        SELECT * FROM (SELECT * FROM versions SEMI JOIN repeated USING (record_key))
        QUALIFY row_number() OVER (PARTITION BY record_key ORDER BY {version_order(rows.schema.names)}) = 1
        {"ORDER BY record_key" if ordered else ""}""").to_arrow_table()
    return current.cast(rows.schema)
