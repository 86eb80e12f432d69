"""Pipeline Lambda: Step Functions invokes it once per step with {"step", "run_id", "as_of"?}."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.adapters import aws
from cdp.pipeline.run import RunContext, run_step

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="cdp")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step, run_id = event["step"], event["run_id"]
    # Step Functions passes the execution's input along; an "as_of" there recomputes a past date.
    requested = event.get("as_of") or (event.get("input") or {}).get("as_of")
    as_of = date.fromisoformat(requested) if requested else datetime.now(UTC).date()
    logger.append_keys(step=step, run_id=run_id)
    summary = run_step(step, RunContext(aws.config(), aws.store(), aws.bus(), run_id, as_of))
    logger.info("step completed", extra={"summary": summary})
    metrics.add_metric(f"Step{step.capitalize()}Completed", MetricUnit.Count, 1)
    return {"step": step, "run_id": run_id, "summary": summary}
