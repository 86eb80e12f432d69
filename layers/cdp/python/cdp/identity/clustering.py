"""Clustering links into persons, guarded: two groups of records merge only if every pair across them could be one
person (compatible first names and birth dates), and a person holds at most a few distinct personal identifiers.

Links are taken strongest first (deterministic rules, then Splink's match weight), so that when a chain of
plausible links would join a household, the weakest link is the one refused. Pairwise scores alone cannot do this:
each link of the chain may look fine on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from cdp.identity.compatibility import NICKNAMES, groups_compatible

# Distinct personal emails (or phones) one person may hold: a second address, a work one; beyond that, a merge
# would be joining people, not records.
MAX_IDENTIFIERS_PER_PERSON = 3


@dataclass
class _Group:
    names: set[tuple[str | None, str | None]] = field(default_factory=set)  # (first, last) as recorded
    births: set = field(default_factory=set)
    identifiers: dict[str, set[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Clusters:
    labels: dict[str, int]  # record_key -> cluster number
    accepted: pd.DataFrame  # left, right, rule, score, contributions: the links that joined records
    refused: pd.DataFrame  # the same columns and a reason: candidate links the guards refused


LINK_COLUMNS = ["left", "right", "rule", "score", "match_weight", "contributions"]


def cluster(records: pd.DataFrame, links: pd.DataFrame, identifier_columns: tuple[str, ...],
            nicknames: Mapping[str, str] = NICKNAMES) -> Clusters:
    """``records``: record_key, first_name, last_name, birth_date and the personal identifier columns.
    ``links``: LINK_COLUMNS with ``strength`` (larger first); each link is kept or refused in that order."""
    keys = records["record_key"].tolist()
    index = {key: i for i, key in enumerate(keys)}
    parent = list(range(len(keys)))
    # Plain lists: iterating Arrow-backed pandas columns value by value is many times slower.
    columns = {column: records[column].tolist() for column in ("first_name", "last_name", "birth_date",
                                                                *identifier_columns)}
    groups: dict[int, _Group] = {}

    def group_of(i: int) -> _Group:
        """The group a root stands for; a record no link reaches needs none, so each is made when first asked."""
        group = groups.get(i)
        if group is not None:
            return group
        group = groups[i] = _Group()
        first, last = columns["first_name"][i], columns["last_name"][i]
        first = first if isinstance(first, str) and first else None
        last = last if isinstance(last, str) and last else None
        if first or last:
            group.names.add((first, last))
        birth = columns["birth_date"][i]
        if birth is not None and birth == birth:  # NaN and NaT are not equal to themselves: no date
            group.births.add(birth)
        for column in identifier_columns:
            value = columns[column][i]
            if isinstance(value, str) and value:
                group.identifiers.setdefault(column, set()).add(value)
        return group

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    accepted, refused = [], []
    ordered = links.sort_values(["strength", "left", "right"], ascending=[False, True, True], kind="stable")
    for link in zip(*(ordered[column].tolist() for column in LINK_COLUMNS), strict=True):
        a, b = find(index[link[0]]), find(index[link[1]])
        if a == b:
            continue
        ga, gb = group_of(a), group_of(b)
        reason = groups_compatible(ga.names, gb.names, ga.births, gb.births, nicknames)
        if reason is None:
            for column in identifier_columns:
                joined = ga.identifiers.get(column, set()) | gb.identifiers.get(column, set())
                if len(joined) > MAX_IDENTIFIERS_PER_PERSON:
                    reason = f"would give one person {len(joined)} different {column} values"
                    break
        if reason is not None:
            refused.append((*link, reason))
            continue
        small, large = (a, b) if len(ga.names) + len(ga.births) < len(gb.names) + len(gb.births) else (b, a)
        parent[small] = large
        merged = groups.pop(small)
        target = groups[large]
        target.names |= merged.names
        target.births |= merged.births
        for column, values in merged.identifiers.items():
            target.identifiers.setdefault(column, set()).update(values)
        accepted.append(link)
    labels = {key: find(i) for key, i in index.items()}
    return Clusters(labels, pd.DataFrame(accepted, columns=LINK_COLUMNS),
                    pd.DataFrame(refused, columns=[*LINK_COLUMNS, "reason"]))
