"""Relay a queue's batch of events into one JSON Lines object in S3.

Channel outboxes and landed integration events share this hand-off: every message that passes `check` joins the
object; the others are reported as batch item failures, so the queue retries them and, in the end, dead-letters them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def jsonl(events: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in events).encode("utf-8")


def relay_batch(
    event: dict[str, Any],
    context: Any,
    *,
    processor: BatchProcessor,
    check: Callable[[dict[str, Any]], None],
    s3: Any,
    bucket: str,
    key: str,
) -> tuple[dict[str, Any], int]:
    """Returns the partial-batch response for SQS and how many events were written under `key`."""
    accepted: list[dict[str, Any]] = []

    def accept(record: SQSRecord) -> None:
        item = json.loads(record.body)
        check(item)
        accepted.append(item)

    response = process_partial_response(event=event, record_handler=accept, processor=processor, context=context)
    if accepted:
        s3.put_object(Bucket=bucket, Key=key, Body=jsonl(accepted), ContentType="application/x-ndjson")
    return response, len(accepted)
