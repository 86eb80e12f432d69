"""Write a batch of events as one JSON Lines object: the hand-off format of channel outboxes and landed events."""

from __future__ import annotations

import json
from typing import Any


def jsonl(events: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in events).encode("utf-8")


def put_jsonl(s3: Any, bucket: str, key: str, events: list[dict[str, Any]]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=jsonl(events), ContentType="application/x-ndjson")
