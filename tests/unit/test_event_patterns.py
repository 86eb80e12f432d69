"""The local bus must route exactly like EventBridge: the matcher is checked against moto's on the same patterns."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from cdp.adapters.patterns import matches
from cdp.events import SEGMENT_MEMBERSHIP_CHANGED, channel_rule_pattern, envelope


def event(channels: list[str], holdout: bool = False, **extra) -> dict:
    detail = {"profile_id": "P1", "segment_id": "s", "change": "entered", "channels": channels, "holdout": holdout}
    detail.update(extra)
    return envelope(SEGMENT_MEMBERSHIP_CHANGED, detail, event_id="e1", time="2026-11-01T00:00:00Z")


PATTERNS = [
    channel_rule_pattern("email"),
    channel_rule_pattern("sms"),
    {"detail": {"segment_id": [{"prefix": "hig"}]}},
    {"detail": {"segment_id": [{"anything-but": ["s", "t"]}]}},
    {"detail": {"score": [{"numeric": [">=", 0.5, "<", 0.9]}]}},
    {"detail": {"missing": [{"exists": False}], "channels": [{"exists": True}]}},
    {"detail": {"segment_id": [{"equals-ignore-case": "S"}]}},
    {"detail": {"segment_id": [{"suffix": "value"}]}},
    {"detail": {"segment_id": [{"wildcard": "high_*"}]}},
    {"$or": [{"detail": {"channels": ["ads"]}}, {"detail": {"holdout": [True]}}]},
    {"source": ["other"]},
]

EVENTS = [
    event(["email"]),
    event(["email", "sms"]),
    event(["sms"], holdout=False, segment_id="high_value"),
    event([], holdout=True),
    event(["ads"], score=0.7),
    event(["email"], score=0.95, segment_id="t"),
]


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: json.dumps(p)[:60])
def test_local_matcher_agrees_with_eventbridge(pattern: dict) -> None:
    with mock_aws():
        client = boto3.client("events", region_name="eu-west-3")
        sqs = boto3.client("sqs", region_name="eu-west-3")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        client.put_rule(Name="r", EventPattern=json.dumps(pattern))
        client.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": arn}])
        for index, e in enumerate(EVENTS):
            client.put_events(Entries=[{"Source": e["source"], "DetailType": e["detail-type"],
                                        "Detail": json.dumps({**e["detail"], "index": index})}])
        delivered = set()
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                delivered.add(json.loads(message["Body"])["detail"]["index"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    local = {index for index, e in enumerate(EVENTS) if matches(pattern, e)}
    assert local == delivered


def test_a_channel_never_receives_hold_out_members() -> None:
    assert not matches(channel_rule_pattern("email"), event(["email"], holdout=True))
    assert matches(channel_rule_pattern("email"), event(["sms", "email"]))
    assert not matches(channel_rule_pattern("email"), event(["sms"]))
