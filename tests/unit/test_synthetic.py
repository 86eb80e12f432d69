"""The demo's synthetic data: realistic, flawed the way exports are, and reproducible."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pandas as pd
import phonenumbers
import pytest

from cdp.demo.synthetic import SyntheticDataset, generate


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> SyntheticDataset:
    return generate(tmp_path_factory.mktemp("synthetic"), profiles=600, seed=11)


def rows(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def test_files_have_the_contract_columns_exactly(dataset: SyntheticDataset) -> None:
    expected = {
        "crm": "customer_id,first_name,last_name,email,phone,birth_date,street,postcode,city,country,email_opt_in,"
               "sms_opt_in,updated_at",
        "accounts": "account_id,email,first_name,last_name,phone,created_at",
        "orders": "order_id,customer_id,account_id,email,order_date,channel,store_id,amount,currency",
        "order_lines": "order_id,line_no,sku,category,quantity,unit_price",
        "web_events": "event_id,anonymous_id,account_id,event_type,ts,url,sku,category,search_terms",
    }
    for source, columns in expected.items():
        (path,) = dataset.files[source]
        assert path.parent == dataset.landing / source
        assert list(rows(path)[0]) == columns.split(","), source
        assert len(rows(path)) == dataset.rows[source]


def test_another_seed_gives_other_data(tmp_path: Path, dataset: SyntheticDataset) -> None:
    other = generate(tmp_path, profiles=600, seed=12)
    assert other.files["crm"][0].read_bytes() != dataset.files["crm"][0].read_bytes()


def test_the_same_person_appears_in_several_sources_and_twice_in_one(dataset: SyntheticDataset) -> None:
    truth = pd.read_csv(dataset.truth)
    crm_ids = {f"crm:{r['customer_id']}" for r in rows(dataset.files["crm"][0]) if r["customer_id"]}
    account_ids = {f"accounts:{r['account_id']}" for r in rows(dataset.files["accounts"][0]) if r["account_id"]}
    assert set(truth["record_key"]) == crm_ids | account_ids
    sources = truth.assign(source=truth["record_key"].str.split(":").str[0]).groupby("person_id")["source"]
    assert (sources.nunique() == 2).sum() > 100
    assert (truth[truth["record_key"].str.startswith("crm:")].groupby("person_id").size() > 1).any()


def test_exports_carry_realistic_flaws(dataset: SyntheticDataset) -> None:
    crm = rows(dataset.files["crm"][0])
    text = dataset.files["crm"][0].read_text(encoding="utf-8")
    assert any(ch in text for ch in "éèçëï")  # French accents, valid UTF-8
    assert any(r["customer_id"] == "" for r in crm)
    assert any(r["email"] and r["email"] != r["email"].strip().lower() for r in crm)
    assert any("/" in r["birth_date"] for r in crm) and any("-" in r["birth_date"] for r in crm)
    assert {r["email_opt_in"] for r in crm} >= {"oui", "non", "1", "0"}
    accounts = rows(dataset.files["accounts"][0])
    assert any(a["email"] == "not-an-email" for a in accounts)


def test_phones_are_valid_except_the_deliberately_bad(dataset: SyntheticDataset) -> None:
    phones = [r["phone"] for r in rows(dataset.files["crm"][0]) if r["phone"] and r["phone"] != "12"]
    def valid(value: str) -> bool:
        value = "+" + value[2:].lstrip() if value.startswith("00") else value
        return phonenumbers.is_valid_number(phonenumbers.parse(value, "FR"))
    assert sum(map(valid, phones)) / len(phones) >= 0.99


def test_orders_and_lines_are_consistent(dataset: SyntheticDataset) -> None:
    orders = pd.DataFrame(rows(dataset.files["orders"][0]))
    lines = pd.DataFrame(rows(dataset.files["order_lines"][0]))
    crm_ids = {r["customer_id"] for r in rows(dataset.files["crm"][0])}
    account_ids = {r["account_id"] for r in rows(dataset.files["accounts"][0])}
    assert set(orders.loc[orders["customer_id"] != "", "customer_id"]) <= crm_ids
    assert set(orders.loc[orders["account_id"] != "", "account_id"]) <= account_ids
    assert set(lines["order_id"]) == set(orders["order_id"])
    totals = (lines["quantity"].astype(int) * lines["unit_price"].astype(float)).groupby(lines["order_id"]).sum()
    assert (totals.round(2) - orders.set_index("order_id")["amount"].astype(float)).abs().max() < 0.011
    events = rows(dataset.files["web_events"][0])
    assert {e["event_type"] for e in events} >= {"page_view", "search", "add_to_cart"}
