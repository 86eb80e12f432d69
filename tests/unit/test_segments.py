"""Segments: who meets a rule, who entered or left, and who the members are after several runs."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from cdp.config import SegmentSpec
from cdp.report.html import SECTIONS
from cdp.segments.membership import changes, current_members, current_members_sql
from cdp.segments.rules import SegmentRuleError, check_rules, evaluate
from cdp.tables import TABLES

BIG_SPENDERS = SegmentSpec(id="big_spenders", name="Big spenders", rule="revenue >= 100")
LOYAL = SegmentSpec(id="loyal", name="Loyal", rule="orders_count >= 3")


def tables(revenue: dict[str, float], orders: dict[str, int] | None = None) -> tuple[pa.Table, pa.Table]:
    """Profiles and their features: revenue (and orders count) per profile."""
    orders = orders or {}
    profiles = pa.Table.from_pylist([{"profile_id": p, "run_id": "r"} for p in sorted(revenue)],
                                    schema=TABLES["profiles"].schema)
    features = pa.Table.from_pylist(
        [{"profile_id": p, "as_of": date(2026, 11, 1), "revenue": r, "orders_count": orders.get(p, 1), "run_id": "r"}
         for p, r in sorted(revenue.items())], schema=TABLES["features"].schema)
    return profiles, features


def as_changes(table: pa.Table) -> set[tuple[str, str, str]]:
    return {(r["segment_id"], r["profile_id"], r["change"]) for r in table.to_pylist()}


def test_a_profile_that_no_longer_meets_the_rule_exits_and_a_new_one_enters() -> None:
    first = evaluate([BIG_SPENDERS], *tables({"P1": 150, "P2": 300, "P3": 20}))
    assert first == {"big_spenders": {"P1", "P2"}}
    # Next run: P1's revenue fell (refund), P2 still qualifies, P3 now qualifies.
    second = evaluate([BIG_SPENDERS], *tables({"P1": 80, "P2": 300, "P3": 120}))
    now = datetime(2026, 11, 2, tzinfo=UTC)
    changed = changes(first, second, "run-2", now)
    assert as_changes(changed) == {("big_spenders", "P1", "exited"), ("big_spenders", "P3", "entered")}
    assert set(changed.column("run_id").to_pylist()) == {"run-2"}
    assert set(changed.column("changed_at").to_pylist()) == {now}
    assert changed.schema == TABLES["segment_memberships"].schema


def test_a_profile_that_still_meets_the_rule_yields_no_change() -> None:
    members = evaluate([BIG_SPENDERS], *tables({"P1": 150, "P2": 300}))
    assert changes(members, members, "run-2", datetime(2026, 11, 2, tzinfo=UTC)).num_rows == 0


def test_every_member_of_a_segment_that_disappears_exits() -> None:
    changed = changes({"big_spenders": {"P1", "P2"}}, {}, "run-2", datetime(2026, 11, 2, tzinfo=UTC))
    assert as_changes(changed) == {("big_spenders", "P1", "exited"), ("big_spenders", "P2", "exited")}


def test_a_profile_without_features_meets_no_threshold_rule() -> None:
    profiles, features = tables({"P1": 150})
    profiles = pa.concat_tables([profiles, pa.Table.from_pylist([{"profile_id": "P2", "run_id": "r"}],
                                                                 schema=TABLES["profiles"].schema)])
    assert evaluate([BIG_SPENDERS, LOYAL], profiles, features) == {"big_spenders": {"P1"}, "loyal": set()}


def membership(segment: str, profile: str, change: str, run_id: str, at: datetime) -> dict[str, Any]:
    return {"segment_id": segment, "profile_id": profile, "change": change, "run_id": run_id, "changed_at": at}


R1, R2, R3 = (datetime(2026, 11, d, 6, tzinfo=UTC) for d in (1, 2, 3))
# Two runs in the same instant: the later run id (the time it carries) decides.
SAME_INSTANT = datetime(2026, 11, 4, 6, tzinfo=UTC)
HISTORY = [
    # big_spenders: P1 enters, exits, re-enters; P2 enters then exits; P3 enters late; P4 in and out in one instant.
    membership("big_spenders", "P1", "entered", "run-20261101T060000-ffffff", R1),
    membership("big_spenders", "P1", "exited", "run-20261102T060000-000000", R2),
    membership("big_spenders", "P1", "entered", "run-20261103T060000-aaaaaa", R3),
    membership("big_spenders", "P2", "entered", "run-20261101T060000-ffffff", R1),
    membership("big_spenders", "P2", "exited", "run-20261103T060000-aaaaaa", R3),
    membership("big_spenders", "P3", "entered", "run-20261102T060000-000000", R2),
    membership("big_spenders", "P4", "entered", "run-20261104T060000-ffffff", SAME_INSTANT),
    membership("big_spenders", "P4", "exited", "run-20261104T060001-000000", SAME_INSTANT),
    # loyal: P2 is a member; P1 entered and exited, so loyal has one member.
    membership("loyal", "P2", "entered", "run-20261101T060000-ffffff", R1),
    membership("loyal", "P1", "entered", "run-20261101T060000-ffffff", R1),
    membership("loyal", "P1", "exited", "run-20261103T060000-aaaaaa", R3),
    # lapsed: its only member left, so it has none.
    membership("lapsed", "P5", "entered", "run-20261101T060000-ffffff", R1),
    membership("lapsed", "P5", "exited", "run-20261102T060000-000000", R2),
]
EXPECTED_MEMBERS = {"big_spenders": {"P1", "P3"}, "loyal": {"P2"}}


def history_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=TABLES["segment_memberships"].schema)


def test_current_members_follow_the_last_change_of_each_profile_across_runs() -> None:
    assert current_members(history_table(HISTORY)) == EXPECTED_MEMBERS


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_current_members_do_not_depend_on_the_order_of_the_log(seed: int) -> None:
    rows = HISTORY.copy()
    random.Random(seed).shuffle(rows)
    assert current_members(history_table(rows)) == EXPECTED_MEMBERS


def test_the_next_run_compares_against_the_members_rebuilt_from_the_log() -> None:
    before = current_members(history_table(HISTORY))
    changed = changes(before, {"big_spenders": {"P3", "P4"}, "loyal": {"P2"}}, "run-20261105T060000-000000",
                      datetime(2026, 11, 5, 6, tzinfo=UTC))
    assert as_changes(changed) == {("big_spenders", "P1", "exited"), ("big_spenders", "P4", "entered")}
    assert current_members(pa.concat_tables([history_table(HISTORY), changed])) == {
        "big_spenders": {"P3", "P4"}, "loyal": {"P2"}}


def test_the_report_counts_the_same_members_as_the_pipeline() -> None:
    history = history_table(HISTORY)
    _, features = tables({"P1": 100.0, "P2": 50.0, "P3": 25.0, "P4": 1000.0, "P5": 7.0})
    con = duckdb.connect()
    con.register("segment_memberships", history)
    con.register("features", features)
    report = {row[0]: (row[1], row[2]) for row in con.execute(SECTIONS["Segments"]).fetchall()}
    # Members and their revenue as the report shows them; P4 (left in the last run) must not be counted.
    assert report == {"big_spenders": (2, 125.0), "loyal": (1, 50.0)}
    assert {segment: count for segment, (count, _) in report.items()} == {
        segment: len(members) for segment, members in current_members(history).items()}


def test_the_members_query_reads_any_table_or_view_of_the_log() -> None:
    con = duckdb.connect()
    con.register("membership_log", history_table(HISTORY))
    pairs = set(con.execute(current_members_sql("membership_log")).fetchall())
    assert pairs == {(segment, p) for segment, members in EXPECTED_MEMBERS.items() for p in members}


def test_a_bad_rule_raises_an_error_naming_its_segment() -> None:
    broken = SegmentSpec(id="vip", name="VIP", rule="revenu >= 1000")  # misspelt column
    with pytest.raises(SegmentRuleError, match="segment 'vip'"):
        evaluate([BIG_SPENDERS, broken], *tables({"P1": 150}))


def test_rules_are_checked_before_a_run_with_the_columns_one_can_use() -> None:
    broken = SegmentSpec(id="vip", name="VIP", rule="revenu >= 1000")
    problems = check_rules([BIG_SPENDERS, broken, LOYAL])
    assert len(problems) == 1
    assert problems[0].startswith("segment 'vip': rule 'revenu >= 1000' is not a valid condition")
    assert "Columns you can use: " in problems[0]
    assert "revenue" in problems[0].split("Columns you can use: ")[1].split(", ")


def test_a_membership_follows_a_merge_of_profiles_without_contacting_anyone(retail_config) -> None:
    from cdp.activation.plans import plan_activations
    from cdp.segments.membership import follow_merges, member_since, merged_into

    first = datetime(2026, 11, 1, tzinfo=UTC)
    log = changes({}, {"big_spenders": {"P1", "P2", "P3"}, "loyal": {"P2"}}, "run-1", first)
    merges = pa.Table.from_pylist([
        {"run_id": "run-2", "kind": "merge", "profile_ids_before": ["P1", "P9"], "profile_ids_after": ["P9"],
         "records": 3, "reason": "linked by email", "changed_at": first},
        {"run_id": "run-2", "kind": "merge", "profile_ids_before": ["P2", "P8"], "profile_ids_after": ["P8"],
         "records": 2, "reason": "linked by phone", "changed_at": first},
    ], schema=TABLES["identity_changes"].schema)
    # After the merges: P9 (with P1's records) still spends enough; P8 (with P2's) is no longer loyal.
    after = {"big_spenders": {"P9", "P8", "P3"}, "loyal": set()}
    second = datetime(2026, 11, 2, tzinfo=UTC)

    since = member_since(log)
    before, carried = follow_merges(current_members(log), after, merged_into(merges), "run-2", second, since)
    changed = changes(before, after, "run-2", second, carried, since)

    rows = {(r["segment_id"], r["profile_id"], r["change"]): r["reason"] for r in changed.to_pylist()}
    assert rows == {
        ("big_spenders", "P1", "exited"): "merged into P9", ("big_spenders", "P9", "entered"): "merged from P1",
        ("big_spenders", "P2", "exited"): "merged into P8", ("big_spenders", "P8", "entered"): "merged from P2",
        ("loyal", "P2", "exited"): None,  # the person left the segment: a real exit
    }
    members = current_members(pa.concat_tables([log, changed]))
    assert members == {"big_spenders": {"P3", "P8", "P9"}}
    # The person behind P9 has been a big spender since the first run; P2's loyalty lasted from then to now.
    periods = {(r["segment_id"], r["profile_id"], r["change"]): (r["since"], r["until"]) for r in changed.to_pylist()}
    assert periods[("big_spenders", "P9", "entered")] == (first, None)
    assert periods[("loyal", "P2", "exited")] == (first, second)
    assert member_since(pa.concat_tables([log, changed]))[("big_spenders", "P9")] == first
    config = retail_config.model_copy(update={"segments": (BIG_SPENDERS, LOYAL), "activation_plans": (
        retail_config.activation_plans[0].model_copy(update={"segment": "big_spenders",
                                                             "changes": ("entered", "exited")}),)})
    planned = plan_activations(config, changed, TABLES["profiles"].schema.empty_table(), "run-2", second)
    assert planned == []  # nobody entered or left big spenders: only ids changed
