"""Publishing recorded activation decisions: rebuild each event from its ``activations`` row, and mark it sent."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa

from cdp.events import SEGMENT_MEMBERSHIP_CHANGED, envelope, event_time


def events_of(rows: pa.Table) -> list[dict[str, Any]]:
    """The events of recorded decisions, exactly as planned (the row keeps the event's detail)."""
    return [
        envelope(SEGMENT_MEMBERSHIP_CHANGED, json.loads(row["detail"]), event_id=row["event_id"],
                 time=event_time(row["occurred_at"]))
        for row in rows.select(["event_id", "detail", "occurred_at"]).to_pylist()
    ]


def marked_published(rows: pa.Table, now: datetime) -> pa.Table:
    index = rows.schema.get_field_index("published_at")
    column = rows.schema.field(index)
    return rows.set_column(index, column, pa.array([now] * rows.num_rows, column.type))
