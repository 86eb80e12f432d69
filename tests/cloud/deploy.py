"""Stand up, on moto, the resources of the synthesized template that the cloud tests exercise, from the template's
own properties: KMS keys, the buckets (encryption, versioning, lifecycle, public access block) and the landing
notifications, the SQS queues (visibility, retention, redrive to their DLQs), the event bus and its rules (patterns,
targets, retry policies, dead-letter queues), the Glue database, the state machines (by name only).

moto's CloudFormation cannot take the template as it is (container images, assets, custom resources), so each
resource is made through its service's API with its properties as the template gives them, references resolved to
what was made. Functions and roles are not made: the tests call the handlers in-process and run the state
machines' definitions themselves (``asl``). Names get a suffix so that tests sharing a server stay apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"


class Unresolved(Exception):
    """A reference to something not made here."""


@dataclass
class Deployment:
    region: str
    suffix: str
    made: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> Ref and attributes
    renamed: dict[str, str] = field(default_factory=dict)  # a name given here -> the template's

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (function, argument), = value.items()
            if function == "Ref":
                pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": self.region, "AWS::Partition": "aws",
                          "AWS::URLSuffix": "amazonaws.com"}
                if argument in pseudo:
                    return pseudo[argument]
                return self._attribute(argument, "Ref")
            if function == "Fn::GetAtt":
                return self._attribute(argument[0], argument[1])
            if function == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(part)) for part in parts)
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def _attribute(self, logical_id: str, attribute: str) -> str:
        try:
            return self.made[logical_id][attribute]
        except KeyError:
            raise Unresolved(f"{logical_id}.{attribute}") from None

    def of_type(self, template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
        return {name: r["Properties"] for name, r in template["Resources"].items() if r["Type"] == kind}


def _name(logical_id: str, suffix: str, limit: int = 80) -> str:
    return f"{logical_id[: limit - len(suffix) - 1]}-{suffix}"


def _lifecycle_rule(index: int, rule: dict[str, Any]) -> dict[str, Any]:
    """A lifecycle rule as CloudFormation spells it, as S3's API does."""
    api: dict[str, Any] = {"ID": rule.get("Id", f"rule{index}"), "Status": rule["Status"],
                           "Filter": {"Prefix": rule["Prefix"]} if "Prefix" in rule else {}}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": rule["ExpirationInDays"]}
    for key in ("NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"):
        if key in rule:
            api[key] = rule[key]
    return api


def deploy(template: dict[str, Any], client: Callable[[str], Any], region: str, suffix: str,
           names: dict[str, str]) -> Deployment:
    """``names``: physical names to give some resources (the data bucket, the database) by logical id."""
    d = Deployment(region, suffix)
    kms, s3, sqs, events, glue = (client(s) for s in ("kms", "s3", "sqs", "events", "glue"))
    for logical_id in d.of_type(template, "AWS::KMS::Key"):
        key = kms.create_key(Description=logical_id)["KeyMetadata"]
        d.made[logical_id] = {"Ref": key["KeyId"], "Arn": key["Arn"]}
    secrets = client("secretsmanager")
    for logical_id, properties in d.of_type(template, "AWS::SecretsManager::Secret").items():
        generated = properties["GenerateSecretString"]
        value = secrets.get_random_password(PasswordLength=generated["PasswordLength"],
                                            ExcludePunctuation=generated.get("ExcludePunctuation", False))
        made = secrets.create_secret(Name=_name(logical_id, suffix), SecretString=value["RandomPassword"])
        d.made[logical_id] = {"Ref": made["ARN"], "Arn": made["ARN"]}
    buckets = d.of_type(template, "AWS::S3::Bucket")
    # The access-log bucket first: the data bucket logs into it.
    for logical_id in sorted(buckets, key=lambda name: "LoggingConfiguration" in buckets[name]):
        properties = buckets[logical_id]
        name = names.get(logical_id, _name(logical_id.lower(), suffix, 63))
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        d.made[logical_id] = {"Ref": name, "Arn": f"arn:aws:s3:::{name}"}
        if "BucketEncryption" in properties:
            rules = d.resolve(properties["BucketEncryption"])["ServerSideEncryptionConfiguration"]
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                 **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {})}
                for rule in rules]})
        if "VersioningConfiguration" in properties:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=properties["VersioningConfiguration"])
        if "PublicAccessBlockConfiguration" in properties:
            s3.put_public_access_block(Bucket=name,
                                       PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"])
        if "LifecycleConfiguration" in properties:
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
                _lifecycle_rule(i, rule) for i, rule in enumerate(properties["LifecycleConfiguration"]["Rules"])]})
    queues = d.of_type(template, "AWS::SQS::Queue")
    # Dead-letter queues first: a queue's redrive policy names its DLQ's ARN.
    for logical_id in sorted(queues, key=lambda name: "RedrivePolicy" in queues[name]):
        properties = queues[logical_id]
        attributes = {key: str(properties[key]) for key in ("VisibilityTimeout", "MessageRetentionPeriod")
                      if key in properties}
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(d.resolve(properties["RedrivePolicy"]))
        url = sqs.create_queue(QueueName=_name(logical_id, suffix), Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        d.made[logical_id] = {"Ref": url, "Arn": arn, "QueueName": arn.rsplit(":", 1)[1], "QueueUrl": url}
    for logical_id, properties in d.of_type(template, "AWS::Events::EventBus").items():
        try:  # the bus keeps its name (the functions publish to it by name); tests on one server share it
            events.create_event_bus(Name=properties["Name"])
        except events.exceptions.ResourceAlreadyExistsException:
            pass
        d.made[logical_id] = {"Ref": properties["Name"], "Name": properties["Name"],
                              "Arn": f"arn:aws:events:{region}:{ACCOUNT}:event-bus/{properties['Name']}"}
    for logical_id, properties in d.of_type(template, "AWS::Events::Rule").items():
        if "EventPattern" not in properties:  # schedules start state machines, which the tests run themselves
            continue
        bus = d.resolve(properties.get("EventBusName", "default"))
        name = _name(properties.get("Name", logical_id), suffix, 64)
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(properties["EventPattern"]),
                        State=properties.get("State", "ENABLED"))
        targets = []
        for target in properties.get("Targets", []):
            try:
                resolved = d.resolve(target)
            except Unresolved:  # a target not made here (a function): nothing to deliver to
                continue
            targets.append({key: value for key, value in resolved.items() if key != "RoleArn"})
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        d.made[logical_id] = {"Ref": name, "Name": name, "EventBusName": bus,
                              "Arn": f"arn:aws:events:{region}:{ACCOUNT}:rule/{bus}/{name}"}
    for logical_id, properties in d.of_type(template, "Custom::S3BucketNotifications").items():
        s3.put_bucket_notification_configuration(Bucket=d.resolve(properties["BucketName"]),
                                                 NotificationConfiguration=d.resolve(
                                                     properties["NotificationConfiguration"]))
        d.made[logical_id] = {"Ref": logical_id}
    sfn = client("stepfunctions")
    for logical_id in d.of_type(template, "AWS::StepFunctions::StateMachine"):
        # Made so that executions can be started and listed by their ARN; the tests run the template's definition
        # themselves (``asl``), so moto's copy only holds a placeholder.
        arn = sfn.create_state_machine(name=_name(logical_id, suffix), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
                                       definition=json.dumps({"StartAt": "Done", "States": {"Done": {
                                           "Type": "Succeed"}}}))["stateMachineArn"]
        d.made[logical_id] = {"Ref": arn, "Arn": arn, "Name": arn.rsplit(":", 1)[1]}
    for logical_id, properties in d.of_type(template, "AWS::Glue::Database").items():
        database = d.resolve(properties["DatabaseInput"])
        d.renamed[names.get(logical_id, database["Name"])] = database["Name"]
        database["Name"] = names.get(logical_id, database["Name"])
        glue.create_database(DatabaseInput=database)
        d.made[logical_id] = {"Ref": database["Name"]}
    return d


def teardown(deployment: Deployment, template: dict[str, Any], client: Callable[[str], Any]) -> None:
    """Remove the rules (the bus is shared by the tests on one server; everything else is the test's own)."""
    events = client("events")
    for logical_id in deployment.of_type(template, "AWS::Events::Rule"):
        made = deployment.made.get(logical_id)
        if made is None:
            continue
        ids = [t["Id"] for t in events.list_targets_by_rule(Rule=made["Name"],
                                                           EventBusName=made["EventBusName"])["Targets"]]
        if ids:
            events.remove_targets(Rule=made["Name"], EventBusName=made["EventBusName"], Ids=ids)
        events.delete_rule(Name=made["Name"], EventBusName=made["EventBusName"])
