"""The data bucket (landing zone, Iceberg warehouse, channel outboxes) and the key that encrypts everything."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdp.config.privacy import RetentionSpec
from cdp.settings import ATHENA_RESULTS_PREFIX, LANDING_PREFIX, OUTBOX_PREFIX, STAGING_PREFIX, WAREHOUSE_PREFIX


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retention: RetentionSpec, results_days: int) -> None:
        super().__init__(scope, construct_id)
        abort = Duration.days(retention.incomplete_upload_days)
        self.key = kms.Key(self, "Key", description="Encrypts the customer data platform's data at rest",
                           enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN)
        # Queues, topics and logs get a key of their own: the landing queue's key policy names the bucket, and
        # the bucket names its key, so one shared key would make a dependency cycle.
        self.messaging_key = kms.Key(self, "MessagingKey", enable_key_rotation=True,
                                     description="Encrypts the platform's queues, topics and logs")
        # CloudWatch Logs encrypts the state machines' logs with it: its regional service must be allowed to.
        stack = Stack.of(self)
        self.messaging_key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"], principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            # Only for this account's log groups.
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                    f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"}},
        ))
        # S3 server access logs cannot be delivered to a KMS-encrypted bucket: this one uses S3-managed keys.
        self.access_logs = s3.Bucket(
            self, "AccessLogs", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True, versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(
                expiration=Duration.days(retention.access_logs_days),
                noncurrent_version_expiration=Duration.days(1), abort_incomplete_multipart_upload_after=abort)],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.data = s3.Bucket(
            self, "Data", encryption=s3.BucketEncryption.KMS, encryption_key=self.key, bucket_key_enabled=True,
            enforce_ssl=True, versioned=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            server_access_logs_bucket=self.access_logs, server_access_logs_prefix="data/",
            # The tables (warehouse/) and models keep no expiry: Iceberg decides what its files are worth.
            lifecycle_rules=[
                s3.LifecycleRule(id="versions", noncurrent_version_expiration=Duration.days(retention.noncurrent_days),
                                 abort_incomplete_multipart_upload_after=abort),
                s3.LifecycleRule(id="landing", prefix=LANDING_PREFIX, expiration=Duration.days(retention.landing_days)),
                s3.LifecycleRule(id="staging", prefix=STAGING_PREFIX, expiration=Duration.days(retention.staging_days)),
                s3.LifecycleRule(id="outbox", prefix=OUTBOX_PREFIX, expiration=Duration.days(retention.outbox_days)),
                s3.LifecycleRule(id="athena-results", prefix=ATHENA_RESULTS_PREFIX,
                                 expiration=Duration.days(results_days)),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    @property
    def warehouse_uri(self) -> str:
        return f"s3://{self.data.bucket_name}/{WAREHOUSE_PREFIX}"
