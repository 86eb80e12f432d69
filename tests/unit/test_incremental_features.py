"""Incremental features: a run computes again only the profiles whose facts changed since the last one, and gives
what computing every profile from scratch gives."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from cdp.adapters.buses import MemoryBus
from cdp.config import Config
from cdp.demo.synthetic import generate
from cdp.features.behaviour import compute_declared, compute_features, fact_views
from cdp.ingest.files import ingest_file
from cdp.pipeline.local import landing_files, local_models, open_store
from cdp.pipeline.runner import run_step
from cdp.pipeline.steps import StepContext

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def split(path: Path, folder: Path, share: float, header: bool) -> tuple[Path, Path]:
    """The file in two drops: the first rows, then the last ``share`` of them (compressed as it was)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as file:
        first_line, *rows = file.read().splitlines()
    head = [first_line] if header else []
    rows = rows if header else [first_line, *rows]
    cut = int(len(rows) * (1 - share))
    early, late = folder / f"early_{path.name}", folder / f"late_{path.name}"
    for target, part in ((early, rows[:cut]), (late, rows[cut:])):
        with opener(target, "wt", encoding="utf-8") as file:
            file.write("\n".join(head + part) + "\n")
    return early, late


def from_scratch(store, config: Config, as_of: date, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every profile's features computed over the tables as they are, as a first run would."""
    from cdp.lineage import current_versions

    tables = {name: store.read(name) for name in ("profiles", "identities")}
    tables |= {name: current_versions(store.read(name)) for name in ("orders", "events", "order_lines", "stores",
                                                                      "postcodes")}
    con = fact_views(config, tables["profiles"], tables["identities"], tables["orders"], tables["events"], as_of,
                     tables["order_lines"], tables["stores"], tables["postcodes"])
    features = compute_features(config, tables["profiles"], tables["identities"], tables["orders"],
                                tables["events"], as_of, run_id, con=con)
    return features.to_pandas(), compute_declared(config, con, as_of, run_id).to_pandas()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, retail_config: Config):
    root = tmp_path_factory.mktemp("features")
    dataset = generate(root / "data", profiles=1_500, seed=11, end_date=date(2026, 11, 1))
    files = dict(landing_files(dataset.landing, retail_config))
    store, bus, models = open_store(root / "work"), MemoryBus(), local_models(root / "work")
    drops: dict[str, list[tuple[str, Path]]] = {"early": [], "late": []}
    for source, path in files.items():
        if source in ("crm", "accounts", "order_lines", "web_events"):
            # New persons and changed ones (identity changes), lines of old orders, new visits.
            early, late = split(path, root, 0.1, header=".csv" in path.suffixes)
            drops["early"].append((source, early))
            drops["late"].append((source, late))
        else:
            drops["early"].append((source, path))

    def run(run_id: str, as_of: date, drop: str | None) -> dict:
        for source, path in drops.get(drop, []):
            ingest_file(store, retail_config, source, path, str(path), bus=bus)
        ctx = StepContext(retail_config, run_id, as_of, NOW, bus, models)
        return {name: run_step(name, store, ctx) for name in ("resolve", "merge", "features")}

    first = run("run-1", date(2026, 10, 1), "early")
    # Two weeks later, with what arrived since: orders of the fortnight count now, other facts age, recent visits
    # among them, still inside the intent window.
    second = run("run-2", date(2026, 10, 15), "late")
    features = store.read("features").to_pandas()
    values = store.read("feature_values").to_pandas()
    expected = from_scratch(store, retail_config, date(2026, 10, 15), "run-2")
    again = run("run-3", date(2026, 10, 15), None)
    return first, second, again, features, values, expected


def same(actual: pd.DataFrame, expected: pd.DataFrame, key: list[str]) -> None:
    pd.testing.assert_frame_equal(actual.sort_values(key).reset_index(drop=True),
                                  expected.sort_values(key).reset_index(drop=True), check_dtype=False)


def test_a_run_computes_again_only_the_profiles_whose_facts_changed(runs) -> None:
    first, second, again, *_ = runs
    assert first["features"]["recomputed"] == first["features"]["profiles"]  # nothing to carry over
    # New persons, merges, new lines and visits, orders of the month, and recent visits that age: not everyone.
    assert 0 < second["features"]["recomputed"] < second["features"]["profiles"] * 0.8
    assert again["features"]["recomputed"] == 0  # nothing new, same date


def test_features_carried_over_and_computed_again_are_those_of_a_run_from_scratch(runs) -> None:
    _, _, _, features, values, (expected, expected_values) = runs
    assert len(features) == len(expected) > 1_000
    same(features, expected, ["profile_id"])
    assert set(values["feature"]) == {"big_baskets_last_year", "beauty_lines"}
    same(values, expected_values, ["feature", "profile_id"])
