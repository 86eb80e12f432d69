"""Segment membership: who is in each segment now, and who entered or left it in a run.

``segment_memberships`` is a log of changes; a profile is a member while its last change is ``entered``. The
query below is the one definition of "the current members", used by the pipeline and by the report alike.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

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


def current_members(history: pa.Table) -> dict[str, set[str]]:
    """Members per segment, from the change log."""
    con = sql.connect()
    con.register("segment_memberships", history)
    members: dict[str, set[str]] = {}
    for segment_id, profile_id in con.execute(current_members_sql()).fetchall():
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
