"""Identity resolution: link records that share a deterministic key, and keep profile ids stable across runs."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def latest_versions(records: pd.DataFrame) -> pd.DataFrame:
    """The current version of each record: the most recently updated, then the most recently ingested."""
    ordered = records.sort_values(["record_key", "updated_at", "ingested_at"], na_position="first")
    return ordered.drop_duplicates("record_key", keep="last").reset_index(drop=True)


def _components(records: pd.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, pd.Series]:
    """Connected components of the graph whose edges join records sharing a key value; and the linking rule."""
    n = len(records)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    rule = pd.Series("singleton", index=records.index, dtype="object")
    for key in reversed(keys):  # the first key listed names the rule when several keys link a record
        values = records[key]
        present = values.notna()
        if not present.any():
            continue
        positions = np.flatnonzero(present.to_numpy())
        # Star edges from every record to the first record with the same value: enough for connectivity.
        codes, _ = pd.factorize(values[present])
        _, first_of_code = np.unique(codes, return_index=True)
        anchors = positions[first_of_code[codes]]
        rows.append(positions)
        cols.append(anchors)
        shared = values[present].duplicated(keep=False)
        rule.loc[shared[shared].index] = key
    if rows:
        edges_from, edges_to = np.concatenate(rows), np.concatenate(cols)
    else:
        edges_from = edges_to = np.array([], dtype=int)
    graph = coo_matrix((np.ones(len(edges_from)), (edges_from, edges_to)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels, rule


def _new_profile_id(seed: str, taken: set[str]) -> str:
    salt = 0
    while True:
        candidate = "P" + hashlib.sha256(f"{seed}#{salt}".encode()).hexdigest()[:15].upper()
        if candidate not in taken:
            return candidate
        salt += 1


def resolve(
    records: pd.DataFrame, previous: pd.DataFrame, keys: Sequence[str], run_id: str, now: datetime
) -> pd.DataFrame:
    """Assign every record to a profile.

    A person keeps the profile id that most of their records already had, so ids survive later runs; when a
    former profile splits, its largest part keeps the id and the others get new ones; when two profiles merge,
    the larger one's id wins and the other records are re-linked (the change is visible in ``identities``).
    """
    records = latest_versions(records)
    if records.empty:
        return pd.DataFrame(columns=["record_key", "source", "profile_id", "rule", "score", "run_id", "linked_at"])
    labels, rule = _components(records, keys)
    frame = pd.DataFrame({"record_key": records["record_key"], "source": records["source"], "component": labels})
    frame["rule"] = rule.to_numpy()
    frame = frame.merge(previous[["record_key", "profile_id"]].rename(columns={"profile_id": "previous_id"}),
                        on="record_key", how="left")

    votes = (
        frame.dropna(subset=["previous_id"])
        .groupby(["component", "previous_id"]).size().rename("votes").reset_index()
    )
    sizes = frame.groupby("component").size().rename("size")
    votes = votes.join(sizes, on="component").sort_values(
        ["votes", "size", "previous_id"], ascending=[False, False, True]
    )
    assigned: dict[int, str] = {}
    taken: set[str] = set()
    for component, previous_id in votes[["component", "previous_id"]].itertuples(index=False, name=None):
        if component not in assigned and previous_id not in taken:
            assigned[component] = previous_id
            taken.add(previous_id)
    taken |= set(previous["profile_id"])  # never reuse an id that meant someone else
    seeds = frame.groupby("component")["record_key"].min()
    for component, seed in seeds.items():
        if component not in assigned:
            assigned[component] = _new_profile_id(seed, taken)
            taken.add(assigned[component])

    frame["profile_id"] = frame["component"].map(assigned)
    frame["score"] = 1.0
    frame["run_id"] = run_id
    frame["linked_at"] = pd.Timestamp(now)
    # Records whose link did not change keep their original linked_at, so the graph shows when links appeared.
    if not previous.empty:
        unchanged = frame.merge(previous[["record_key", "profile_id", "linked_at"]], on=["record_key", "profile_id"],
                                how="left")["linked_at_y"]
        frame["linked_at"] = unchanged.fillna(frame["linked_at"]).to_numpy()
        kept_run = frame.merge(previous[["record_key", "profile_id", "run_id"]], on=["record_key", "profile_id"],
                               how="left")["run_id_y"]
        frame["run_id"] = kept_run.fillna(frame["run_id"]).to_numpy()
    return frame[["record_key", "source", "profile_id", "rule", "score", "run_id", "linked_at"]]
