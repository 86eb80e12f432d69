"""Merges and splits between two runs' identities: which profile ids became which, and why.

A merge is a profile whose records came from several former profiles; a split, a former profile whose records now
sit in several. The reason names the links that joined the former profiles (or, for a split, that a record left).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

COLUMNS = ["run_id", "kind", "profile_ids_before", "profile_ids_after", "records", "reason", "changed_at"]


def profile_changes(previous: pd.DataFrame, current: pd.DataFrame, links: pd.DataFrame, run_id: str,
                    now: datetime) -> pd.DataFrame:
    """``previous`` and ``current``: identities (record_key, profile_id); ``links``: the current accepted links."""
    both = current[["record_key", "profile_id"]].merge(
        previous[["record_key", "profile_id"]], on="record_key", suffixes=("", "_before"))
    rows = []
    before_of = dict(zip(both["record_key"], both["profile_id_before"], strict=True))
    # Only the few profiles whose records came from, or went to, several profiles are looked at one by one.
    merged = both.groupby("profile_id")["profile_id_before"].nunique()
    merged = set(merged[merged > 1].index)
    split = both.groupby("profile_id_before")["profile_id"].nunique()
    split = set(split[split > 1].index)
    members_of = current[current["profile_id"].isin(merged)].groupby("profile_id")["record_key"].apply(set)
    for profile_id, group in both[both["profile_id"].isin(merged)].groupby("profile_id", sort=True):
        former = sorted(set(group["profile_id_before"]))
        if len(former) > 1:
            members = members_of[profile_id]  # new records included: they may be what joined the former profiles
            joining = links[links["left"].isin(members) & links["right"].isin(members)]
            former_left = joining["left"].map(before_of).fillna("")
            joining = joining[former_left != joining["right"].map(before_of).fillna("")]
            rules = ", ".join(sorted(set(joining["rule"]))) or "re-clustering"
            rows.append({"kind": "merge", "profile_ids_before": former, "profile_ids_after": [profile_id],
                         "records": len(group), "reason": f"linked by {rules}"})
    for profile_id, group in both[both["profile_id_before"].isin(split)].groupby("profile_id_before", sort=True):
        after = sorted(set(group["profile_id"]))
        if len(after) > 1:
            rows.append({"kind": "split", "profile_ids_before": [profile_id], "profile_ids_after": after,
                         "records": len(group), "reason": "its records no longer link as one person (a changed "
                                                          "record, or a guard refusing a link)"})
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("run_id", "changed_at")])
    return frame.assign(run_id=run_id, changed_at=pd.Timestamp(now))[COLUMNS]
