"""The cloud half, run against moto in server mode: S3 → SQS → ingest Lambda → Iceberg on Glue, then the
pipeline Lambda's steps → EventBridge rules (the stack's patterns) → per-channel queues.

pyiceberg's Glue catalog writes data files with pyarrow's own S3 client, which bypasses botocore, so moto must
run as a server (DESIGN §7).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from cdp.adapters import lambda_env as aws
from cdp.events import BUS_NAME, EVENT_SOURCE, channel_rule_name
from cdp.pipeline.local import run_local
from cdp.pipeline.steps import STEP_NAMES
from cdp.tables import TABLES
from tests.cloud import asl, deploy, glue_tables, iam_calls, sqs_trigger

pytestmark = pytest.mark.cloud

REGION = "eu-west-3"
BUCKET = "cdp-data-test"
AS_OF = date(2026, 11, 1)


@dataclass
class FakeLambdaContext:
    function_name: str = "cdp-test"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:cdp-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def calls_allowed_by_the_roles(synthesized, request: pytest.FixtureRequest):
    """Every AWS call a handler makes in these tests is one that its function's role in the template allows (for S3,
    on the objects it names), and no role allows a service its handler never calls: checked once the module's tests
    are done (reported at that teardown)."""
    with iam_calls.recording() as calls:
        yield calls
    outdir = Path(synthesized.outdir)
    problems = iam_calls.refused(calls, synthesized.template_json, outdir) + iam_calls.objects_out_of_bounds(
        iam_calls.OBJECT_CALLS, synthesized.template_json, outdir)
    # A service a role never used says something only when every test of the module ran (`make test` runs a module
    # on one worker).
    defined = {name for name in dir(request.module) if name.startswith("test_")}
    ran = {item.originalname for item in request.session.items if item.module is request.module}
    if defined <= ran:
        problems += iam_calls.unused(calls, synthesized.template_json, outdir)
    assert not problems, "\n".join(problems) + "\ncalls made:\n" + iam_calls.report(calls)


def _target_of(template: dict[str, Any], rule: dict[str, Any]) -> str:
    (target,) = rule["Targets"]
    return target["Arn"]["Fn::GetAtt"][0]


@pytest.fixture
def cloud(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, synthesized):
    """The stack's bucket, queues, bus, rules, database and tables, made on the moto server from the synthesized
    template (``deploy``, ``glue_tables``), and the Lambda environment the stack would set."""
    from cdp import settings
    from cdp.events import erasure_rule_pattern, ingestion_rule_pattern

    template = synthesized.template_json
    # Each test gets its own database, bucket, queues and rules so that tests on one server stay independent.
    suffix = tmp_path.name.replace("_", "-").lower()[-20:]
    bucket, database = f"{BUCKET}-{suffix}", f"cdp_{suffix.replace('-', '_')}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION, "CDP_CONFIG": "examples/retail/cdp.yaml", "CDP_WAREHOUSE": f"s3://{bucket}/warehouse",
        "CDP_DATABASE": database, "CDP_EVENT_BUS": BUS_NAME, "CDP_DATA_BUCKET": bucket,
        "CDP_GLUE_ENDPOINT": moto_endpoint, "CDP_S3_ENDPOINT": moto_endpoint, "CDP_AWS_ENDPOINT": moto_endpoint,
        "POWERTOOLS_TRACE_DISABLED": "1", "POWERTOOLS_SERVICE_NAME": "cdp-test", "POWERTOOLS_METRICS_NAMESPACE": "cdp",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for cached in (f for f in vars(aws).values() if callable(getattr(f, "cache_clear", None))):
        cached.cache_clear()  # each test deploys anew: nothing a function kept may outlive it

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)

    (notifications,) = [r["Properties"] for r in template["Resources"].values()
                        if r["Type"] == "Custom::S3BucketNotifications"]
    (database_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::Glue::Database"]
    deployed = deploy.deploy(template, client, REGION, suffix,
                             {notifications["BucketName"]["Ref"]: bucket, database_id: database})
    iam_calls.DEPLOYMENT[0] = deployed  # calls are checked against this test's resources
    (salt,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SecretsManager::Secret"]
    monkeypatch.setenv(settings.SALT_SECRET_ENV, deployed.made[salt]["Arn"])
    # The machines' ARNs, as the stack hands them to the functions.
    machines = {k: r["Properties"] for k, r in template["Resources"].items()
                if r["Type"] == "AWS::StepFunctions::StateMachine"}
    for logical_id, properties in machines.items():
        text = json.dumps(properties["DefinitionString"])
        if "StageParts" in text:
            monkeypatch.setenv(settings.LARGE_FILE_STATE_MACHINE_ENV, deployed.made[logical_id]["Arn"])
        elif STEP_NAMES[0] in text:
            monkeypatch.setenv(settings.PIPELINE_STATE_MACHINE_ENV, deployed.made[logical_id]["Arn"])
    # The tables the stack declares, as Glue makes them (moto makes no Iceberg metadata for a declared table).
    glue_tables.make_declared_tables(aws.store().catalog, database, template, deployed.resolve)
    rules = {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::Events::Rule"}
    url = {logical_id: made.get("QueueUrl") for logical_id, made in deployed.made.items()}
    (landing,) = notifications["NotificationConfiguration"]["QueueConfigurations"]
    channel_queues = {channel: url[_target_of(template, rule)] for channel in aws.config().channels
                      for rule in rules.values() if rule.get("Name") == channel_rule_name(channel)}
    (ingested,) = [url[_target_of(template, r)] for r in rules.values()
                   if r.get("EventPattern") == ingestion_rule_pattern()]
    (erasures,) = [url[_target_of(template, r)] for r in rules.values()
                   if r.get("EventPattern") == erasure_rule_pattern()]
    yield {"bucket": bucket, "s3": client("s3"), "sqs": client("sqs"), "deployed": deployed,
           "landing_queue": url[landing["QueueArn"]["Fn::GetAtt"][0]], "channel_queues": channel_queues,
           "ingested_queue": ingested, "erasure_queue": erasures}
    iam_calls.DEPLOYMENT[0] = None
    deploy.teardown(deployed, template, client)


def sfn_sdk(service: str, action: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """An AWS SDK task of a state machine, against moto; keys as Step Functions gives them (PascalCase)."""
    assert (service, action) == ("sfn", "listExecutions"), (service, action)
    client = boto3.client("stepfunctions", endpoint_url=aws.os.environ["CDP_AWS_ENDPOINT"], region_name=REGION)
    found = client.list_executions(stateMachineArn=parameters["StateMachineArn"],
                                   statusFilter=parameters["StatusFilter"], maxResults=parameters["MaxResults"])
    return {"Executions": [{"ExecutionArn": e["executionArn"], "Status": e["status"]} for e in found["executions"]]}


def run_pipeline_machine(synthesized: Any, execution_input: dict[str, Any], name: str,
                         others_running: int = 0) -> dict[str, Any]:
    """Start the pipeline machine, as synthesized, on moto (plus ``others_running`` executions already going), and
    run it, each step invoking the pipeline function in-process."""
    from cdp import settings

    (definition,) = [d for d in asl.definitions(synthesized.template_json) if STEP_NAMES[0] in d["States"]]
    client = boto3.client("stepfunctions", endpoint_url=aws.os.environ["CDP_AWS_ENDPOINT"], region_name=REGION)
    machine = aws.os.environ[settings.PIPELINE_STATE_MACHINE_ENV]  # the stack's, as deployed for the test
    started = [client.start_execution(stateMachineArn=machine, name=f"{name}-other-{index}")["executionArn"]
               for index in range(others_running)]
    started.append(client.start_execution(stateMachineArn=machine, name=name,
                                          input=json.dumps(execution_input))["executionArn"])
    context = {"Execution": {"Name": name, "Input": execution_input}, "StateMachine": {"Id": machine}}
    try:
        return asl.run(definition, execution_input, asl.handlers(synthesized.template_json), FakeLambdaContext(),
                       context, sfn_sdk)
    finally:  # moto's executions run until stopped: end them as the run has
        for execution in started:
            client.stop_execution(executionArn=execution)


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return messages
        messages += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def as_sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "attributes": {},
        "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:landing", "awsRegion": REGION,
    } for m in messages]}


def drop_files(cloud: dict[str, Any], landing: Path) -> None:
    for path in sorted(landing.rglob("*")):
        if path.is_file():
            key = "landing/" + path.relative_to(landing).as_posix()
            cloud["s3"].put_object(Bucket=cloud["bucket"], Key=key, Body=path.read_bytes())


def run_ingest_lambda(cloud: dict[str, Any]) -> dict[str, Any]:
    from functions.ingest.handler import handler

    messages = [m for m in drain(cloud["sqs"], cloud["landing_queue"]) if "Records" in json.loads(m["Body"])]
    return handler(as_sqs_event(messages), FakeLambdaContext())


def test_dropped_file_reaches_the_iceberg_tables_in_glue(cloud, small_landing: Path) -> None:
    drop_files(cloud, small_landing)
    response = run_ingest_lambda(cloud)

    assert response == {"batchItemFailures": []}
    store = aws.store()
    files = store.read("files").to_pylist()
    assert sorted(f["source"] for f in files) == ["accounts", "crm", "orders"]
    assert all(f["status"] == "ingested" and f["uri"].startswith(f"s3://{cloud['bucket']}/landing/") for f in files)
    assert all(f["rows_in"] == f["rows_accepted"] + f["rows_quarantined"] for f in files)
    records = store.read("records").to_pandas()
    assert set(records["record_key"]) == {"crm:C1", "crm:C2", "crm:C3", "crm:C5", "accounts:A1", "accounts:A2"}
    assert records.set_index("record_key").loc["crm:C1", "email"] == "jean.dupont@gmail.com"
    quarantine = store.read("quarantine").to_pylist()
    assert {(q["source"], q["row_number"]) for q in quarantine} == {("crm", 4), ("accounts", 3)}
    # The Glue table is a real Iceberg table: Athena finds it by these parameters.
    glue = boto3.client("glue", endpoint_url=aws.os.environ["CDP_GLUE_ENDPOINT"], region_name=REGION)
    parameters = glue.get_table(DatabaseName=aws.os.environ["CDP_DATABASE"], Name="records")["Table"]["Parameters"]
    assert parameters["table_type"].upper() == "ICEBERG"
    assert parameters["metadata_location"].startswith(f"s3://{cloud['bucket']}/warehouse/")
    # Each file announces itself on the bus with its counts.
    announced = [json.loads(m["Body"])["detail"] for m in drain(cloud["sqs"], cloud["ingested_queue"])]
    assert sorted((a["source"], a["rows_in"], a["rows_quarantined"]) for a in announced) == [
        ("accounts", 3, 1), ("crm", 5, 1), ("orders", 6, 0)]


def test_the_pipeline_function_refuses_an_unknown_step(cloud) -> None:
    from aws_lambda_powertools.utilities.parser import ValidationError

    from functions.pipeline.handler import handler

    with pytest.raises(ValidationError):
        handler({"step": "publish_everything", "run_id": "r"}, FakeLambdaContext())


def test_the_same_object_notified_twice_adds_nothing(cloud, small_landing: Path) -> None:
    from functions.ingest.handler import handler

    drop_files(cloud, small_landing)
    messages = [m for m in drain(cloud["sqs"], cloud["landing_queue"]) if "Records" in json.loads(m["Body"])]
    handler(as_sqs_event(messages), FakeLambdaContext())
    before = aws.store().read("records").num_rows
    assert handler(as_sqs_event(messages), FakeLambdaContext()) == {"batchItemFailures": []}
    assert aws.store().read("records").num_rows == before
    assert aws.store().read("files").num_rows == 3


def test_a_message_that_cannot_be_processed_is_reported_for_retry(cloud, small_landing: Path) -> None:
    from functions.ingest.handler import handler

    drop_files(cloud, small_landing)
    good = [m for m in drain(cloud["sqs"], cloud["landing_queue"]) if "Records" in json.loads(m["Body"])][:1]
    notification = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": cloud["bucket"]}, "object": {"key": "landing/crm/vanished.csv", "eTag": "x"}}}]}
    bad = {"MessageId": "m-bad", "ReceiptHandle": "r1", "Body": json.dumps(notification), "MD5OfBody": "0"}

    response = handler(as_sqs_event(good + [bad]), FakeLambdaContext())

    # Only the failed message goes back to the queue (and, after its retries, to the DLQ).
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert aws.store().read("files").num_rows == 1


def bucket_keys(cloud: dict[str, Any], prefix: str) -> list[str]:
    pages = cloud["s3"].get_paginator("list_objects_v2").paginate(Bucket=cloud["bucket"], Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def channel_deliveries(messages_by_channel: dict[str, list[dict[str, Any]]]) -> set[tuple]:
    """What each channel received, without ids and timestamps (which differ between two runs)."""
    return {
        (channel, e["detail"]["profile_id"], e["detail"]["segment_id"], e["detail"]["change"],
         tuple(e["detail"]["channels"]), e["detail"]["holdout"],
         json.dumps(e["detail"].get("identifiers"), sort_keys=True),
         json.dumps(e["detail"].get("hashed_identifiers"), sort_keys=True))
        for channel, events in messages_by_channel.items() for e in events
    }


def test_pipeline_steps_route_the_same_events_as_the_local_outbox(
    cloud, small_landing: Path, tmp_path: Path, retail_config, synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop_files(cloud, small_landing)
    run_ingest_lambda(cloud)
    # The pipeline machine as synthesized: each state invokes the pipeline function with its step, the execution's
    # name as run id and the execution's input.
    execution_input = {"as_of": AS_OF.isoformat()}
    output = run_pipeline_machine(synthesized, execution_input, "run-cloud-1")
    assert list(output["steps"]) == list(STEP_NAMES)
    routed = {channel: drain(cloud["sqs"], url) for channel, url in cloud["channel_queues"].items()}
    cloud_events = {channel: [json.loads(m["Body"]) for m in messages] for channel, messages in routed.items()}

    workdir = tmp_path / "local"
    run_local(retail_config, small_landing, workdir, as_of=AS_OF)
    local_events = {
        channel: [json.loads(line) for line in (workdir / "outbox" / f"{channel}.jsonl").read_text().splitlines()]
        for channel in retail_config.channels if (workdir / "outbox" / f"{channel}.jsonl").exists()
    }

    # What the bus carried (and its archive keeps) names people by profile id only.
    assert sum(map(len, cloud_events.values())) > 0  # the data was built so that some people are activated
    for events in cloud_events.values():
        for event in events:
            assert set(event["detail"]) >= {"profile_id", "event_id"}
            assert not {"identifiers", "hashed_identifiers", "traits"} & set(event["detail"])
            assert "@" not in json.dumps(event)
    # The run is recorded in the same tables as locally.
    assert aws.store().read("activations", "run_id == 'run-cloud-1'").num_rows >= len(cloud_events["email"])
    # Each channel's sender completes what its queue received with the contact cards, into its outbox: the same
    # deliveries as the local run's.
    import importlib

    from cdp import settings

    sender = importlib.import_module("functions.channel_sender.handler")
    delivered: dict[str, list[dict[str, Any]]] = {}
    for channel, messages in routed.items():
        if messages:
            monkeypatch.setenv(settings.CHANNEL_ENV, channel)
            assert sender.handler(as_sqs_event(messages), FakeLambdaContext()) == {"batchItemFailures": []}
            delivered[channel] = [
                json.loads(line) for key in bucket_keys(cloud, f"{settings.OUTBOX_PREFIX}{channel}/")
                if key.endswith(".jsonl")
                for line in cloud["s3"].get_object(Bucket=cloud["bucket"], Key=key)["Body"].read().splitlines()]
    assert channel_deliveries(delivered) == channel_deliveries(local_events)
    assert any(e["detail"].get("identifiers") for events in delivered.values() for e in events)
    for event in delivered.get("ads", []):
        assert "identifiers" not in event["detail"] and event["detail"]["hashed_identifiers"]


def test_retried_activate_and_publish_steps_contact_nobody_twice(cloud, small_landing: Path) -> None:
    from functions.pipeline.handler import handler

    drop_files(cloud, small_landing)
    run_ingest_lambda(cloud)
    for step in STEP_NAMES:
        handler({"step": step, "run_id": "run-retry", "as_of": AS_OF.isoformat()}, FakeLambdaContext())
    first = {c: len(drain(cloud["sqs"], url)) for c, url in cloud["channel_queues"].items()}
    for step in ("activate", "publish"):
        handler({"step": step, "run_id": "run-retry", "as_of": AS_OF.isoformat()}, FakeLambdaContext())
    assert sum(first.values()) > 0
    assert all(len(drain(cloud["sqs"], url)) == 0 for url in cloud["channel_queues"].values())


def test_events_published_by_other_systems_land_and_ingest_under_their_source(
    cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cdp.events import integration_rule_pattern
    from functions.ingest.handler import handler as ingest
    from functions.integration_batcher.handler import handler as batcher

    sqs, events = cloud["sqs"], boto3.client("events", endpoint_url=aws.os.environ["CDP_AWS_ENDPOINT"],
                                              region_name=REGION)
    spec = aws.config().sources["orders"]
    url = sqs.create_queue(QueueName=f"orders-events-{tmp_path.name[-12:]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"orders-events-{tmp_path.name[-12:]}"
    events.put_rule(Name=rule, EventBusName=BUS_NAME, EventPattern=json.dumps(integration_rule_pattern(spec.events)))
    events.put_targets(Rule=rule, EventBusName=BUS_NAME, Targets=[{"Id": "q", "Arn": arn}])
    order = {"order_id": "W1", "account_id": "A1", "email": "jean.dupont@gmail.com",
             "order_date": "2026-10-30T10:00:00", "channel": "web", "amount": "49.90", "currency": "EUR"}
    for detail in (order, order, {**order, "order_id": "W2", "amount": "oops"}):  # a redelivery and a bad one
        events.put_events(Entries=[{"EventBusName": BUS_NAME, "Source": "shop", "DetailType": "Order Placed",
                                    "Detail": json.dumps(detail)}])
    events.put_events(Entries=[{"EventBusName": BUS_NAME, "Source": "cdp", "DetailType": "Order Placed",
                                "Detail": json.dumps(order)}])  # the platform's own events never loop back

    monkeypatch.setenv("CDP_SOURCE", "orders")
    monkeypatch.setenv("CDP_DATA_BUCKET", cloud["bucket"])
    assert batcher(as_sqs_event(drain(sqs, url)), FakeLambdaContext()) == {"batchItemFailures": []}
    assert ingest(as_sqs_event([m for m in drain(sqs, cloud["landing_queue"]) if "Records" in json.loads(m["Body"])]),
                  FakeLambdaContext()) == {"batchItemFailures": []}

    (landed,) = aws.store().read("files").to_pylist()
    assert landed["uri"].startswith(f"s3://{cloud['bucket']}/landing/orders/events/")
    assert (landed["rows_in"], landed["rows_accepted"], landed["rows_quarantined"]) == (3, 2, 1)
    assert aws.store().read("orders").to_pylist()[0]["order_id"] == "W1"
    assert aws.store().read("orders").num_rows == 1  # the redelivered event added no second version
    events.remove_targets(Rule=rule, EventBusName=BUS_NAME, Ids=["q"])
    events.delete_rule(Name=rule, EventBusName=BUS_NAME)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_file_too_large_for_one_function_is_fanned_out_in_parts(
    cloud, small_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_format: str, synthesized
) -> None:
    """The ingest function starts the large-file state machine; the machine, as the stack synthesizes it (its
    Map's item selector, choices, catches), runs with each Lambda task dispatched to its handler in-process, and
    commits what one pass would."""
    from functions.ingest.handler import handler as ingest

    (definition,) = [d for d in asl.definitions(synthesized.template_json) if "StageParts" in d["States"]]
    sfn = boto3.client("stepfunctions", endpoint_url=aws.os.environ["CDP_AWS_ENDPOINT"], region_name=REGION)
    machine = aws.os.environ["CDP_LARGE_FILE_STATE_MACHINE"]  # the stack's, as deployed for the test
    monkeypatch.setenv("CDP_SPLIT_BYTES", "200")
    monkeypatch.setattr("functions.large_file.handler.PART_BYTES", 120)  # several parts of a small file
    crm = small_landing / "crm" / "crm_export.csv"
    if file_format == "parquet":
        # One row group per row: the plan reads the footer alone, each worker only its own row groups.
        rows = pacsv.read_csv(crm, convert_options=pacsv.ConvertOptions(strings_can_be_null=True,
                                                                         column_types={"customer_id": pa.string()}))
        crm = tmp_path / "crm_export.parquet"
        pq.write_table(rows.cast(pa.schema([(n, pa.string()) for n in rows.column_names])), crm, row_group_size=1)
    cloud["s3"].put_object(Bucket=cloud["bucket"], Key=f"landing/crm/big_export.{file_format}", Body=crm.read_bytes())

    messages = [m for m in drain(cloud["sqs"], cloud["landing_queue"]) if "Records" in json.loads(m["Body"])]
    assert ingest(as_sqs_event(messages), FakeLambdaContext()) == {"batchItemFailures": []}
    assert aws.store().read("files").num_rows == 0  # nothing ingested in-line: the machine took it
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    request = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])

    functions = asl.handlers(synthesized.template_json)
    staged: list[dict] = []  # what each Map worker received, as the item selector built it
    (stage_function,) = [name for name, handler in functions.items() if handler.__name__ == "stage"]
    real_stage = functions[stage_function]
    functions[stage_function] = lambda event, context: (staged.append(event), real_stage(event, context))[1]
    output = asl.run(definition, request, functions, FakeLambdaContext())

    assert output["status"] == "ingested" and output["rows_in"] == 5
    assert len(staged) >= 3
    if file_format == "parquet":
        assert [tuple(event["part"]["row_groups"]) for event in staged] == [(i, i + 1) for i in range(5)]
    assert sorted(r["record_key"] for r in aws.store().read("records").to_pylist()) == [
        "crm:C1", "crm:C2", "crm:C3", "crm:C5"]
    (file,) = aws.store().read("files").to_pylist()
    assert file["status"] == "ingested" and file["rows_in"] == 5
    assert [q["row_number"] for q in aws.store().read("quarantine").to_pylist()] == [4]
    leftovers = cloud["s3"].list_objects_v2(Bucket=cloud["bucket"], Prefix="staging/").get("KeyCount", 0)
    assert leftovers == 0
    # The same file notified again: the ingest function does not fail on the execution that already ran (its
    # message would end in the DLQ as a false alarm), and the machine, run again, plans nothing.
    sfn.stop_execution(executionArn=execution["executionArn"])  # moto leaves executions running
    assert ingest(as_sqs_event(messages), FakeLambdaContext()) == {"batchItemFailures": []}
    again = asl.run(definition, request, functions, FakeLambdaContext())
    assert again["skipped"] is True and aws.store().read("records").num_rows == 4


def test_the_training_function_saves_models_that_the_next_pipeline_run_loads(cloud, tmp_path: Path) -> None:
    from cdp.demo.synthetic import generate
    from functions.pipeline.handler import handler as pipeline
    from functions.training.handler import handler as training

    dataset = generate(tmp_path / "data", profiles=500, seed=11, end_date=AS_OF, web_events=False)
    drop_files(cloud, dataset.landing)
    run_ingest_lambda(cloud)
    pipeline({"step": "resolve", "run_id": "run-1", "as_of": AS_OF.isoformat()}, FakeLambdaContext())
    pipeline({"step": "merge", "run_id": "run-1", "as_of": AS_OF.isoformat()}, FakeLambdaContext())

    result = training({"as_of": AS_OF.isoformat()}, FakeLambdaContext())

    by_model = {m["model"]: m for m in result["models"]}
    identity = by_model["identity"]["version"]
    assert identity.startswith("2026-11-01-")
    pointer = cloud["s3"].get_object(Bucket=cloud["bucket"], Key="models/identity/LATEST")["Body"].read().decode()
    assert pointer == identity
    assert by_model["scoring"]["skipped"]  # 500 persons: too few customers two periods back, and it says so
    summary = pipeline({"step": "resolve", "run_id": "run-2", "as_of": AS_OF.isoformat()},
                       FakeLambdaContext())["summary"]
    assert summary["model"] == identity and summary["model_trained"] is False


def test_no_function_creates_the_database_the_stack_made(cloud, small_landing: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """IAM grants the data functions no glue:CreateDatabase: a call to it would fail in AWS, whatever Glue says."""
    import botocore.client

    from functions.pipeline.handler import handler as pipeline

    calls: list[tuple[str, str]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):  # every AWS call any client makes, by service and operation
        calls.append((self.meta.service_model.service_name, operation_name))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    aws.store.cache_clear()
    drop_files(cloud, small_landing)
    run_ingest_lambda(cloud)
    for step in STEP_NAMES:
        pipeline({"step": step, "run_id": "run-calls", "as_of": AS_OF.isoformat()}, FakeLambdaContext())

    assert ("glue", "GetTable") in calls  # the tables were reached through Glue
    assert ("glue", "CreateDatabase") not in calls


def test_a_large_file_that_fails_is_recorded_cleaned_up_and_tried_again(
    cloud, small_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthesized
) -> None:
    import functions.large_file.handler as large_file

    (definition,) = [d for d in asl.definitions(synthesized.template_json) if "StageParts" in d["States"]]
    monkeypatch.setattr(large_file, "PART_BYTES", 120)
    crm = small_landing / "crm" / "crm_export.csv"
    cloud["s3"].put_object(Bucket=cloud["bucket"], Key="landing/crm/big_export.csv", Body=crm.read_bytes())
    (landed,) = aws.landed_objects(json.loads(drain(cloud["sqs"], cloud["landing_queue"])[-1]["Body"]))
    request = {"bucket": landed.bucket, "key": landed.key, "version_id": landed.version_id, "source": landed.source,
               "fingerprint": landed.fingerprint}
    real_stage_part = large_file.stage_part
    staged_parts = []

    def failing_third_part(config, source, path, part, file_id, staged, now):
        if part.index == 2:  # the message quotes a row, as a parser's would: it must not reach the files row
            raise ValueError("cannot parse 'Jean Dupont'")
        staged_parts.append(part.index)
        return real_stage_part(config, source, path, part, file_id, staged, now)

    monkeypatch.setattr(large_file, "stage_part", failing_third_part)
    with pytest.raises(asl.StatesError) as failed:
        asl.run(definition, request, asl.handlers(synthesized.template_json), FakeLambdaContext())

    assert failed.value.cause == "The file could not be ingested in parts"  # the Fail state, after the catch
    (row,) = aws.store().read("files").to_pylist()
    assert row["status"] == "failed" and row["reason"] == "ingestion in parts failed: ValueError"
    assert staged_parts  # other parts had been staged: they are gone
    assert cloud["s3"].list_objects_v2(Bucket=cloud["bucket"], Prefix="staging/").get("KeyCount", 0) == 0
    assert aws.store().read("records").num_rows == 0

    monkeypatch.setattr(large_file, "stage_part", real_stage_part)  # the cause is fixed; the file lands again
    output = asl.run(definition, request, asl.handlers(synthesized.template_json), FakeLambdaContext())
    assert output["status"] == "ingested"
    assert [r["status"] for r in aws.store().read("files").to_pylist()] == ["ingested"]


def test_a_second_pipeline_run_started_while_one_is_running_steps_aside(cloud, small_landing: Path,
                                                                        synthesized) -> None:
    drop_files(cloud, small_landing)
    run_ingest_lambda(cloud)

    output = run_pipeline_machine(synthesized, {"as_of": AS_OF.isoformat()}, "run-second", others_running=1)

    assert output["guard"] == {"running": 2} and "steps" not in output  # it ended at AnotherRunInProgress
    assert aws.store().read("pipeline_runs").num_rows == 0  # no step ran: the tables are the first run's


def test_an_execution_started_with_full_resolution_rebuilds_identities_as_cdp_resolve_full_does(
        cloud, small_landing: Path, synthesized) -> None:
    drop_files(cloud, small_landing)
    run_ingest_lambda(cloud)
    run_pipeline_machine(synthesized, {"as_of": AS_OF.isoformat()}, "run-first")
    profiles = sorted(aws.store().read("profiles")["profile_id"].to_pylist())

    def resolve_mode(output: dict[str, Any]) -> str:
        return output["steps"]["resolve"]["summary"]["mode"]

    again = run_pipeline_machine(synthesized, {"as_of": AS_OF.isoformat()}, "run-again")
    full = run_pipeline_machine(synthesized, {"as_of": AS_OF.isoformat(), "full_resolution": True}, "run-full")

    assert (resolve_mode(again), resolve_mode(full)) == ("incremental", "full")
    assert sorted(aws.store().read("profiles")["profile_id"].to_pylist()) == profiles  # stable ids


def test_files_ingested_within_a_window_start_one_run_and_those_ingested_during_a_run_start_the_next(
        cloud, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib

    from cdp import settings

    client = boto3.client("stepfunctions", endpoint_url=aws.os.environ["CDP_AWS_ENDPOINT"], region_name=REGION)
    machine = aws.os.environ[settings.PIPELINE_STATE_MACHINE_ENV]  # the stack's, as deployed for the test
    starter = importlib.import_module("functions.pipeline_starter.handler")
    clock = {"now": datetime(2026, 11, 25, 10, 7, 42, tzinfo=UTC)}

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return clock["now"]

    monkeypatch.setattr(starter, "datetime", Clock)

    def batch(*ids: str) -> dict:
        return {"Records": [{"messageId": i, "body": json.dumps({"detail-type": "File Ingested"})} for i in ids]}

    def names() -> list[str]:
        return sorted(e["name"] for e in client.list_executions(stateMachineArn=machine)["executions"])

    assert starter.handler(batch("a", "b"), FakeLambdaContext()) == {"batchItemFailures": []}
    assert names() == ["after-ingestion-20261125T100500"]
    # Files ingested while that run is going go back to the queue: they wait for the next run.
    clock["now"] = datetime(2026, 11, 25, 10, 9, 0, tzinfo=UTC)
    assert starter.handler(batch("c"), FakeLambdaContext()) == {"batchItemFailures": [{"itemIdentifier": "c"}]}
    (running,) = client.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
    client.stop_execution(executionArn=running["executionArn"])
    # The run has ended, but within its own window: the files still wait, for the next window's run.
    assert starter.handler(batch("c"), FakeLambdaContext()) == {"batchItemFailures": [{"itemIdentifier": "c"}]}
    clock["now"] = datetime(2026, 11, 25, 10, 14, 0, tzinfo=UTC)
    assert starter.handler(batch("c"), FakeLambdaContext()) == {"batchItemFailures": []}
    assert names() == ["after-ingestion-20261125T100500", "after-ingestion-20261125T101000"]


def test_a_pipeline_step_that_fails_is_recorded_and_fails_the_run(cloud, small_landing: Path, synthesized,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import functions.pipeline.handler as pipeline

    drop_files(cloud, small_landing)
    run_ingest_lambda(cloud)
    real_run_step = pipeline.run_step

    def features_break(name, store, ctx):
        if name == "features":
            raise ValueError("a message that may quote data: Jean Dupont")
        return real_run_step(name, store, ctx)

    monkeypatch.setattr(pipeline, "run_step", features_break)
    with pytest.raises(asl.StatesError) as failed:
        run_pipeline_machine(synthesized, {"as_of": AS_OF.isoformat()}, "run-broken")

    assert failed.value.cause == "A pipeline step failed after its retries"
    runs = aws.store().read("pipeline_runs").to_pylist()
    assert [(r["step"], r["error"]) for r in runs if r["status"] == "failed"] == [("features", "ValueError")]
    assert {r["step"] for r in runs if r["status"] == "succeeded"} == {"resolve", "merge"}


def everything(cloud: dict[str, Any]) -> list[tuple[str, str]]:
    """Every table as it reads, and every version of every object in the bucket."""
    from tests.scan import readable_bytes

    texts = [(name, json.dumps(aws.store().read(name).to_pylist(), default=str)) for name in TABLES]
    pages = cloud["s3"].get_paginator("list_object_versions").paginate(Bucket=cloud["bucket"])
    for version in (v for page in pages for v in page.get("Versions", [])):
        body = cloud["s3"].get_object(Bucket=cloud["bucket"], Key=version["Key"],
                                      VersionId=version["VersionId"])["Body"].read()
        texts.append((f"{version['Key']}@{version['VersionId']}", readable_bytes(body)))
    return texts


def test_the_retention_schedule_erases_people_inactive_too_long_and_old_quarantined_rows(
        cloud, small_landing: Path, synthesized) -> None:
    from functions.erasure.handler import handler as erasure
    from tests.scan import findings

    drop_files(cloud, small_landing)
    run_ingest_lambda(cloud)
    run_pipeline_machine(synthesized, {"as_of": AS_OF.isoformat()}, "run-before-retention")
    profiles = aws.store().read("profiles").to_pylist()
    emails, phones = {p["email"] for p in profiles} - {None}, {p["phone"] for p in profiles} - {None}
    assert emails and aws.store().read("quarantine").num_rows
    # The message the deployed schedule sends, reckoned from a day when everyone has been inactive for three years
    # (everything arrived today) and every quarantined row is past its 90 days.
    (target,) = [t for rule in synthesized.template_json["Resources"].values() if rule["Type"] == "AWS::Events::Rule"
                 for t in rule["Properties"].get("Targets", []) if "Retention Due" in t.get("Input", "")]
    message = json.loads(target["Input"])
    message["detail"]["as_of"] = (datetime.now(UTC).date() + timedelta(days=1096)).isoformat()
    aws.salt.cache_clear()

    assert erasure(as_sqs_event([{"MessageId": "m-retention", "ReceiptHandle": "r", "MD5OfBody": "0",
                                  "Body": json.dumps(message)}]), FakeLambdaContext()) == {"batchItemFailures": []}

    assert aws.store().read("profiles").num_rows == 0 and aws.store().read("records").num_rows == 0
    assert aws.store().read("quarantine").num_rows == 0
    (audit,) = aws.store().read("erasures").to_pylist()
    assert json.loads(audit["erased"])["reason"] == "retention"
    # Nor anywhere in the bucket: their rows left the landed files too, and the tables' history is gone.
    left = findings(everything(cloud), emails, phones)
    assert not left, left


def test_an_erasure_request_on_the_bus_erases_the_person_from_every_table_and_object(
        cloud, small_landing: Path, synthesized, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import io

    from cdp import settings
    from cdp.events import ERASURE_REQUESTED
    from functions.erasure.handler import handler as erasure
    from tests.scan import findings

    # Every function's log lines, wherever its logger was first told to write.
    logged = io.StringIO()
    for name in ("ingest", "pipeline", "channel_sender", "erasure"):
        handler = importlib.import_module(f"functions.{name}.handler").logger.registered_handler
        monkeypatch.setattr(handler, "stream", logged)
    drop_files(cloud, small_landing)
    run_ingest_lambda(cloud)
    run_pipeline_machine(synthesized, {"as_of": AS_OF.isoformat()}, "run-before-erasure")
    # What the channels received reaches their outboxes in the bucket.
    sender = importlib.import_module("functions.channel_sender.handler")
    for channel, url in cloud["channel_queues"].items():
        if messages := drain(cloud["sqs"], url):
            monkeypatch.setenv(settings.CHANNEL_ENV, channel)
            sender.handler(as_sqs_event(messages), FakeLambdaContext())
    # Someone a channel was sent: their address is in the tables, the landed files and an outbox.
    listed = cloud["s3"].list_objects_v2(Bucket=cloud["bucket"], Prefix=settings.OUTBOX_PREFIX)["Contents"]
    sent = [json.loads(line) for item in listed if item["Key"].endswith(".jsonl") for line in cloud["s3"].get_object(
        Bucket=cloud["bucket"], Key=item["Key"])["Body"].read().decode().splitlines()]
    email = next(e["detail"]["identifiers"]["email"] for e in sent if e["detail"].get("identifiers", {}).get("email"))
    (profile,) = aws.store().read("profiles", f"email == '{email}'").to_pylist()
    identifiers, phones = {email, profile["profile_id"]}, {profile["phone"]} - {None}

    assert {"warehouse", "landing", "outbox"} <= {name.split("/")[0] for name, text in everything(cloud)
                                                  if findings([(name, text)], identifiers, phones)}
    assert [key for key in bucket_keys(cloud, settings.OUTBOX_PREFIX) if f"/contacts/{profile['profile_id']}/" in key]
    events = boto3.client("events", endpoint_url=aws.os.environ["CDP_AWS_ENDPOINT"], region_name=REGION)
    events.put_events(Entries=[{"EventBusName": BUS_NAME, "Source": "brand.privacy", "DetailType": ERASURE_REQUESTED,
                                "Detail": json.dumps({"email": email.upper(), "request_id": "dsr-1"})}])
    requests = drain(cloud["sqs"], cloud["erasure_queue"])
    assert len(requests) == 1
    aws.salt.cache_clear()  # the erasure function is a process of its own: it reads the secret itself
    assert erasure(as_sqs_event(requests), FakeLambdaContext()) == {"batchItemFailures": []}

    left = findings(everything(cloud), identifiers, phones)
    assert not left, "\n".join(left)
    (audit,) = aws.store().read("erasures").to_pylist()
    assert json.loads(audit["erased"])["profiles"] == 1
    # Landing the same files again brings nobody back: the ingest function knows the suppressed identifiers.
    drop_files(cloud, small_landing)
    run_ingest_lambda(cloud)
    assert not findings([(name, json.dumps(aws.store().read(name).to_pylist(), default=str))
                         for name in ("records", "quarantine")], {email}, phones)
    # What every function logged on the way (ingest, pipeline, senders, erasure) names no one.
    assert '"erasure done"' in logged.getvalue() and '"file processed"' in logged.getvalue()
    assert not findings([("logs", logged.getvalue())], identifiers | {"marie@example.fr", "helene@example.fr"},
                        phones)


def _function(template: dict[str, Any], prefix: str) -> str:
    (name,) = [k for k, r in template["Resources"].items()
               if r["Type"] == "AWS::Lambda::Function" and k.startswith(prefix)]
    return name


def _redelivered_until_dead_lettered(cloud: dict[str, Any], template: dict[str, Any], function: str,
                                     handler: Any, body: str) -> None:
    """Send ``body`` to the function's queue (as deployed from the template) and run its trigger as Lambda does: the
    message comes back only once its visibility timeout has passed, maxReceiveCount times, then sits in the
    dead-letter queue, whose alarm then fires (and not before)."""
    sqs = cloud["sqs"]
    mapping = sqs_trigger.mapping_of(template, function)
    queue = sqs_trigger.deployed_queue(template, cloud["deployed"].made, mapping["EventSourceArn"]["Fn::GetAtt"][0])
    trigger = sqs_trigger.Trigger(sqs, queue, mapping, handler, FakeLambdaContext(), REGION)
    drain(sqs, queue.url)  # S3's test event, sent when the bucket's notifications were set
    sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    deliveries = 0
    while trigger.poll():
        deliveries += 1
        assert trigger.poll() == 0  # not again before its visibility timeout has passed
        assert not sqs_trigger.alarm_fires(template, queue.dead_letters, sqs)
        trigger.visibility_passes()
    assert deliveries == queue.max_receive_count
    assert queue.visible(sqs) == 0 and queue.dead_letters.visible(sqs) == 1
    assert sqs_trigger.alarm_fires(template, queue.dead_letters, sqs)


def test_a_landed_file_that_cannot_be_read_is_retried_then_dead_lettered_and_alarms(cloud, synthesized) -> None:
    from functions.ingest.handler import handler

    # A file announced, then removed before it could be read: each attempt fails.
    gone = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": cloud["bucket"]}, "object": {"key": "landing/crm/gone.csv", "size": 120, "eTag": "x"}}}]}
    _redelivered_until_dead_lettered(cloud, synthesized.template_json,
                                     _function(synthesized.template_json, "IngestFunction"), handler,
                                     json.dumps(gone))


def test_an_activation_event_a_channel_cannot_send_is_retried_then_dead_lettered_and_alarms(
        cloud, synthesized, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from cdp import settings
    from cdp.events import SEGMENT_MEMBERSHIP_CHANGED

    monkeypatch.setenv(settings.CHANNEL_ENV, "email")
    sender = importlib.import_module("functions.channel_sender.handler")
    # An event routed to the email queue that is not for email: the sender refuses it every time.
    event = {"id": "e-1", "source": EVENT_SOURCE, "detail-type": SEGMENT_MEMBERSHIP_CHANGED,
             "detail": {"channels": ["sms"], "holdout": False}}
    _redelivered_until_dead_lettered(cloud, synthesized.template_json,
                                     _function(synthesized.template_json, "ActivationemailSender"), sender.handler,
                                     json.dumps(event))


def test_the_resources_the_tests_run_on_are_the_templates(cloud, synthesized) -> None:
    """What ``deploy`` made is what the template declares: a change to the stack is what these tests exercise."""
    template, made, s3, sqs = synthesized.template_json, cloud["deployed"].made, cloud["s3"], cloud["sqs"]
    encryption = s3.get_bucket_encryption(Bucket=cloud["bucket"])["ServerSideEncryptionConfiguration"]
    (rule,) = encryption["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].startswith("arn:aws:kms:")
    assert s3.get_bucket_versioning(Bucket=cloud["bucket"])["Status"] == "Enabled"
    (notified,) = s3.get_bucket_notification_configuration(Bucket=cloud["bucket"])["QueueConfigurations"]
    landing_arn = sqs.get_queue_attributes(QueueUrl=cloud["landing_queue"],
                                           AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert notified["QueueArn"] == landing_arn
    queues = {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    for logical_id, properties in queues.items():
        attributes = sqs.get_queue_attributes(QueueUrl=made[logical_id]["QueueUrl"],
                                              AttributeNames=["All"])["Attributes"]
        assert int(attributes["VisibilityTimeout"]) == properties.get("VisibilityTimeout", 30), logical_id
        if "RedrivePolicy" in properties:
            redrive = json.loads(attributes["RedrivePolicy"])
            assert int(redrive["maxReceiveCount"]) == properties["RedrivePolicy"]["maxReceiveCount"]
            assert redrive["deadLetterTargetArn"] == made[
                properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]]["Arn"]
    events = boto3.client("events", endpoint_url=aws.os.environ["CDP_AWS_ENDPOINT"], region_name=REGION)
    rules = {k: r["Properties"] for k, r in template["Resources"].items()
             if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]}
    assert rules
    for logical_id, properties in rules.items():
        deployed = events.describe_rule(Name=made[logical_id]["Name"], EventBusName=BUS_NAME)
        assert json.loads(deployed["EventPattern"]) == properties["EventPattern"]
        (target,) = events.list_targets_by_rule(Rule=made[logical_id]["Name"], EventBusName=BUS_NAME)["Targets"]
        (declared,) = properties["Targets"]
        assert target["Arn"] == made[declared["Arn"]["Fn::GetAtt"][0]]["Arn"]
        assert target.get("RetryPolicy") == declared.get("RetryPolicy"), logical_id
        if "DeadLetterConfig" in declared:
            assert target["DeadLetterConfig"]["Arn"] == made[declared["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]][
                "Arn"]


def _sample(data_type: pa.DataType) -> Any:
    """A value of every kind an Arrow type may hold, for a round trip."""
    if pa.types.is_string(data_type):
        return "Zoé, 4 rue de l'Église"
    if pa.types.is_integer(data_type):
        return 42
    if pa.types.is_floating(data_type):
        return 1234.56
    if pa.types.is_boolean(data_type):
        return True
    if pa.types.is_date(data_type):
        return date(2026, 11, 1)
    if pa.types.is_timestamp(data_type):
        return datetime(2026, 11, 1, 23, 30, 15, 123456, tzinfo=UTC if data_type.tz else None)
    if pa.types.is_map(data_type):
        return [(_sample(data_type.key_type), _sample(data_type.item_type))]
    if pa.types.is_list(data_type):
        return [_sample(data_type.value_type), _sample(data_type.value_type)]
    if pa.types.is_struct(data_type):
        return {field.name: _sample(field.type) for field in data_type}
    raise TypeError(data_type)


def test_the_tables_the_template_declares_take_and_give_back_what_the_functions_write(cloud, synthesized) -> None:
    """Glue makes each declared table's Iceberg schema from its Hive columns, `timestamp` without a time zone: the
    store writes UTC instants into it and reads them back zoned, and lists, maps and structs round-trip."""
    from cdp.tables import TABLES

    assert set(glue_tables.declared_tables(synthesized.template_json)) == set(TABLES)
    store = aws.store()  # the cloud fixture made every declared table as Glue makes it
    for name, spec in TABLES.items():
        rows = pa.Table.from_pylist([{field.name: _sample(field.type) for field in spec.schema}], schema=spec.schema)
        store.append(name, rows)
        stored = store.table(name).schema()
        assert any(isinstance(f.field_type, glue_tables.TimestampType) for f in stored.fields) == any(
            pa.types.is_timestamp(f.type) for f in spec.schema), name  # Glue's zone-less timestamps, where any
        assert store.read(name).select(spec.schema.names).to_pylist() == rows.to_pylist(), name
