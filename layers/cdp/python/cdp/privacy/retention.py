"""Retention of the tables' rows (GDPR article 5(1)(e), storage limitation), run daily.

Quarantined rows, kept as they came so that a bad file can be repaired, are deleted ``privacy.retention
.quarantine_days`` after their file was ingested. A person with no activity for ``privacy.retention
.inactive_profile_days`` (no record of theirs updated or received, no order, no visit) is no longer a customer:
their profile is erased as an erasure request would erase it (records, features, scores, memberships, activations,
their rows in the landed files, their contact cards, and the tables' history), with the facts attributed to them
only, and without suppressing their addresses: should they come back, what they then give is collected anew. An
``erasures`` row records each run that erased someone, with ``reason`` retention and the counts.

The files outside the tables (landing, staging, outbox) expire by the bucket's lifecycle rules in the cloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cdp import sql
from cdp.config import Config
from cdp.ports import TableStore
from cdp.privacy.erasure import (
    Erasure,
    LandedFiles,
    erase_found,
    find_profiles,
    forget_history,
    new_erasure_id,
    record_erasure,
)
from cdp.privacy.hashing import salted_hash


@dataclass
class Retention:
    quarantine_rows: int = 0  # quarantined rows deleted
    quarantine_history_files: int = 0
    erasure: Erasure | None = None  # the inactive profiles erased, if any


def inactive_profiles(store: TableStore, today: date, days: int) -> set[str]:
    """Profiles whose last activity is more than ``days`` before ``today``: the latest of when any record of theirs
    was updated at its source or reached the platform, their last order and their last visit (as of the features'
    day).

    A record's arrival counts (ingestion keeps a version once: an unchanged record sent again is not a new arrival):
    erased for its old ``updated_at`` the day after it came, a person would come back with the next export, daily.
    """
    con = sql.connect()
    con.register("profiles", store.read("profiles", columns=("profile_id",)))
    con.register("identities", store.read("identities", columns=("record_key", "profile_id")))
    con.register("records", store.read("records", columns=("record_key", "ingested_at", "updated_at")))
    con.register("features", store.read("features", columns=("profile_id", "as_of", "last_order_at",
                                                             "days_since_web")))
    cutoff = today - timedelta(days=days)
    rows = con.execute("""
        WITH seen AS (
            SELECT i.profile_id, max(greatest(CAST(r.ingested_at AS DATE), CAST(r.updated_at AS DATE))) AS day
            FROM records r JOIN identities i USING (record_key)
            GROUP BY i.profile_id)
        SELECT p.profile_id
        FROM profiles p LEFT JOIN seen s USING (profile_id) LEFT JOIN features f USING (profile_id)
        WHERE coalesce(greatest(s.day, CAST(f.last_order_at AS DATE), f.as_of - CAST(f.days_since_web AS INTEGER)),
                       DATE '0001-01-01') < ?
    """, [cutoff]).fetchall()
    return {profile_id for (profile_id,) in rows}


def expired_quarantine(store: TableStore, today: date, days: int) -> tuple[set[str], int]:
    """The files whose quarantined rows are past retention (a file's rows are quarantined together), and how many
    rows they hold."""
    con = sql.connect()
    con.register("quarantine", store.read("quarantine", columns=("file_id", "quarantined_at")))
    rows = con.execute("""
        SELECT file_id, count(*) FROM quarantine GROUP BY file_id
        HAVING CAST(max(quarantined_at) AS DATE) < ?
    """, [today - timedelta(days=days)]).fetchall()
    return {file_id for file_id, _ in rows}, sum(count for _, count in rows)


def apply_retention(store: TableStore, files: LandedFiles, config: Config, salt: str, now: datetime,
                    today: date | None = None) -> Retention:
    """Delete what is past retention as of ``today`` (the day of ``now`` by default); see the module's description.
    Running it again the same day finds nothing more."""
    today = today or now.date()
    spec = config.privacy.retention
    retention = Retention()
    expired, retention.quarantine_rows = expired_quarantine(store, today, spec.quarantine_days)
    if expired:
        store.delete("quarantine", f"file_id in ({', '.join(sql.literal(f) for f in sorted(expired))})")
        retention.quarantine_history_files = forget_history(store, files, {"quarantine"}, now)
    if spec.inactive_profile_days is None:
        return retention
    inactive = inactive_profiles(store, today, spec.inactive_profile_days)
    if not inactive:
        return retention
    retention.erasure = Erasure(new_erasure_id(now), reason="retention")
    erase_found(store, files, config, find_profiles(store, config, inactive), retention.erasure, now)
    # The audit's subject: the rule applied, not the people (an erasure row names no one).
    record_erasure(store, retention.erasure,
                   salted_hash(salt, f"retention:{spec.inactive_profile_days}:{today.isoformat()}"), now)
    return retention


def retention_summary(retention: Retention) -> dict[str, object]:
    erasure = retention.erasure
    return {"quarantine_rows": retention.quarantine_rows,
            "inactive_profiles": erasure.profiles if erasure else 0,
            "rows": dict(erasure.rows) if erasure else {},
            "landed_file_rows": erasure.file_rows if erasure else 0,
            "history_files": retention.quarantine_history_files + (erasure.history_files if erasure else 0)}
