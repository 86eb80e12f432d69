"""Segments: marketer-readable SQL rules over profile, feature and score columns; entries and exits per run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from cdp.config import SegmentSpec
from cdp.schemas import TABLES

PROFILE_VIEW = """
    CREATE VIEW profile_view AS
    SELECT p.*, f.* EXCLUDE (profile_id, run_id)
    FROM profiles p LEFT JOIN features f USING (profile_id)
"""


class SegmentRuleError(ValueError):
    pass


def _connection(profiles: pa.Table, features: pa.Table) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("profiles", profiles)
    con.register("features", features)
    con.execute(PROFILE_VIEW)
    return con


def check_rules(segments: Sequence[SegmentSpec]) -> list[str]:
    """Bind every rule against the empty profile view: unknown columns and bad SQL show up before a run."""
    con = _connection(TABLES["profiles"].schema.empty_table(), TABLES["features"].schema.empty_table())
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


def evaluate(segments: Sequence[SegmentSpec], profiles: pa.Table, features: pa.Table) -> dict[str, set[str]]:
    con = _connection(profiles, features)
    members: dict[str, set[str]] = {}
    for segment in segments:
        try:
            rows = con.execute(f"SELECT profile_id FROM profile_view WHERE ({segment.rule})").fetchall()
        except duckdb.Error as exc:
            raise SegmentRuleError(f"segment {segment.id!r}: {exc}") from exc
        members[segment.id] = {row[0] for row in rows}
    return members


def current_members(history: pa.Table) -> dict[str, set[str]]:
    """Members per segment from the change log: those whose last change is 'entered'."""
    con = duckdb.connect()
    con.register("history", history)
    rows = con.execute(
        """SELECT segment_id, profile_id FROM history
           QUALIFY row_number() OVER (PARTITION BY segment_id, profile_id ORDER BY changed_at DESC, change) = 1
           AND change = 'entered'"""
    ).fetchall()
    members: dict[str, set[str]] = {}
    for segment_id, profile_id in rows:
        members.setdefault(segment_id, set()).add(profile_id)
    return members


def changes(
    before: dict[str, set[str]], after: dict[str, set[str]], run_id: str, now: datetime
) -> pa.Table:
    rows = []
    for segment_id in sorted(set(before) | set(after)):
        old, new = before.get(segment_id, set()), after.get(segment_id, set())
        rows += [{"segment_id": segment_id, "profile_id": p, "change": "entered", "run_id": run_id, "changed_at": now}
                 for p in sorted(new - old)]
        rows += [{"segment_id": segment_id, "profile_id": p, "change": "exited", "run_id": run_id, "changed_at": now}
                 for p in sorted(old - new)]
    return pa.Table.from_pylist(rows, schema=TABLES["segment_memberships"].schema)
