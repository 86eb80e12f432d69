"""Erasure Lambda: `Erasure Requested` events reach it through a queue; each erases the person it names everywhere
(tables, landed files, channel outboxes, the tables' history) with the use case `cdp erase` runs locally. The daily
`Retention Due` message on the same queue applies retention (`cdp retention`): one function, the only one allowed to
delete, and one request at a time."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp import settings
from cdp.adapters import lambda_env as aws
from cdp.adapters.landed import S3Files
from cdp.events import RETENTION_DUE
from cdp.privacy.erasure import ErasureError, Subject, erase
from cdp.privacy.retention import apply_retention, retention_summary

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="cdp")
processor = BatchProcessor(event_type=EventType.SQS)


def _salt() -> str:
    salt = aws.salt()
    if salt is None:
        raise RuntimeError(f"{settings.SALT_SECRET_ENV} is not set: erasure needs the platform's salt")
    return salt


def _files() -> S3Files:
    return S3Files(aws.client("s3"), os.environ[settings.DATA_BUCKET_ENV], settings.OUTBOX_PREFIX)


@tracer.capture_method
def erase_record(record: SQSRecord) -> None:
    message = json.loads(record.body)
    detail = message.get("detail") or {}
    if message.get("detail-type") == RETENTION_DUE:
        apply_retention_due(detail)
        return
    subject = Subject(detail.get("email"), detail.get("phone"), detail.get("profile_id"))
    salt, files = _salt(), _files()
    try:
        erasure = erase(aws.store(), files, aws.config(), subject, salt, datetime.now(UTC))
    except ErasureError as exc:
        # A request that names no one properly is the requester's to fix: retrying cannot help. What it said stays
        # out of the log (it may be an address).
        logger.error("erasure request refused", extra={"request_id": detail.get("request_id"),
                                                       "why": type(exc).__name__})
        metrics.add_metric("ErasuresRefused", MetricUnit.Count, 1)
        return
    # The audit row's id and counts only: the subject is personal.
    logger.info("erasure done", extra={"erasure_id": erasure.erasure_id, "request_id": detail.get("request_id"),
                                       "profiles": erasure.profiles, "rows": erasure.rows,
                                       "landed_file_rows": erasure.file_rows, "history_files": erasure.history_files})
    metrics.add_metric("Erasures", MetricUnit.Count, 1)


@tracer.capture_method
def apply_retention_due(detail: dict[str, Any]) -> None:
    today = date.fromisoformat(detail["as_of"]) if detail.get("as_of") else None
    retention = apply_retention(aws.store(), _files(), aws.config(), _salt(), datetime.now(UTC), today)
    # Counts and the audit row's id only.
    logger.info("retention applied", extra={"erasure_id": retention.erasure.erasure_id if retention.erasure else None,
                                            **retention_summary(retention)})
    metrics.add_metric("RetentionQuarantineRowsDeleted", MetricUnit.Count, retention.quarantine_rows)
    metrics.add_metric("RetentionProfilesErased", MetricUnit.Count,
                       retention.erasure.profiles if retention.erasure else 0)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=erase_record, processor=processor, context=context)
