"""The activation bus: one rule per configured channel, with the patterns the local bus also routes by."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdp import settings
from cdp.config import Config
from cdp.events import BUS_NAME, archive_pattern, channel_rule_name, channel_rule_pattern
from infra.components.ingest import dead_letter_alarm, encrypted_queue

# The light functions' runtime; the light layer is built for the same Python (infra/packaging.py).
LIGHT_RUNTIME = lambda_.Runtime.PYTHON_3_14


_MATCHERS = {
    "anything-but": lambda argument: events.Match.anything_but(
        *(argument if isinstance(argument, list) else [argument])),
    "prefix": events.Match.prefix,
    "suffix": events.Match.suffix,
    "exists": lambda argument: events.Match.exists() if argument else events.Match.does_not_exist(),
    "equals-ignore-case": events.Match.equals_ignore_case,
    "wildcard": events.Match.wildcard,
}


def _cdk_values(values: Any) -> Any:
    """EventPattern's typed fields take content filters as `events.Match` tokens, not as JSON objects."""
    if isinstance(values, dict):
        return {key: _cdk_values(value) for key, value in values.items()}
    filters = [v for v in values if isinstance(v, dict)]
    if not filters:
        return values
    if len(values) != 1:
        raise ValueError(f"a pattern list mixes a content filter with other values: {values}")
    ((operator, argument),) = filters[0].items()
    return _MATCHERS[operator](argument)


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    """The CDK form of a pattern dict from `cdp.events` (the same JSON reaches EventBridge, as the tests check)."""
    renamed = {"detail-type": "detail_type"}
    return events.EventPattern(**{renamed.get(key, key): _cdk_values(value) for key, value in pattern.items()})


class Activation(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, key: kms.IKey, data: s3.Bucket,
                 sender_code: lambda_.Code, sender_layers: list[lambda_.ILayerVersion]) -> None:
        super().__init__(scope, construct_id)
        # The bus and its archive are encrypted with the platform's messaging key, as its queues are.
        self.bus = events.EventBus(self, "Bus", event_bus_name=BUS_NAME, kms_key=key)
        self.bus.archive("Archive", description="Every platform event, for replay and audits", kms_key=key,
                         event_pattern=event_pattern(archive_pattern()), retention=Duration.days(365))
        # EventBridge uses the key for the bus, its archive and the encrypted queues it delivers to: only on this
        # account's behalf.
        key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey"], resources=["*"],
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
        ))
        self.queues: dict[str, Any] = {}
        self.dead_letter_alarms: list[cloudwatch.Alarm] = []
        for channel in config.channels:
            dead_letters = encrypted_queue(self, f"{channel}DeadLetters", key, retention_period=Duration.days(14))
            queue = encrypted_queue(
                self, f"{channel}Queue", key, visibility_timeout=Duration.minutes(6),
                dead_letter_queue={"max_receive_count": 5, "queue": dead_letters},
            )
            rule = events.Rule(self, f"{channel}Rule", event_bus=self.bus, rule_name=channel_rule_name(channel),
                               event_pattern=event_pattern(channel_rule_pattern(channel)),
                               description=f"Activation events for channel {channel}")
            rule.add_target(targets.SqsQueue(queue, retry_attempts=8, max_event_age=Duration.hours(24),
                                             dead_letter_queue=dead_letters))
            sender = lambda_.Function(
                self, f"{channel}Sender", runtime=LIGHT_RUNTIME, handler="handler.handler",
                code=sender_code, layers=sender_layers, memory_size=256, timeout=Duration.minutes(1),
                tracing=lambda_.Tracing.ACTIVE, description=f"Delivers activation events to channel {channel}",
                environment={settings.CHANNEL_ENV: channel, settings.DATA_BUCKET_ENV: data.bucket_name,
                             "POWERTOOLS_SERVICE_NAME": f"cdp-sender-{channel}"},
            )
            sender.add_event_source(sources.SqsEventSource(queue, batch_size=10, report_batch_item_failures=True))
            data.grant_put(sender, f"{settings.OUTBOX_PREFIX}{channel}/*")
            # Reading its own delivery marks (HEAD) is how a sender drops an event it already delivered.
            data.grant_read(sender, f"{settings.delivered_marks_prefix(channel)}*")
            # Its contact cards, which the pipeline leaves under its outbox: the address it sends to is read there.
            data.grant_read(sender, f"{settings.contact_cards_prefix(channel)}*")
            self.queues[channel] = queue
            self.dead_letter_alarms.append(dead_letter_alarm(
                self, f"{channel}DeadLettersAlarm", dead_letters,
                f"Activation events for {channel} that could not be delivered"))
