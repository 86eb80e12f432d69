"""Every AWS call a function's code makes, checked against the IAM actions its role in the template allows.

Calls are recorded at botocore's ``_make_api_call`` and attributed to the handler on the stack (the outermost frame
of a ``functions.<name>.handler`` module: a handler, or a large-file step); a call from a worker thread (boto3's
transfers upload and download in threads) goes to the handler that last called from the main thread. A template
function is found for a handler by its image command (container functions) or by the code its zip asset holds
(light functions). pyarrow's own S3 client, which writes Iceberg data files, bypasses botocore and is not seen
here; the grants on the bucket cover it, and the template tests check those.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.client

ROOT = Path(__file__).resolve().parents[2]
# Operations whose IAM action has another name.
S3_ACTIONS = {
    "HeadObject": ["GetObject"], "ListObjectsV2": ["ListBucket"], "ListObjects": ["ListBucket"],
    "HeadBucket": ["ListBucket"], "DeleteObjects": ["DeleteObject"], "CreateMultipartUpload": ["PutObject"],
    "UploadPart": ["PutObject"], "CompleteMultipartUpload": ["PutObject"], "CopyObject": ["GetObject", "PutObject"],
    "ListObjectVersions": ["ListBucketVersions"], "ListMultipartUploads": ["ListBucketMultipartUploads"],
}


def actions(signing_name: str, operation: str) -> list[str]:
    names = S3_ACTIONS.get(operation, [operation]) if signing_name == "s3" else [operation]
    return [f"{signing_name}:{name}" for name in names]


ACCOUNT = "123456789012"
# The variables that tell apart functions running the same code (a sender per channel, a batcher per source).
FUNCTION_VARIABLES = ("CDP_CHANNEL", "CDP_SOURCE")
# The deployment the running test made (``deploy``): S3 resources are checked against its bucket.
DEPLOYMENT: list[Any] = [None]


@dataclass(frozen=True)
class ObjectCall:
    entry: str
    variables: tuple[tuple[str, str], ...]
    deployment: Any
    actions: tuple[str, ...]
    arns: tuple[str, ...]


def _resource_arns(signing: str, operation: str, params: dict[str, Any], deployment: Any, region: str) -> list[str]:
    """The ARNs IAM checks a call against: S3 objects or buckets, Glue catalog, database and table, event buses.
    A database the test renamed is given its name in the template, which the role's statements use."""
    if signing == "s3":
        return _object_arns(operation, params)
    base = f"arn:aws:{signing}:{region}:{ACCOUNT}"
    if signing == "glue":
        database = params.get("DatabaseName") or (params.get("Name") if operation == "GetDatabase" else None)
        if database is None:
            return []
        database = deployment.renamed.get(database, database)
        table = params.get("TableInput", {}).get("Name") or (params.get("Name") if operation != "GetDatabase" else None)
        arns = [f"{base}:catalog", f"{base}:database/{database}"]
        return arns + ([f"{base}:table/{database}/{table}"] if table else [])
    if signing == "states" and "stateMachineArn" in params:
        return [params["stateMachineArn"]]
    if signing == "secretsmanager" and "SecretId" in params:
        return [params["SecretId"]]
    if signing == "events" and operation == "PutEvents":
        return sorted({f"{base}:event-bus/{entry.get('EventBusName', 'default')}" for entry in params["Entries"]})
    return []


def _object_arns(operation: str, params: dict[str, Any]) -> list[str]:
    bucket = params.get("Bucket")
    if bucket is None:
        return []
    if operation == "DeleteObjects":
        return [f"arn:aws:s3:::{bucket}/{o['Key']}" for o in params.get("Delete", {}).get("Objects", [])]
    if "Key" in params:
        return [f"arn:aws:s3:::{bucket}/{params['Key']}"]
    return [f"arn:aws:s3:::{bucket}"]


def _entry_point() -> str | None:
    """``functions.<name>.handler.<function>`` of the outermost handler frame on the stack, if any."""
    frame, found = sys._getframe(2), None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("functions.") and module.endswith(".handler"):
            found = f"{module}.{frame.f_code.co_name}"
        frame = frame.f_back
    return found


OBJECT_CALLS: list[ObjectCall] = []


@contextmanager
def recording() -> Iterator[list[tuple[str, str, str]]]:
    """(entry point, IAM signing name, operation) of each call made under a handler; S3 calls also go to
    ``OBJECT_CALLS`` with the objects they name."""
    calls: list[tuple[str, str, str]] = []
    original = botocore.client.BaseClient._make_api_call
    last: list[str | None] = [None]

    def record(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        entry = _entry_point()
        if threading.current_thread() is threading.main_thread():
            last[0] = entry
        elif entry is None:
            entry = last[0]
        if entry is not None:
            signing = client.meta.service_model.signing_name
            calls.append((entry, signing, operation_name))
            deployment = DEPLOYMENT[0]
            arns = [] if deployment is None else _resource_arns(signing, operation_name, api_params, deployment,
                                                                  client.meta.region_name)
            if arns:
                variables = tuple((name, os.environ[name]) for name in FUNCTION_VARIABLES if name in os.environ)
                OBJECT_CALLS.append(ObjectCall(entry, variables, deployment, tuple(actions(signing, operation_name)),
                                               tuple(arns)))
        return original(client, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = record
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original


def _zip_module(outdir: Path, code: dict[str, Any]) -> str | None:
    """The ``functions.<name>.handler`` module whose handler.py a zip asset holds."""
    key = code.get("S3Key")
    if not isinstance(key, str):
        return None
    staged = outdir / f"asset.{key.removesuffix('.zip')}" / "handler.py"
    if not staged.exists():
        return None
    for source in (ROOT / "functions").glob("*/handler.py"):
        if source.read_bytes() == staged.read_bytes():
            return f"functions.{source.parent.name}.handler"
    return None


def _statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The Allow statements of each role (by logical id), from the policies attached to it."""
    by_role: dict[str, list[dict[str, Any]]] = {}
    for policy in (r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"):
        for role in policy["Properties"].get("Roles", []):
            by_role.setdefault(role["Ref"], []).extend(
                s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Effect") == "Allow")
    return by_role


def _patterns(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def allowed_actions(template: dict[str, Any], outdir: Path) -> dict[str, set[str]]:
    """Per entry point, the action patterns its functions' roles allow (the union over its functions: four
    channel senders run the same code)."""
    statements = _statements(template)
    allowed: dict[str, set[str]] = {}
    for entry, _, role in _functions(template, outdir):
        allowed.setdefault(entry, set()).update(p for s in statements.get(role, []) for p in _patterns(s))
    return allowed


def refused(calls: list[tuple[str, str, str]], template: dict[str, Any], outdir: Path) -> list[str]:
    """The calls whose action no statement of the function's role allows (each once)."""
    allowed = allowed_actions(template, outdir)
    problems = []
    for entry, service, operation in sorted(set(calls)):
        patterns = allowed.get(entry)
        if patterns is None:
            problems.append(f"{entry}: no function of the template runs it")
            continue
        for action in actions(service, operation):
            if not any(fnmatch.fnmatch(action.lower(), pattern.lower()) for pattern in patterns):
                problems.append(f"{entry}: {action} ({operation}) is not allowed by its role")
    return problems


# Services a role may name without its code calling them through botocore: pyarrow's own S3 client writes the Iceberg
# files (with the bucket's KMS key), and Lambda's runtime writes logs and traces.
IMPLICIT = {"s3", "kms", "logs", "xray"}


# What Lambda's SQS poller does with the function's role, for a function an SQS queue triggers.
SQS_POLLER = {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage",
              "sqs:GetQueueAttributes"}


def unused(calls: list[tuple[str, str, str]], template: dict[str, Any], outdir: Path) -> list[str]:
    """The services a role allows that its handler, exercised here, never called (Lambda's SQS poller aside)."""
    allowed = allowed_actions(template, outdir)
    used: dict[str, set[str]] = {}
    for entry, service, _ in calls:
        used.setdefault(entry, set()).add(service)
    problems = []
    for entry, services in sorted(used.items()):
        patterns = allowed.get(entry, set())
        granted = {pattern.split(":", 1)[0] for pattern in patterns
                   if pattern not in SQS_POLLER}
        spare = sorted(granted - services - IMPLICIT)
        if spare:
            problems.append(f"{entry}: its role allows {', '.join(spare)}, which it never calls")
    return problems


def _functions(template: dict[str, Any], outdir: Path) -> list[tuple[str, dict[str, str], str]]:
    """(entry point, the variables that tell it apart, role logical id) of each function of the template."""
    found = []
    for function in (r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"):
        command = function.get("ImageConfig", {}).get("Command")
        module = None if command else _zip_module(outdir, function.get("Code", {}))
        if not command and module is None:
            continue
        entry = command[0] if command else f"{module}.{function['Handler'].rsplit('.', 1)[1]}"
        variables = function.get("Environment", {}).get("Variables", {})
        found.append((entry, {k: v for k, v in variables.items() if k in FUNCTION_VARIABLES},
                      function["Role"]["Fn::GetAtt"][0]))
    return found


def objects_out_of_bounds(calls: list[ObjectCall], template: dict[str, Any], outdir: Path) -> list[str]:
    """Calls naming a resource (S3 object or bucket, Glue catalog, database or table, event bus) that no statement
    of the function's role covers for that action: a sender writing outside its channel's outbox, a step reaching
    a table of another database."""
    statements = _statements(template)
    functions = _functions(template, outdir)
    problems = set()
    for call in calls:
        mine = [f for f in functions if f[0] == call.entry]
        told = [f for f in mine if f[1] and all(dict(call.variables).get(k) == v for k, v in f[1].items())]
        roles = {role for _, _, role in (told or mine)}
        for action in call.actions:
            for arn in call.arns:
                if not any(_covers(statement, action, arn, call.deployment)
                           for role in roles for statement in statements.get(role, [])):
                    problems.add(f"{call.entry}{dict(call.variables) or ''}: {action} on {arn}")
    return sorted(problems)


def _covers(statement: dict[str, Any], action: str, arn: str, deployment: Any) -> bool:
    if not any(fnmatch.fnmatch(action.lower(), p.lower()) for p in _patterns(statement)):
        return False
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    for resource in resources:
        try:
            resolved = deployment.resolve(resource)
        except Exception:  # a resource not made for the tests (a state machine): it covers no object
            continue
        if isinstance(resolved, str) and fnmatch.fnmatchcase(arn, resolved):
            return True
    return False


def report(calls: list[tuple[str, str, str]]) -> str:
    return json.dumps(sorted({f"{e} {s}:{o}" for e, s, o in calls}), indent=1)
