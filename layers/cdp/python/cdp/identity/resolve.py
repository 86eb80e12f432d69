"""Resolve: link the current records into persons, household-aware, with stable profile ids.

1. Type each identifier (``identifiers``): only personal ones are identity; shared and junk ones link no one.
2. Deterministic links: records sharing a personal identifier, and records that a fact cross-references (an order
   carrying both a loyalty card and a web account).
   Purpose limitation: a record of a source whose uses lack linking is linked only with records of its own source,
   and a fact of such a source links no one (``may_link``).
3. Probabilistic links: Splink's model (``model``) scores blocked pairs; a pair that agrees on a common full name
   and nothing else is not a link.
4. Guarded clustering (``clustering``): strongest links first, refused where first names or birth dates clash.
5. Stable ids (``stable_ids``).
"""

from __future__ import annotations

import json
from collections.abc import Container, Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cdp.config.identity import IdentitySpec
from cdp.identity import model as matcher
from cdp.identity.clustering import LINK_COLUMNS, Clusters, cluster
from cdp.identity.compatibility import NICKNAMES, fold
from cdp.identity.identifiers import (
    JUNK,
    PERSONAL,
    SHARED,
    KeyTypes,
    borrowed_emails,
    implied_first_names,
    type_identifiers,
)
from cdp.identity.stable_ids import assign_profile_ids

COLUMNS = ["record_key", "source", "profile_id", "rule", "score", "run_id", "linked_at"]
# Deterministic links come before any probabilistic one, in the order of their keys.
DETERMINISTIC_STRENGTH = 1000.0
CROSS_REFERENCE = "cross_reference"
BORROWED = "borrowed_email"  # the review kind of a record whose email spells someone else's first name
PROBABILISTIC = "probabilistic"
REVIEW_COLUMNS = ["kind", "record_keys", "rule", "score", "reason"]


# The columns of a record that resolution looks at.
RECORD_COLUMNS = ("source", "first_name", "last_name", "birth_date", "email", "phone", "street", "postcode", "city")


@dataclass(frozen=True)
class Base:
    """What resolving a neighbourhood of the base (``neighbourhood``) needs to know of the whole base, so that its
    records are typed, scored and given ids as a run over the whole base would."""

    first_names: frozenset[str]  # every first name a record carries, folded: the ones an email can spell
    term_frequencies: dict[str, pd.DataFrame]  # Splink's lookups, over the whole base
    full_name_counts: Mapping[str, int]  # records per compared full name
    records: int
    other_profile_ids: Container[str]  # ids held by profiles outside the neighbourhood


@dataclass(frozen=True)
class Resolution:
    identities: pd.DataFrame  # COLUMNS
    links: pd.DataFrame  # accepted links: LINK_COLUMNS
    reviews: pd.DataFrame  # REVIEW_COLUMNS
    key_types: KeyTypes
    # The records whose profile may have changed (an incremental run's re-clustered ones); None: any of them.
    touched: frozenset[str] | None = None
    refused_for_purpose: int = 0  # candidate links between records of sources that may not be linked


def nicknames_of(spec: IdentitySpec) -> dict[str, str]:
    """The built-in nicknames and the configured ones, folded."""
    return NICKNAMES | {fold(k): fold(v) for k, v in spec.nicknames.items()}


def personal_values(records: pd.DataFrame, key_types: KeyTypes, keys: tuple[str, ...],
                    borrowed: pd.Series | None = None) -> dict[str, pd.Series]:
    """Each key column with only its personal values kept: shared and junk ones, and emails that spell another
    person's first name than the record's (``borrowed``), become null."""
    out = {}
    for key in keys:
        kinds = key_types.kinds.get(key, {})
        values = records[key]
        untrusted = values.isin([v for v, kind in kinds.items() if kind != PERSONAL])
        if key == "email" and borrowed is not None:
            untrusted |= borrowed
        out[key] = values.where(~untrusted & values.notna(), None)
    return out


def _typed(records: pd.DataFrame, spec: IdentitySpec, nicknames: dict[str, str]
           ) -> tuple[KeyTypes, pd.Series, dict[str, pd.Series], pd.Series]:
    """Identifier types, each record's first name (its own, or the one its email spells), personal values, and
    which records carry a borrowed email."""
    first_names = implied_first_names(records)
    key_types = type_identifiers(records, spec.deterministic_keys, junk_values=spec.junk_values,
                                 max_people=spec.max_people_per_key, nicknames=nicknames, first_names=first_names)
    borrowed = borrowed_emails(records, first_names, nicknames)
    return key_types, first_names, personal_values(records, key_types, spec.deterministic_keys, borrowed), borrowed


def _email_owners(records: pd.DataFrame, personal: Mapping[str, pd.Series], among: set[str] | None = None,
                  unlinkable: Set[str] = frozenset()) -> dict[str, str]:
    """Each personal email's first record (only for the emails ``among``, when given): the record a receipt sent
    to that address names. Only records of sources that allow linking hold it for a receipt: a receipt links
    across sources."""
    emails = personal.get("email")
    if emails is None:
        return {}
    kept = emails.notna() if among is None else emails.isin(among)
    if unlinkable:
        kept &= ~records["source"].isin(unlinkable)
    return dict(records.loc[kept, "record_key"].groupby(emails[kept]).first())


def _all_links(candidates: list[pd.DataFrame]) -> pd.DataFrame:
    present = [c for c in candidates if not c.empty]
    return pd.concat(present, ignore_index=True) if present else pd.DataFrame(columns=[*LINK_COLUMNS, "strength"])


def _guarded(records: pd.DataFrame, first_names: pd.Series, personal: Mapping[str, pd.Series],
             keys: tuple[str, ...]) -> pd.DataFrame:
    """What the guards look at: names (the first one implied by the email where missing), birth date, and the
    personal identifiers."""
    return records[["record_key", "last_name", "birth_date"]].assign(
        first_name=first_names.loc[records.index], **{k: personal[k].loc[records.index] for k in keys})


def _source_of(record_keys: pd.Series) -> pd.Series:
    return record_keys.astype(object).str.split(":", n=1).str[0]


def may_link(left: pd.Series, right: pd.Series, unlinkable: Set[str]) -> pd.Series:
    """Which pairs of records (by key) may be linked: records of sources that allow linking with one another, and a
    record of a source that does not (``unlinkable``) with records of its own source only (deduplicating a source
    links it with no other)."""
    left_source, right_source = _source_of(left), _source_of(right)
    return (left_source == right_source) | ~(left_source.isin(unlinkable) | right_source.isin(unlinkable))


def _for_purpose(links: pd.DataFrame, unlinkable: Set[str]) -> tuple[pd.DataFrame, int]:
    """The links whose records may be linked (``may_link``), and how many were refused."""
    if not unlinkable or links.empty:
        return links, 0
    allowed = may_link(links["left"], links["right"], unlinkable)
    return links[allowed], int((~allowed).sum())


def _key_links(records: pd.DataFrame, personal: Mapping[str, pd.Series], keys: tuple[str, ...],
               unlinkable: Set[str] = frozenset()) -> tuple[list[pd.DataFrame], int]:
    """Links of the records sharing a personal identifier, and how many were refused for purpose: one per value
    and group of records (``may_link``) it would have joined to the value's first group."""
    frames, refused = [], 0
    for priority, key in enumerate(keys):
        values = personal[key]
        present = values.notna()
        if not present.any():
            continue
        subset = pd.DataFrame({"record_key": records.loc[present, "record_key"], "value": values[present]})
        groups = [subset["value"]]
        if unlinkable:
            # The records that may be linked together: those of every source that allows linking, or of one that
            # does not. Grouped before the star is drawn, so that a record the others may not link with is never
            # the centre they would link through.
            source = records.loc[present, "source"].astype(object)
            partition = source.where(source.isin(unlinkable), "")
            refused += int((partition.groupby(subset["value"]).nunique() - 1).sum())
            groups.insert(0, partition)
        # Star edges from each record to the first with the same value: enough for connectivity.
        first = subset.groupby(groups)["record_key"].transform("first")
        pairs = subset[subset["record_key"] != first]
        frames.append(pd.DataFrame({"left": first[pairs.index], "right": pairs["record_key"], "rule": key,
                                    "score": 1.0, "match_weight": np.nan, "contributions": None,
                                    "strength": DETERMINISTIC_STRENGTH - priority}))
    return frames, refused


def cross_reference_links(facts: Mapping[str, pd.DataFrame], links_by_table: Mapping[str, list[dict[str, str]]],
                          known: set[str], owner_of_email: Mapping[str, str] | None = None,
                          unlinkable: Set[str] = frozenset()) -> tuple[pd.DataFrame, int]:
    """A fact that names records of two person sources (an order with a card and an account) links them; so does
    one naming a record and a personal email (a receipt sent by email): to the record that holds that email.

    A fact of a source that does not allow linking (``unlinkable``, read from its ``record_key``) links no one:
    the links only such facts make are counted as refused for purpose."""
    if not unlinkable:
        return _named_pairs(facts, links_by_table, known, owner_of_email), 0
    theirs = {table: _source_of(rows["record_key"]).isin(unlinkable) for table, rows in facts.items()}
    pairs = _named_pairs({t: rows[~theirs[t]] for t, rows in facts.items()}, links_by_table, known, owner_of_email)
    refused = _named_pairs({t: rows[theirs[t]] for t, rows in facts.items()}, links_by_table, known, owner_of_email)
    only_theirs = pd.MultiIndex.from_frame(refused[["left", "right"]]).difference(
        pd.MultiIndex.from_frame(pairs[["left", "right"]]))
    return pairs, len(only_theirs)


def _named_pairs(facts: Mapping[str, pd.DataFrame], links_by_table: Mapping[str, list[dict[str, str]]],
                 known: set[str], owner_of_email: Mapping[str, str] | None) -> pd.DataFrame:
    frames = []
    for table, column_links in links_by_table.items():
        rows = facts.get(table)
        if rows is None or rows.empty:
            continue
        for links in column_links:
            columns = list(links)
            for i, a in enumerate(columns):
                for b in columns[i + 1:]:
                    both = rows.loc[rows[a].notna() & rows[b].notna(), [a, b]].drop_duplicates()
                    frames.append(pd.DataFrame({"left": links[a] + ":" + both[a], "right": links[b] + ":" + both[b]}))
            if owner_of_email and "email" in rows.columns:
                for a in columns:
                    both = rows.loc[rows[a].notna() & rows["email"].notna(), [a, "email"]].drop_duplicates()
                    both = both[both["email"].isin(owner_of_email.keys())]
                    frames.append(pd.DataFrame({"left": links[a] + ":" + both[a],
                                                "right": both["email"].map(owner_of_email)}))
    if not frames:
        return pd.DataFrame(columns=[*LINK_COLUMNS, "strength"])
    pairs = pd.concat(frames, ignore_index=True)
    pairs = pairs[pairs["left"].isin(known) & pairs["right"].isin(known)].drop_duplicates()
    return pairs.assign(rule=CROSS_REFERENCE, score=1.0, match_weight=np.nan, contributions=None,
                        strength=DETERMINISTIC_STRENGTH - 100)


def _name_only(contributions: pd.Series, name_columns: set[str]) -> pd.Series:
    """Pairs whose only positive evidence is the name."""
    def only_names(text: str) -> bool:
        weights = json.loads(text)
        return not any(weight > 0 for name, weight in weights.items() if name not in name_columns)
    return contributions.map(only_names)


def probabilistic_links(frame: pd.DataFrame | pa.Table, model: dict[str, Any], spec: IdentitySpec,
                        new: set[str] | None = None, base: Base | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Links Splink scores at or above the threshold (only pairs with a ``new`` record, when given); and those
    refused for resting on a common name alone. ``base``: the whole base, when ``frame`` is a neighbourhood."""
    scored = matcher.predict(frame, model, spec.probabilistic.match_probability, new,
                             base.term_frequencies if base else None)
    empty = pd.DataFrame(columns=[*LINK_COLUMNS, "strength"])
    if scored.empty:
        return empty, empty.assign(reason=None)
    name_columns = {c["output_column_name"] for c in model["comparisons"]
                    if set(c.get("output_column_name", "").split("_")) & {"first", "last", "name"}}
    names, ids = (pd.Series(frame[c].to_numpy(), dtype=object) if isinstance(frame, pa.Table) else frame[c]
                  for c in ("full_name", "unique_id"))
    counts = names.map(base.full_name_counts if base else names.value_counts())
    limit = max(2, int(spec.probabilistic.name_only_max_share * (base.records if base else len(frame))))
    common = set(ids[counts > limit])
    suspicious = _name_only(scored["contributions"], name_columns) & (
        scored["left"].isin(common) | scored["right"].isin(common))
    links = scored.assign(rule=PROBABILISTIC, score=scored["match_probability"], strength=scored["match_weight"])
    links = links[[*LINK_COLUMNS, "strength"]]
    refused = links[suspicious].assign(reason="only a common full name in common")
    return links[~suspicious], refused


@dataclass
class Prepared:
    """What both training and a full resolution start from: the records, typed, and what Splink compares."""

    records: pd.DataFrame
    key_types: KeyTypes
    first_names: pd.Series
    personal: dict[str, pd.Series]
    borrowed: pd.Series
    nicknames: dict[str, str]
    _frame: pd.DataFrame | None = None

    @property
    def model_frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = matcher.model_frame(self.records, self.personal, self.nicknames)
        return self._frame


def prepare(records: pd.DataFrame, spec: IdentitySpec) -> Prepared:
    records = records.reset_index(drop=True)
    nicknames = nicknames_of(spec)
    return Prepared(records, *_typed(records, spec, nicknames), nicknames)


def train_matcher(records: pd.DataFrame | Prepared, spec: IdentitySpec) -> dict[str, Any]:
    """Fit the probabilistic model on the current records, seeing only their personal identifiers."""
    prepared = records if isinstance(records, Prepared) else prepare(records, spec)
    return matcher.train(prepared.model_frame, spec.probabilistic)


def resolve(
    records: pd.DataFrame | Prepared,
    previous: pd.DataFrame,
    spec: IdentitySpec,
    model: dict[str, Any] | None,
    run_id: str,
    now: datetime,
    facts: Mapping[str, pd.DataFrame] | None = None,
    fact_links: Mapping[str, list[dict[str, str]]] | None = None,
    unlinkable: Set[str] = frozenset(),
) -> Resolution:
    """Assign every record (its current version, one row per record_key) to a profile. ``unlinkable``: the
    sources whose uses lack linking (``may_link``)."""
    keys = spec.deterministic_keys
    prepared = records if isinstance(records, Prepared) else prepare(records, spec)
    records, key_types, first_names, personal = (prepared.records, prepared.key_types, prepared.first_names,
                                                 prepared.personal)
    borrowed = prepared.borrowed
    if records.empty:
        return Resolution(pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=LINK_COLUMNS),
                          pd.DataFrame(columns=REVIEW_COLUMNS), key_types)
    candidates, refused_keys = _key_links(records, personal, keys, unlinkable)
    crossed, refused_facts = cross_reference_links(facts or {}, fact_links or {}, set(records["record_key"]),
                                                   _email_owners(records, personal, unlinkable=unlinkable), unlinkable)
    candidates.append(crossed)
    refused_names = pd.DataFrame(columns=[*LINK_COLUMNS, "strength", "reason"])
    if model is not None and spec.probabilistic.enabled:
        scored, refused_names = probabilistic_links(prepared.model_frame, model, spec)
        candidates.append(scored)
    links, refused_pairs = _for_purpose(_all_links(candidates), unlinkable)
    clusters = cluster(_guarded(records, first_names, personal, keys), links, keys, prepared.nicknames)
    return Resolution(_identities(records, clusters, previous, run_id, now), clusters.accepted,
                      _reviews(records, key_types, clusters.refused, refused_names, keys, borrowed), key_types,
                      refused_for_purpose=refused_keys + refused_facts + refused_pairs)


class _EitherOf:
    """Ids held by either of two groups of profiles, without copying the larger into the smaller."""

    def __init__(self, *groups: Container[str]) -> None:
        self.groups = groups

    def __contains__(self, profile_id: object) -> bool:
        return any(profile_id in group for group in self.groups)


def _identities(records: pd.DataFrame, clusters: Clusters, previous: pd.DataFrame, run_id: str,
                now: datetime, reserved: Container[str] = frozenset()) -> pd.DataFrame:
    """``reserved``: ids of profiles not clustered again, which no other may take."""
    frame = pd.DataFrame({"record_key": records["record_key"].to_numpy(), "source": records["source"].to_numpy()})
    frame["component"] = frame["record_key"].map(clusters.labels)
    frame["profile_id"] = frame["component"].map(
        assign_profile_ids(frame[["record_key", "component"]], previous, reserved))
    # Each record's rule and score: those of the strongest accepted link that touches it.
    touching = pd.concat([clusters.accepted.rename(columns={"left": "record_key"}).drop(columns="right"),
                          clusters.accepted.rename(columns={"right": "record_key"}).drop(columns="left")])
    best = touching.drop_duplicates("record_key", keep="first").set_index("record_key")
    frame["rule"] = frame["record_key"].map(best["rule"]).astype(object).fillna("singleton")
    frame["score"] = frame["record_key"].map(best["score"]).fillna(1.0).astype(float)
    frame["run_id"] = run_id
    frame["linked_at"] = pd.Timestamp(now)
    if not previous.empty:
        kept = frame[["record_key", "profile_id"]].merge(
            previous[["record_key", "profile_id", "linked_at", "run_id"]], on=["record_key", "profile_id"], how="left")
        frame["linked_at"] = kept["linked_at"].fillna(frame["linked_at"]).to_numpy()
        frame["run_id"] = kept["run_id"].fillna(frame["run_id"]).to_numpy()
    return frame[COLUMNS]


def _facts_naming(facts: Mapping[str, pd.DataFrame], links_by_table: Mapping[str, list[dict[str, str]]],
                  new_keys: set[str], new_emails: set[str]) -> dict[str, pd.DataFrame]:
    """Only the fact rows that name a new record (by a link column or its email): the others link nothing new."""
    kept = {}
    for table, rows in facts.items():
        mask = rows["email"].isin(new_emails) if "email" in rows.columns else pd.Series(False, index=rows.index)
        for links in links_by_table.get(table, []):
            for column, target in links.items():
                mask |= (target + ":" + rows[column]).isin(new_keys)
        kept[table] = rows[mask]
    return kept


def _strength(links: pd.DataFrame, keys: tuple[str, ...]) -> pd.Series:
    """The order a stored link is taken in, as when it was made: rules by priority, then match weight."""
    priority = {key: DETERMINISTIC_STRENGTH - i for i, key in enumerate(keys)} | {
        CROSS_REFERENCE: DETERMINISTIC_STRENGTH - 100}
    return links["rule"].map(priority).fillna(links["match_weight"]).astype(float)


@dataclass(frozen=True)
class _Typing:
    first_names: pd.Series
    key_types: KeyTypes  # of the values new records carry
    new_values: dict[str, set[str]]
    looked: pd.Series  # the records whose borrowed email was looked at again: new ones and carriers
    borrowed: pd.Series
    personal: dict[str, pd.Series]


@dataclass(frozen=True)
class Scored:
    """Splink's links of new records to the base, those refused for resting on a common name alone, and what
    typing the new records' identifiers found (it depends only on their carriers: computed once)."""

    links: pd.DataFrame
    refused: pd.DataFrame
    key_types: KeyTypes  # of the values new records carry
    borrowed: frozenset[str]  # the new records and carriers whose email spells another person's first name


def _type_new(records: pd.DataFrame, is_new: pd.Series, previous_reviews: pd.DataFrame, spec: IdentitySpec,
              nicknames: dict[str, str], known: Set[str] | None, typed: Scored | None = None) -> _Typing:
    """The personal identifiers of ``records``, typing again only the values new records carry (from all their
    carriers, which ``records`` must hold, unless ``typed`` gives what that found); the other values keep the last
    run's types, from its reviews."""
    keys = spec.deterministic_keys
    first_names = implied_first_names(records, known)
    # Types of the identifiers new records carry, from every record carrying them.
    new_values = {key: set(records.loc[is_new, key].dropna()) for key in keys}
    carriers = records[np.logical_or.reduce([records[key].isin(new_values[key]) for key in keys])] if keys \
        else records.iloc[0:0]
    if typed is None:
        fresh_types = type_identifiers(carriers, keys, junk_values=spec.junk_values,
                                       max_people=spec.max_people_per_key, nicknames=nicknames,
                                       first_names=first_names.loc[carriers.index])
        key_types = KeyTypes({k: {v: kind for v, kind in fresh_types.kinds.get(k, {}).items() if v in new_values[k]}
                              for k in keys},
                             {k: {v: why for v, why in fresh_types.reasons.get(k, {}).items() if v in new_values[k]}
                              for k in keys})
    else:
        key_types = typed.key_types
    # Whether an address is borrowed is looked at again for the new records and the carriers of their identifiers;
    # the others keep the last run's answer.
    looked = is_new | records.index.isin(carriers.index)
    borrowed = borrowed_emails(records, first_names, nicknames, only=looked, known=known) if typed is None \
        else looked & records["record_key"].isin(typed.borrowed)
    before = {keys_[0] for keys_ in previous_reviews.loc[previous_reviews["kind"] == BORROWED, "record_keys"]}
    borrowed |= ~looked & records["record_key"].isin(before)
    personal = personal_values(records, key_types, keys, borrowed)
    for key in keys:  # values no new record carries keep the last run's type
        flagged = previous_reviews[previous_reviews["kind"].isin([f"{SHARED}_{key}", f"{JUNK}_{key}"])]
        untrusted = {k for keys_ in flagged["record_keys"] for k in keys_}
        stale = records["record_key"].isin(untrusted) & ~records[key].isin(new_values[key])
        personal[key] = personal[key].where(~stale, None)

    return _Typing(first_names, key_types, new_values, looked, borrowed, personal)


def score_new(records: pd.DataFrame, new_keys: set[str], previous_reviews: pd.DataFrame, neighbours: pa.Table,
              spec: IdentitySpec, model: dict[str, Any], base: Base) -> Scored:
    """Splink's links of the new records (``new_keys``) to the base, and those refused for resting on a common
    name alone, as ``resolve_new`` over the whole base scores them. ``records``: the new records and every carrier
    of their identifiers (their types depend on all of them); ``neighbours``: ``model_frame`` rows (in Arrow) of the
    other records that share a blocking key with a new one, their identifiers as the last run typed them."""
    records = records.reset_index(drop=True)
    nicknames = nicknames_of(spec)
    typing = _type_new(records, records["record_key"].isin(new_keys), previous_reviews, spec, nicknames,
                       base.first_names)
    frame = matcher.model_frame(records, typing.personal, nicknames)
    # In Arrow: DuckDB reads it without a copy, where a frame of Python strings is converted value by value.
    schema = pa.schema([(name, pa.string()) for name in frame.columns])
    frame = pa.concat_tables([pa.Table.from_pandas(frame, schema=schema, preserve_index=False),
                              neighbours.select(schema.names).cast(schema)])
    links, refused = probabilistic_links(frame, model, spec, new_keys, base)
    borrowed = frozenset(records.loc[typing.borrowed & typing.looked, "record_key"])
    return Scored(links, refused, typing.key_types, borrowed)


def resolve_new(
    records: pd.DataFrame,
    new_keys: set[str],
    previous: pd.DataFrame,
    previous_links: pd.DataFrame,
    previous_reviews: pd.DataFrame,
    spec: IdentitySpec,
    model: dict[str, Any] | None,
    run_id: str,
    now: datetime,
    facts: Mapping[str, pd.DataFrame] | None = None,
    fact_links: Mapping[str, list[dict[str, str]]] | None = None,
    base: Base | None = None,
    scored: Scored | None = None,
    unlinkable: Set[str] = frozenset(),
) -> Resolution:
    """Resolve incrementally: only the new or changed records (``new_keys``) are compared with the base, and only
    the profiles they touch are clustered again. ``records`` holds the current version of every record, or, with
    ``base``, of every record in the new ones' neighbourhood (``neighbourhood``); ``previous``, ``previous_links``
    and ``previous_reviews`` then hold only what concerns them, and so does what is returned.

    Identifiers are typed again only where a new record carries them; elsewhere the last run's types hold (its
    reviews name the records of every shared or junk identifier). Splink scores new against base and new against
    new with the trained model, term frequencies from the whole base. The touched profiles are re-clustered from
    their stored links and the new candidates, strongest first, as a full run would. ``scored``: what
    ``score_new`` found for the new records against the whole base, when it ran first. ``unlinkable``: as for
    ``resolve``; stored links it refuses no longer hold.
    """
    keys = spec.deterministic_keys
    if not new_keys:  # nothing arrived: the persons stay as they are
        return Resolution(previous[COLUMNS], previous_links.rename(columns={"left_key": "left", "right_key": "right"}),
                          previous_reviews[REVIEW_COLUMNS], KeyTypes({}, {}), frozenset())
    nicknames = nicknames_of(spec)
    records = records.reset_index(drop=True)
    is_new = records["record_key"].isin(new_keys)
    typing = _type_new(records, is_new, previous_reviews, spec, nicknames, base.first_names if base else None,
                       scored)
    first_names, key_types, personal = typing.first_names, typing.key_types, typing.personal
    new_values, looked, borrowed = typing.new_values, typing.looked, typing.borrowed

    # Only the values new records carry can link them; the rest of the base keeps its links.
    carrying_new = np.logical_or.reduce([personal[key].isin(set(personal[key][is_new].dropna())) for key in keys]) \
        if keys else np.zeros(len(records), dtype=bool)
    candidates, refused_keys = _key_links(records[carrying_new], {k: v[carrying_new] for k, v in personal.items()},
                                          keys, unlinkable)
    new_emails = set(personal["email"][is_new].dropna()) if "email" in personal else set()
    naming = _facts_naming(facts or {}, fact_links or {}, new_keys, new_emails)
    receipts = {email for rows in naming.values() if "email" in rows.columns for email in rows["email"].dropna()}
    crossed, refused_facts = cross_reference_links(naming, fact_links or {}, set(records["record_key"]),
                                                   _email_owners(records, personal, receipts, unlinkable), unlinkable)
    candidates.append(crossed)
    refused_names = pd.DataFrame(columns=[*LINK_COLUMNS, "strength", "reason"])
    if scored is not None:
        candidates.append(scored.links)
        refused_names = scored.refused
    elif model is not None and spec.probabilistic.enabled:
        frame = matcher.model_frame(records, personal, nicknames)
        links, refused_names = probabilistic_links(frame, model, spec, new_keys, base)
        candidates.append(links)
    fresh, refused_pairs = _for_purpose(_all_links(
        [c[c["left"].astype(object).isin(new_keys) | c["right"].astype(object).isin(new_keys)] for c in candidates]),
        unlinkable)

    # The records to cluster again: the new ones and every record of a profile a new link or record touches.
    profile_of = previous.set_index("record_key")["profile_id"]
    touched = set(profile_of.reindex(list(set(fresh["left"]) | set(fresh["right"]) | new_keys)).dropna())
    again = set(profile_of[profile_of.isin(touched)].index) | new_keys
    kept_links = previous_links[previous_links["left_key"].isin(again) & previous_links["right_key"].isin(again)
                                & ~previous_links["left_key"].isin(new_keys)
                                & ~previous_links["right_key"].isin(new_keys)]
    kept_links, refused_kept = _for_purpose(
        kept_links.rename(columns={"left_key": "left", "right_key": "right"})[LINK_COLUMNS], unlinkable)
    links = pd.concat([kept_links.assign(strength=_strength(kept_links, keys)), fresh], ignore_index=True)
    subset = records[records["record_key"].isin(again)]
    clusters = cluster(_guarded(subset, first_names, personal, keys), links, keys, nicknames)

    untouched = previous[~previous["record_key"].isin(again)]
    reserved: Container[str] = set(untouched["profile_id"])
    if base is not None:
        reserved = _EitherOf(reserved, base.other_profile_ids)
    redone = _identities(subset, clusters, previous[previous["record_key"].isin(again)], run_id, now, reserved)
    identities = pd.concat([untouched[COLUMNS], redone], ignore_index=True)
    # Links outside the re-clustered records stay as they were, with the run that made them.
    outside = previous_links[~(previous_links["left_key"].isin(again) & previous_links["right_key"].isin(again))]
    outside = outside.rename(columns={"left_key": "left", "right_key": "right"})[[*LINK_COLUMNS, "run_id"]]
    all_links = pd.concat([outside, clusters.accepted.assign(run_id=run_id)], ignore_index=True)
    # Reviews that no longer hold: refused links of re-clustered records, borrowed addresses looked at again, and
    # the types of identifiers that were typed again (found by the value their first record carries).
    looked_keys = set(records.loc[looked, "record_key"])
    # Python strings: pandas matches sets against them many times faster than against Arrow-backed ones.
    kinds = previous_reviews["kind"]
    firsts = previous_reviews["record_keys"].map(lambda ks: ks[0]).astype(object)
    refused_stale = (kinds == "refused_link") & previous_reviews["record_keys"].map(lambda ks: bool(set(ks) & again))
    borrowed_stale = (kinds == BORROWED) & firsts.isin(looked_keys)
    typed_again = pd.Series(False, index=previous_reviews.index)
    value_of = records.set_index("record_key")
    for key in keys:
        # A value is typed again when its first record now carries another value or a new record carries it (its
        # first record is then among ``records``, being one of its carriers).
        of_key = kinds.isin([f"{SHARED}_{key}", f"{JUNK}_{key}"]) & firsts.isin(value_of.index)
        carried = firsts[of_key].map(value_of[key]).astype(object)
        typed_again[of_key] = carried.isna() | carried.isin(new_values[key])
    kept_reviews = previous_reviews[~(refused_stale | borrowed_stale | typed_again)]
    reviews = pd.concat([kept_reviews[REVIEW_COLUMNS],
                         _reviews(records, key_types, clusters.refused, refused_names, keys, borrowed & looked)],
                        ignore_index=True)
    return Resolution(identities.reset_index(drop=True), all_links, reviews, key_types, frozenset(again),
                      refused_keys + refused_facts + refused_pairs + refused_kept)


def _reviews(records: pd.DataFrame, key_types: KeyTypes, refused: pd.DataFrame, refused_names: pd.DataFrame,
             keys: tuple[str, ...], borrowed: pd.Series | None = None) -> pd.DataFrame:
    """What a data steward may want to look at: refused links, and identifiers not trusted as identity (by the
    records that carry them, never by the value itself)."""
    rows = []
    for link in pd.concat([refused, refused_names.drop(columns="strength", errors="ignore")]).itertuples(index=False):
        rows.append({"kind": "refused_link", "record_keys": [link.left, link.right], "rule": link.rule,
                     "score": float(link.score), "reason": link.reason})
    for key in keys:
        untrusted = {v: kind for v, kind in key_types.kinds.get(key, {}).items() if kind in (SHARED, JUNK)}
        carrying = records[records[key].isin(list(untrusted))]
        for value, group in carrying.groupby(key, sort=True):
            rows.append({"kind": f"{untrusted[value]}_{key}", "record_keys": sorted(group["record_key"]), "rule": key,
                         "score": None, "reason": key_types.reasons[key][value]})
    if borrowed is not None:
        for record_key in sorted(records.loc[borrowed[borrowed].index, "record_key"]):
            rows.append({"kind": BORROWED, "record_keys": [record_key], "rule": "email", "score": None,
                         "reason": "the address spells another first name than the record's"})
    return pd.DataFrame(rows, columns=REVIEW_COLUMNS)
