"""The neighbourhood of new records: the part of the base an incremental resolution has to look at.

Ten thousand records arriving in a base of a million concern a few tens of thousands of its records: those sharing a
blocking key or an identifier with a new record, those that an order naming a new record cross-references, and every
record of the profiles these belong to (a profile is clustered again whole or not at all). The selection runs in
Arrow and DuckDB over the whole base; resolution's Python then runs on the neighbourhood alone, with the few facts of
the whole base it needs (``Base``: term frequencies, known first names, the ids other profiles hold), and reaches
what it would reach over the whole base.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cdp import sql
from cdp.config.identity import IdentitySpec
from cdp.frames import python_frame
from cdp.identity import model as matcher
from cdp.identity.identifiers import JUNK, SHARED, known_first_names
from cdp.identity.resolve import BORROWED, Base, Scored, score_new
from cdp.identity.stable_ids import candidate_id
from cdp.lineage import current_versions


@dataclass(frozen=True)
class Neighbourhood:
    records: pa.Table  # the current version of each of its records
    identities: pa.Table  # their rows of each table, as the last run left them
    links: pa.Table
    reviews: pa.Table
    review_rows: pa.Array  # a mask over all the reviews: those in ``reviews``
    facts: dict[str, pa.Table]  # the current fact rows naming a new record, by a link column or its email
    base: Base
    keys: pa.Array  # its record keys
    scored: Scored | None  # Splink's links of the new records, and what typing their identifiers found

    def holds(self, record_keys: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        """A mask: which of ``record_keys`` are in the neighbourhood."""
        return pc.is_in(record_keys, value_set=self.keys)


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _naming_facts(con: Any, facts: Mapping[str, pa.Table], fact_links: Mapping[str, list[dict[str, str]]]
                  ) -> dict[str, pa.Table]:
    """The current version of each fact row that names a new record (registered as ``fresh``) by a link column
    or carries one of its emails. Older versions are looked at too, then dropped: a fact's current version may
    name no one new while an older one did, and the other way round."""
    naming = {}
    for table, rows in facts.items():
        # The new keys lose their source's prefix rather than millions of fact values gaining it.
        conditions = [f"{_quoted(column)} IN (SELECT substr(unique_id, {len(target) + 2}) FROM fresh "
                      f"WHERE starts_with(unique_id, {sql.literal(target + ':')}))"
                      for links in fact_links.get(table, []) for column, target in links.items()]
        if "email" in rows.column_names:
            conditions.append("email IN (SELECT email FROM fresh)")
        if not conditions or rows.num_rows == 0:
            naming[table] = current_versions(rows.slice(0, 0))
            continue
        con.register("fact_rows", rows)
        matching = con.sql(f"SELECT DISTINCT record_key FROM fact_rows WHERE {' OR '.join(conditions)}"
                           ).to_arrow_table()
        versions = rows.filter(pc.is_in(rows["record_key"], value_set=matching["record_key"]))
        naming[table] = current_versions(versions)
        con.unregister("fact_rows")
    return naming


def _partners(facts: Mapping[str, pa.Table], fact_links: Mapping[str, list[dict[str, str]]]) -> set[str]:
    """The records the naming facts cross-reference."""
    keys: set[str] = set()
    for table, rows in facts.items():
        for links in fact_links.get(table, []):
            for column, target in links.items():
                keys.update(target + ":" + value for value in pc.unique(rows[column]).to_pylist() if value)
    return keys


def _reviews_naming(reviews: pa.Table, keys: pa.Array) -> pa.Array:
    """A mask: the reviews that name a record among ``keys``."""
    named = reviews["record_keys"].combine_chunks()
    hits = pc.is_in(pc.list_flatten(named), value_set=keys)
    rows = pc.unique(pc.filter(pc.list_parent_indices(named), hits))
    return pc.is_in(pa.array(range(reviews.num_rows), pa.int64()), value_set=pc.cast(rows, pa.int64()))


class _HeldElsewhere:
    """The ids of the profiles outside the neighbourhood, asked about without a Python set of a million of them.

    Resolution asks about the ids the neighbourhood's profiles hold (``mine``) and those its new profiles would
    take, each derived from one of its records (``stable_ids.candidate_id``): these are looked up at once. Any
    other id is looked up on its own."""

    def __init__(self, ids: pa.ChunkedArray, seeds: pa.Array, mine: pa.Array) -> None:
        self.ids = ids
        foreseen = pa.concat_arrays([pa.array([candidate_id(seed) for seed in seeds.to_pylist()], pa.string()),
                                     mine.cast(pa.string())])
        self.foreseen = set(foreseen.to_pylist())
        self.held = set(pc.filter(ids, pc.is_in(ids, value_set=foreseen)).to_pylist())

    def __contains__(self, profile_id: object) -> bool:
        if profile_id in self.foreseen:
            return profile_id in self.held
        return isinstance(profile_id, str) and pc.any(pc.equal(self.ids, profile_id)).as_py() is True


def _in_key_order(records: pa.Table) -> pa.Table:
    """Resolution breaks ties by record order: the neighbourhood's records come in the order a full run sees."""
    return records.sort_by("record_key")


def _listed(reviews: pa.Table, kinds: Iterable[str], first_only: bool = False) -> pa.Array:
    """The record keys the reviews of ``kinds`` name (only their first one, with ``first_only``)."""
    rows = reviews.filter(pc.is_in(reviews["kind"], value_set=pa.array(list(kinds), pa.string())))
    named = rows["record_keys"].combine_chunks()
    return pc.list_element(named, 0) if first_only else pc.list_flatten(named)


def _neighbour_frame(records: pa.Table, reviews: pa.Table, spec: IdentitySpec, nicknames: Mapping[str, str]
                     ) -> pa.Table:
    """``model_frame`` rows of records that carry none of the new records' identifiers: their identifiers keep the
    last run's types (``resolve._type_new`` for a record it does not look at again), so an identifier is personal
    unless a review lists the record as carrying it shared or junk, or its email as borrowed."""
    frame = matcher.compared_values(records, nicknames)
    for key in ("email", "phone"):
        if key not in spec.deterministic_keys:
            frame = frame.append_column(key, pa.nulls(len(records), pa.string()))
            continue
        distrusted = _listed(reviews, [f"{SHARED}_{key}", f"{JUNK}_{key}"])
        if key == "email":
            distrusted = pa.concat_arrays([distrusted, _listed(reviews, [BORROWED], first_only=True)])
        frame = frame.append_column(key, pc.if_else(pc.is_in(records["record_key"], value_set=distrusted), None,
                                                    records[key]))
    return frame


def neighbourhood(records: pa.Table, new_keys: Iterable[str], identities: pa.Table, links: pa.Table,
                  reviews: pa.Table, facts: Mapping[str, pa.Table], fact_links: Mapping[str, list[dict[str, str]]],
                  spec: IdentitySpec, nicknames: Mapping[str, str], model: dict[str, Any] | None) -> Neighbourhood:
    """``records``: the current version of every record, in any order; ``facts``: every version of the fact
    tables' rows (link columns and email); ``identities``, ``links`` and ``reviews``: as the last run left them.

    First the records whose part does not depend on any score: the new ones, the carriers of their identifiers
    (an identifier is typed from all its carriers), the records an order naming a new one cross-references. Splink
    then scores the new records against these and against every record sharing a blocking key with one (most of
    them strangers with a common name, which need no more than their compared values). The records a scored link
    reaches join, and every profile of them all is taken whole."""
    probabilistic = model is not None and spec.probabilistic.enabled
    rules = [tuple(rule) for rule in spec.probabilistic.blocking] if probabilistic else []
    frequencies = matcher.term_frequency_columns(model) if probabilistic else []
    compared = matcher.compared_values(records, nicknames, {c for rule in rules for c in rule} | set(frequencies)
                                       | {"first_name", "full_name"})
    for key in ("email", "phone"):  # as typed at source: a personal value is one of them, never another
        compared = compared.append_column(key, records[key])
    new = pa.array(sorted(set(new_keys)), pa.string())
    con = sql.connect()
    con.register("base", compared)
    fresh = compared.filter(pc.is_in(compared["unique_id"], value_set=new))
    con.register("fresh", fresh)

    def sharing(rule: tuple[str, ...]) -> str:
        on = " AND ".join(f"b.{_quoted(c)} = f.{_quoted(c)}" for c in rule)
        return f"SELECT b.unique_id FROM base b SEMI JOIN fresh f ON {on}"

    naming = _naming_facts(con, facts, fact_links)
    receipts = pa.concat_arrays([rows["email"].combine_chunks() for rows in naming.values()
                                 if "email" in rows.column_names] or [pa.array([], pa.string())])
    con.register("partners", pa.table({"unique_id": pa.array(sorted(_partners(naming, fact_links)), pa.string())}))
    con.register("receipts", pa.table({"email": pc.unique(receipts)}))
    con.execute("CREATE TEMP TABLE core AS " + " UNION ".join([
        "SELECT unique_id FROM fresh", "SELECT unique_id FROM partners",
        "SELECT unique_id FROM base SEMI JOIN receipts USING (email)",
        *(sharing((key,)) for key in spec.deterministic_keys)]))
    core = con.sql("SELECT unique_id FROM core").to_arrow_table()["unique_id"].combine_chunks()
    neighbours = con.sql(f"SELECT unique_id FROM ({' UNION '.join(sharing(rule) for rule in dict.fromkeys(rules))}) "
                         "EXCEPT SELECT unique_id FROM core").to_arrow_table()["unique_id"].combine_chunks() \
        if rules else pa.array([], pa.string())
    framed = compared.filter(pc.is_in(compared["unique_id"], value_set=pa.concat_arrays([core, neighbours])))
    base = Base(
        first_names=known_first_names(pc.unique(records["first_name"]).to_pylist()),
        term_frequencies=matcher.term_frequencies(compared, frequencies, among=fresh),
        full_name_counts=_counts(compared, "full_name", framed),
        records=records.num_rows,
        other_profile_ids=(),
    )
    scored = None
    if probabilistic and len(new):
        in_core = pc.is_in(records["record_key"], value_set=core)
        scored = score_new(python_frame(_in_key_order(records.filter(in_core))),
                           set(new.to_pylist()), python_frame(reviews.filter(_reviews_naming(reviews, core))),
                           _neighbour_frame(records.filter(pc.is_in(records["record_key"], value_set=neighbours)),
                                            reviews, spec, nicknames), spec, model, base)
        reached = pa.array(sorted(set(scored.links["left"]) | set(scored.links["right"])), pa.string())
        core = pa.concat_arrays([core, reached])
    # Whole profiles: a profile a new record touches is clustered again with all its records.
    seed = pc.unique(core)
    profiles = pc.unique(identities.filter(pc.is_in(identities["record_key"], value_set=seed))["profile_id"])
    closed = pc.is_in(identities["profile_id"], value_set=profiles)
    keys = pc.unique(pa.concat_arrays([identities.filter(closed)["record_key"].combine_chunks(), seed]))
    base = replace(base, other_profile_ids=_HeldElsewhere(pc.filter(identities["profile_id"], pc.invert(closed)), keys,
                                                                profiles))
    review_rows = _reviews_naming(reviews, keys)
    return Neighbourhood(
        records=_in_key_order(records.filter(pc.is_in(records["record_key"], value_set=keys))),
        identities=identities.filter(closed),
        links=links.filter(pc.is_in(links["left_key"], value_set=keys)),
        reviews=reviews.filter(review_rows), review_rows=review_rows, facts=naming, base=base, keys=keys,
        scored=scored)


def _counts(compared: pa.Table, column: str, among: pa.Table) -> dict[str, int]:
    counts = matcher.value_counts(compared, column, among)
    return dict(zip(counts[column].to_pylist(), counts["count_all"].to_pylist(), strict=True))
