"""Stable profile ids: a person keeps the id most of their records already had, across runs, merges and splits."""

from __future__ import annotations

import hashlib
from collections.abc import Container

import pandas as pd


class _Taken:
    """The ids given in this run, and those held before (any container: a large base's ids are not copied)."""

    def __init__(self, *held: Container[str]) -> None:
        self.held, self.given = held, set()

    def __contains__(self, profile_id: object) -> bool:
        return profile_id in self.given or any(profile_id in ids for ids in self.held)

    def add(self, profile_id: str) -> None:
        self.given.add(profile_id)


def candidate_id(seed: str, salt: int = 0) -> str:
    """The id a new profile seeded by the record ``seed`` takes, unless taken (then the next salt's)."""
    return "P" + hashlib.sha256(f"{seed}#{salt}".encode()).hexdigest()[:15].upper()


def _new_profile_id(seed: str, taken: _Taken) -> str:
    salt = 0
    while True:
        candidate = candidate_id(seed, salt)
        if candidate not in taken:
            return candidate
        salt += 1


def assign_profile_ids(frame: pd.DataFrame, previous: pd.DataFrame,
                       reserved: Container[str] = frozenset()) -> dict[int, str]:
    """A profile id per component of ``frame`` (record_key, component), given the previous run's links.

    A record joining a person takes that person's id; when profiles merge, the oldest id (the first linked) wins;
    when a former profile splits, the part holding most of its records keeps the id and the others get new ones.
    An id that ever meant someone else is never reused, nor one in ``reserved`` (held by profiles not in ``frame``).
    """
    frame = frame.merge(previous[["record_key", "profile_id"]].rename(columns={"profile_id": "previous_id"}),
                        on="record_key", how="left")
    votes = (
        frame.dropna(subset=["previous_id"])
        .groupby(["component", "previous_id"]).size().rename("votes").reset_index()
    )
    sizes = frame.groupby("component").size().rename("size")
    votes = votes.join(sizes, on="component")
    if votes.empty:
        return _new_ids(frame, {}, _Taken(set(previous["profile_id"]), reserved))
    votes["first_linked"] = votes["previous_id"].map(previous.groupby("profile_id")["linked_at"].min())
    votes = votes.sort_values(
        ["first_linked", "votes", "size", "previous_id"], ascending=[True, False, False, True]
    )
    assigned: dict[int, str] = {}
    taken = _Taken(reserved)
    for component, previous_id in votes[["component", "previous_id"]].itertuples(index=False, name=None):
        if component not in assigned and previous_id not in taken:
            assigned[component] = previous_id
            taken.add(previous_id)
    return _new_ids(frame, assigned, _Taken(taken.given, set(previous["profile_id"]), reserved))


def _new_ids(frame: pd.DataFrame, assigned: dict[int, str], taken: _Taken) -> dict[int, str]:
    """New ids for the components that kept none, derived from their first record key."""
    pending = frame.loc[~frame["component"].isin(list(assigned)), ["component", "record_key"]]
    # The smallest key of each component, by one sort (a grouped minimum of strings is many times slower).
    seeds = pending.sort_values("record_key", kind="stable").drop_duplicates("component")
    for component, seed in zip(seeds["component"].tolist(), seeds["record_key"].tolist(), strict=True):
        assigned[component] = _new_profile_id(seed, taken)
        taken.add(assigned[component])
    return assigned
