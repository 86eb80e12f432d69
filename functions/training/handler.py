"""Training Lambda: the training state machine invokes it with the execution's input ({"as_of"?}); it fits the
identity matcher and the scoring models on the data up to that date and saves each as a new version in the data
bucket's models/ prefix, which the pipeline loads from its next run."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from cdp.adapters import lambda_env
from cdp.pipeline.training import train_models

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="cdp")


class TrainingRequest(BaseModel):
    as_of: date | None = None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=TrainingRequest)
def handler(event: TrainingRequest, context: LambdaContext) -> dict[str, Any]:
    as_of = event.as_of or datetime.now(UTC).date()
    trained = train_models(lambda_env.store(), lambda_env.config(), lambda_env.models(), as_of)
    models = []
    for model in trained:
        # Figures only (errors, AUC, cluster sizes): nothing about a person.
        logger.info("model trained" if not model.skipped else "model not trained",
                    extra={"model": model.model, "version": model.version, "learnt_from": model.records,
                           "skipped": model.skipped})
        if not model.skipped:
            metrics.add_metric(f"{model.model.capitalize()}ModelTrained", MetricUnit.Count, 1)
        models.append({"model": model.model, "version": model.version, "skipped": model.skipped})
    return {"as_of": as_of.isoformat(), "models": models}
