"""The pipeline, declared once: each step's function, the tables it reads (which rows) and writes (and how).

The runner (``cdp.pipeline.runner``) does every read and write; a step function receives Arrow tables and returns
the tables to write with a summary. The local runner iterates ``STEPS``; the CDK stack chains one Step Functions
state per step, in this order, each invoking the pipeline function with the step's name.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdp import sql
from cdp.activation.cards import MemoryContacts
from cdp.activation.plans import activations_table, contact_cards, plan_activations
from cdp.activation.publish import events_of, marked_published
from cdp.config import Config
from cdp.config.purposes import plan_uses, purpose_problems, sources_feeding, sources_not_linking
from cdp.features.behaviour import fact_views, update_features
from cdp.frames import python_frame
from cdp.identity.changes import profile_changes
from cdp.identity.neighbourhood import neighbourhood
from cdp.identity.resolve import RECORD_COLUMNS, Prepared, nicknames_of, prepare, resolve_new, train_matcher
from cdp.identity.resolve import resolve as link_records
from cdp.lineage import current_versions
from cdp.ports import ContactBook, EventBus, ModelStore
from cdp.profiles.survivorship import merge_profiles
from cdp.scoring.history import purchase_days, web_days
from cdp.scoring.models import SCORING_MODEL, score_profiles, train_scoring
from cdp.segments.membership import changes, current_members, follow_merges, member_since, merged_into
from cdp.segments.rules import described, evaluate, value_potential
from cdp.tables import TABLES

# all: the whole table; current: the current version of each record or fact (cdp.lineage); new: only the rows
# appended since this step last succeeded (an incremental append scan from the snapshot it consumed then).
Rows = Literal["all", "current", "new"]
# append: add the rows; replace: the rows become the table; upsert: by the table's key, update or insert;
# insert_new: by the table's key, insert the rows whose key is absent and leave the others (an idempotent append).
WriteMode = Literal["append", "replace", "upsert", "insert_new"]


@dataclass(frozen=True)
class Read:
    table: str
    rows: Rows = "all"
    where: str | None = None  # an Iceberg row filter, pushed down to the scan
    name: str | None = None  # the input's name for the step, when it reads one table twice (default: the table)
    columns: tuple[str, ...] | None = None  # only these (and what picks the current version), when given

    @property
    def input(self) -> str:
        return self.name or self.table


@dataclass(frozen=True)
class Write:
    table: str
    mode: WriteMode


@dataclass(frozen=True)
class StepContext:
    config: Config
    run_id: str
    as_of: date
    now: datetime
    bus: EventBus
    models: ModelStore
    full_resolution: bool = False  # rebuild identities from scratch instead of resolving what is new
    # Where the publish step leaves what each channel needs to reach a person; a bus that delivers reads them there.
    contacts: ContactBook = field(default_factory=MemoryContacts)


@dataclass(frozen=True)
class StepOutput:
    writes: dict[str, pa.Table]
    summary: dict[str, Any] = field(default_factory=dict)


StepFunction = Callable[[dict[str, pa.Table], StepContext], StepOutput]


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    function: StepFunction
    reads: tuple[Read, ...]
    writes: tuple[Write, ...]

    def __post_init__(self) -> None:
        for table in [r.table for r in self.reads] + [w.table for w in self.writes]:
            if table not in TABLES:
                raise ValueError(f"step {self.name!r} names table {table!r}, which cdp.tables does not declare")


IDENTITY_MODEL = "identity"
# Below this many records Splink's estimates mean little: deterministic rules alone link them.
MIN_RECORDS_TO_TRAIN = 100


def identity_model(records: pd.DataFrame | Prepared, latest: tuple[str, dict] | None,
                   ctx: StepContext) -> tuple[str | None, dict | None, bool]:
    """The latest trained matcher (``latest``, as the model store gave it), training one first when there is none
    and there are enough records (then ``trained`` is True)."""
    if not ctx.config.identity.probabilistic.enabled:
        return None, None, False
    if latest is not None:
        return latest[0], latest[1], False
    count = len(records.records) if isinstance(records, Prepared) else len(records)
    if count < MIN_RECORDS_TO_TRAIN:
        return None, None, False
    artefact = train_matcher(records, ctx.config.identity)
    version = f"{ctx.now:%Y%m%dT%H%M%S}-{count}"
    ctx.models.save(IDENTITY_MODEL, version, artefact)
    return version, artefact, True


def _fact_links(config: Config) -> dict[str, list[dict[str, str]]]:
    """Per fact table, the link columns of each source landing there that names person sources."""
    links: dict[str, list[dict[str, str]]] = {}
    for spec in config.sources.values():
        if spec.table != "records" and spec.links:
            links.setdefault(spec.table, []).append({spec.target(c): target for c, target in spec.links.items()})
    return links


def _linked_against_purpose(links: pa.Table, unlinkable: Set[str]) -> bool:
    """Whether a stored link joins a record of a source that does not allow linking to another source's record:
    its uses changed since that link was made, and only a full resolution takes apart the profiles it made."""
    for source in unlinkable:
        prefix = source + ":"
        if pc.any(pc.not_equal(pc.starts_with(links["left_key"], prefix),
                               pc.starts_with(links["right_key"], prefix))).as_py():
            return True
    return False


def _table(frame: pd.DataFrame, name: str) -> pa.Table:
    schema = TABLES[name].schema
    return pa.Table.from_pandas(frame[list(schema.names)], schema=schema, preserve_index=False)


def _profiles(identities: pa.Table) -> int:
    """How many profiles: counted by DuckDB, many times faster than Arrow's hashing of a million strings."""
    con = sql.connect()
    con.register("identities", identities.select(["profile_id"]))
    return int(con.sql("SELECT count(DISTINCT profile_id) FROM identities").fetchall()[0][0])


def resolve(inputs: dict[str, pa.Table], ctx: StepContext) -> StepOutput:
    spec = ctx.config.identity
    enabled = spec.probabilistic.enabled
    latest = ctx.models.latest(IDENTITY_MODEL) if enabled else None
    unlinkable = sources_not_linking(ctx.config)
    rebuild = ctx.full_resolution or inputs["identities"].num_rows == 0 or (
        bool(unlinkable) and _linked_against_purpose(inputs["identity_links"], unlinkable))
    # In record_key order for a full run, which breaks ties by it; an incremental one orders its neighbourhood.
    records = current_versions(inputs["records"], ordered=rebuild)
    # A model trained now was trained on the whole base: resolve it all with that model, not only what is new.
    will_train = enabled and latest is None and records.num_rows >= MIN_RECORDS_TO_TRAIN
    incremental = not (rebuild or will_train)
    if will_train and not rebuild:
        records = records.sort_by("record_key")
    fact_links = _fact_links(ctx.config)
    if incremental:
        # Never trains: a base without a model is resolved in full (``will_train``) or has too few records.
        version, model, trained = (*latest, False) if latest else (None, None, False)
        new_keys = set(inputs["new_records"]["record_key"].to_pylist())
        # Only the new records' neighbourhood is read into Python; the rest of each table is carried over.
        hood = neighbourhood(records, new_keys, inputs["identities"], inputs["identity_links"],
                             inputs["identity_reviews"], {"orders": inputs["orders"]}, fact_links, spec,
                             nicknames_of(spec), model)
        previous = python_frame(hood.identities)
        resolution = resolve_new(python_frame(hood.records), new_keys, previous, python_frame(hood.links),
                                 python_frame(hood.reviews), spec, model, ctx.run_id, ctx.now,
                                 {table: python_frame(rows) for table, rows in hood.facts.items()}, fact_links,
                                 hood.base, hood.scored, unlinkable)
        outside = {name: inputs[name].filter(pc.invert(hood.holds(inputs[name][column])))
                   for name, column in (("identities", "record_key"), ("identity_links", "left_key"))}
        reviews_outside = inputs["identity_reviews"].filter(pc.invert(hood.review_rows))
    else:
        previous = python_frame(inputs["identities"])
        prepared = prepare(python_frame(records), spec)  # typed once for the training it may need and the resolution
        version, model, trained = identity_model(prepared, latest, ctx)
        new_keys = set()
        resolution = link_records(prepared, previous, spec, model, ctx.run_id, ctx.now,
                                  {"orders": python_frame(current_versions(inputs["orders"]))}, fact_links,
                                  unlinkable)
        outside = {name: TABLES[name].schema.empty_table() for name in ("identities", "identity_links")}
        reviews_outside = TABLES["identity_reviews"].schema.empty_table()
    linked = resolution.identities
    links = resolution.links.rename(columns={"left": "left_key", "right": "right_key"})
    if "run_id" not in links.columns:
        links = links.assign(run_id=ctx.run_id)
    reviews = resolution.reviews.assign(run_id=ctx.run_id)
    relinked = 0
    # Only the records resolution clustered again can have changed profile (all of them in a full run).
    touched = resolution.touched
    before = previous if touched is None else previous[previous["record_key"].isin(touched)]
    after = linked if touched is None else linked[linked["record_key"].isin(touched)]
    if not before.empty:
        joined = after.merge(before[["record_key", "profile_id"]], on="record_key", suffixes=("", "_before"))
        relinked = int((joined["profile_id"] != joined["profile_id_before"]).sum())
    links_after = resolution.links if touched is None else resolution.links[resolution.links["left"].isin(touched)]
    changes = profile_changes(before, after, links_after, ctx.run_id, ctx.now)
    identities = pa.concat_tables([outside["identities"], _table(linked, "identities")])
    all_links = pa.concat_tables([outside["identity_links"], _table(links, "identity_links")])
    all_reviews = pa.concat_tables([reviews_outside, _table(reviews, "identity_reviews")])
    return StepOutput({
        "identities": identities,
        "identity_changes": _table(changes, "identity_changes"),
        "identity_links": all_links,
        "identity_reviews": all_reviews,
    }, {"records": identities.num_rows, "profiles": _profiles(identities),
        "relinked": relinked, "mode": "incremental" if incremental else "full",
        "compared": len(new_keys) if incremental else len(linked),
        **({"neighbourhood": len(hood.keys)} if incremental else {}),
        "model": version, "model_trained": trained,
        "merges": int((changes["kind"] == "merge").sum()), "splits": int((changes["kind"] == "split").sum()),
        "links": dict(zip(*all_links.group_by("rule").aggregate([([], "count_all")]).to_pydict().values(),
                          strict=True)),
        "refused": pc.sum(pc.equal(all_reviews["kind"], "refused_link")).as_py() or 0,
        # Candidate links between records of sources that may not be linked (their uses lack linking).
        "links_refused_for_purpose": resolution.refused_for_purpose})


def merge(inputs: dict[str, pa.Table], ctx: StepContext) -> StepOutput:
    merged = merge_profiles(inputs["records"], inputs["identities"], ctx.config.survivorship, ctx.run_id)
    return StepOutput({"profiles": merged.profiles, "profile_lineage": merged.lineage},
                      {"profiles": merged.profiles.num_rows})


def features(inputs: dict[str, pa.Table], ctx: StepContext) -> StepOutput:
    con = fact_views(ctx.config, inputs["profiles"], inputs["identities"], inputs["orders"], inputs["events"],
                     ctx.as_of, inputs["order_lines"], inputs["stores"], inputs["postcodes"])
    updated = update_features(ctx.config, con, ctx.as_of, ctx.run_id, inputs["previous_features"],
                              inputs["previous_values"],
                              inputs["new_order_lines"]["order_id"])
    return StepOutput({"features": updated.features, "feature_values": updated.values},
                      {"profiles": updated.features.num_rows, "recomputed": updated.recomputed,
                       "declared": [f.name for f in ctx.config.features]})


def scoring_model(purchases: pd.DataFrame, web: pd.DataFrame, latest: tuple[str, dict] | None,
                  ctx: StepContext) -> tuple[str | None, dict | None, bool, str | None]:
    """The latest trained scoring models, training them first on the data up to the run's date when there are none
    (then ``trained`` is True); with too little history to train, no models and the reason.

    A run dated before the latest models' training date (a back-test) must not score with what they learnt from
    its future: it trains its own on the data up to its date, and keeps them out of the store."""
    if latest is not None and date.fromisoformat(latest[1]["as_of"]) <= ctx.as_of:
        return latest[0], latest[1], False, None
    try:
        artefact = train_scoring(purchases, web, ctx.as_of, ctx.config.scoring)
    except ValueError as exc:
        return None, None, False, str(exc)
    if latest is not None:
        return f"back-test-{ctx.as_of.isoformat()}", artefact, True, None
    version = f"{ctx.as_of.isoformat()}-{ctx.now:%Y%m%dT%H%M%S}"
    ctx.models.save(SCORING_MODEL, version, artefact)
    return version, artefact, True, None


def score(inputs: dict[str, pa.Table], ctx: StepContext) -> StepOutput:
    spec = ctx.config.scoring
    purchases = purchase_days(ctx.config, inputs["profiles"], inputs["identities"], inputs["orders"], ctx.as_of)
    web = web_days(ctx.config, inputs["profiles"], inputs["identities"], inputs["events"], ctx.as_of)
    version, artefact, trained, why = scoring_model(purchases, web, ctx.models.latest(SCORING_MODEL), ctx)
    scored = score_profiles(inputs["profiles"].to_pandas(), purchases, web, ctx.as_of, artefact, spec, version,
                            ctx.now, ctx.run_id)
    table = pa.Table.from_pandas(scored.reindex(columns=TABLES["scores"].schema.names),
                                 schema=TABLES["scores"].schema, preserve_index=False)
    customers = scored["rfm_segment"].notna()
    return StepOutput({"scores": table}, {
        "profiles": len(scored), "customers": int(customers.sum()), "model": version, "model_trained": trained,
        "horizon_days": spec.horizon_days,
        **({"no_model": why} if why else {}),
        "predicted_value": round(float(scored["predicted_value"].sum()), 2) if artefact else None,
        "rfm_segments": {name: int(n) for name, n in scored["rfm_segment"].value_counts().items()},
    })


def ml_segments(scores: pa.Table, latest: tuple[str, dict] | None) -> list[dict[str, str]]:
    """The ML segments the scores name, described by the clustering of the model version that scored them (a
    back-test's own models are not stored: their segments keep their ids for names)."""
    ids = sorted(v for v in pc.unique(scores["ml_segment"]).to_pylist() if v is not None)
    versions = set(pc.unique(scores["model_version"]).to_pylist())
    clusters = {}
    if latest is not None and versions == {latest[0]} and latest[1].get("clusters"):
        clusters = {c["segment_id"]: c for c in latest[1]["clusters"]["clusters"]}
    out = []
    for segment_id in ids:
        cluster = clusters.get(segment_id)
        explanation = None if cluster is None else (
            f"{cluster['rule_text']} (rule: {cluster['rule_sql']}; it finds {cluster['recall']:.0%} of the segment "
            f"and {cluster['precision']:.0%} of those it finds are in it)")
        out.append({"segment_id": segment_id, "name": cluster["name"] if cluster else segment_id, "kind": "ml",
                    "explanation": explanation})
    return out


def segments(inputs: dict[str, pa.Table], ctx: StepContext) -> StepOutput:
    before = current_members(inputs["segment_memberships"])
    after = evaluate(ctx.config.segments, inputs["profiles"], inputs["features"], inputs["scores"],
                     inputs["feature_values"], [f.name for f in ctx.config.features])
    ml = ml_segments(inputs["scores"], ctx.models.latest(SCORING_MODEL))
    for segment in ml:
        after[segment["segment_id"]] = set(pc.filter(inputs["scores"]["profile_id"], pc.equal(
            inputs["scores"]["ml_segment"], segment["segment_id"])).to_pylist())
    since = member_since(inputs["segment_memberships"])
    before, carried = follow_merges(before, after, merged_into(inputs["identity_changes"]), ctx.run_id, ctx.now,
                                    since)
    changed = changes(before, after, ctx.run_id, ctx.now, carried, since)
    by_rule = changed.filter(pc.is_null(changed["reason"]))
    entered = by_rule.filter(pc.equal(by_rule["change"], "entered")).num_rows
    potential = value_potential(described(ctx.config.segments) + ml, after, inputs["profiles"], inputs["scores"])
    potential = potential.append_column("as_of", pa.array([ctx.as_of] * potential.num_rows, pa.date32())) \
        .append_column("run_id", pa.array([ctx.run_id] * potential.num_rows, pa.string()))
    return StepOutput({"segment_memberships": changed, "segments": potential.cast(TABLES["segments"].schema)}, {
        "sizes": {segment_id: len(members) for segment_id, members in after.items()},
        "potential": {row["segment_id"]: {"name": row["name"], "kind": row["kind"],
                                          "value": row["total_predicted_value"], "churn": row["avg_churn_probability"]}
                      for row in potential.to_pylist()},
        "entered": entered,
        "exited": by_rule.num_rows - entered,
        "followed_merges": len(carried),
    })


def activate(inputs: dict[str, pa.Table], ctx: StepContext) -> StepOutput:
    # A plan that would put a source's data to a use it does not allow never activates (the config refuses it).
    if problems := purpose_problems(ctx.config):
        raise ValueError("; ".join(problems))
    planned = plan_activations(ctx.config, inputs["segment_memberships"], inputs["profiles"], ctx.run_id, ctx.now)
    return StepOutput({"activations": activations_table(planned)}, {
        "decisions": len(planned),
        "holdout": sum(1 for a in planned if a.row["holdout"]),
        # Which sources feed which plan, for what use: what a data protection officer reviews.
        "plans": {plan.segment: {"uses": sorted(plan_uses(plan, ctx.config.channels)),
                                 "sources": sorted(sources_feeding(ctx.config, plan))}
                  for plan in ctx.config.activation_plans},
    })


def publish(inputs: dict[str, pa.Table], ctx: StepContext) -> StepOutput:
    """The one step with side effects: it leaves the contact cards, puts the recorded decisions on the bus, then
    they are marked published.

    Should it fail in between, the retry writes the same cards and publishes the same events again, with the same
    ``event_id`` in their detail, by which receivers drop the duplicates.
    """
    pending = inputs["activations"].sort_by([("occurred_at", "ascending"), ("event_id", "ascending")])
    cards = contact_cards(ctx.config, pending, inputs["profiles"])
    ctx.contacts.put(cards)
    ctx.bus.publish(events_of(pending))
    per_channel: dict[str, int] = {}
    for channels in pending["channels"].to_pylist():
        for channel in channels or []:
            per_channel[channel] = per_channel.get(channel, 0) + 1
    return StepOutput({"activations": marked_published(pending, ctx.now)}, {
        "events": pending.num_rows,
        "holdout": pc.sum(pending["holdout"]).as_py() or 0,
        "per_channel": per_channel,
        # Listed channels left without a card: the person was erased, merged away or withdrew consent since.
        "without_contact": sum(per_channel.values()) - len(cards),
    })


STEPS: tuple[Step, ...] = (
    Step("resolve", "Link records into persons (personal keys, cross-references, Splink's model, guarded "
         "clusters); keep profile ids stable.", resolve,
         # Every version: the step picks the current ones (a large base in no particular order, when incremental).
        (Read("records", columns=RECORD_COLUMNS),
          Read("records", "new", name="new_records", columns=("record_key",)), Read("identities"),
          Read("identity_links"), Read("identity_reviews"),
          # Every version: an incremental run looks only at the orders naming a new record, then at their current
          # version (``neighbourhood``).
          Read("orders", columns=("customer_id", "account_id", "email"))),
         (Write("identities", "replace"), Write("identity_links", "replace"), Write("identity_reviews", "replace"),
          Write("identity_changes", "append"))),
    Step("merge", "Build one golden profile per person with the survivorship rules, and its field lineage.", merge,
         (Read("records", "current"), Read("identities")),
         (Write("profiles", "replace"), Write("profile_lineage", "replace"))),
    Step("features", "Compute behavioural features per profile as of the run date.", features,
         (Read("profiles"), Read("identities"), Read("orders", "current"), Read("order_lines", "current"),
          Read("events", "current"), Read("stores", "current"), Read("postcodes", "current"),
          # The last run's features: only the profiles whose facts changed since are computed again.
          Read("features", name="previous_features"), Read("feature_values", name="previous_values"),
          Read("order_lines", "new", name="new_order_lines", columns=("order_id",))),
         (Write("features", "replace"), Write("feature_values", "replace"))),
    Step("score", "Score each profile as of the run date: RFM, expected purchases and value (buy-till-you-die and "
         "Gamma-Gamma), churn probability, web intent and preferred channel, with the trained models.", score,
         (Read("profiles"), Read("identities"), Read("orders", "current"), Read("events", "current")),
         (Write("scores", "replace"),)),
    Step("segments", "Evaluate segment rules and record who entered or left each segment.", segments,
         (Read("profiles"), Read("features"), Read("feature_values"), Read("scores"), Read("segment_memberships"),
          Read("identity_changes", "new")),
         (Write("segment_memberships", "append"), Write("segments", "replace"))),
    Step("activate", "Decide, per membership change not yet activated, the event for the consented channels.",
         activate, (Read("segment_memberships", "new"), Read("profiles")), (Write("activations", "insert_new"),)),
    Step("publish", "Leave each channel its contact cards, publish the decided events not yet published on the "
         "bus, then mark them published.", publish,
         (Read("activations", where="published_at IS NULL"), Read("profiles")), (Write("activations", "upsert"),)),
)

STEP_NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)


def step_named(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise ValueError(f"unknown pipeline step {name!r}; steps are: {', '.join(STEP_NAMES)}")
