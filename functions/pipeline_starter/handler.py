"""Pipeline starter (light zip function): `File Ingested` events gathered by its queue over a few minutes start one
pipeline run. The run is named after its debounce window, so a redelivered batch, or a second batch of the same
window, starts nothing more; a run that finds another going steps aside (the pipeline's own guard)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp import settings

logger = Logger()
tracer = Tracer()
stepfunctions = boto3.client("stepfunctions", endpoint_url=os.environ.get(settings.AWS_ENDPOINT_ENV) or None)


def run_name(now: datetime) -> str:
    """The debounce window's name: files ingested in the same window share one run."""
    window = int(now.timestamp()) // settings.PIPELINE_DEBOUNCE_SECONDS * settings.PIPELINE_DEBOUNCE_SECONDS
    return f"after-ingestion-{datetime.fromtimestamp(window, UTC):%Y%m%dT%H%M%S}"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    files = len(event.get("Records", []))
    name = run_name(datetime.now(UTC))
    try:
        stepfunctions.start_execution(stateMachineArn=os.environ[settings.PIPELINE_STATE_MACHINE_ENV], name=name,
                                      input="{}")
    except stepfunctions.exceptions.ExecutionAlreadyExists:
        logger.info("pipeline run already started for this window", extra={"run": name, "files": files})
        return {"batchItemFailures": []}
    logger.info("pipeline run started after ingestion", extra={"run": name, "files": files})
    # The batch is one decision: should starting fail, the whole batch is retried (an exception).
    return {"batchItemFailures": []}
