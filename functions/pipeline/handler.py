"""Pipeline Lambda: Step Functions invokes it once per step with {"step", "run_id", "as_of"?}."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.adapters import lambda_env
from cdp.pipeline.runner import record_failure, run_step
from cdp.pipeline.steps import STEP_NAMES, StepContext

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="cdp")


class ExecutionInput(BaseModel):
    as_of: date | None = None
    # Rebuild identities from scratch, as `cdp resolve --full` does: after a source is allowed `linking` again, or
    # the matcher was retrained.
    full_resolution: bool = False


class StepRequest(BaseModel):
    """What the state machine sends: the step, the execution name as run id, and the execution's input."""

    step: Literal[STEP_NAMES]  # type: ignore[valid-type]
    run_id: str
    as_of: date | None = None
    input: ExecutionInput = ExecutionInput()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=StepRequest)
def handler(event: StepRequest, context: LambdaContext) -> dict[str, Any]:
    step, run_id = event.step, event.run_id
    # An "as_of" in the execution's input recomputes a past date (backfills, audits).
    as_of = event.as_of or event.input.as_of or datetime.now(UTC).date()
    logger.append_keys(step=step, run_id=run_id)
    ctx = StepContext(lambda_env.config(), run_id, as_of, datetime.now(UTC), lambda_env.bus(),
                      lambda_env.models(), event.input.full_resolution, contacts=lambda_env.contacts())
    summary = run_step(step, lambda_env.store(), ctx)
    logger.info("step completed", extra={"summary": summary})
    metrics.add_metric(f"Step{step.capitalize()}Completed", MetricUnit.Count, 1)
    return {"step": step, "run_id": run_id, "summary": summary}


class FailureRequest(BaseModel):
    """What the machine's catch sends: the failed step, the execution name as run id, and the error."""

    step: str
    run_id: str
    error: dict[str, Any] = {}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=FailureRequest)
def failed(event: FailureRequest, context: LambdaContext) -> dict[str, Any]:
    # The error's name only: a message may quote data.
    error = str(event.error.get("Error", "unknown error"))
    record_failure(lambda_env.store(), event.run_id, event.step, error)
    logger.error("step failed", extra={"step": event.step, "run_id": event.run_id, "error": error})
    metrics.add_metric("StepFailed", MetricUnit.Count, 1)
    return {"step": event.step, "run_id": event.run_id, "error": error}
