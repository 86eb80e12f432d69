"""Ingest Lambda: S3 object-created notifications arrive through SQS; each landed file is ingested once (the use
case records it and publishes File Ingested)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp import settings
from cdp.adapters import lambda_env as aws
from cdp.ingest.files import file_id_for, ingest_file

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="cdp")
processor = BatchProcessor(event_type=EventType.SQS)


def start_large_file(landed: aws.LandedObject) -> None:
    """Hand a file too large for one function to the large-file state machine (plan, parts in parallel, commit).

    The execution is named after the file, so a redelivered notification cannot start it twice.
    """
    name = file_id_for(landed.source or "", landed.fingerprint)
    client = aws.client("stepfunctions")
    try:
        client.start_execution(
            stateMachineArn=os.environ[settings.LARGE_FILE_STATE_MACHINE_ENV], name=name,
            input=json.dumps({"bucket": landed.bucket, "key": landed.key, "version_id": landed.version_id,
                              "source": landed.source, "fingerprint": landed.fingerprint}),
        )
    except client.exceptions.ExecutionAlreadyExists:
        # The same file, notified again after its execution ended: it was handled; retrying the message would only
        # send it to the dead-letter queue as a false alarm.
        logger.info("large file already handed over", extra={"file_id": name})
        return
    logger.info("large file fanned out", extra={"file_id": name, "size": landed.size})


@tracer.capture_method
def ingest_record(record: SQSRecord) -> None:
    for landed in aws.landed_objects(json.loads(record.body)):
        if landed.source is None:
            # Not the key: a file's name may be a person's.
            logger.warning("object outside landing/<source>/ ignored")
            continue
        if landed.size >= aws.split_bytes():
            start_large_file(landed)
            continue
        with tempfile.TemporaryDirectory() as folder:
            path = landed.download(Path(folder))
            outcome = ingest_file(aws.store(), aws.config(), landed.source, path, landed.uri, landed.fingerprint,
                                  bus=aws.bus(), salt=aws.salt())
        # Counts only: file names and row values may hold personal data and stay out of the logs.
        logger.info("file processed", extra={"file_id": outcome.file_id, "source": outcome.source,
                                              "status": outcome.status, "rows_in": outcome.rows_in,
                                              "rows_quarantined": outcome.rows_quarantined})
        metrics.add_metric("RowsAccepted", MetricUnit.Count, outcome.rows_accepted)
        metrics.add_metric("RowsQuarantined", MetricUnit.Count, outcome.rows_quarantined)
        metrics.add_metric(f"Files{outcome.status.capitalize()}", MetricUnit.Count, 1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=ingest_record, processor=processor, context=context)
