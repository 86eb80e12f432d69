"""Incremental identity resolution: a run compares only what arrived with the base, and a full rebuild on the same
data and model reaches the same persons."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from cdp.adapters.buses import MemoryBus
from cdp.config import Config
from cdp.demo.synthetic import generate
from cdp.frames import python_frame
from cdp.identity.resolve import resolve_new
from cdp.ingest.files import ingest_file
from cdp.lineage import current_versions
from cdp.pipeline.local import landing_files, local_models, open_store
from cdp.pipeline.runner import run_step
from cdp.pipeline.steps import StepContext, _fact_links

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
    # Accounts and CRM records arrive in two drops: most of them first, the rest (new and changed ones) a day
    # later. The CRM's names, birth dates and addresses are what Splink's model links on.
    lines = files["accounts"].read_text(encoding="utf-8").splitlines()
    first, later = root / "accounts_monday.jsonl", root / "accounts_tuesday.jsonl"
    first.write_text("\n".join(lines[: len(lines) * 9 // 10]) + "\n", encoding="utf-8")
    later.write_text("\n".join(lines[len(lines) * 9 // 10:]) + "\n", encoding="utf-8")
    header, *rows = files["crm"].read_text(encoding="utf-8").splitlines()
    crm_first, crm_later = root / "crm_monday.csv", root / "crm_tuesday.csv"
    crm_first.write_text("\n".join([header, *rows[: len(rows) * 9 // 10]]) + "\n", encoding="utf-8")
    crm_later.write_text("\n".join([header, *rows[len(rows) * 9 // 10:]]) + "\n", encoding="utf-8")
    arriving = len(lines) - len(lines) * 9 // 10 + len(rows) - len(rows) * 9 // 10
    store, bus, models = open_store(root / "work"), MemoryBus(), local_models(root / "work")

    def resolve(run_id: str, full: bool = False) -> dict:
        ctx = StepContext(retail_config, run_id, date(2026, 11, 1), NOW, bus, models, full_resolution=full)
        return run_step("resolve", store, ctx)

    for source, path in (("crm", crm_first), ("orders", files["orders"]), ("accounts", first)):
        ingest_file(store, retail_config, source, path, str(path), bus=bus)
    initial = resolve("run-1")
    before = store.read("identities").to_pandas()
    snapshot = store.snapshot_id("records")
    ingest_file(store, retail_config, "accounts", later, str(later), bus=bus)
    ingest_file(store, retail_config, "crm", crm_later, str(crm_later), bus=bus)
    # What resolving the same new records over the whole base gives: the run, which reads only their
    # neighbourhood, must reach it exactly.
    new_keys = set(store.read_appended("records", snapshot, store.snapshot_id("records"))["record_key"].to_pylist())
    whole_base = resolve_new(
        python_frame(current_versions(store.read("records"))), new_keys, python_frame(store.read("identities")),
        python_frame(store.read("identity_links")), python_frame(store.read("identity_reviews")),
        retail_config.identity,
        models.latest("identity")[1], "run-2", NOW, {"orders": python_frame(current_versions(store.read("orders")))},
        _fact_links(retail_config))
    incremental = resolve("run-2")
    after_run = {name: store.read(name).to_pandas() for name in ("identities", "identity_links", "identity_reviews")}
    after_incremental = persons(store)
    ids_incremental = store.read("identities").to_pandas()
    nothing_new = resolve("run-3")
    ids_unchanged = store.read("identities").to_pandas()
    full = resolve("run-4", full=True)
    return {"initial": initial, "incremental": incremental, "nothing_new": nothing_new, "full": full,
            "before": before, "ids_incremental": ids_incremental, "ids_unchanged": ids_unchanged,
            "after_incremental": after_incremental,
            "whole_base": whole_base, "new_keys": new_keys, "after_run": after_run, "after_full": persons(store),
            "later": arriving,
            "store": store}


def test_a_run_compares_only_the_records_that_arrived(runs) -> None:
    assert runs["initial"]["mode"] == "full" and runs["initial"]["model_trained"] is True
    assert runs["incremental"]["mode"] == "incremental"
    assert 0 < runs["incremental"]["compared"] <= runs["later"]
    assert runs["nothing_new"]["mode"] == "incremental" and runs["nothing_new"]["compared"] == 0


def test_a_run_reading_only_the_neighbourhood_of_the_new_records_resolves_as_over_the_whole_base(runs) -> None:
    whole, run = runs["whole_base"], runs["after_run"]

    def rows(frame, columns):
        return {tuple(tuple(v) if hasattr(v, "__len__") and not isinstance(v, str) else v for v in row)
                for row in frame[columns].itertuples(index=False)}

    assert runs["incremental"]["neighbourhood"] < len(run["identities"]) / 2
    new_links = whole.links[whole.links["left"].isin(runs["new_keys"]) | whole.links["right"].isin(runs["new_keys"])]
    assert set(new_links["rule"]) >= {"email", "phone", "probabilistic", "cross_reference"}
    assert rows(run["identities"], ["record_key", "profile_id", "rule", "score"]) == rows(
        whole.identities, ["record_key", "profile_id", "rule", "score"])
    links = ["left_key", "right_key", "rule", "score", "contributions"]
    assert rows(run["identity_links"], links) == rows(
        whole.links.rename(columns={"left": "left_key", "right": "right_key"}), links)
    assert rows(run["identity_reviews"], ["kind", "record_keys", "rule", "reason"]) == rows(
        whole.reviews, ["kind", "record_keys", "rule", "reason"])


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

