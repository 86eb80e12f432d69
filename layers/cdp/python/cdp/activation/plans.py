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
    channels that take hashed ones, so that an ads audience never receives an address in clear. A hold-out
    member's change is still recorded (it is the control group of the uplift measure) but lists no channel.
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
                "traits": {trait: _plain(profile.get(trait)) for trait in plan.traits},
            }
            if group == "clear":
                # Only what the listed channels address people by: an SMS gets the phone, never the email.
                wanted = {config.channels[c].identifier for c in channels}
                detail["identifiers"] = {k: profile.get(k) for k in ("email", "phone")
                                         if k in wanted and profile.get(k)}
            elif group == "hashed":
                detail["hashed_identifiers"] = {
                    f"{k}_sha256": sha256_identifier(profile[k]) for k in ("email", "phone") if profile.get(k)
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


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def activations_table(activations: list[Activation]) -> pa.Table:
    return pa.Table.from_pylist([a.row for a in activations], schema=TABLES["activations"].schema)
