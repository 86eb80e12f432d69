"""What a reviewer checks in the synthesized stack: encryption, DLQs, retries, one source of truth, cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from cdp import settings
from cdp.config import example_config_path, load_config
from cdp.events import (
    BUS_NAME,
    channel_rule_name,
    channel_rule_pattern,
    integration_rule_name,
    integration_rule_pattern,
)
from cdp.pipeline.steps import STEP_NAMES
from cdp.tables import DATABASE, TABLES, glue_type
from infra.packaging import directory_bytes

pytestmark = pytest.mark.infra
LAMBDA_ZIP_LIMIT = 250 * 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


def resources(synthesized, resource_type: str) -> dict[str, dict]:
    return {k: r for k, r in synthesized.template_json["Resources"].items() if r["Type"] == resource_type}


def test_data_bucket_is_encrypted_private_versioned_and_tls_only(synthesized) -> None:
    template = synthesized.template
    template.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": Match.any_value()},
             "BucketKeyEnabled": True}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LoggingConfiguration": Match.object_like({"LogFilePrefix": "data/"}),
    })
    for policy in resources(synthesized, "AWS::S3::BucketPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in statements)
    for key in resources(synthesized, "AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True


def test_every_queue_is_encrypted_and_every_work_queue_has_a_dead_letter_queue(synthesized) -> None:
    queues = resources(synthesized, "AWS::SQS::Queue")
    assert all("KmsMasterKeyId" in q["Properties"] for q in queues.values())
    dead_letter_targets = {q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
                           for q in queues.values() if "RedrivePolicy" in q["Properties"]}
    config = load_config(example_config_path())
    integrations = [s for s in config.sources.values() if s.events]
    # The landing queue, one per channel, one per source fed by integration events, the pipeline starter's and the
    # erasure requests': each with its own DLQ.
    assert len(dead_letter_targets) == 1 + len(config.channels) + len(integrations) + 1 + 1
    assert len(queues) == 2 * len(dead_letter_targets)


def test_landed_files_reach_the_ingest_function_with_partial_batch_failures(synthesized) -> None:
    template = synthesized.template
    template.has_resource_properties("Custom::S3BucketNotifications", {"NotificationConfiguration": {
        "QueueConfigurations": [Match.object_like({
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "landing/"}]}}})]}})
    mappings = resources(synthesized, "AWS::Lambda::EventSourceMapping")
    assert mappings and all(m["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
                            for m in mappings.values())


def test_data_functions_are_one_container_image_and_senders_are_zip(synthesized) -> None:
    functions = resources(synthesized, "AWS::Lambda::Function")
    images = {k: f for k, f in functions.items() if f["Properties"].get("PackageType") == "Image"}
    commands = sorted(f["Properties"]["ImageConfig"]["Command"][0] for f in images.values())
    assert commands == ["functions.erasure.handler.handler", "functions.ingest.handler.handler",
                        "functions.large_file.handler.commit",
                        "functions.large_file.handler.fail", "functions.large_file.handler.plan",
                        "functions.large_file.handler.stage",
                        "functions.pipeline.handler.failed", "functions.pipeline.handler.handler",
                        "functions.training.handler.handler"]
    assert len({json.dumps(f["Properties"]["Code"]) for f in images.values()}) == 1
    for function in images.values():
        environment = function["Properties"]["Environment"]["Variables"]
        assert environment[settings.DATABASE_ENV] == DATABASE
        assert environment[settings.CONFIG_ENV] == settings.IMAGE_CONFIG_PATH


def test_every_variable_the_stack_sets_is_a_setting_that_code_reads(synthesized) -> None:
    declared = {value: name for name, value in vars(settings).items() if name.endswith("_ENV")}
    stack_sets = {name for f in resources(synthesized, "AWS::Lambda::Function").values()
                  for name in f["Properties"].get("Environment", {}).get("Variables", {}) if name.startswith("CDP_")}
    assert stack_sets <= set(declared), stack_sets - set(declared)
    code = "".join(path.read_text() for folder in (ROOT / "functions", ROOT / "layers" / "cdp" / "python" / "cdp")
                   for path in folder.rglob("*.py") if path.name != "settings.py")
    unread = [name for name in declared.values() if f"settings.{name}" not in code]
    assert unread == [], f"settings nothing reads: {unread}"


def test_the_shared_package_layer_leaves_out_the_command_line_and_the_demo(synthesized) -> None:
    layers = resources(synthesized, "AWS::Lambda::LayerVersion")
    folders = [synthesized.outdir / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"
               for layer in layers.values()]
    (package,) = [folder / "python" / "cdp" for folder in folders if (folder / "python" / "cdp").is_dir()]
    assert (package / "activation").is_dir() and (package / "settings.py").is_file()
    assert not (package / "demo").exists() and not (package / "cli.py").exists()


def test_every_zip_function_with_its_layers_fits_in_lambda(synthesized) -> None:
    functions = resources(synthesized, "AWS::Lambda::Function")
    layers = resources(synthesized, "AWS::Lambda::LayerVersion")
    def asset_dir(s3_key: Any) -> Path:
        # A zip asset's S3 key is "<hash>.zip"; the assembly keeps its unzipped content in asset.<hash>/.
        return synthesized.outdir / f"asset.{s3_key.removesuffix('.zip')}"

    code = {k: f["Properties"]["Code"].get("S3Key") for k, f in functions.items()}
    code |= {k: layer["Properties"]["Content"]["S3Key"] for k, layer in layers.items()}
    zips = [k for k, f in functions.items()
            if isinstance(code[k], str) and f["Properties"].get("Layers") and asset_dir(code[k]).is_dir()]
    assert zips, "the channel senders are zip functions"
    for name in zips:
        layer_ids = [ref["Ref"] for ref in functions[name]["Properties"]["Layers"]]
        total = directory_bytes(asset_dir(code[name])) + sum(directory_bytes(asset_dir(code[layer]))
                                                             for layer in layer_ids)
        print(f"{name}: {total / 1e6:.1f} MB unzipped with {len(layer_ids)} layers")
        assert total < LAMBDA_ZIP_LIMIT


def test_glue_catalog_declares_every_table_as_iceberg_with_its_schema(synthesized) -> None:
    synthesized.template.has_resource_properties("AWS::Glue::Database", {"DatabaseInput": Match.object_like(
        {"Name": DATABASE})})
    tables = {t["Properties"]["TableInput"]["Name"]: t["Properties"]
              for t in resources(synthesized, "AWS::Glue::Table").values()}
    assert set(tables) == set(TABLES)
    for name, spec in TABLES.items():
        declared = tables[name]
        assert declared["OpenTableFormatInput"]["IcebergInput"]["MetadataOperation"] == "CREATE"
        columns = declared["TableInput"]["StorageDescriptor"]["Columns"]
        assert [(c["Name"], c["Type"]) for c in columns] == [(f.name, glue_type(f.type)) for f in spec.schema]


def _definitions(synthesized) -> list[dict[str, Any]]:
    machines = resources(synthesized, "AWS::StepFunctions::StateMachine").values()
    return [json.loads("".join(p if isinstance(p, str) else "ARN"
                               for p in m["Properties"]["DefinitionString"]["Fn::Join"][1])) for m in machines]


def _definition(synthesized) -> dict[str, Any]:
    (pipeline,) = [d for d in _definitions(synthesized) if STEP_NAMES[0] in d["States"]]
    return pipeline


def test_large_files_are_planned_staged_in_parallel_and_committed_once(synthesized) -> None:
    (machine,) = [d for d in _definitions(synthesized) if "StageParts" in d["States"]]
    assert machine["StartAt"] == "PlanParts"
    stage = machine["States"]["StageParts"]
    assert stage["Type"] == "Map" and stage["ItemsPath"] == "$.parts" and stage["Next"] == "CommitParts"
    ingest = [f for f in resources(synthesized, "AWS::Lambda::Function").values()
              if f["Properties"].get("ImageConfig", {}).get("Command") == ["functions.ingest.handler.handler"]]
    assert "CDP_LARGE_FILE_STATE_MACHINE" in ingest[0]["Properties"]["Environment"]["Variables"]
    statements = [st for p in resources(synthesized, "AWS::IAM::Policy").values()
                  for st in p["Properties"]["PolicyDocument"]["Statement"]]
    assert any(st["Action"] == "states:StartExecution" for st in statements)


def test_state_machine_runs_the_local_runners_steps_in_order(synthesized) -> None:
    definition = _definition(synthesized)
    # First the guard: a run that finds another running ends there; alone, it goes on to the steps.
    assert definition["StartAt"] == "OneRunAtATime"
    guard = definition["States"]["Alone?"]
    assert guard["Choices"][0]["Next"] == "AnotherRunInProgress"
    order, state = [], guard["Default"]
    while state in definition["States"] and definition["States"][state]["Type"] == "Task":
        order.append(state)
        state = definition["States"][state].get("Next")
    assert tuple(order) == STEP_NAMES
    for name in STEP_NAMES:
        task = definition["States"][name]
        assert any("CommitFailedException" in r["ErrorEquals"] for r in task["Retry"])
        assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"]
        assert definition["States"][task["Catch"][0]["Next"]]["Next"] == "RecordFailure"


def test_every_dead_letter_queue_has_an_alarm_that_reaches_the_alarm_topic(synthesized) -> None:
    queues = resources(synthesized, "AWS::SQS::Queue")
    dead_letter_queues = {q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
                          for q in queues.values() if "RedrivePolicy" in q["Properties"]}
    # EventBridge targets' own DLQs (delivery to a queue failed) are the same queues as the consumers'.
    alarms = resources(synthesized, "AWS::CloudWatch::Alarm").values()
    watched = {d["Value"]["Fn::GetAtt"][0] for a in alarms for d in a["Properties"].get("Dimensions", [])
               if d["Name"] == "QueueName"}
    assert dead_letter_queues and dead_letter_queues <= watched, dead_letter_queues - watched
    (topic,) = resources(synthesized, "AWS::SNS::Topic")
    dead_letter_alarms = [a for a in alarms if any(d["Name"] == "QueueName" for d in a["Properties"]["Dimensions"])]
    assert all({"Ref": topic} in a["Properties"]["AlarmActions"] for a in dead_letter_alarms)


def test_every_state_machine_alarms_on_failed_timed_out_and_aborted_executions(synthesized) -> None:
    machines = set(resources(synthesized, "AWS::StepFunctions::StateMachine"))
    watched: dict[str, set[str]] = {}
    for alarm in resources(synthesized, "AWS::CloudWatch::Alarm").values():
        for dimension in alarm["Properties"].get("Dimensions", []):
            if dimension["Name"] == "StateMachineArn":
                watched.setdefault(dimension["Value"]["Ref"], set()).add(alarm["Properties"]["MetricName"])
    assert set(watched) == machines
    assert all(names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} for names in watched.values())


def test_ingested_files_start_one_pipeline_run_per_window(synthesized) -> None:
    from cdp.events import ingestion_rule_pattern

    rules = [r["Properties"] for r in resources(synthesized, "AWS::Events::Rule").values()
             if r["Properties"].get("EventPattern") == ingestion_rule_pattern()]
    assert len(rules) == 1
    starter = [k for k, f in resources(synthesized, "AWS::Lambda::Function").items()
               if settings.PIPELINE_STATE_MACHINE_ENV in f["Properties"].get("Environment", {}).get("Variables", {})]
    (mapping,) = [m["Properties"] for m in resources(synthesized, "AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"]["FunctionName"]["Ref"] == starter[0]]
    assert mapping["MaximumBatchingWindowInSeconds"] == settings.PIPELINE_DEBOUNCE_SECONDS
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Files ingested during a run come back a window later until it ends: only a run going on for longer than the
    # pipeline may (its timeout) twice over sends them to the DLQ.
    queues = resources(synthesized, "AWS::SQS::Queue")
    (queue,) = [q["Properties"] for name, q in queues.items()
                if mapping["EventSourceArn"] == {"Fn::GetAtt": [name, "Arn"]}]
    assert queue["VisibilityTimeout"] == settings.PIPELINE_DEBOUNCE_SECONDS
    pipeline = [m["Properties"] for m in resources(synthesized, "AWS::StepFunctions::StateMachine").values()
                if "Alone?" in json.dumps(m["Properties"]["DefinitionString"])]
    timeout = json.loads("".join(p if isinstance(p, str) else "0" for p in
                                 pipeline[0]["DefinitionString"]["Fn::Join"][1]))["TimeoutSeconds"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] * queue["VisibilityTimeout"] >= 2 * timeout
    # It may ask whether a run is going.
    role = synthesized.template_json["Resources"][starter[0]]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [st for policy in resources(synthesized, "AWS::IAM::Policy").values()
                  if {"Ref": role} in policy["Properties"]["Roles"]
                  for st in policy["Properties"]["PolicyDocument"]["Statement"]]
    assert any("states:ListExecutions" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
               for st in statements)


def test_training_has_its_own_scheduled_machine_that_catches_and_alarms(synthesized) -> None:
    (machine,) = [d for d in _definitions(synthesized) if "train" in d["States"]]
    task = machine["States"]["train"]
    assert machine["StartAt"] == "train" and task["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert machine["States"][task["Catch"][0]["Next"]]["Type"] == "Fail"
    rules = resources(synthesized, "AWS::Events::Rule").values()
    schedules = {r["Properties"].get("ScheduleExpression") for r in rules}
    assert "cron(0 2 ? * SUN *)" in schedules and "cron(0 3 * * ? *)" in schedules
    alarms = [a["Properties"].get("AlarmDescription", "") for a in resources(synthesized, "AWS::CloudWatch::Alarm")
              .values()]
    assert any(description.startswith("A training run failed") for description in alarms)
    training = [f for f in resources(synthesized, "AWS::Lambda::Function").values()
                if f["Properties"].get("ImageConfig", {}).get("Command") == ["functions.training.handler.handler"]]
    assert training and training[0]["Properties"]["MemorySize"] == 10240


def test_pipeline_logs_leave_out_execution_data_and_are_traced(synthesized) -> None:
    synthesized.template.all_resources_properties("AWS::StepFunctions::StateMachine", {
        "TracingConfiguration": {"Enabled": True},
        "LoggingConfiguration": Match.object_like({"IncludeExecutionData": False, "Level": "ALL"}),
    })


def test_one_rule_per_channel_with_the_local_bus_pattern_retries_and_dead_letters(synthesized) -> None:
    channels = load_config(example_config_path()).channels
    rules = {r["Properties"]["Name"]: r["Properties"] for r in resources(synthesized, "AWS::Events::Rule").values()
             if r["Properties"].get("Name", "").startswith("cdp-activation-")}
    assert set(rules) == {channel_rule_name(c) for c in channels}
    for channel in channels:
        rule = rules[channel_rule_name(channel)]
        assert rule["EventPattern"] == channel_rule_pattern(channel)
        (target,) = rule["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert "Arn" in target["DeadLetterConfig"]
    synthesized.template.has_resource_properties("AWS::Events::EventBus", {"Name": BUS_NAME})
    synthesized.template.resource_count_is("AWS::Events::Archive", 1)


def test_integration_events_are_routed_by_the_shared_pattern_to_their_source(synthesized) -> None:
    config = load_config(example_config_path())
    rules = {r["Properties"]["Name"]: r["Properties"] for r in resources(synthesized, "AWS::Events::Rule").values()
             if "Name" in r["Properties"]}
    for source, spec in config.sources.items():
        if spec.events:
            rule = rules[integration_rule_name(source)]
            assert rule["EventPattern"] == integration_rule_pattern(spec.events)
            assert rule["Targets"][0]["DeadLetterConfig"]


def test_alarms_cover_dead_letters_and_failed_runs(synthesized) -> None:
    alarms = resources(synthesized, "AWS::CloudWatch::Alarm").values()
    metrics = {a["Properties"].get("MetricName") for a in alarms}
    assert {"ApproximateNumberOfMessagesVisible", "ExecutionsFailed"} <= metrics
    assert all(a["Properties"]["AlarmActions"] for a in alarms)


def test_default_region_is_paris() -> None:
    context = json.loads((Path(__file__).parents[2] / "cdk.json").read_text())["context"]
    assert context["region"] == "eu-west-3"


def test_cdk_nag_finds_no_unsuppressed_error_and_every_suppression_has_a_reason(synthesized) -> None:
    assert synthesized.metadata  # the findings live there: an empty read would prove nothing
    errors = [(path, entry["data"]) for path, entries in synthesized.metadata.items() for entry in entries
              if entry["type"] == "aws:cdk:error" and str(entry["data"]).startswith("AwsSolutions-")]
    assert errors == []
    report = next(synthesized.outdir.glob("AwsSolutions-*-NagReport.csv")).read_text()
    assert "Non-Compliant" not in report
    suppressions = [s for r in [synthesized.template_json, *synthesized.template_json["Resources"].values()]
                    for s in r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])]
    assert suppressions
    assert all(len(s["reason"]) >= 20 for s in suppressions)


def test_the_pinned_cdk_cli_reads_the_assembly(synthesized) -> None:
    import os
    import subprocess

    cli = Path(__file__).parents[2] / "node_modules" / ".bin" / "cdk"
    if not cli.exists():
        if os.environ.get("CI"):
            pytest.fail("node_modules/.bin/cdk is missing: `make test` installs it with npm ci")
        pytest.skip("the pinned CDK CLI is not installed (npm ci)")
    listed = subprocess.run([str(cli), "ls", "--app", str(synthesized.outdir)], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "CDK_DISABLE_VERSION_CHECK": "1"})
    assert listed.returncode == 0, listed.stderr
    assert "cdp-platform" in listed.stdout


def test_every_function_alarms_on_errors_and_throttles_and_the_landing_backlog_is_watched(synthesized) -> None:
    functions = {k for k, f in resources(synthesized, "AWS::Lambda::Function").items()  # the platform's own
                 if not f["Properties"].get("Description", "").startswith("AWS CloudFormation handler")}
    watched: dict[str, set[str]] = {}
    alarms = list(resources(synthesized, "AWS::CloudWatch::Alarm").values())
    for alarm in alarms:
        for dimension in alarm["Properties"].get("Dimensions", []):
            if dimension["Name"] == "FunctionName":
                watched.setdefault(dimension["Value"]["Ref"], set()).add(alarm["Properties"]["MetricName"])
    assert functions and set(watched) == functions
    assert all(names == {"Errors", "Throttles"} for names in watched.values())
    assert any(a["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage" for a in alarms)


def test_alarms_reach_the_subscribers_the_config_names(synthesized) -> None:
    (topic,) = [name for name, topic in resources(synthesized, "AWS::SNS::Topic").items()
                if topic["Properties"].get("DisplayName") == "CDP alarms"]
    subscribed = {(s["Properties"]["Protocol"], s["Properties"]["Endpoint"])
                  for s in resources(synthesized, "AWS::SNS::Subscription").values()
                  if s["Properties"]["TopicArn"] == {"Ref": topic}}
    assert subscribed and subscribed == {("email", address)
                                         for address in load_config(example_config_path()).alerts.emails}


def test_every_kind_of_subscriber_is_declared_and_a_topic_without_one_is_flagged() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms
    from aws_cdk.assertions import Annotations, Template

    from cdp.config.alerts import AlertsSpec
    from infra.components.observability import Observability

    def stack_with(alerts: AlertsSpec, email: str | None = None) -> cdk.Stack:
        stack = cdk.Stack(cdk.App())
        Observability(stack, "Observability", key=kms.Key(stack, "Key"), alarms=[], alerts=alerts, email=email)
        return stack

    stack = stack_with(AlertsSpec(emails=("ops@example.com",), https=("https://oncall.example.com/sns",),
                                  sms=("+33612345678",)), email="ops@example.com")
    subscriptions = Template.from_stack(stack).find_resources("AWS::SNS::Subscription")
    assert sorted((s["Properties"]["Protocol"], s["Properties"]["Endpoint"]) for s in subscriptions.values()) == [
        ("email", "ops@example.com"), ("https", "https://oncall.example.com/sns"), ("sms", "+33612345678")]
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("reach no one"))
    Annotations.from_stack(stack_with(AlertsSpec())).has_warning("*", Match.string_like_regexp("reach no one"))


@pytest.mark.parametrize("alerts", [{"emails": ["not-an-address"]}, {"https": ["http://plain.example.com"]},
                                    {"sms": ["0612345678"]}])
def test_a_subscriber_that_cannot_be_reached_is_refused(alerts: dict) -> None:
    from pydantic import ValidationError

    from cdp.config.alerts import AlertsSpec

    with pytest.raises(ValidationError, match="alerts|pattern"):
        AlertsSpec(**alerts)


def _role_statements(synthesized, function: str) -> list[dict]:
    role = synthesized.template_json["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [statement for policy in resources(synthesized, "AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_only_erasure_and_the_functions_that_remove_staged_parts_may_delete_objects_and_only_there(
        synthesized) -> None:
    commands = {name: f["Properties"]["ImageConfig"]["Command"][0]
                for name, f in resources(synthesized, "AWS::Lambda::Function").items()
                if "ImageConfig" in f["Properties"]}
    # Where each may delete: staged parts; for erasure, the tables' unreferenced files and the earlier versions of
    # the landed files and outboxes it rewrote.
    removing = {"functions.large_file.handler.commit": [settings.STAGING_PREFIX],
                "functions.large_file.handler.fail": [settings.STAGING_PREFIX],
                "functions.erasure.handler.handler": [settings.WAREHOUSE_PREFIX + "/", settings.LANDING_PREFIX,
                                                      settings.OUTBOX_PREFIX]}
    assert set(removing) < set(commands.values())
    for function, command in commands.items():
        deleting = [s for s in _role_statements(synthesized, function)
                    if any(a.startswith("s3:Delete") for a in _actions(s))]
        if command not in removing:
            assert deleting == [], command
            continue
        resources_deleted = sorted(json.dumps(statement["Resource"]) for statement in deleting)
        assert len(resources_deleted) == len(removing[command]), command
        for prefix in removing[command]:
            assert any(f"/{prefix}*" in resource for resource in resources_deleted), (command, prefix)


def test_every_bucket_expires_what_it_keeps_as_the_retention_config_says(synthesized) -> None:
    retention = load_config(example_config_path()).privacy.retention
    buckets = resources(synthesized, "AWS::S3::Bucket")
    for name, bucket in buckets.items():
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        assert all(r["Status"] == "Enabled" for r in rules), name
        # Earlier versions expire and abandoned uploads are aborted everywhere.
        assert any("NoncurrentVersionExpiration" in r for r in rules), name
        assert any(r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")
                   == retention.incomplete_upload_days for r in rules), name
    (data,) = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    expiring = {r.get("Prefix"): r.get("ExpirationInDays")
                for r in data["Properties"]["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r}
    results_days = load_config(example_config_path()).analytics.results_days
    # Never the tables nor the models.
    assert expiring == {settings.LANDING_PREFIX: retention.landing_days,
                        settings.STAGING_PREFIX: retention.staging_days, settings.OUTBOX_PREFIX: retention.outbox_days,
                        settings.ATHENA_RESULTS_PREFIX: results_days}


def test_analysts_query_through_a_workgroup_with_encrypted_results_and_a_scan_limit(synthesized) -> None:
    analytics = load_config(example_config_path()).analytics
    (workgroup,) = resources(synthesized, "AWS::Athena::WorkGroup").values()
    configuration = workgroup["Properties"]["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["BytesScannedCutoffPerQuery"] == analytics.bytes_scanned_limit_gb * 1024**3
    results = configuration["ResultConfiguration"]
    assert results["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert "KmsKey" in results["EncryptionConfiguration"]
    assert settings.ATHENA_RESULTS_PREFIX in json.dumps(results["OutputLocation"])


def test_the_app_refuses_a_region_outside_the_european_union_unless_the_config_allows_it() -> None:
    from infra.app import build_app

    with pytest.raises(SystemExit, match="outside the European Union"):
        build_app(context={"region": "us-east-1"})


# What a statement on every resource may allow: services that have no resource-level permissions.
ACTIONS_WITHOUT_RESOURCES = {
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}


def test_each_role_lists_its_actions_and_resources_and_wildcards_are_reviewed_one_policy_at_a_time(
        synthesized) -> None:
    template = synthesized.template_json
    roles: dict[str, set[tuple[str, str]]] = {}
    for policy in resources(synthesized, "AWS::IAM::Policy").values():
        for role in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                roles.setdefault(role["Ref"], set()).update((action, json.dumps(target, sort_keys=True))
                                                            for action in _actions(statement) for target in targets)
                if statement["Resource"] == "*":
                    assert set(_actions(statement)) <= ACTIONS_WITHOUT_RESOURCES, statement
    assert len(roles) >= 12  # every function and state machine has its own
    for role, grants in roles.items():
        assert all(action.split(":")[0] in {"s3", "kms", "glue", "events", "states", "lambda", "logs", "xray", "sqs",
                                            "secretsmanager", "sns", "cloudwatch"} for action, _ in grants), role
    # No IAM5 suppression for the whole stack, and each policy's names the findings it answers.
    stack_wide = template.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    assert not [s for s in stack_wide if s["id"] == "AwsSolutions-IAM5"]
    per_resource = [s for r in template["Resources"].values()
                    for s in r.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
                    if s["id"] == "AwsSolutions-IAM5"]
    assert per_resource and all(s.get("applies_to") or s.get("appliesTo") for s in per_resource)


# cfn-lint warnings the synthesized template may carry, each explained: CDK writes them, nothing of ours.
EXPLAINED_LINT_WARNINGS = {
    "W3005": "CDK makes each function depend on its role's default policy as well as on the role it already "
             "references, so the policy exists before the function first runs",
    "W3045": "The access-log bucket's AccessControl (LogDeliveryWrite) is how CDK lets S3 deliver server access logs",
}


def test_cfn_lint_finds_no_error_and_only_explained_warnings_in_the_template(synthesized) -> None:
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(synthesized.template_json), config=ManualArgs(regions=["eu-west-3"]))
    errors = [str(m) for m in matches if m.rule.id.startswith("E")]
    unexplained = [str(m) for m in matches if not m.rule.id.startswith("E")
                   and m.rule.id not in EXPLAINED_LINT_WARNINGS]
    assert errors == [] and unexplained == []


def test_every_function_logs_to_its_own_encrypted_group_kept_as_the_config_says(synthesized) -> None:
    days = load_config(example_config_path()).privacy.retention.logs_days
    groups = resources(synthesized, "AWS::Logs::LogGroup")
    ours = {name: f for name, f in resources(synthesized, "AWS::Lambda::Function").items()
            if not name.startswith("BucketNotificationsHandler")}  # CDK's own, which logs no data
    used = [f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for f in ours.values()]
    assert len(set(used)) == len(ours) >= 15
    for name in used:
        assert groups[name]["Properties"]["RetentionInDays"] == days
        assert "KmsKeyId" in groups[name]["Properties"]


def test_the_bus_and_its_archive_are_encrypted_and_services_use_keys_only_for_this_account(synthesized) -> None:
    (bus,) = resources(synthesized, "AWS::Events::EventBus").values()
    (archive,) = resources(synthesized, "AWS::Events::Archive").values()
    assert "KmsKeyIdentifier" in bus["Properties"] and "KmsKeyIdentifier" in archive["Properties"]
    for key in resources(synthesized, "AWS::KMS::Key").values():
        for statement in key["Properties"]["KeyPolicy"]["Statement"]:
            service = statement.get("Principal", {}).get("Service")
            if service:
                assert statement.get("Condition"), (service, statement)


def _object_prefixes(statement: dict) -> list[str]:
    """The key patterns a statement names in the data bucket ('' for the bucket itself)."""
    targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    prefixes = []
    for target in targets:
        if isinstance(target, dict) and "Fn::Join" in target:
            parts = target["Fn::Join"][1]
            if parts[0].get("Fn::GetAtt", [""])[0].startswith("StorageData"):
                prefixes.append("".join(parts[1:]).removeprefix("/"))
    return prefixes


def test_a_sender_writes_only_its_channels_outbox_and_reads_only_its_cards_and_marks(synthesized) -> None:
    """The address a sender sends to is read at delivery from its own channel's contact cards: no sender can read
    another channel's (an ads audience's sender never sees a clear email)."""
    senders = {f["Properties"]["Environment"]["Variables"][settings.CHANNEL_ENV]: name
               for name, f in resources(synthesized, "AWS::Lambda::Function").items()
               if settings.CHANNEL_ENV in f["Properties"].get("Environment", {}).get("Variables", {})}
    assert set(senders) == set(load_config(example_config_path()).channels)
    for channel, function in senders.items():
        reads, writes = set(), set()
        for statement in _role_statements(synthesized, function):
            actions = _actions(statement)
            if any(a.startswith("s3:Get") for a in actions):
                reads.update(_object_prefixes(statement))
            if "s3:PutObject" in actions:
                writes.update(_object_prefixes(statement))
        assert reads == {f"{settings.contact_cards_prefix(channel)}*",
                         f"{settings.delivered_marks_prefix(channel)}*"}, channel
        assert writes == {f"{settings.OUTBOX_PREFIX}{channel}/*"}, channel


def retention_target(synthesized) -> tuple[dict, dict]:
    """The rule that starts retention, and its one target."""
    from cdp.events import RETENTION_DUE

    scheduled = [(rule, target) for rule in resources(synthesized, "AWS::Events::Rule").values()
                 for target in rule["Properties"].get("Targets", [])
                 if "Input" in target and json.loads(target["Input"]).get("detail-type") == RETENTION_DUE]
    assert len(scheduled) == 1
    return scheduled[0]


def test_retention_is_applied_daily_by_the_erasure_function_through_its_queue(synthesized) -> None:
    from cdp.events import retention_message

    rule, target = retention_target(synthesized)
    assert rule["Properties"]["ScheduleExpression"] == "cron(0 1 * * ? *)"
    assert "EventBusName" not in rule["Properties"]  # the schedule, not a bus anyone could put the message on
    assert json.loads(target["Input"]) == retention_message()
    queue = target["Arn"]["Fn::GetAtt"][0]
    (mapping,) = [m for m in resources(synthesized, "AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue, "Arn"]}]
    function = synthesized.template_json["Resources"][mapping["Properties"]["FunctionName"]["Ref"]]
    assert function["Properties"]["ImageConfig"]["Command"] == ["functions.erasure.handler.handler"]
    assert target["DeadLetterConfig"] and target["RetryPolicy"]
