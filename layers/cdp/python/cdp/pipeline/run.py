"""Run one pipeline step against a table store and a bus: what the local runner and the pipeline Lambda call."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cdp.config import Config
from cdp.domain import activation, features, identity, profiles, segments
from cdp.pipeline.steps import STEP_NAMES
from cdp.ports import EventBus, TableStore
from cdp.schemas import TABLES


@dataclass
class RunContext:
    config: Config
    store: TableStore
    bus: EventBus
    run_id: str
    as_of: date
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"run-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def _current_records(store: TableStore) -> pa.Table:
    records = store.read("records").to_pandas()
    latest = identity.latest_versions(records)
    return pa.Table.from_pandas(latest, schema=TABLES["records"].schema, preserve_index=False)


def resolve(ctx: RunContext) -> dict[str, Any]:
    records = ctx.store.read("records").to_pandas()
    previous = ctx.store.read("identities").to_pandas()
    linked = identity.resolve(records, previous, ctx.config.identity.deterministic_keys, ctx.run_id, ctx.now)
    table = pa.Table.from_pandas(linked, schema=TABLES["identities"].schema, preserve_index=False)
    ctx.store.replace("identities", table)
    relinked = 0
    if not previous.empty:
        joined = linked.merge(previous[["record_key", "profile_id"]], on="record_key", suffixes=("", "_before"))
        relinked = int((joined["profile_id"] != joined["profile_id_before"]).sum())
    return {"records": len(linked), "profiles": int(linked["profile_id"].nunique()), "relinked": relinked}


def merge(ctx: RunContext) -> dict[str, Any]:
    merged = profiles.merge_profiles(
        _current_records(ctx.store), ctx.store.read("identities"), ctx.config.survivorship, ctx.run_id
    )
    ctx.store.replace("profiles", merged)
    return {"profiles": merged.num_rows}


def compute_features(ctx: RunContext) -> dict[str, Any]:
    table = features.compute_features(
        ctx.config,
        ctx.store.read("profiles"),
        ctx.store.read("identities"),
        ctx.store.read("orders"),
        ctx.store.read("events"),
        ctx.as_of,
        ctx.run_id,
    )
    ctx.store.replace("features", table)
    return {"profiles": table.num_rows}


def evaluate_segments(ctx: RunContext) -> dict[str, Any]:
    history = ctx.store.read("segment_memberships")
    before = segments.current_members(history)
    after = segments.evaluate(ctx.config.segments, ctx.store.read("profiles"), ctx.store.read("features"))
    changed = segments.changes(before, after, ctx.run_id, ctx.now)
    ctx.store.append("segment_memberships", changed)
    entered = changed.filter(pc.equal(changed["change"], "entered")).num_rows
    return {
        "sizes": {segment_id: len(members) for segment_id, members in after.items()},
        "entered": entered,
        "exited": changed.num_rows - entered,
    }


def activate(ctx: RunContext) -> dict[str, Any]:
    already = ctx.store.read("activations", f"run_id == '{ctx.run_id}'", ("event_id",))
    if already.num_rows:
        # A retried step must not contact anyone twice: this run's events were already published.
        return {"events": 0, "already_published": already.num_rows}
    changes = ctx.store.read("segment_memberships", f"run_id == '{ctx.run_id}'")
    planned = activation.plan_activations(ctx.config, changes, ctx.store.read("profiles"), ctx.run_id, ctx.now)
    ctx.bus.publish([a.event for a in planned])
    ctx.store.append("activations", activation.activations_table(planned))
    per_channel: dict[str, int] = {}
    for a in planned:
        for channel in a.row["channels"]:
            per_channel[channel] = per_channel.get(channel, 0) + 1
    return {
        "events": len(planned),
        "holdout": sum(1 for a in planned if a.row["holdout"]),
        "per_channel": per_channel,
    }


STEP_FUNCTIONS: dict[str, Callable[[RunContext], dict[str, Any]]] = {
    "resolve": resolve,
    "merge": merge,
    "features": compute_features,
    "segments": evaluate_segments,
    "activate": activate,
}
assert tuple(STEP_FUNCTIONS) == STEP_NAMES, "every declared step needs an implementation, in the same order"


def run_step(name: str, ctx: RunContext) -> dict[str, Any]:
    try:
        step = STEP_FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"unknown pipeline step {name!r}; steps are: {', '.join(STEP_NAMES)}") from None
    return step(ctx)
