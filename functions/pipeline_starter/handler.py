"""Pipeline starter (light zip function): `File Ingested` events gathered by its queue over a few minutes start one
pipeline run, named after its debounce window. While a run is going, or when the window's run exists already, the
batch goes back to the queue and comes again a window later: the files it announces may be newer than what that run
read, so they start the next one. One run at a time, and no file waits for the next schedule."""

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


def _wait(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Every message back to the queue: it comes again when its visibility ends, a window later."""
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]} for record in records]}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    machine = os.environ[settings.PIPELINE_STATE_MACHINE_ENV]
    name = run_name(datetime.now(UTC))
    going = stepfunctions.list_executions(stateMachineArn=machine, statusFilter="RUNNING", maxResults=1)["executions"]
    if going:
        logger.info("a pipeline run is going: the files wait for the next one",
                    extra={"running": going[0]["name"], "files": len(records)})
        return _wait(records)
    try:
        stepfunctions.start_execution(stateMachineArn=machine, name=name, input="{}")
    except stepfunctions.exceptions.ExecutionAlreadyExists:
        # This window's run has started already (another batch) or even ended: these files may be newer than what
        # it read, so they start the next window's run.
        logger.info("this window's run exists: the files wait for the next window", extra={"run": name,
                                                                                          "files": len(records)})
        return _wait(records)
    logger.info("pipeline run started after ingestion", extra={"run": name, "files": len(records)})
    # The batch is one decision: should starting fail, the whole batch is retried (an exception).
    return {"batchItemFailures": []}
