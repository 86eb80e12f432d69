"""The platform's stack: storage, catalog, ingestion, pipeline, activation and observability, composed."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from cdp import settings
from cdp.config import Config
from cdp.events import BUS_NAME
from cdp.tables import DATABASE
from infra.components.activation import LIGHT_RUNTIME, Activation
from infra.components.analytics import Analytics
from infra.components.catalog import Catalog
from infra.components.ingest import Ingest
from infra.components.integrations import Integrations
from infra.components.large_files import LargeFiles
from infra.components.observability import Observability, function_alarms
from infra.components.pipeline import Pipeline, StartAfterIngestion, Training
from infra.components.privacy import Privacy
from infra.components.storage import Storage

ROOT = Path(__file__).resolve().parent.parent

# The wildcards a role may hold, each reviewed (cdk-nag's IAM5 finding it answers, as a regular expression, and why).
# Each policy gets these suppressions for its own findings only: a wildcard that none of them describes stays a
# finding, and the cdk-nag test fails on it.
REVIEWED_WILDCARDS: tuple[tuple[str, str], ...] = (
    (r"Action::s3:(GetObject|GetBucket|List|Abort|DeleteObject)\*",
     "CDK's grant action groups on the stack's data bucket (read, abort uploads, delete), on the objects the "
     "statement names"),
    (r"Action::kms:(ReEncrypt|GenerateDataKey)\*",
     "CDK's grant action groups on the stack's own keys, for the encrypted bucket, queues and secret"),
    (r"Resource::<StorageData[0-9A-F]{8}\.Arn>/((staging|warehouse|landing|outbox)/)?([a-z_]+/)*\*",
     "Objects of the stack's data bucket, under the prefix the function works in (the whole bucket only for the "
     "data functions, which read landed files and write the Iceberg tables)"),
    (r"Resource::arn:<AWS::Partition>:glue:[a-z0-9-]+:<AWS::AccountId>:table/cdp/\*",
     "The Iceberg tables of the stack's Glue database cdp, which the data functions read and write"),
    (r"Resource::<(Pipeline|LargeFiles|Training)[A-Za-z]*[0-9A-F]{8}\.Arn>:\*",
     "A state machine invoking the versions of its own function"),
    (r"Resource::\*",
     "X-Ray tracing and CloudWatch Logs delivery, which have no resource-level permissions (a test checks that "
     "statements on * hold only those actions)"),
)


class CdpStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, config_path: Path,
                 light_layer: Path, schedule: str, training_schedule: str = "cron(0 2 ? * SUN *)",
                 retention_schedule: str = "cron(0 1 * * ? *)",
                 alarm_email: str | None = None, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        storage = Storage(self, "Storage", retention=config.privacy.retention,
                          results_days=config.analytics.results_days)
        Analytics(self, "Analytics", data=storage.data, key=storage.key, spec=config.analytics,
                  name=f"{construct_id}-analysts")
        catalog = Catalog(self, "Catalog", warehouse_uri=storage.warehouse_uri)
        environment = {
            settings.CONFIG_ENV: settings.IMAGE_CONFIG_PATH, settings.WAREHOUSE_ENV: storage.warehouse_uri,
            settings.DATABASE_ENV: DATABASE, settings.EVENT_BUS_ENV: BUS_NAME,
            settings.DATA_BUCKET_ENV: storage.data.bucket_name,
            "POWERTOOLS_SERVICE_NAME": "cdp", "POWERTOOLS_METRICS_NAMESPACE": "cdp",
        }

        def image(handler: str) -> lambda_.DockerImageCode:
            # One image for every data function (same asset, built once); the command picks the handler.
            return lambda_.DockerImageCode.from_image_asset(
                str(ROOT), file="Dockerfile", cmd=[handler], platform=ecr_assets.Platform.LINUX_AMD64,
                build_args={"CONFIG_SOURCE": config_path.resolve().relative_to(ROOT).as_posix(),
                            "CONFIG_PATH": settings.IMAGE_CONFIG_PATH},
                ignore_mode=None, exclude=[".git", ".venv", "node_modules", "cdk.out", "build", "tests", "bench",
                                           "docs", "**/__pycache__", "**/*.egg-info", "cdp-demo"],
            )

        large_files = LargeFiles(self, "LargeFiles", image=image, key=storage.messaging_key, environment=environment)
        ingest = Ingest(self, "Ingest", data=storage.data, key=storage.messaging_key, code=image(
            "functions.ingest.handler.handler"), environment={
                **environment, settings.LARGE_FILE_STATE_MACHINE_ENV: large_files.state_machine.state_machine_arn})
        large_files.state_machine.grant_start_execution(ingest.function)
        pipeline = Pipeline(self, "Pipeline", key=storage.messaging_key, environment=environment, schedule=schedule,
                            code=image("functions.pipeline.handler.handler"),
                            failure_code=image("functions.pipeline.handler.failed"))
        training = Training(self, "Training", key=storage.messaging_key, environment=environment,
                            schedule=training_schedule, code=image("functions.training.handler.handler"))
        cdp_layer = lambda_.LayerVersion(
            self, "CdpLayer", compatible_runtimes=[LIGHT_RUNTIME], description="The cdp package (pure parts)",
            # The package as-is, but for what no function runs: the command line and the demo generator.
            code=lambda_.Code.from_asset(str(ROOT / "layers" / "cdp"), exclude=[
                "**/__pycache__", "**/*.egg-info", "python/cdp/demo", "python/cdp/cli.py"]),
        )
        light = lambda_.LayerVersion(
            self, "LightLayer", compatible_runtimes=[LIGHT_RUNTIME], code=lambda_.Code.from_asset(str(light_layer)),
            description="aws-lambda-powertools for the light functions",
        )
        activation = Activation(
            self, "Activation", config=config, key=storage.messaging_key, data=storage.data,
            sender_layers=[cdp_layer, light],
            sender_code=lambda_.Code.from_asset(str(ROOT / "functions" / "channel_sender"),
                                                exclude=["**/__pycache__"]),
        )
        starter = StartAfterIngestion(
            self, "StartAfterIngestion", bus=activation.bus, key=storage.messaging_key, machine=pipeline.state_machine,
            run_timeout=pipeline.timeout,
            layers=[cdp_layer, light],
            code=lambda_.Code.from_asset(str(ROOT / "functions" / "pipeline_starter"), exclude=["**/__pycache__"]),
        )
        integrations = Integrations(
            self, "Integrations", config=config, bus=activation.bus, key=storage.messaging_key, data=storage.data,
            layers=[cdp_layer, light],
            code=lambda_.Code.from_asset(str(ROOT / "functions" / "integration_batcher"), exclude=["**/__pycache__"]),
        )
        privacy = Privacy(self, "Privacy", bus=activation.bus, key=storage.messaging_key,
                          code=image("functions.erasure.handler.handler"), environment=environment,
                          retention_schedule=retention_schedule)
        for function in (ingest.function, large_files.committing):
            privacy.give_salt_to(function)
        for function in (ingest.function, pipeline.function, pipeline.failure_function, training.function,
                         *large_files.functions, privacy.function):
            # Read and write, never delete: Iceberg only ever adds files (what a commit replaces stays, for time
            # travel, until snapshots are expired).
            storage.data.grant_read(function)
            storage.data.grant_put(function)
        # Each function is granted the services it calls, no more (the cloud tests record every call and check).
        for function in (ingest.function, pipeline.function, pipeline.failure_function, training.function,
                         *large_files.cataloguing, privacy.function):
            catalog.grant_read_write(function)
        for function in (ingest.function, pipeline.function, *large_files.publishing):
            activation.bus.grant_put_events_to(function)
        for function in large_files.removing_staged:
            storage.data.grant_delete(function, f"{settings.STAGING_PREFIX}*")
        # Erasure alone deletes what it must: the tables' files no snapshot needs any more, and the earlier versions
        # of the landed files and outboxes it rewrote.
        for prefix in (settings.WAREHOUSE_PREFIX + "/", settings.LANDING_PREFIX, settings.OUTBOX_PREFIX):
            storage.data.grant_delete(privacy.function, f"{prefix}*")
        Observability(self, "Observability", key=storage.messaging_key, alerts=config.alerts, email=alarm_email,
                      alarms=[ingest.dead_letter_alarm, ingest.backlog_alarm, *function_alarms(self),
                              *pipeline.alarms, *training.alarms, *large_files.alarms, starter.dead_letter_alarm,
                              *integrations.dead_letter_alarms, *activation.dead_letter_alarms,
                              privacy.dead_letter_alarm])
        self._log_groups(storage.messaging_key, config.privacy.retention.logs_days)
        self._only_for_this_account(storage.messaging_key)
        self._suppress_reviewed_findings()

    def _only_for_this_account(self, key: kms.Key) -> None:
        """CDK lets services use the key with no condition (S3 for the landing queue, EventBridge for the bus): a
        service may use it on this account's behalf only."""
        for index, statement in enumerate(self.resolve(key.node.default_child.key_policy)["Statement"]):
            if statement.get("Principal", {}).get("Service") and "Condition" not in statement:
                key.node.default_child.add_property_override(
                    f"KeyPolicy.Statement.{index}.Condition", {"StringEquals": {"aws:SourceAccount": self.account}})

    def _log_groups(self, key: kms.IKey, days: int) -> None:
        """Each function writes to a log group of its own, encrypted, kept ``privacy.retention.logs_days``."""
        for function in [c for c in self.node.find_all() if isinstance(c, lambda_.Function)]:
            group = logs.CfnLogGroup(function, "Logs", kms_key_id=key.key_arn, retention_in_days=days)
            group.apply_removal_policy(RemovalPolicy.DESTROY)  # its lines expire anyway; a removed stack keeps none
            function.node.default_child.add_property_override("LoggingConfig.LogGroup", group.ref)

    def _suppress_reviewed_findings(self) -> None:
        NagSuppressions.add_stack_suppressions(self, [
            {"id": "AwsSolutions-IAM4", "reason": "Lambda functions use the AWS managed basic execution role "
                                                  "(CloudWatch Logs only), and CDK's bucket-notification helper "
                                                  "does too"},
        ])
        for policy in (c for c in self.node.find_all() if isinstance(c, iam.Policy)):
            NagSuppressions.add_resource_suppressions(policy, [
                {"id": "AwsSolutions-IAM5", "reason": reason, "appliesTo": [{"regex": f"/^{pattern}$/g"}]}
                for pattern, reason in REVIEWED_WILDCARDS])
        NagSuppressions.add_resource_suppressions(
            self.node.find_child("Privacy").node.find_child("Salt"),
            [{"id": "AwsSolutions-SMG4", "reason": "The salt of erased persons' hashes is never rotated: a new salt "
                                                   "would no longer recognise the persons already erased"}],
        )
        NagSuppressions.add_resource_suppressions(
            self.node.find_child("Storage").node.find_child("AccessLogs"),
            [{"id": "AwsSolutions-S1", "reason": "This is the access-log bucket; logging it into itself would loop"}],
        )
