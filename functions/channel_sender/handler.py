"""Channel sender (light zip function): takes one channel's activation events from its queue and delivers them.

Events name the person by profile id only: the sender completes each with its contact card (the address this
channel uses and the plan's traits, ``cdp.activation.cards``), read at delivery, and drops one without a card (the
person was erased or withdrew consent since). An event already delivered (a retried publication, a redelivered
message) is dropped by the id in its detail. Delivery here is the channel's outbox in the data bucket
(`outbox/<channel>/<date>/<batch>.jsonl`), the hand-off point that email, SMS and ads-audience connectors pick up;
it mirrors the local `outbox/<channel>.jsonl`.
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
from cdp.activation.cards import with_contact
from cdp.adapters.buses import delivery_id
from cdp.adapters.contacts import S3Contacts
from cdp.adapters.relay import DeliveredMarks, relay_batch
from cdp.events import EVENT_SOURCE, SEGMENT_MEMBERSHIP_CHANGED

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="cdp")
processor = BatchProcessor(event_type=EventType.SQS)
s3 = boto3.client("s3", endpoint_url=os.environ.get(settings.S3_ENDPOINT_ENV) or None)


def for_this_channel(event: dict[str, Any]) -> None:
    channel = os.environ[settings.CHANNEL_ENV]
    if event.get("source") != EVENT_SOURCE or event.get("detail-type") != SEGMENT_MEMBERSHIP_CHANGED:
        raise ValueError(f"not an activation event: {event.get('source')!r} / {event.get('detail-type')!r}")
    if channel not in event["detail"].get("channels", []) or event["detail"].get("holdout"):
        raise ValueError(f"event {event.get('id')} is not for channel {channel!r}")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    channel = os.environ[settings.CHANNEL_ENV]
    key = settings.outbox_key(channel, datetime.now(UTC).date(), context.aws_request_id)
    bucket = os.environ[settings.DATA_BUCKET_ENV]
    marks = DeliveredMarks(s3, bucket, settings.delivered_marks_prefix(channel))
    contacts = S3Contacts(s3, bucket)
    without_contact: list[str] = []

    def with_its_card(item: dict[str, Any]) -> dict[str, Any] | None:
        contact = contacts.get(channel, item["detail"]["profile_id"], delivery_id(item))
        if contact is None:
            without_contact.append(delivery_id(item))
            return None
        return with_contact(item, contact)

    response, delivered = relay_batch(event, context, processor=processor, check=for_this_channel, s3=s3,
                                      bucket=bucket, key=key, marks=marks, complete=with_its_card)
    metrics.add_metric("EventsDelivered", MetricUnit.Count, delivered)
    metrics.add_metric("EventsWithoutContact", MetricUnit.Count, len(without_contact))
    # Event ids only: they name no one.
    logger.info("events delivered", extra={"channel": channel, "events": delivered,
                                           "without_contact": without_contact})
    return response
