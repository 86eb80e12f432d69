"""Ingestion: object-created notifications under landing/ go through SQS (retries, DLQ) to the ingest function."""

from __future__ import annotations

from aws_cdk import Duration, Size
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdp.settings import LANDING_PREFIX

INGEST_TIMEOUT = Duration.minutes(15)


def encrypted_queue(scope: Construct, construct_id: str, key: kms.IKey, **options) -> sqs.Queue:
    return sqs.Queue(scope, construct_id, encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
                     enforce_ssl=True, **options)


def dead_letter_alarm(scope: Construct, construct_id: str, queue: sqs.IQueue, description: str) -> cloudwatch.Alarm:
    """An alarm as soon as one message lands in a dead-letter queue: something failed for good."""
    return cloudwatch.Alarm(
        scope, construct_id, metric=queue.metric_approximate_number_of_messages_visible(), threshold=1,
        evaluation_periods=1, alarm_description=description,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    )


class Ingest(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, data: s3.Bucket, key: kms.IKey,
                 code: lambda_.DockerImageCode, environment: dict[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = encrypted_queue(self, "DeadLetters", key, retention_period=Duration.days(14))
        # A message stays invisible for longer than the function may run, so a slow file is not ingested twice.
        self.queue = encrypted_queue(
            self, "Landed", key, visibility_timeout=Duration.minutes(90),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=self.dead_letters),
        )
        data.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SqsDestination(self.queue),
                                    s3.NotificationKeyFilter(prefix=LANDING_PREFIX))
        # The landed object is copied to ephemeral storage and streamed from there: 10 GB, Lambda's maximum,
        # bounds the size of one file until large files fan out in parts.
        self.function = lambda_.DockerImageFunction(
            self, "Function", code=code, memory_size=3008, timeout=INGEST_TIMEOUT,
            ephemeral_storage_size=Size.gibibytes(10), tracing=lambda_.Tracing.ACTIVE, environment=environment,
            description="Ingests one landed file: validate, normalise, quarantine, commit to Iceberg",
        )
        # Two concurrent files at most: every file commits to the same Iceberg tables, so more would only
        # turn into optimistic-commit retries.
        self.function.add_event_source(sources.SqsEventSource(
            self.queue, batch_size=1, report_batch_item_failures=True, max_concurrency=2))
        self.dead_letter_alarm = dead_letter_alarm(self, "DeadLettersAlarm", self.dead_letters,
                                                   "Landed files that failed ingestion 5 times")
        # Files waiting longer than an hour: ingestion is stuck or far behind.
        self.backlog_alarm = cloudwatch.Alarm(
            self, "BacklogAlarm", metric=self.queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(5)), threshold=3600, evaluation_periods=1,
            alarm_description="The oldest landed file has waited for ingestion for an hour",
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
