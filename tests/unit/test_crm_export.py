"""The demo's CRM export at benchmark scale: the contract's columns, reproducible bytes, the benchmark's flaws."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cdp.adapters.buses import MemoryBus
from cdp.adapters.iceberg import IcebergStore, local_catalog
from cdp.config import example_config_path, load_config
from cdp.demo.crm_export import write_crm_export
from cdp.ingest.files import ingest_file

ROWS = 5_000


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crm_export") / "crm.csv"
    assert write_crm_export(path, ROWS, seed=3) == ROWS
    return path


def test_the_export_has_exactly_the_crm_contract_columns(export: Path) -> None:
    with export.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    contract = list(load_config(example_config_path()).sources["crm"].columns)
    assert rows[0] == contract
    assert len(rows) == ROWS + 1
    assert all(len(row) == len(contract) for row in rows[1:])


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_ones(tmp_path: Path, export: Path) -> None:
    write_crm_export(tmp_path / "again.csv", ROWS, seed=3)
    write_crm_export(tmp_path / "other.csv", ROWS, seed=4)
    assert (tmp_path / "again.csv").read_bytes() == export.read_bytes()
    assert (tmp_path / "other.csv").read_bytes() != export.read_bytes()


def test_ingestion_quarantines_a_few_rows_and_warns_on_about_a_quarter(tmp_path: Path, export: Path) -> None:
    store = IcebergStore(local_catalog(tmp_path))
    config = load_config(example_config_path())
    outcome = ingest_file(store, config, "crm", export, str(export), bus=MemoryBus())
    assert outcome.status == "ingested", outcome
    assert 0.002 * ROWS <= outcome.rows_quarantined <= 0.01 * ROWS
    assert 0.15 * ROWS <= outcome.rows_warned <= 0.30 * ROWS
