"""Segment membership: who is in each segment now, and who entered or left it in a run.

``segment_memberships`` is a log of changes; a profile is a member while its last change is ``entered``. The
query below is the one definition of "the current members", used by the pipeline and by the report alike.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from cdp import sql
from cdp.tables import TABLES


def current_members_sql(memberships: str = "segment_memberships") -> str:
    """SQL giving (segment_id, profile_id) of the current members, over a table or view of the change log.

    Within one run a profile changes at most once per segment; across runs, the later change wins (``changed_at``,
    then ``run_id``, which sorts by time, for two runs in the same instant).
    """
    return f"""SELECT segment_id, profile_id FROM {memberships}
               QUALIFY row_number() OVER (PARTITION BY segment_id, profile_id
                                          ORDER BY changed_at DESC, run_id DESC) = 1
                   AND change = 'entered'"""


def member_since(history: pa.Table) -> dict[tuple[str, str], datetime]:
    """When each current membership began: (segment_id, profile_id) -> time."""
    con = sql.connect()
    con.register("segment_memberships", history)
    rows = con.execute(f"""
        WITH current AS ({current_members_sql()})
        SELECT m.segment_id, m.profile_id, coalesce(m.since, m.changed_at)
        FROM segment_memberships m JOIN current c USING (segment_id, profile_id)
        WHERE m.change = 'entered'
        QUALIFY row_number() OVER (PARTITION BY m.segment_id, m.profile_id
                                   ORDER BY m.changed_at DESC, m.run_id DESC) = 1
    """).fetchall()
    return {(segment_id, profile_id): since for segment_id, profile_id, since in rows}


def current_members(history: pa.Table) -> dict[str, set[str]]:
    """Members per segment, from the change log."""
    con = sql.connect()
    con.register("segment_memberships", history)
    members: dict[str, set[str]] = {}
    for segment_id, profile_id in con.execute(current_members_sql()).fetchall():
        members.setdefault(segment_id, set()).add(profile_id)
    return members


def merged_into(identity_changes: pa.Table) -> dict[str, str]:
    """Each profile id that merges made disappear, and the id that holds its records now (followed through
    several merges)."""
    target: dict[str, str] = {}
    for row in identity_changes.filter(pc.equal(identity_changes["kind"], "merge")).sort_by("changed_at").to_pylist():
        (survivor,) = row["profile_ids_after"]
        for former in row["profile_ids_before"]:
            if former != survivor:
                target[former] = survivor
    resolved = {}
    for former in target:
        seen, current = {former}, target[former]
        while current in target and current not in seen:  # a chain of merges across runs
            seen.add(current)
            current = target[current]
        resolved[former] = current
    return resolved


def follow_merges(before: dict[str, set[str]], after: dict[str, set[str]], successors: dict[str, str],
                  run_id: str, now: datetime, since: dict[tuple[str, str], datetime] | None = None
                  ) -> tuple[dict[str, set[str]], list[dict]]:
    """Members whose profile was merged into another that is in the segment now: the person did not change, only
    their id. The old id exits and the surviving one enters, both with the merge as reason (activation contacts
    nobody for them), and the survivor counts as a member already. Where the survivor is not in the segment now,
    the old id's exit is a real one, left to ``changes``. The survivor's membership dates from the merged one's
    (``since``, as ``member_since`` gives it)."""
    since = since or {}
    adjusted, rows = {}, []
    for segment_id, members in before.items():
        now_in, kept = after.get(segment_id, set()), set(members)
        for former in sorted(members):
            survivor = successors.get(former)
            if survivor is None or survivor not in now_in:
                continue
            kept.discard(former)
            began = since.get((segment_id, former), now)
            rows.append({"segment_id": segment_id, "profile_id": former, "change": "exited", "run_id": run_id,
                         "changed_at": now, "reason": f"merged into {survivor}", "since": began, "until": now})
            if survivor not in kept:
                rows.append({"segment_id": segment_id, "profile_id": survivor, "change": "entered",
                             "run_id": run_id, "changed_at": now, "reason": f"merged from {former}",
                             "since": began})
                kept.add(survivor)
        adjusted[segment_id] = kept
    return adjusted, rows


def changes(
    before: dict[str, set[str]], after: dict[str, set[str]], run_id: str, now: datetime,
    carried: list[dict] | None = None, since: dict[tuple[str, str], datetime] | None = None,
) -> pa.Table:
    """Entries and exits between two memberships; ``carried``: the rows ``follow_merges`` made, written first;
    ``since``: when the current memberships began (an exit carries it with its own time as ``until``)."""
    since = since or {}
    rows = list(carried or [])
    for segment_id in sorted(set(before) | set(after)):
        old, new = before.get(segment_id, set()), after.get(segment_id, set())
        rows += [{"segment_id": segment_id, "profile_id": p, "change": "entered", "run_id": run_id, "changed_at": now,
                  "since": now} for p in sorted(new - old)]
        rows += [{"segment_id": segment_id, "profile_id": p, "change": "exited", "run_id": run_id, "changed_at": now,
                  "since": since.get((segment_id, p)), "until": now} for p in sorted(old - new)]
    return pa.Table.from_pylist(rows, schema=TABLES["segment_memberships"].schema)
