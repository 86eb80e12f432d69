"""Resolve: link the current records into persons on deterministic keys, with stable profile ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from cdp.identity.graph import components
from cdp.identity.stable_ids import assign_profile_ids

COLUMNS = ["record_key", "source", "profile_id", "rule", "score", "run_id", "linked_at"]


def resolve(
    records: pd.DataFrame, previous: pd.DataFrame, keys: Sequence[str], run_id: str, now: datetime
) -> pd.DataFrame:
    """Assign every record (its current version, one row per record_key) to a profile.

    Links whose profile did not change keep their run and time, so the graph shows when each link appeared;
    re-linked records show the run that moved them.
    """
    if records.empty:
        return pd.DataFrame(columns=COLUMNS)
    records = records.reset_index(drop=True)
    labels, rule = components(records, keys)
    frame = pd.DataFrame({"record_key": records["record_key"], "source": records["source"], "component": labels})
    frame["rule"] = rule.to_numpy()
    frame["profile_id"] = frame["component"].map(assign_profile_ids(frame[["record_key", "component"]], previous))
    frame["score"] = 1.0
    frame["run_id"] = run_id
    frame["linked_at"] = pd.Timestamp(now)
    if not previous.empty:
        kept = frame[["record_key", "profile_id"]].merge(
            previous[["record_key", "profile_id", "linked_at", "run_id"]], on=["record_key", "profile_id"], how="left")
        frame["linked_at"] = kept["linked_at"].fillna(frame["linked_at"]).to_numpy()
        frame["run_id"] = kept["run_id"].fillna(frame["run_id"]).to_numpy()
    return frame[COLUMNS]
