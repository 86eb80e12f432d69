"""Domain events and the EventBridge patterns that route them: read by the CDK stack and the local bus alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any

EVENT_SOURCE = "cdp"
BUS_NAME = "cdp"

SEGMENT_MEMBERSHIP_CHANGED = "Segment Membership Changed"
FILE_INGESTED = "File Ingested"
PIPELINE_RUN_COMPLETED = "Pipeline Run Completed"
PROFILE_ERASED = "Profile Erased"
# Sent by the brand's privacy tooling: {"email": ...} or {"phone": ...} or {"profile_id": ...}, and a request_id.
ERASURE_REQUESTED = "Erasure Requested"
# What the daily schedule puts on the erasure function's queue: apply retention (``cdp.privacy.retention``). Only that
# schedule sends it: no rule routes it from the bus.
RETENTION_DUE = "Retention Due"


def channel_rule_name(channel: str) -> str:
    return f"cdp-activation-{channel}"


def channel_rule_pattern(channel: str) -> dict[str, Any]:
    """Events a channel receives: membership changes that list it, never for hold-out members.

    A hold-out member's event carries no channels anyway; matching ``holdout: false`` as well keeps a
    misconfigured plan from ever contacting the control group.
    """
    return {
        "source": [EVENT_SOURCE],
        "detail-type": [SEGMENT_MEMBERSHIP_CHANGED],
        "detail": {"channels": [channel], "holdout": [False]},
    }


def integration_rule_name(source: str) -> str:
    return f"cdp-integration-{source}"


def integration_rule_pattern(detail_types: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Events that other systems publish for a source (e.g. Order Placed), never the platform's own."""
    return {"source": [{"anything-but": [EVENT_SOURCE]}], "detail-type": list(detail_types)}


def ingestion_rule_pattern() -> dict[str, Any]:
    """Files the platform ingested (not those it rejected): what starts a pipeline run after ingestion."""
    return {"source": [EVENT_SOURCE], "detail-type": [FILE_INGESTED], "detail": {"status": ["ingested"]}}


def erasure_rule_pattern() -> dict[str, Any]:
    """Erasure requests, from whichever system the brand handles data subjects' requests in (never the platform)."""
    return {"source": [{"anything-but": [EVENT_SOURCE]}], "detail-type": [ERASURE_REQUESTED]}


def retention_message() -> dict[str, Any]:
    """The message the retention schedule sends; ``detail.as_of`` (YYYY-MM-DD), absent here, reckons from another
    day than today."""
    return {"source": EVENT_SOURCE, "detail-type": RETENTION_DUE, "detail": {}}


def archive_pattern() -> dict[str, Any]:
    """What the bus archives for replay: the platform's own events. An erasure request names the person in clear,
    is never archived, and comes from another source anyway."""
    return {"source": [EVENT_SOURCE]}


def event_time(moment: datetime) -> str:
    """An event's time as EventBridge writes it: ISO 8601 in UTC with a Z."""
    return moment.isoformat().replace("+00:00", "Z")


def envelope(detail_type: str, detail: dict[str, Any], *, event_id: str, time: str) -> dict[str, Any]:
    """An event as EventBridge delivers it to a target, so local outboxes and cloud queues carry one shape."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": EVENT_SOURCE,
        "time": time,
        "resources": [],
        "detail": detail,
    }
