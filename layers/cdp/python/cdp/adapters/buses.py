"""Event buses: a local one that routes by the stack's rule patterns into JSONL outboxes, and EventBridge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cdp.domain.event_patterns import matches
from cdp.events import BUS_NAME, channel_rule_pattern


class LocalBus:
    """Routes each event by the same patterns that the CDK stack gives its rules; a channel's target is a file."""

    def __init__(self, channels: list[str], outbox: Path):
        self.outbox = outbox
        self.rules = {channel: channel_rule_pattern(channel) for channel in channels}
        self.delivered: dict[str, int] = dict.fromkeys(channels, 0)

    def publish(self, events: list[dict[str, Any]]) -> None:
        self.outbox.mkdir(parents=True, exist_ok=True)
        lines: dict[str, list[str]] = {}
        for event in events:
            for channel, pattern in self.rules.items():
                if matches(pattern, event):
                    lines.setdefault(channel, []).append(json.dumps(event, ensure_ascii=False, sort_keys=True))
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
