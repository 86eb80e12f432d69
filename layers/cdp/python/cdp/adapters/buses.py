"""Event buses: a local one that routes by the stack's rule patterns into JSONL outboxes, and EventBridge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdp.activation.cards import with_contact
from cdp.adapters.patterns import matches
from cdp.events import BUS_NAME, channel_rule_pattern

if TYPE_CHECKING:  # the light sender functions import this module, and have no pyarrow for cdp.ports
    from cdp.ports import ContactBook


def delivery_id(event: dict[str, Any]) -> str:
    """What a receiver deduplicates on: the platform's own id in the detail (EventBridge assigns ``id`` anew on
    each PutEvents), else the envelope's id."""
    detail = event.get("detail")
    return str(detail.get("event_id") or event.get("id")) if isinstance(detail, dict) else str(event.get("id"))


class LocalBus:
    """Routes each event by the same patterns that the CDK stack gives its rules; a channel's target is a file.

    Like the cloud's senders, a channel delivers an event completed with its contact card (``contacts``), and does
    not deliver one without (``undelivered``); and like a careful receiver, its outbox takes an event once: one
    published again (a retried step) is dropped by its id. ``published`` counts every event put on the bus by
    detail-type, routed or not.
    """

    def __init__(self, channels: list[str], outbox: Path, contacts: ContactBook):
        self.outbox = outbox
        self.contacts = contacts
        self.rules = {channel: channel_rule_pattern(channel) for channel in channels}
        self.delivered: dict[str, int] = dict.fromkeys(channels, 0)
        self.undelivered: dict[str, int] = dict.fromkeys(channels, 0)
        self.published: dict[str, int] = {}
        self._seen: dict[str, set[str]] = {}

    def _delivered_ids(self, channel: str) -> set[str]:
        if channel not in self._seen:
            path = self.outbox / f"{channel}.jsonl"
            lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            self._seen[channel] = {delivery_id(json.loads(line)) for line in lines if line}
        return self._seen[channel]

    def publish(self, events: list[dict[str, Any]]) -> None:
        lines: dict[str, list[str]] = {}
        for event in events:
            self.published[event["detail-type"]] = self.published.get(event["detail-type"], 0) + 1
            for channel, pattern in self.rules.items():
                if matches(pattern, event):
                    seen = self._delivered_ids(channel)
                    if delivery_id(event) in seen:
                        continue
                    contact = self.contacts.get(channel, event["detail"]["profile_id"], delivery_id(event))
                    if contact is None:
                        self.undelivered[channel] += 1
                        continue
                    seen.add(delivery_id(event))
                    lines.setdefault(channel, []).append(
                        json.dumps(with_contact(event, contact), ensure_ascii=False, sort_keys=True))
        if lines:
            self.outbox.mkdir(parents=True, exist_ok=True)
        for channel, channel_lines in lines.items():
            with (self.outbox / f"{channel}.jsonl").open("a", encoding="utf-8") as handle:
                handle.write("\n".join(channel_lines) + "\n")
            self.delivered[channel] += len(channel_lines)


class EventBridgeBus:
    """Puts events on an EventBridge bus, ten per call (the API's limit), and fails loudly on any rejection."""

    def __init__(self, client: Any, bus_name: str = BUS_NAME):
        self.client = client
        self.bus_name = bus_name

    def publish(self, events: list[dict[str, Any]]) -> None:
        for start in range(0, len(events), 10):
            batch = events[start : start + 10]
            response = self.client.put_events(
                Entries=[
                    {
                        "EventBusName": self.bus_name,
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"], ensure_ascii=False, sort_keys=True),
                        "Resources": event.get("resources", []),
                    }
                    for event in batch
                ]
            )
            if response.get("FailedEntryCount"):
                failures = [e for e in response["Entries"] if e.get("ErrorCode")]
                raise RuntimeError(f"EventBridge refused {len(failures)} of {len(batch)} events: {failures[:3]}")


class MemoryBus:
    """Keeps the events it is given, in order: for callers that only need to see what was published."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def publish(self, events: list[dict[str, Any]]) -> None:
        self.events.extend(events)
