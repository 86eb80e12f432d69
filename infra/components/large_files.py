"""Large files: a state machine that plans a file's parts, stages them in parallel, and commits them once."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.components.pipeline import execution_alarms

MAX_PARALLEL_PARTS = 8


class LargeFiles(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, image: Callable[[str], lambda_.DockerImageCode],
                 key: kms.IKey, environment: dict[str, str]) -> None:
        super().__init__(scope, construct_id)

        def function(name: str, handler: str) -> lambda_.DockerImageFunction:
            return lambda_.DockerImageFunction(
                self, name, code=image(f"functions.large_file.handler.{handler}"), memory_size=3008,
                timeout=Duration.minutes(15), ephemeral_storage_size=Size.gibibytes(4),
                tracing=lambda_.Tracing.ACTIVE, environment=environment,
                description=f"Large files in parts: {handler}",
            )

        self.functions = [function("Plan", "plan"), function("Stage", "stage"), function("Commit", "commit"),
                          function("Fail", "fail")]
        plan, stage, commit, fail = self.functions
        self.committing = commit  # it writes the rows to the tables
        self.removing_staged = [commit, fail]  # they remove a file's staged parts, on success and on failure
        self.publishing = [commit, fail]  # they publish the file's outcome
        self.cataloguing = [plan, commit, fail]  # staging a part writes only to staging/, no table
        # Any failure: record the file as failed and remove its staged parts, then fail the execution (and alarm).
        record_failure = tasks.LambdaInvoke(self, "RecordFailure", lambda_function=fail, payload_response_only=True,
                                            result_path="$.failure").next(
            sfn.Fail(self, "Failed", cause="The file could not be ingested in parts"))
        done = sfn.Succeed(self, "AlreadyIngested")
        stage_parts = sfn.Map(
            self, "StageParts", items_path="$.parts", max_concurrency=MAX_PARALLEL_PARTS, result_path="$.staged",
            item_selector={
                "part": sfn.JsonPath.string_at("$$.Map.Item.Value"),
                "bucket": sfn.JsonPath.string_at("$.bucket"), "key": sfn.JsonPath.string_at("$.key"),
                "version_id": sfn.JsonPath.string_at("$.version_id"), "source": sfn.JsonPath.string_at("$.source"),
                "file_id": sfn.JsonPath.string_at("$.file_id"), "header_end": sfn.JsonPath.number_at("$.header_end"),
                # Each worker reads its byte ranges and, for Parquet, the footer: the file's size and where the
                # footer starts (null for text) come from the plan.
                "size": sfn.JsonPath.number_at("$.size"), "footer_start": sfn.JsonPath.number_at("$.footer_start"),
            },
        )
        stage_parts.item_processor(tasks.LambdaInvoke(self, "StagePart", lambda_function=stage,
                                                      payload_response_only=True))
        plan_parts = tasks.LambdaInvoke(self, "PlanParts", lambda_function=plan, payload_response_only=True)
        commit_parts = tasks.LambdaInvoke(self, "CommitParts", lambda_function=commit, payload_response_only=True)
        for state in (plan_parts, stage_parts, commit_parts):
            state.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")
        definition = plan_parts.next(
            sfn.Choice(self, "Skipped?").when(sfn.Condition.boolean_equals("$.skipped", True), done)
            .otherwise(stage_parts.next(commit_parts)))
        self.state_machine = sfn.StateMachine(
            self, "StateMachine", definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(6), tracing_enabled=True,
            logs=sfn.LogOptions(destination=logs.LogGroup(self, "Logs", encryption_key=key,
                                                          retention=logs.RetentionDays.ONE_YEAR,
                                                          removal_policy=RemovalPolicy.DESTROY),
                                level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        self.alarms = execution_alarms(self, self.state_machine,
                                       "A large file could not be ingested (see its files row)")
