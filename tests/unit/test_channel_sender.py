"""The channel sender Lambda against moto's S3: what it receives from its queue lands in the channel's outbox."""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cdp.events import SEGMENT_MEMBERSHIP_CHANGED, envelope

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Context:
    function_name: str = "sender"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-3:123456789012:function:sender"
    aws_request_id: str = "req-1"


def sqs_event(bodies: list[str]) -> dict:
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": "r", "body": body, "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:eu-west-3:123456789012:email", "awsRegion": "eu-west-3"}
                        for i, body in enumerate(bodies)]}


@pytest.fixture
def sender(monkeypatch: pytest.MonkeyPatch):
    for key, value in {"AWS_DEFAULT_REGION": "eu-west-3", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "CDP_CHANNEL": "email", "CDP_DATA_BUCKET": "data",
                       "POWERTOOLS_TRACE_DISABLED": "1", "POWERTOOLS_SERVICE_NAME": "sender"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(str(ROOT / "functions" / "channel_sender"))
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        sys.modules.pop("handler", None)
        yield importlib.import_module("handler")
    sys.modules.pop("handler", None)


def activation(profile_id: str, channels: list[str]) -> dict:
    detail = {"profile_id": profile_id, "segment_id": "high_value", "change": "entered", "channels": channels,
              "holdout": False}
    return envelope(SEGMENT_MEMBERSHIP_CHANGED, detail, event_id=f"e-{profile_id}", time="2026-11-01T00:00:00Z")


def test_events_land_in_the_channel_outbox_and_bad_messages_are_retried(sender) -> None:
    good = [activation("P1", ["email"]), activation("P2", ["email", "sms"])]
    bodies = [json.dumps(e) for e in good] + ["not json", json.dumps(activation("P3", ["sms"]))]

    response = sender.handler(sqs_event(bodies), Context())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    s3 = boto3.client("s3")
    (obj,) = s3.list_objects_v2(Bucket="data", Prefix="outbox/email/2")["Contents"]
    assert obj["Key"].endswith("/req-1.jsonl")
    lines = s3.get_object(Bucket="data", Key=obj["Key"])["Body"].read().decode().splitlines()
    assert [json.loads(line) for line in lines] == good


def test_an_event_published_again_reaches_the_channel_once(sender) -> None:
    first, second = activation("P1", ["email"]), activation("P2", ["email"])
    again = json.loads(json.dumps(first))
    again["id"] = "another-id-from-put-events"  # EventBridge gives each PutEvents its own id
    again["detail"]["event_id"] = first["detail"]["event_id"] = "decision-1"

    sender.handler(sqs_event([json.dumps(first)]), Context("sender", 256, Context.invoked_function_arn, "req-1"))
    response = sender.handler(sqs_event([json.dumps(again), json.dumps(second), json.dumps(second)]),
                              Context("sender", 256, Context.invoked_function_arn, "req-2"))

    assert response == {"batchItemFailures": []}
    s3 = boto3.client("s3")
    delivered = [json.loads(line)["detail"]["profile_id"]
                 for obj in s3.list_objects_v2(Bucket="data", Prefix="outbox/email/2")["Contents"]
                 for line in s3.get_object(Bucket="data", Key=obj["Key"])["Body"].read().decode().splitlines()]
    assert sorted(delivered) == ["P1", "P2"]
