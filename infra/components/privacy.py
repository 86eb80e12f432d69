"""Privacy: the secret salt of erased subjects' hashes, and erasure requests from the bus to the erasure function."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdp import settings
from cdp.events import erasure_rule_pattern, retention_message
from infra.components.activation import event_pattern
from infra.components.ingest import dead_letter_alarm, encrypted_queue


class Privacy(Construct):
    """`cdp erase` in the cloud: an `Erasure Requested` event on the bus reaches the erasure function through a
    queue (retried, then dead-lettered with an alarm); the function erases the person from the tables, the landed
    files, the channel outboxes and the tables' history. The salt of the audit's and the suppression list's hashes
    is a generated secret, never rotated: a new salt would no longer recognise the persons already erased. A daily
    schedule puts a `Retention Due` message on the same queue: the function then applies retention."""

    def __init__(self, scope: Construct, construct_id: str, *, bus: events.IEventBus, key: kms.IKey,
                 code: lambda_.DockerImageCode, environment: dict[str, str], retention_schedule: str) -> None:
        super().__init__(scope, construct_id)
        self.salt = secretsmanager.Secret(
            self, "Salt", encryption_key=key, description="Salt of the hashes kept of erased persons",
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True,
                                                                        password_length=64))
        dead_letters = encrypted_queue(self, "DeadLetters", key, retention_period=Duration.days(14))
        timeout = Duration.minutes(15)
        self.queue = encrypted_queue(self, "Queue", key, visibility_timeout=timeout,
                                     dead_letter_queue={"max_receive_count": 3, "queue": dead_letters})
        rule = events.Rule(self, "Rule", event_bus=bus, event_pattern=event_pattern(erasure_rule_pattern()),
                           description="Erasure requests reach the erasure function")
        rule.add_target(targets.SqsQueue(self.queue, retry_attempts=8, max_event_age=Duration.hours(24),
                                         dead_letter_queue=dead_letters))
        retention = events.Rule(self, "RetentionSchedule", schedule=events.Schedule.expression(retention_schedule),
                                description="Retention (privacy.retention) applied by the erasure function")
        retention.add_target(targets.SqsQueue(self.queue, message=events.RuleTargetInput.from_object(
            retention_message()), retry_attempts=8, max_event_age=Duration.hours(24), dead_letter_queue=dead_letters))
        self.function = lambda_.DockerImageFunction(
            self, "Function", code=code, memory_size=4096, timeout=timeout, tracing=lambda_.Tracing.ACTIVE,
            environment={**environment, settings.SALT_SECRET_ENV: self.salt.secret_arn},
            description="Erases a person from the tables, landed files, outboxes and the tables' history; applies "
                        "retention",
        )
        # One request at a time: each rewrites tables and expires their history.
        self.function.add_event_source(sources.SqsEventSource(self.queue, batch_size=1,
                                                              report_batch_item_failures=True))
        self.salt.grant_read(self.function)
        self.dead_letter_alarm = dead_letter_alarm(self, "DeadLettersAlarm", dead_letters,
                                                   "Erasure requests that could not be carried out")

    def give_salt_to(self, function: lambda_.Function) -> None:
        """A function that ingests must recognise erased persons' identifiers."""
        function.add_environment(settings.SALT_SECRET_ENV, self.salt.secret_arn)
        self.salt.grant_read(function)
