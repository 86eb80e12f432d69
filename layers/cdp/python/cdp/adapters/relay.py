"""Relay a queue's batch of events into one JSON Lines object in S3.

Channel outboxes and landed integration events share this hand-off: every message that passes `check` joins the
object; the others are reported as batch item failures, so the queue retries them and, in the end, dead-letters them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.exceptions
from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from cdp.adapters.buses import delivery_id


def jsonl(events: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in events).encode("utf-8")


class DeliveredMarks:
    """What a channel already delivered, as one empty object per event id under ``prefix``.

    A retried publication sends the same events again (same ``event_id`` in their detail): the receiver drops
    those it has marked. Marks are written after the delivery, so a crash in between can repeat an event, never
    lose one.
    """

    def __init__(self, s3: Any, bucket: str, prefix: str):
        self.s3, self.bucket, self.prefix = s3, bucket, prefix

    def _key(self, event: dict[str, Any]) -> str:
        return self.prefix + delivery_id(event)

    def undelivered(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh, ids = [], set()
        for event in events:
            if delivery_id(event) in ids:
                continue
            try:
                self.s3.head_object(Bucket=self.bucket, Key=self._key(event))
            except botocore.exceptions.ClientError as error:
                if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                    raise
                fresh.append(event)
                ids.add(delivery_id(event))
        return fresh

    def mark(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.s3.put_object(Bucket=self.bucket, Key=self._key(event), Body=b"")


def relay_batch(
    event: dict[str, Any],
    context: Any,
    *,
    processor: BatchProcessor,
    check: Callable[[dict[str, Any]], None],
    s3: Any,
    bucket: str,
    key: str,
    marks: DeliveredMarks | None = None,
    complete: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
) -> tuple[dict[str, Any], int]:
    """Returns the partial-batch response for SQS and how many events were written under `key`.

    With ``marks``, events already delivered are dropped (they count as processed, not as failures). With
    ``complete``, each event is written as it returns it, or dropped (and processed) where it returns None.
    """
    accepted: list[dict[str, Any]] = []

    def accept(record: SQSRecord) -> None:
        item = json.loads(record.body)
        check(item)
        accepted.append(item)

    response = process_partial_response(event=event, record_handler=accept, processor=processor, context=context)
    if marks is not None:
        accepted = marks.undelivered(accepted)
    if complete is not None:
        completed = [(event, complete(event)) for event in accepted]
        accepted, written = [e for e, c in completed if c is not None], [c for _, c in completed if c is not None]
    else:
        written = accepted
    if written:
        s3.put_object(Bucket=bucket, Key=key, Body=jsonl(written), ContentType="application/x-ndjson")
        if marks is not None:
            marks.mark(accepted)
    return response, len(written)
