"""Integration batcher (light zip function): events that other systems publish for a source (Customer Updated,
Order Placed...) arrive from that source's queue and land as one JSON Lines file under `landing/<source>/events/`,
from where the ingest function takes them like any file: same contract, quarantine and idempotency.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp import settings
from cdp.adapters.relay import relay_batch

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="cdp")
processor = BatchProcessor(event_type=EventType.SQS)
s3 = boto3.client("s3", endpoint_url=os.environ.get(settings.S3_ENDPOINT_ENV) or None)


def is_event(event: dict[str, Any]) -> None:
    if not isinstance(event.get("detail"), dict) or not event.get("id"):
        raise ValueError("not an EventBridge event with an id and an object detail")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    source = os.environ[settings.SOURCE_ENV]
    key = settings.integration_events_key(source, datetime.now(UTC).date(), context.aws_request_id)
    response, landed = relay_batch(event, context, processor=processor, check=is_event, s3=s3,
                                   bucket=os.environ[settings.DATA_BUCKET_ENV], key=key)
    metrics.add_metric("IntegrationEventsLanded", MetricUnit.Count, landed)
    logger.info("events landed", extra={"source": source, "events": landed})
    return response
