"""The channel sender Lambda against moto's S3: what it receives from its queue lands in the channel's outbox,
completed with the contact card the publish step left for it."""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cdp.activation.cards import ContactCard, with_contact
from cdp.adapters.buses import delivery_id
from cdp.adapters.contacts import S3Contacts
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


def contact(profile_id: str) -> dict:
    return {"identifiers": {"email": f"{profile_id.lower()}@example.fr"}, "traits": {"first_name": "Zoé"}}


def leave_cards(*events: dict, channel: str = "email") -> None:
    S3Contacts(boto3.client("s3"), "data").put([
        ContactCard(channel, e["detail"]["profile_id"], delivery_id(e), contact(e["detail"]["profile_id"]))
        for e in events])


def outbox_lines(channel: str = "email") -> list[dict]:
    s3 = boto3.client("s3")
    return [json.loads(line)
            for obj in s3.list_objects_v2(Bucket="data", Prefix=f"outbox/{channel}/2").get("Contents", [])
            for line in s3.get_object(Bucket="data", Key=obj["Key"])["Body"].read().decode().splitlines()]


def test_events_land_in_the_channel_outbox_and_bad_messages_are_retried(sender) -> None:
    good = [activation("P1", ["email"]), activation("P2", ["email", "sms"])]
    leave_cards(*good)
    bodies = [json.dumps(e) for e in good] + ["not json", json.dumps(activation("P3", ["sms"]))]

    response = sender.handler(sqs_event(bodies), Context())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    s3 = boto3.client("s3")
    (obj,) = s3.list_objects_v2(Bucket="data", Prefix="outbox/email/2")["Contents"]
    assert obj["Key"].endswith("/req-1.jsonl")
    lines = s3.get_object(Bucket="data", Key=obj["Key"])["Body"].read().decode().splitlines()
    assert [json.loads(line) for line in lines] == [with_contact(e, contact(e["detail"]["profile_id"])) for e in good]
    assert json.loads(lines[0])["detail"]["identifiers"] == {"email": "p1@example.fr"}


def test_an_event_published_again_reaches_the_channel_once(sender) -> None:
    first, second = activation("P1", ["email"]), activation("P2", ["email"])
    again = json.loads(json.dumps(first))
    again["id"] = "another-id-from-put-events"  # EventBridge gives each PutEvents its own id
    again["detail"]["event_id"] = first["detail"]["event_id"] = "decision-1"
    leave_cards(first, second)

    sender.handler(sqs_event([json.dumps(first)]), Context("sender", 256, Context.invoked_function_arn, "req-1"))
    response = sender.handler(sqs_event([json.dumps(again), json.dumps(second), json.dumps(second)]),
                              Context("sender", 256, Context.invoked_function_arn, "req-2"))

    assert response == {"batchItemFailures": []}
    assert sorted(line["detail"]["profile_id"] for line in outbox_lines()) == ["P1", "P2"]


def test_an_event_without_its_card_is_not_delivered_and_not_retried(sender, capfd) -> None:
    """No card: the person was erased or withdrew consent after the decision, so nobody is to be contacted."""
    kept, gone, other_channel = activation("P1", ["email"]), activation("P2", ["email"]), activation("P3", ["email"])
    leave_cards(kept)
    leave_cards(other_channel, channel="sms")  # a card is the channel's own: the sms one does not reach an email

    response = sender.handler(sqs_event([json.dumps(kept), json.dumps(gone), json.dumps(other_channel)]), Context())

    assert response == {"batchItemFailures": []}
    assert [line["detail"]["profile_id"] for line in outbox_lines()] == ["P1"]
    logged = capfd.readouterr().out
    assert '"EventsWithoutContact":[2.0]' in logged
    assert "p1@example.fr" not in logged
