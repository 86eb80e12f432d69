"""The declared pipeline and its one runner: what each step reads and writes, what it consumed, and retries."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from cdp.config import Config
from cdp.pipeline.local import local_bus, local_models, open_store, run_local
from cdp.pipeline.runner import last_consumed, run_step
from cdp.pipeline.steps import STEPS, Read, Step, StepContext, StepOutput, Write
from cdp.tables import TABLES

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def context(config: Config, workdir: Path, run_id: str) -> StepContext:
    bus = local_bus(config, workdir)
    return StepContext(config, run_id, date(2026, 11, 1), NOW, bus, local_models(workdir), contacts=bus.contacts)


def outbox_ids(workdir: Path) -> dict[str, list[str]]:
    return {path.stem: [json.loads(line)["detail"]["event_id"] for line in path.read_text().splitlines()]
            for path in sorted((workdir / "outbox").glob("*.jsonl"))}


def test_every_step_reads_and_writes_only_declared_tables() -> None:
    for step in STEPS:
        assert step.reads and step.writes, step.name
        assert all(read.table in TABLES for read in step.reads)
        assert all(write.table in TABLES and (write.mode in ("append", "replace") or TABLES[write.table].key)
                   for write in step.writes)


def test_the_runner_records_the_snapshot_of_every_input_each_step_consumed(
        small_landing: Path, tmp_path: Path, retail_config: Config) -> None:
    summary = run_local(retail_config, small_landing, tmp_path / "work", as_of=date(2026, 11, 1))
    store = open_store(tmp_path / "work")

    runs = store.read("pipeline_runs").to_pylist()
    consumed = {(r["step"], r["table_name"]) for r in runs}
    assert consumed == {(step.name, read.table) for step in STEPS for read in step.reads}
    assert {r["run_id"] for r in runs} == {summary.run_id}
    records = next(r for r in runs if (r["step"], r["table_name"]) == ("resolve", "records"))
    # The snapshot the step read is the one ingestion left: later writes to records would not change it.
    assert records["snapshot_id"] == store.snapshot_id("records")
    assert records["rows_read"] == store.read("records").num_rows
    assert next(r for r in runs if r["step"] == "activate" and r["table_name"] == "segment_memberships")["incremental"]


def test_a_local_run_announces_every_file_it_ingests_on_the_bus(
        small_landing: Path, tmp_path: Path, retail_config: Config) -> None:
    first = run_local(retail_config, small_landing, tmp_path / "work", as_of=date(2026, 11, 1))
    again = run_local(retail_config, small_landing, tmp_path / "work", as_of=date(2026, 11, 1))

    assert first.published["File Ingested"] == len(first.files) == 3
    assert "File Ingested" not in again.published  # the same files again are skipped, and say nothing
    assert first.published["Segment Membership Changed"] == first.steps["publish"]["events"]


def test_a_step_reading_new_rows_gets_only_what_was_appended_since_it_last_succeeded(
        tmp_path: Path, retail_config: Config) -> None:
    store = open_store(tmp_path)
    seen: list[int] = []

    def count(inputs: dict[str, pa.Table], ctx: StepContext) -> StepOutput:
        seen.append(inputs["files"].num_rows)
        return StepOutput({"erasures": TABLES["erasures"].schema.empty_table()})

    step = Step("count", "counts new files", count, (Read("files", "new"),), (Write("erasures", "append"),))

    def files(*ids: str) -> pa.Table:
        return pa.Table.from_pylist([{"file_id": i, "source": "crm", "uri": i, "status": "ingested",
                                      "ingested_at": NOW} for i in ids], schema=TABLES["files"].schema)

    from cdp.pipeline import runner
    original = runner.step_named
    runner.step_named = lambda name: step if name == "count" else original(name)
    try:
        run_step("count", store, context(retail_config, tmp_path, "r0"))  # nothing written yet
        store.append("files", files("a", "b"))
        run_step("count", store, context(retail_config, tmp_path, "r1"))
        store.append("files", files("c"))
        store.append("files", files("d"))
        run_step("count", store, context(retail_config, tmp_path, "r2"))
        run_step("count", store, context(retail_config, tmp_path, "r3"))
    finally:
        runner.step_named = original
    assert seen == [0, 2, 2, 0]
    assert last_consumed(store, "count", "files") == store.snapshot_id("files")


class FailingOnce:
    """A table store whose next write to one table fails once, as a commit conflict or a timeout would."""

    def __init__(self, store, table: str, method: str):
        self.store, self.table, self.method, self.failed = store, table, method, False

    def __getattr__(self, name):
        attribute = getattr(self.store, name)
        if name != self.method:
            return attribute

        def write(table, *args, **kwargs):
            if table == self.table and not self.failed:
                self.failed = True
                raise TimeoutError(f"{name} {table}: simulated failure")
            return attribute(table, *args, **kwargs)
        return write


def test_a_failure_between_publishing_and_recording_contacts_nobody_twice(
        small_landing: Path, tmp_path: Path, retail_config: Config) -> None:
    workdir = tmp_path / "work"
    run_local(retail_config, small_landing, workdir, as_of=date(2026, 11, 1))  # a first run: profiles and features
    store = open_store(workdir)
    # A lower bar makes this run change memberships, so that there is something to publish.
    config = retail_config.model_copy(update={"segments": tuple(
        s.model_copy(update={"rule": "orders_count >= 1"}) for s in retail_config.segments)})
    ctx = context(config, workdir, "run-2")
    for name in ("segments", "activate"):
        run_step(name, store, ctx)
    decided = store.read("activations", "run_id == 'run-2'")
    assert decided.num_rows > 0 and decided["published_at"].null_count == decided.num_rows

    flaky = FailingOnce(store, "activations", "upsert")
    with pytest.raises(TimeoutError):
        run_step("publish", flaky, ctx)  # the events are on the bus; marking them published failed
    sent_once = outbox_ids(workdir)
    run_step("publish", flaky, context(config, workdir, "run-2"))  # the retry, with a new bus as a new process

    after = outbox_ids(workdir)
    assert after == sent_once
    for channel, ids in after.items():
        assert len(ids) == len(set(ids)), f"{channel} received an event twice"
    assert store.read("activations", "published_at IS NULL").num_rows == 0
    # Every event carries its decision's id, by which a receiver drops what it already has.
    planned = set(store.read("activations")["event_id"].to_pylist())
    assert {i for ids in after.values() for i in ids} <= planned


def test_a_failure_after_deciding_publishes_every_decision_on_the_retry(
        small_landing: Path, tmp_path: Path, retail_config: Config) -> None:
    workdir = tmp_path / "work"
    store = open_store(workdir)
    flaky = FailingOnce(store, "pipeline_runs", "append")
    from cdp.pipeline import local
    original = local.run_step

    def failing_after_activate(name, store_, ctx):
        return original(name, flaky if name == "activate" else store_, ctx)
    local.run_step = failing_after_activate
    try:
        with pytest.raises(TimeoutError):  # activate wrote its decisions, then failed before recording its run
            run_local(retail_config, small_landing, workdir, as_of=date(2026, 11, 1))
    finally:
        local.run_step = original
    decided = store.read("activations").num_rows
    assert decided > 0 and store.read("activations", "published_at IS NULL").num_rows == decided

    summary = run_local(retail_config, small_landing, workdir, as_of=date(2026, 11, 1))

    # The retry decides the same changes again (insert-new keeps one row per event) and publishes them all.
    assert store.read("activations").num_rows == decided
    assert summary.steps["publish"]["events"] == decided
    assert store.read("activations", "published_at IS NULL").num_rows == 0
