"""Activation: turn segment entries and exits into events for the consented channels, with a stable hold-out."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from cdp.config import ActivationPlanSpec, ChannelSpec, Config
from cdp.events import SEGMENT_MEMBERSHIP_CHANGED, envelope
from cdp.schemas import TABLES

_EVENT_NAMESPACE = uuid.UUID("6f1c2a52-8d0e-4c55-9a52-0c6a3f5b7d21")


def sha256_identifier(value: str) -> str:
    """The hash ad platforms match on: SHA-256 of the normalised (trimmed, lower-case, E.164) identifier."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


def in_holdout(profile_id: str, segment_id: str, share: float) -> bool:
    """A stable draw per person and segment, so that a hold-out member stays one across runs."""
    bucket = int(hashlib.sha256(f"{segment_id}\x00{profile_id}".encode()).hexdigest()[:8], 16) % 10_000
    return bucket < round(share * 10_000)


def _consented(channel: ChannelSpec, profile: dict[str, Any]) -> bool:
    if channel.consent and profile.get(channel.consent) is not True:
        return False
    return not (channel.identifier and not profile.get(channel.identifier))


@dataclass(frozen=True)
class Activation:
    event: dict[str, Any]  # EventBridge-shaped envelope
    row: dict[str, Any]  # the activations table row


def plan_activations(
    config: Config, changes: pa.Table, profiles: pa.Table, run_id: str, now: datetime
) -> list[Activation]:
    """Events for this run's membership changes.

    Each change yields one event for the channels that take clear identifiers and, separately, one for the
    channels that take hashed ones, so that an ads audience never receives an address in clear. A hold-out
    member's change is still recorded (it is the control group of the uplift measure) but lists no channel.
    """
    plans: dict[str, ActivationPlanSpec] = {plan.segment: plan for plan in config.activation_plans}
    by_id = {p["profile_id"]: p for p in profiles.to_pylist()}
    occurred_at = now.isoformat().replace("+00:00", "Z")
    activations: list[Activation] = []
    for change in changes.to_pylist():
        plan = plans.get(change["segment_id"])
        if plan is None or change["change"] not in plan.changes:
            continue
        profile = by_id.get(change["profile_id"], {"profile_id": change["profile_id"]})
        holdout = in_holdout(change["profile_id"], change["segment_id"], plan.holdout_share)
        consented = [] if holdout else [c for c in plan.channels if _consented(config.channels[c], profile)]
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
                detail["identifiers"] = {k: profile.get(k) for k in ("email", "phone") if profile.get(k)}
            elif group == "hashed":
                detail["hashed_identifiers"] = {
                    f"{k}_sha256": sha256_identifier(profile[k]) for k in ("email", "phone") if profile.get(k)
                }
            event_id = str(uuid.uuid5(_EVENT_NAMESPACE, f"{run_id}|{change['segment_id']}|{change['profile_id']}|"
                                                        f"{change['change']}|{group}"))
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
