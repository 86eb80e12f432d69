"""Activation plans: turn segment entries and exits into events for the consented channels, with a stable hold-out.

Planning only decides; the decisions are recorded in ``activations`` before anything is published, and publishing
marks them, so that a retried run publishes only what was not published yet.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdp.activation.cards import ContactCard
from cdp.activation.holdout import in_holdout
from cdp.config import ActivationPlanSpec, Config
from cdp.events import SEGMENT_MEMBERSHIP_CHANGED, envelope, event_time
from cdp.privacy.consent import may_contact
from cdp.privacy.hashing import sha256_identifier
from cdp.tables import TABLES

_EVENT_NAMESPACE = uuid.UUID("6f1c2a52-8d0e-4c55-9a52-0c6a3f5b7d21")


@dataclass(frozen=True)
class Activation:
    event: dict[str, Any]  # EventBridge-shaped envelope
    row: dict[str, Any]  # the activations table row


def plan_activations(
    config: Config, changes: pa.Table, profiles: pa.Table, run_id: str, now: datetime
) -> list[Activation]:
    """Events for membership changes not activated yet.

    Each change yields one event for the channels that take clear identifiers and, separately, one for the
    channels that take hashed ones. A hold-out member's change is still recorded (it is the control group of the
    uplift measure) but lists no channel. Events name the person by profile id only: what a channel needs to reach
    them travels apart, in contact cards (``contact_cards``), so that the bus's archive keeps no address or name.
    """
    plans: dict[str, ActivationPlanSpec] = {plan.segment: plan for plan in config.activation_plans}
    by_id = {p["profile_id"]: p for p in profiles.to_pylist()}
    occurred_at = event_time(now)
    activations: list[Activation] = []
    for change in changes.to_pylist():
        plan = plans.get(change["segment_id"])
        if change.get("reason"):  # an id that changed by a merge, not a person entering or leaving
            continue
        if plan is None or change["change"] not in plan.changes:
            continue
        profile = by_id.get(change["profile_id"], {"profile_id": change["profile_id"]})
        holdout = in_holdout(change["profile_id"], change["segment_id"], plan.holdout_share)
        consented = [] if holdout else [c for c in plan.channels if may_contact(config.channels[c], profile)]
        groups = {
            "clear": [c for c in consented if not config.channels[c].hashed],
            "hashed": [c for c in consented if config.channels[c].hashed],
        }
        if not consented:
            groups = {"none": []}
        for group, channels in groups.items():
            if group != "none" and not channels:
                continue
            detail: dict[str, Any] = {
                "profile_id": change["profile_id"],
                "segment_id": change["segment_id"],
                "change": change["change"],
                "channels": channels,
                "holdout": holdout,
                "run_id": run_id,
                "occurred_at": occurred_at,
                "objective": plan.objective,
            }
            # The id depends on the change alone (the run that recorded it, not the one activating it), so a retry
            # plans the same ids; it travels in the detail because PutEvents gives each event an id of its own.
            event_id = str(uuid.uuid5(_EVENT_NAMESPACE, f"{change['run_id']}|{change['segment_id']}|"
                                                        f"{change['profile_id']}|{change['change']}|{group}"))
            detail["event_id"] = event_id
            activations.append(
                Activation(
                    envelope(SEGMENT_MEMBERSHIP_CHANGED, detail, event_id=event_id, time=occurred_at),
                    {
                        "event_id": event_id,
                        "run_id": run_id,
                        "profile_id": change["profile_id"],
                        "segment_id": change["segment_id"],
                        "change": change["change"],
                        "channels": channels,
                        "holdout": holdout,
                        "occurred_at": now,
                        "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True),
                        "published_at": None,
                    },
                )
            )
    return activations


def contact_cards(config: Config, activations: pa.Table, profiles: pa.Table) -> list[ContactCard]:
    """One card per recorded event and channel it lists, from the profiles as they are now: a channel whose person
    is no longer there (erased, merged away) or no longer consents gets none, so it delivers nothing.

    A channel gets only what it addresses people by (an SMS the phone, never the email) and the plan's traits; an ads
    audience gets the SHA-256 of the email and phone alone, never a clear address nor a trait.
    """
    plans = {plan.segment: plan for plan in config.activation_plans}
    wanted = set(activations.filter(pc.invert(activations["holdout"]))["profile_id"].to_pylist())
    by_id = {p["profile_id"]: p for p in profiles.filter(pc.is_in(profiles["profile_id"], pa.array(
        sorted(wanted), pa.string()))).to_pylist()}
    cards = []
    for row in activations.select(["event_id", "profile_id", "segment_id", "channels"]).to_pylist():
        profile, plan = by_id.get(row["profile_id"]), plans.get(row["segment_id"])
        if profile is None or plan is None:
            continue
        for name in row["channels"] or []:
            channel = config.channels.get(name)
            if channel is None or not may_contact(channel, profile):
                continue
            contact: dict[str, Any]
            if channel.hashed:
                contact = {"hashed_identifiers": {
                    f"{k}_sha256": sha256_identifier(profile[k]) for k in ("email", "phone") if profile.get(k)}}
            else:
                contact = {"identifiers": {k: profile[k] for k in ("email", "phone")
                                           if k == channel.identifier and profile.get(k)},
                           "traits": {trait: _plain(profile.get(trait)) for trait in plan.traits}}
            cards.append(ContactCard(name, row["profile_id"], row["event_id"], contact))
    return cards


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def activations_table(activations: list[Activation]) -> pa.Table:
    return pa.Table.from_pylist([a.row for a in activations], schema=TABLES["activations"].schema)
