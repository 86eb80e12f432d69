"""The pipeline state machine: one state per step of `cdp.pipeline.steps.STEPS`, in that order, on a schedule."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdp.pipeline.steps import STEPS


class Pipeline(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, code: lambda_.DockerImageCode, key: kms.IKey,
                 environment: dict[str, str], schedule: str) -> None:
        super().__init__(scope, construct_id)
        self.function = lambda_.DockerImageFunction(
            self, "Function", code=code, memory_size=3008, timeout=Duration.minutes(15),
            tracing=lambda_.Tracing.ACTIVE, environment=environment,
            description="Runs one pipeline step (resolve, merge, features, segments, activate)",
        )
        failed = sfn.Fail(self, "Failed", cause="A pipeline step failed after its retries")
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
            task.add_catch(failed, errors=["States.ALL"], result_path="$.error")
            chain = task if chain is None else chain.next(task)
        log_group = logs.LogGroup(self, "Logs", encryption_key=key, retention=logs.RetentionDays.ONE_YEAR,
                                  removal_policy=RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine", definition_body=sfn.DefinitionBody.from_chainable(chain),
            timeout=Duration.hours(3), tracing_enabled=True,
            # Execution data would carry profile-level summaries into the logs: keep it out (no PII in logs).
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self.function.grant_invoke(self.state_machine)
        events.Rule(self, "Schedule", schedule=events.Schedule.expression(schedule),
                    targets=[targets.SfnStateMachine(self.state_machine)])
        self.failed_alarm = cloudwatch.Alarm(
            self, "FailedAlarm", metric=self.state_machine.metric_failed(period=Duration.minutes(5)), threshold=1,
            evaluation_periods=1, alarm_description="A pipeline run failed",
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
