"""Survivorship: merge the records of each person into one golden profile, field by field."""

from __future__ import annotations

import pyarrow as pa

from cdp import sql
from cdp.config import SurvivorshipSpec
from cdp.tables import TABLES

MERGED_FIELDS = [
    name for name in TABLES["profiles"].schema.names
    if name in TABLES["records"].schema.names and name not in ("updated_at",)
]


def _order_key(rule: str, priorities: dict[str, int]) -> str:
    """A sort key where larger wins: most recent first, or most trusted source then most recent."""
    recency = "epoch_us(coalesce(r.updated_at, r.ingested_at))"
    if rule == "source_priority" and priorities:
        cases = " ".join(f"WHEN '{source}' THEN {len(priorities) - rank}" for source, rank in priorities.items())
        return f"(CASE r.source {cases} ELSE 0 END)::BIGINT * 10000000000000000 + {recency}"
    return recency


def merge_profiles(
    records: pa.Table, identities: pa.Table, survivorship: SurvivorshipSpec, run_id: str
) -> pa.Table:
    """One row per profile_id. ``records`` must hold the current version of each record."""
    priorities = {source: rank for rank, source in enumerate(survivorship.source_priority)}
    selections = []
    for field in MERGED_FIELDS:
        rule = survivorship.fields.get(field, survivorship.default)
        selections.append(
            f"arg_max(r.{field}, {_order_key(rule, priorities)}) FILTER (WHERE r.{field} IS NOT NULL) AS {field}"
        )
    query = f"""
        SELECT i.profile_id,
               {', '.join(selections)},
               count(*) AS record_count,
               list_sort(list_distinct(list(r.source))) AS sources,
               min(r.ingested_at) AS first_seen_at,
               max(coalesce(r.updated_at, r.ingested_at)) AS updated_at,
               '{run_id}' AS run_id
        FROM records r JOIN identities i USING (record_key)
        GROUP BY i.profile_id
        ORDER BY i.profile_id
    """
    con = sql.connect()
    con.register("records", records)
    con.register("identities", identities)
    merged = con.sql(query).to_arrow_table()
    schema = TABLES["profiles"].schema
    return merged.select(schema.names).cast(schema)
