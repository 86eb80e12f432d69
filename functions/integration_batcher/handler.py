"""Integration batcher (light zip function): events that other systems publish for a source (Customer Updated,
Order Placed...) arrive from that source's queue and land as one JSON Lines file under `landing/<source>/events/`,
from where the ingest function takes them like any file: same contract, quarantine and idempotency.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.adapters.outbox import put_jsonl

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="cdp")
processor = BatchProcessor(event_type=EventType.SQS)
s3 = boto3.client("s3", endpoint_url=os.environ.get("CDP_S3_ENDPOINT") or None)


class Batch:
    events: list[dict[str, Any]] = []


def accept(record: SQSRecord) -> None:
    event = json.loads(record.body)
    if not isinstance(event.get("detail"), dict) or not event.get("id"):
        raise ValueError("not an EventBridge event with an id and an object detail")
    Batch.events.append(event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    Batch.events = []
    response = process_partial_response(event=event, record_handler=accept, processor=processor, context=context)
    if Batch.events:
        source = os.environ["CDP_SOURCE"]
        key = f"landing/{source}/events/{datetime.now(UTC):%Y/%m/%d}/{context.aws_request_id}.jsonl"
        put_jsonl(s3, os.environ["CDP_DATA_BUCKET"], key, Batch.events)
        metrics.add_metric("IntegrationEventsLanded", MetricUnit.Count, len(Batch.events))
        logger.info("events landed", extra={"source": source, "events": len(Batch.events)})
    return response
