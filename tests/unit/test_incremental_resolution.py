"""Incremental identity resolution: a run compares only what arrived with the base, and a full rebuild on the same
data and model reaches the same persons."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from cdp.adapters.buses import MemoryBus
from cdp.config import Config
from cdp.demo.synthetic import generate
from cdp.ingest.files import ingest_file
from cdp.pipeline.local import landing_files, local_models, open_store
from cdp.pipeline.runner import run_step
from cdp.pipeline.steps import StepContext

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def persons(store) -> set[frozenset[str]]:
    identities = store.read("identities").to_pandas()
    return {frozenset(group["record_key"]) for _, group in identities.groupby("profile_id")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, retail_config: Config):
    root = tmp_path_factory.mktemp("incremental")
    dataset = generate(root / "data", profiles=2_000, seed=5, end_date=date(2026, 11, 1))
    files = dict((source, path) for source, path in landing_files(dataset.landing, retail_config)
                 if source in ("crm", "accounts", "orders"))
    # The accounts arrive in two drops: most of them first, the rest (new and changed accounts) a day later.
    lines = files["accounts"].read_text(encoding="utf-8").splitlines()
    first, later = root / "accounts_monday.jsonl", root / "accounts_tuesday.jsonl"
    first.write_text("\n".join(lines[: len(lines) * 9 // 10]) + "\n", encoding="utf-8")
    later.write_text("\n".join(lines[len(lines) * 9 // 10:]) + "\n", encoding="utf-8")
    store, bus, models = open_store(root / "work"), MemoryBus(), local_models(root / "work")

    def resolve(run_id: str, full: bool = False) -> dict:
        ctx = StepContext(retail_config, run_id, date(2026, 11, 1), NOW, bus, models, full_resolution=full)
        return run_step("resolve", store, ctx)

    for source, path in (("crm", files["crm"]), ("orders", files["orders"]), ("accounts", first)):
        ingest_file(store, retail_config, source, path, str(path), bus=bus)
    initial = resolve("run-1")
    before = store.read("identities").to_pandas()
    ingest_file(store, retail_config, "accounts", later, str(later), bus=bus)
    incremental = resolve("run-2")
    after_incremental = persons(store)
    ids_incremental = store.read("identities").to_pandas()
    nothing_new = resolve("run-3")
    ids_unchanged = store.read("identities").to_pandas()
    full = resolve("run-4", full=True)
    return {"initial": initial, "incremental": incremental, "nothing_new": nothing_new, "full": full,
            "before": before, "ids_incremental": ids_incremental, "ids_unchanged": ids_unchanged,
            "after_incremental": after_incremental, "after_full": persons(store), "later": len(lines) - len(lines) * 9 // 10,
            "store": store}


def test_a_run_compares_only_the_records_that_arrived(runs) -> None:
    assert runs["initial"]["mode"] == "full" and runs["initial"]["model_trained"] is True
    assert runs["incremental"]["mode"] == "incremental"
    assert 0 < runs["incremental"]["compared"] <= runs["later"]
    assert runs["nothing_new"]["mode"] == "incremental" and runs["nothing_new"]["compared"] == 0


def test_a_full_rebuild_reaches_the_same_persons(runs) -> None:
    assert runs["full"]["mode"] == "full"
    assert runs["after_full"] == runs["after_incremental"]


def test_a_run_with_nothing_new_changes_no_profile_id_and_old_records_keep_theirs(runs) -> None:
    incremental, unchanged = runs["ids_incremental"], runs["ids_unchanged"]
    assert dict(zip(unchanged["record_key"], unchanged["profile_id"], strict=True)) == dict(
        zip(incremental["record_key"], incremental["profile_id"], strict=True))
    before = dict(zip(runs["before"]["record_key"], runs["before"]["profile_id"], strict=True))
    after = dict(zip(incremental["record_key"], incremental["profile_id"], strict=True))
    moved = [key for key, profile in before.items() if after[key] != profile]
    # Old records change profile only when a new record merged their profile with another (oldest id kept).
    assert len(moved) <= runs["incremental"]["compared"]
    assert json.dumps(sorted(set(after) - set(before)))  # the new records all have a profile
