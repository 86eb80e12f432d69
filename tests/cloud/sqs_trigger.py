"""SQS queues and their Lambda triggers as the synthesized template declares them, on moto.

The queues are those ``deploy`` made from the template's own properties. ``Trigger`` does what Lambda's SQS
poller does with a function's event source mapping: it receives up to the mapping's batch size, invokes the handler
with Lambda's event, deletes the messages that succeeded (all of them unless the handler raised or, with
ReportBatchItemFailures, named them) and leaves the others, which SQS hands out again once their visibility timeout
has passed; past the redrive policy's maxReceiveCount, SQS (moto implements this) moves them to the dead-letter
queue. The tests make the visibility timeout pass (``visibility_passes``) rather than wait minutes for it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ACCOUNT = "123456789012"
_COMPARE = {"GreaterThanOrEqualToThreshold": operator.ge, "GreaterThanThreshold": operator.gt,
            "LessThanThreshold": operator.lt, "LessThanOrEqualToThreshold": operator.le}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _attribute_of(value: Any) -> str:
    """The logical id an ``Fn::GetAtt`` or ``Ref`` names."""
    if "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return value["Ref"]


@dataclass
class Queue:
    logical_id: str
    url: str
    arn: str
    dead_letters: Queue | None = None
    max_receive_count: int | None = None

    def visible(self, sqs: Any) -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def deployed_queue(template: dict[str, Any], made: dict[str, dict[str, str]], logical_id: str) -> Queue:
    """The queue ``logical_id`` as ``deploy`` made it from the template, with its dead-letter queue."""
    properties = template["Resources"][logical_id]["Properties"]
    dead_letters, max_receive = None, None
    if "RedrivePolicy" in properties:
        policy = properties["RedrivePolicy"]
        dead_letters = deployed_queue(template, made, _attribute_of(policy["deadLetterTargetArn"]))
        max_receive = int(policy["maxReceiveCount"])
    return Queue(logical_id, made[logical_id]["QueueUrl"], made[logical_id]["Arn"], dead_letters, max_receive)


def mapping_of(template: dict[str, Any], function_logical_id: str) -> dict[str, Any]:
    (mapping,) = [m["Properties"] for m in _resources(template, "AWS::Lambda::EventSourceMapping").values()
                  if _attribute_of(m["Properties"]["FunctionName"]) == function_logical_id]
    return mapping


def alarm_fires(template: dict[str, Any], queue: Queue, sqs: Any) -> bool:
    """Whether the template's alarm on ``queue`` is in alarm, evaluated on the queue as it stands: each alarm
    watching the number of visible messages of that queue, against its threshold and comparison."""
    alarms = [a["Properties"] for a in _resources(template, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
              and any(d["Name"] == "QueueName" and _attribute_of(d["Value"]) == queue.logical_id
                      for d in a["Properties"].get("Dimensions", []))]
    assert alarms, f"no alarm watches {queue.logical_id}"
    return all(_COMPARE[a["ComparisonOperator"]](queue.visible(sqs), a["Threshold"]) for a in alarms)


class Trigger:
    """A function's SQS event source mapping, as Lambda runs it."""

    def __init__(self, sqs: Any, queue: Queue, mapping: dict[str, Any], handler: Callable[..., Any],
                 context: Any, region: str) -> None:
        self.sqs, self.queue, self.handler, self.context, self.region = sqs, queue, handler, context, region
        self.batch_size = int(mapping.get("BatchSize", 10))
        self.partial = "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])
        self.in_flight: list[dict[str, Any]] = []

    def _event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": self.queue.arn, "awsRegion": self.region,
        } for m in messages]}

    def poll(self) -> int:
        """One invocation with what the queue hands out now; returns how many messages it was given."""
        messages = self.sqs.receive_message(QueueUrl=self.queue.url, MaxNumberOfMessages=min(self.batch_size, 10),
                                            AttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return 0
        try:
            response = self.handler(self._event(messages), self.context) or {}
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])} if self.partial \
                else set()
        except Exception:  # the whole batch failed: every message comes back
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:
                self.in_flight.append(message)
            else:
                self.sqs.delete_message(QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def visibility_passes(self) -> None:
        """The visibility timeout of the messages left in flight has passed: SQS hands them out again."""
        for message in self.in_flight:
            self.sqs.change_message_visibility(QueueUrl=self.queue.url, ReceiptHandle=message["ReceiptHandle"],
                                               VisibilityTimeout=0)
        self.in_flight = []
