"""Segment rules: marketer-readable SQL conditions over profile, feature and score columns."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from cdp import sql
from cdp.config import SegmentSpec
from cdp.tables import TABLES

PROFILE_VIEW = """
    CREATE VIEW profile_view AS
    SELECT p.*, f.* EXCLUDE (profile_id, run_id),
           s.* EXCLUDE (profile_id, run_id, as_of, scored_at, model_version)
    FROM profiles p LEFT JOIN features f USING (profile_id) LEFT JOIN scores s USING (profile_id)
"""


class SegmentRuleError(ValueError):
    pass


def _connection(profiles: pa.Table, features: pa.Table, scores: pa.Table) -> duckdb.DuckDBPyConnection:
    con = sql.connect()
    con.register("profiles", profiles)
    con.register("features", features)
    con.register("scores", scores)
    con.execute(PROFILE_VIEW)
    return con


def check_rules(segments: Sequence[SegmentSpec]) -> list[str]:
    """Bind every rule against the empty profile view: unknown columns and bad SQL show up before a run."""
    con = _connection(*(TABLES[name].schema.empty_table() for name in ("profiles", "features", "scores")))
    columns = [row[0] for row in con.execute("DESCRIBE profile_view").fetchall()]
    problems = []
    for segment in segments:
        try:
            con.execute(f"SELECT count(*) FROM profile_view WHERE ({segment.rule})").fetchall()
        except duckdb.Error as exc:
            problems.append(
                f"segment {segment.id!r}: rule {segment.rule!r} is not a valid condition: "
                f"{str(exc).splitlines()[0]}. Columns you can use: {', '.join(columns)}"
            )
    return problems


def evaluate(segments: Sequence[SegmentSpec], profiles: pa.Table, features: pa.Table,
             scores: pa.Table | None = None) -> dict[str, set[str]]:
    con = _connection(profiles, features, scores if scores is not None else TABLES["scores"].schema.empty_table())
    members: dict[str, set[str]] = {}
    for segment in segments:
        try:
            rows = con.execute(f"SELECT profile_id FROM profile_view WHERE ({segment.rule})").fetchall()
        except duckdb.Error as exc:
            raise SegmentRuleError(f"segment {segment.id!r}: {exc}") from exc
        members[segment.id] = {row[0] for row in rows}
    return members
