"""The pipeline state machine: one state per step of `cdp.pipeline.steps.STEPS`, in that order, on a schedule; and
the training state machine, which refits the models the pipeline loads, on its own (slower) schedule."""

from __future__ import annotations

import math

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdp import settings
from cdp.events import ingestion_rule_pattern
from cdp.pipeline.steps import STEPS
from infra.components.activation import LIGHT_RUNTIME, event_pattern
from infra.components.ingest import dead_letter_alarm, encrypted_queue


def _scheduled_machine(scope: Construct, *, function: lambda_.IFunction, definition: sfn.IChainable,
                       key: kms.IKey, timeout: Duration, schedule: str, failure: str, name: str | None = None
                       ) -> tuple[sfn.StateMachine, list[cloudwatch.Alarm]]:
    """A state machine invoking ``function``, logged (without execution data: summaries must stay out of logs) and
    traced, started on ``schedule``, with alarms on failed, timed-out and aborted executions."""
    log_group = logs.LogGroup(scope, "Logs", encryption_key=key, retention=logs.RetentionDays.ONE_YEAR,
                              removal_policy=RemovalPolicy.DESTROY)
    machine = sfn.StateMachine(
        scope, "StateMachine", definition_body=sfn.DefinitionBody.from_chainable(definition), timeout=timeout,
        tracing_enabled=True, state_machine_name=name,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
    )
    function.grant_invoke(machine)
    events.Rule(scope, "Schedule", schedule=events.Schedule.expression(schedule),
                targets=[targets.SfnStateMachine(machine, input=events.RuleTargetInput.from_object({}))])
    return machine, execution_alarms(scope, machine, failure)


def execution_alarms(scope: Construct, machine: sfn.StateMachine, failure: str) -> list[cloudwatch.Alarm]:
    """Alarms on any execution that failed, timed out or was aborted (the first is the machine's own failure)."""
    metrics = (("Failed", machine.metric_failed(period=Duration.minutes(5)), failure),
               ("TimedOut", machine.metric_timed_out(period=Duration.minutes(5)), f"{failure}: timed out"),
               ("Aborted", machine.metric_aborted(period=Duration.minutes(5)), f"{failure}: aborted"))
    return [cloudwatch.Alarm(scope, f"{name}Alarm", metric=metric, threshold=1, evaluation_periods=1,
                             alarm_description=description,
                             comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
            for name, metric, description in metrics]


class Pipeline(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.DockerImageCode,
                 failure_code: lambda_.DockerImageCode, key: kms.IKey, environment: dict[str, str],
                 schedule: str) -> None:
        super().__init__(scope, construct_id)
        self.function = lambda_.DockerImageFunction(
            self, "Function", code=code, memory_size=3008, timeout=Duration.minutes(15),
            tracing=lambda_.Tracing.ACTIVE, environment=environment,
            description="Runs one pipeline step (resolve, merge, features, score, segments, activate, publish)",
        )
        self.failure_function = lambda_.DockerImageFunction(
            self, "FailureFunction", code=failure_code, memory_size=1024, timeout=Duration.minutes(2),
            tracing=lambda_.Tracing.ACTIVE, environment=environment,
            description="Records a pipeline step that failed for good in pipeline_runs",
        )
        # A step failed after its retries: the failure goes in pipeline_runs (step, error), then the run fails.
        failed = tasks.LambdaInvoke(
            self, "RecordFailure", lambda_function=self.failure_function, result_path="$.recorded",
            payload=sfn.TaskInput.from_object({
                "step": sfn.JsonPath.string_at("$.failed_step"),
                "run_id": sfn.JsonPath.string_at("$$.Execution.Name"),
                "error": sfn.JsonPath.object_at("$.error"),
            }),
        ).next(sfn.Fail(self, "Failed", cause="A pipeline step failed after its retries"))
        # One run at a time: a run started while another is running (a schedule and an ingestion, say) ends at
        # once, visibly, and leaves the tables to the first.
        name = f"{Stack.of(self).stack_name}-pipeline"
        running = tasks.CallAwsService(
            self, "OneRunAtATime", service="sfn", action="listExecutions", iam_action="states:ListExecutions",
            iam_resources=[Stack.of(self).format_arn(service="states", resource="stateMachine", resource_name=name,
                                                     arn_format=ArnFormat.COLON_RESOURCE_NAME)],
            parameters={"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": 2},
            result_selector={"running.$": "States.ArrayLength($.Executions)"}, result_path="$.guard",
        )
        refused = sfn.Succeed(self, "AnotherRunInProgress", comment="Refused: another run of the pipeline is going")
        steps_start: sfn.IChainable | None = None
        chain: sfn.IChainable | None = None
        for step in STEPS:
            task = tasks.LambdaInvoke(
                self, step.name, state_name=step.name, comment=step.description, lambda_function=self.function,
                payload=sfn.TaskInput.from_object({
                    "step": step.name,
                    "run_id": sfn.JsonPath.string_at("$$.Execution.Name"),
                    "input": sfn.JsonPath.object_at("$$.Execution.Input"),
                }),
                result_selector={"summary": sfn.JsonPath.object_at("$.Payload.summary")},
                result_path=f"$.steps.{step.name}",
            )
            # Iceberg's optimistic commits can collide with an ingest; the step is idempotent, so retry it.
            task.add_retry(errors=["CommitFailedException"], interval=Duration.seconds(20), max_attempts=4,
                           backoff_rate=2)
            which = sfn.Pass(self, f"{step.name} failed", result=sfn.Result.from_string(step.name),
                             result_path="$.failed_step").next(failed)
            task.add_catch(which, errors=["States.ALL"], result_path="$.error")
            steps_start = steps_start or task
            chain = task if chain is None else chain.next(task)
        definition = running.next(sfn.Choice(self, "Alone?")
                                  .when(sfn.Condition.number_greater_than("$.guard.running", 1), refused)
                                  .otherwise(steps_start))
        self.timeout = Duration.hours(3)
        self.state_machine, self.alarms = _scheduled_machine(
            self, function=self.function, definition=definition, key=key, timeout=self.timeout,
            schedule=schedule, failure="A pipeline run failed", name=name)


class Training(Construct):
    """`cdp train` in the cloud: fit the identity matcher and the scoring models as of the execution's date (or
    its input's ``as_of``) and save them under the data bucket's models/ prefix; the pipeline never retrains."""

    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.DockerImageCode, key: kms.IKey,
                 environment: dict[str, str], schedule: str) -> None:
        super().__init__(scope, construct_id)
        self.function = lambda_.DockerImageFunction(
            self, "Function", code=code, memory_size=10240, timeout=Duration.minutes(15),
            tracing=lambda_.Tracing.ACTIVE, environment=environment,
            description="Fits the identity matcher and the scoring models on the data up to a date",
        )
        failed = sfn.Fail(self, "Failed", cause="Training failed after its retries")
        train = tasks.LambdaInvoke(
            self, "train", state_name="train", comment="Fit and save the models the pipeline loads",
            lambda_function=self.function, payload=sfn.TaskInput.from_json_path_at("$"),
            result_selector={"models": sfn.JsonPath.object_at("$.Payload.models")}, result_path="$.trained",
        )
        train.add_retry(errors=["Lambda.ServiceException", "Lambda.TooManyRequestsException"],
                        interval=Duration.seconds(30), max_attempts=3, backoff_rate=2)
        train.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        self.state_machine, self.alarms = _scheduled_machine(
            self, function=self.function, definition=train, key=key, timeout=Duration.hours(1), schedule=schedule,
            failure="A training run failed: the pipeline keeps the last models")


class StartAfterIngestion(Construct):
    """Ingested files start a pipeline run, debounced: their `File Ingested` events gather in a queue, and the
    starter takes them a few minutes' worth at a time, starting one run per window. While a run is going, the
    events go back to the queue and come again a window later, until it has ended: files ingested during a run
    start the next one. Only events still waiting when a run could have timed out twice over reach the DLQ."""

    def __init__(self, scope: Construct, construct_id: str, *, bus: events.IEventBus, key: kms.IKey,
                 machine: sfn.IStateMachine, run_timeout: Duration, code: lambda_.Code,
                 layers: list[lambda_.ILayerVersion]) -> None:
        super().__init__(scope, construct_id)
        dead_letters = encrypted_queue(self, "DeadLetters", key, retention_period=Duration.days(14))
        window = Duration.seconds(settings.PIPELINE_DEBOUNCE_SECONDS)
        self.queue = encrypted_queue(self, "Queue", key, visibility_timeout=window, dead_letter_queue={
            "max_receive_count": 2 * math.ceil(run_timeout.to_seconds() / window.to_seconds()) + 1,
            "queue": dead_letters})
        rule = events.Rule(self, "Rule", event_bus=bus, event_pattern=event_pattern(ingestion_rule_pattern()),
                           description="Ingested files start a pipeline run")
        rule.add_target(targets.SqsQueue(self.queue, retry_attempts=8, max_event_age=Duration.hours(24),
                                         dead_letter_queue=dead_letters))
        self.function = lambda_.Function(
            self, "Function", runtime=LIGHT_RUNTIME, handler="handler.handler", code=code, layers=layers,
            memory_size=256, timeout=Duration.seconds(30), tracing=lambda_.Tracing.ACTIVE,
            description="Starts one pipeline run per window of ingested files",
            environment={settings.PIPELINE_STATE_MACHINE_ENV: machine.state_machine_arn,
                         "POWERTOOLS_SERVICE_NAME": "cdp-pipeline-starter"},
        )
        self.function.add_event_source(sources.SqsEventSource(
            self.queue, batch_size=1000, max_batching_window=Duration.seconds(settings.PIPELINE_DEBOUNCE_SECONDS),
            report_batch_item_failures=True))
        machine.grant_start_execution(self.function)
        machine.grant(self.function, "states:ListExecutions")  # is a run going?
        self.dead_letter_alarm = dead_letter_alarm(self, "DeadLettersAlarm", dead_letters,
                                                   "Ingested files whose pipeline run could not be started")
