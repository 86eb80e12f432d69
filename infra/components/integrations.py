"""Event-driven integrations: events other systems publish on the bus become landed files of their source."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdp import settings
from cdp.config import Config
from cdp.events import integration_rule_name, integration_rule_pattern
from infra.components.activation import LIGHT_RUNTIME, event_pattern
from infra.components.ingest import dead_letter_alarm, encrypted_queue


class Integrations(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, bus: events.IEventBus, key: kms.IKey,
                 data: s3.Bucket, code: lambda_.Code, layers: list[lambda_.ILayerVersion]) -> None:
        super().__init__(scope, construct_id)
        self.queues = {}
        self.dead_letter_alarms = []
        for source, spec in config.sources.items():
            if not spec.events:
                continue
            dead_letters = encrypted_queue(self, f"{source}DeadLetters", key, retention_period=Duration.days(14))
            queue = encrypted_queue(self, f"{source}Queue", key, visibility_timeout=Duration.minutes(6),
                                    dead_letter_queue={"max_receive_count": 5, "queue": dead_letters})
            rule = events.Rule(self, f"{source}Rule", event_bus=bus, rule_name=integration_rule_name(source),
                               event_pattern=event_pattern(integration_rule_pattern(spec.events)),
                               description=f"{', '.join(spec.events)} events ingested as source {source}")
            rule.add_target(targets.SqsQueue(queue, retry_attempts=8, max_event_age=Duration.hours(24),
                                             dead_letter_queue=dead_letters))
            batcher = lambda_.Function(
                self, f"{source}Batcher", runtime=LIGHT_RUNTIME, handler="handler.handler", code=code,
                layers=layers, memory_size=256, timeout=Duration.minutes(1), tracing=lambda_.Tracing.ACTIVE,
                description=f"Lands {source} integration events as JSON Lines files",
                environment={settings.SOURCE_ENV: source, settings.DATA_BUCKET_ENV: data.bucket_name,
                             "POWERTOOLS_SERVICE_NAME": f"cdp-integration-{source}"},
            )
            # A minute's worth of events per file: fewer, larger files make cheaper, faster ingestion.
            batcher.add_event_source(sources.SqsEventSource(
                queue, batch_size=1000, max_batching_window=Duration.seconds(60), report_batch_item_failures=True))
            data.grant_put(batcher, f"{settings.LANDING_PREFIX}{source}/events/*")
            self.queues[source] = queue
            self.dead_letter_alarms.append(dead_letter_alarm(
                self, f"{source}DeadLettersAlarm", dead_letters,
                f"{source} integration events that could not be landed as files"))
