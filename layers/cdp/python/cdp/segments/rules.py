"""Segment rules: marketer-readable SQL conditions over profile, feature and score columns."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from cdp import sql
from cdp.config import SegmentSpec
from cdp.tables import TABLES


class SegmentRuleError(ValueError):
    pass


def _connection(profiles: pa.Table, features: pa.Table, scores: pa.Table, declared: pa.Table | None = None,
                names: Sequence[str] = ()) -> duckdb.DuckDBPyConnection:
    """``profile_view``: a profile's fields, its features, its scores and the declared features (``names``, from
    ``feature_values``) as columns."""
    con = sql.connect()
    con.register("profiles", profiles)
    con.register("features", features)
    con.register("scores", scores)
    con.register("feature_values", declared if declared is not None else TABLES["feature_values"].schema.empty_table())
    pivot = ", ".join(f"max(value) FILTER (WHERE feature = {sql.literal(name)}) AS {name}" for name in names)
    con.execute(f"""
        CREATE VIEW profile_view AS
        WITH declared AS (SELECT profile_id{', ' + pivot if pivot else ''} FROM feature_values GROUP BY profile_id)
        SELECT p.*, f.* EXCLUDE (profile_id, run_id),
               s.* EXCLUDE (profile_id, run_id, as_of, scored_at, model_version),
               d.* EXCLUDE (profile_id)
        FROM profiles p LEFT JOIN features f USING (profile_id) LEFT JOIN scores s USING (profile_id)
        LEFT JOIN declared d USING (profile_id)
    """)
    return con


def check_rules(segments: Sequence[SegmentSpec], declared: Sequence[str] = ()) -> list[str]:
    """Bind every rule against the empty profile view (with the ``declared`` feature names): unknown columns and
    bad SQL show up before a run."""
    con = _connection(*(TABLES[name].schema.empty_table() for name in ("profiles", "features", "scores")),
                      names=declared)
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
             scores: pa.Table | None = None, declared: pa.Table | None = None,
             names: Sequence[str] = ()) -> dict[str, set[str]]:
    con = _connection(profiles, features, scores if scores is not None else TABLES["scores"].schema.empty_table(),
                      declared, names)
    members: dict[str, set[str]] = {}
    for segment in segments:
        try:
            rows = con.execute(f"SELECT profile_id FROM profile_view WHERE ({segment.rule})").fetchall()
        except duckdb.Error as exc:
            raise SegmentRuleError(f"segment {segment.id!r}: {exc}") from exc
        members[segment.id] = {row[0] for row in rows}
    return members


def described(segments: Sequence[SegmentSpec]) -> list[dict[str, str]]:
    """The configured rule segments as ``value_potential`` lists them."""
    return [{"segment_id": segment.id, "name": segment.name, "kind": "rule",
             "explanation": f"{segment.description} ({segment.rule})".strip()} for segment in segments]


def value_potential(segments: Sequence[dict[str, str]], members: dict[str, set[str]], profiles: pa.Table,
                    scores: pa.Table) -> pa.Table:
    """One row per segment (``segment_id``, ``name``, ``kind``, ``explanation``): its size and share of all
    profiles, the value its members are expected to bring over the scoring horizon (average and total) and their
    average churn probability, so that budgets can be weighed."""
    con = sql.connect()
    con.register("scores", scores)
    rows = []
    for segment in segments:
        ids = pa.table({"profile_id": pa.array(sorted(members.get(segment["segment_id"], set())), pa.string())})
        con.register("members", ids)
        average, total, churn = con.execute(
            "SELECT avg(s.predicted_value), sum(s.predicted_value), avg(s.churn_probability) "
            "FROM members m LEFT JOIN scores s USING (profile_id)").fetchall()[0]
        rows.append({**segment, "size": ids.num_rows, "share": ids.num_rows / max(profiles.num_rows, 1),
                     "avg_predicted_value": None if average is None else round(average, 2),
                     "total_predicted_value": None if total is None else round(total, 2),
                     "avg_churn_probability": None if churn is None else round(churn, 4)})
    return pa.Table.from_pylist(rows, schema=pa.schema([f for f in TABLES["segments"].schema
                                                        if f.name not in ("as_of", "run_id")]))
