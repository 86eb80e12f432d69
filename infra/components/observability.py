"""Alarms to a topic, and a dashboard of them."""

from __future__ import annotations

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdp.config.alerts import AlertsSpec


def function_alarms(scope: Construct) -> list[cloudwatch.Alarm]:
    """For every function of the platform under ``scope`` (not CDK's own helpers): an alarm on errors and one on
    throttles, so a failing or starved function is known before its queue's DLQ fills."""
    alarms = []
    for construct in scope.node.find_all():
        if not isinstance(construct, lambda_.Function) or construct.node.path.split("/")[1].startswith(
                ("BucketNotificationsHandler", "AWS", "LogRetention", "Custom")):
            continue
        name = construct.node.path.split("/", 1)[1].replace("/", "")
        for kind, metric in (("Errors", construct.metric_errors(period=Duration.minutes(5))),
                             ("Throttles", construct.metric_throttles(period=Duration.minutes(5)))):
            alarms.append(cloudwatch.Alarm(
                construct, f"{kind}Alarm", metric=metric, threshold=1, evaluation_periods=1,
                alarm_description=f"{name}: {kind.lower()}",
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD))
    return alarms


class Observability(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, alarms: list[cloudwatch.Alarm],
                 alerts: AlertsSpec, email: str | None = None) -> None:
        """``alerts``: the config's subscribers; ``email``: one more address (the ``alarm_email`` context)."""
        super().__init__(scope, construct_id)
        # CloudWatch publishes alarms to the encrypted topic with the platform's key.
        key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},  # this account's alarms only
        ))
        self.topic = sns.Topic(self, "Alarms", master_key=key, enforce_ssl=True, display_name="CDP alarms")
        emails = dict.fromkeys([*alerts.emails, *([email] if email else [])])
        for address in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        for url in alerts.https:
            self.topic.add_subscription(subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS))
        for number in alerts.sms:
            self.topic.add_subscription(subscriptions.SmsSubscription(number))
        if not (emails or alerts.https or alerts.sms):
            Annotations.of(self).add_warning_v2(
                "cdp:alarms-reach-no-one", "The alarm topic has no subscriber: alarms will reach no one. Name "
                "subscribers under alerts: in the config (emails, https, sms) or pass -c alarm_email=ADDRESS.")
        for alarm in alarms:
            alarm.add_alarm_action(actions.SnsAction(self.topic))
        dashboard = cloudwatch.Dashboard(self, "Dashboard")
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(alarms=alarms, title="Customer data platform", width=24))
        for alarm in alarms:
            dashboard.add_widgets(cloudwatch.AlarmWidget(alarm=alarm, title=alarm.node.id, width=12))
