"""Ingestion into local Iceberg tables: every row accepted or quarantined with reasons, nothing twice."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from cdp.adapters.buses import MemoryBus
from cdp.adapters.iceberg import IcebergStore, local_catalog
from cdp.config import Config
from cdp.ingest import files
from tests.conftest import CRM


def ingest_file(*args, **kwargs) -> files.FileOutcome:
    """The use case, with a bus that keeps what it publishes (these tests look at the tables)."""
    return files.ingest_file(*args, bus=kwargs.pop("bus", MemoryBus()), **kwargs)


@pytest.fixture
def store(tmp_path: Path) -> IcebergStore:
    return IcebergStore(local_catalog(tmp_path / "work"))


def test_every_row_is_accepted_or_quarantined_with_reasons(store, retail_config: Config) -> None:
    outcome = ingest_file(store, retail_config, "crm", CRM.encode(), "crm_export.csv")

    assert outcome.status == "ingested"
    assert (outcome.rows_in, outcome.rows_accepted, outcome.rows_quarantined) == (5, 4, 1)
    quarantined = store.read("quarantine").to_pylist()
    assert quarantined[0]["row_number"] == 4
    assert quarantined[0]["reasons"] == [{"field": "customer_id", "value": "", "rule": "required"}]
    assert "no.id@example.fr" in quarantined[0]["raw"]
    records = {r["record_key"]: r for r in store.read("records").to_pylist()}
    assert records["crm:C1"]["email"] == "jean.dupont@gmail.com"
    assert records["crm:C1"]["phone"] == "+33612345678"
    assert records["crm:C1"]["country"] == "FR" and records["crm:C3"]["country"] == "FR"
    assert records["crm:C3"]["first_name"] == "Hélène" and records["crm:C3"]["email_opt_in"] is False
    # An invalid optional field is dropped to null, the row is kept and counted as a warning.
    assert records["crm:C5"]["birth_date"] is None and outcome.rows_warned == 1
    assert records["crm:C5"]["warnings"] == [{"field": "birth_date", "value": "31/02/1990", "rule": "date"}]
    assert not records["crm:C1"]["warnings"]


def test_same_file_dropped_twice_adds_nothing(store, retail_config: Config) -> None:
    ingest_file(store, retail_config, "crm", CRM.encode(), "crm_export.csv")
    again = ingest_file(store, retail_config, "crm", CRM.encode(), "crm_export_copy.csv")
    assert again.status == "skipped"
    assert store.read("records").num_rows == 4 and store.read("files").num_rows == 1


def test_a_local_file_is_recorded_with_the_sha256_of_its_content(store, retail_config: Config, tmp_path) -> None:
    path = tmp_path / "crm_export.csv"
    path.write_text(CRM, encoding="utf-8")
    ingest_file(store, retail_config, "crm", path, str(path))
    ingest_file(store, retail_config, "crm", b"customer_id\n", "header_only.csv")  # rejected files keep theirs too

    hashes = {row["uri"]: row["content_hash"] for row in store.read("files").to_pylist()}
    assert hashes[str(path)] == hashlib.sha256(CRM.encode("utf-8")).hexdigest()
    assert hashes["header_only.csv"] == hashlib.sha256(b"customer_id\n").hexdigest()


def test_ingestion_announces_each_file_on_the_bus_with_its_counts_and_no_row_values(
        store, retail_config: Config) -> None:
    bus = MemoryBus()
    outcome = ingest_file(store, retail_config, "crm", CRM.encode(), "crm_export.csv", bus=bus)
    ingest_file(store, retail_config, "crm", CRM.encode(), "crm_export_again.csv", bus=bus)  # skipped: no event

    (event,) = bus.events
    assert (event["detail-type"], event["source"], event["id"]) == ("File Ingested", "cdp", outcome.file_id)
    assert (event["detail"]["rows_in"], event["detail"]["rows_accepted"], event["detail"]["rows_quarantined"]) == (
        5, 4, 1)
    assert "dupont" not in json.dumps(event).lower()


def test_a_reexport_adds_only_changed_rows_as_new_versions(store, retail_config: Config) -> None:
    ingest_file(store, retail_config, "crm", CRM.encode(), "monday.csv")
    changed = CRM.replace("marie@example.fr", "marie.curie@example.fr") + "C9,New,Person,new@example.fr,,,,,,FR,1,1,2025-04-01\n"
    outcome = ingest_file(store, retail_config, "crm", changed.encode("utf-8"), "tuesday.csv")
    assert outcome.rows_new == 2
    versions = store.read("records", "record_key == 'crm:C2'").to_pylist()
    assert sorted(v["email"] for v in versions) == ["marie.curie@example.fr", "marie@example.fr"]


def test_latin1_semicolon_gzip_export_keeps_accents(store, retail_config: Config) -> None:
    latin1 = gzip.compress(CRM.replace(",", ";").encode("cp1252"))
    outcome = ingest_file(store, retail_config, "crm", latin1, "crm.csv.gz")
    assert outcome.rows_accepted == 4
    names = {r["last_name"] for r in store.read("records").to_pylist()}
    assert "Lefèvre" in names


@pytest.mark.parametrize("sampled_bytes", [1 << 20, 4096])
def test_a_file_mixing_utf8_and_cp1252_keeps_every_accent(
    store, retail_config: Config, sampled_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exports glued together from several tools: each value is read in its own encoding, also when the cp1252
    rows come after the start of the file that is sampled to choose how to read it."""
    from cdp.ingest import formats as readers

    monkeypatch.setattr(readers, "HEAD_BYTES", sampled_bytes)
    header = CRM.splitlines()[0]
    filler = "".join(f"F{i},Zoé,Émile,f{i}@example.fr,,,,,,FR,1,1,2025-01-01\n" for i in range(200))
    content = (header + "\n" + filler + "M1,Zoé,Dubois,m1@example.fr,,,,,,FR,1,1,2025-01-01\n").encode(
        "utf-8") + "M2,Hélène,Lefèvre,m2@example.fr,,,,,,FR,1,1,2025-01-01\n".encode("cp1252")
    outcome = ingest_file(store, retail_config, "crm", content, "glued.csv")
    assert outcome.status == "ingested" and outcome.rows_quarantined == 0
    names = {r["source_id"]: (r["first_name"], r["last_name"]) for r in store.read("records").to_pylist()}
    assert names["M1"] == ("Zoé", "Dubois") and names["M2"] == ("Hélène", "Lefèvre")


def test_json_lines_in_mixed_encodings_keep_their_accents(store, retail_config: Config) -> None:
    lines = ['{"account_id": "A1", "email": "a1@example.fr", "first_name": "Zoé", "created_at": "2025-01-01"}',
             '{"account_id": "A2", "email": "a2@example.fr", "first_name": "Hélène", "created_at": "2025-01-01"}']
    content = lines[0].encode("utf-8") + b"\r\n" + lines[1].encode("cp1252") + b"\n"
    assert ingest_file(store, retail_config, "accounts", content, "accounts.jsonl").rows_accepted == 2
    assert sorted(r["first_name"] for r in store.read("records").to_pylist()) == ["Hélène", "Zoé"]


def test_each_file_keeps_a_data_quality_summary_by_field_and_rule(store, retail_config: Config) -> None:
    content = CRM + "C6,Ann,Lee,not-an-email,12,1980-01-01,,,,Atlantis,peut-être,1,not a date\n"
    outcome = ingest_file(store, retail_config, "crm", content.encode(), "crm.csv")
    expected = [
        {"field": "updated_at", "rule": "datetime", "rows_quarantined": 1, "rows_warned": 0},
        {"field": "customer_id", "rule": "required", "rows_quarantined": 1, "rows_warned": 0},
        {"field": "birth_date", "rule": "date", "rows_quarantined": 0, "rows_warned": 1},  # 31/02/1990
    ]
    assert list(outcome.quality) == sorted(expected, key=lambda i: (-i["rows_quarantined"] - i["rows_warned"],
                                                                    i["field"], i["rule"]))
    (row,) = store.read("files").to_pylist()
    assert row["quality"] == list(outcome.quality)  # kept with the file, beside its quarantined rows


def test_tables_of_an_older_release_gain_new_columns(tmp_path: Path, retail_config: Config) -> None:
    from pyiceberg.catalog import Catalog

    from cdp.tables import TABLES

    catalog: Catalog = local_catalog(tmp_path)
    catalog.create_namespace("cdp")
    older = pa.schema([f for f in TABLES["files"].schema if f.name != "quality"])
    catalog.create_table("cdp.files", schema=older).append(pa.Table.from_pylist([{
        "file_id": "old", "source": "crm", "uri": "old.csv", "status": "ingested", "rows_in": 1,
        "ingested_at": datetime(2025, 1, 1, tzinfo=UTC)}], schema=older))

    store = IcebergStore(catalog)
    ingest_file(store, retail_config, "crm", CRM.encode(), "new.csv")
    rows = {r["uri"]: r for r in store.read("files").to_pylist()}
    assert rows["old.csv"]["quality"] is None and rows["new.csv"]["quality"]


def test_a_gzip_parquet_export_with_typed_columns_ingests_like_text(store, retail_config: Config) -> None:
    import io

    dates = pa.array([datetime(2025, 3, 1, 9, 30, tzinfo=UTC), None], pa.timestamp("us", "UTC"))
    orders = pa.table({"order_id": ["O1", "O2"], "email": ["A@Example.fr", None], "order_date": dates,
                       "amount": [12.5, 20.0], "extra": [1, 2]})
    buffer = io.BytesIO()
    pq.write_table(orders, buffer)
    outcome = ingest_file(store, retail_config, "orders", gzip.compress(buffer.getvalue()), "orders.parquet.gz")
    assert (outcome.rows_in, outcome.rows_accepted, outcome.rows_quarantined) == (2, 1, 1)  # O2 has no date
    (row,) = store.read("orders").to_pylist()
    assert (row["email"], row["amount"]) == ("a@example.fr", 12.5)
    assert row["order_date"] == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    assert outcome.unknown_columns == ("extra",) and dict(row["attributes"]) == {"extra": "1"}


def test_a_field_of_megabytes_is_read_whole_and_no_row_is_read_twice(
    store, retail_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cdp.ingest import formats as readers

    monkeypatch.setattr(readers, "BATCH_BYTES", 1 << 16)  # many batches handed on before the long row
    header, *rows = CRM.splitlines()
    filler = "".join(f"F{i},Ann,Lee,f{i}@example.fr,,,,,,FR,1,1,2025-01-01\n" for i in range(20_000))
    long_row = "L1,Ann,Lee,l1@example.fr,,,," + "x" * 3_000_000 + ",,FR,1,1,2025-01-01\n"
    content = (header + "\n" + filler + long_row + "\n".join(rows[:3]) + "\n").encode()
    outcome = ingest_file(store, retail_config, "crm", content, "long.csv")
    assert (outcome.rows_in, outcome.rows_accepted) == (20_004, 20_004)
    records = store.read("records", columns=("source_id", "row_number", "postcode")).to_pylist()
    assert sorted(r["row_number"] for r in records) == list(range(1, 20_005))
    assert len(next(r for r in records if r["source_id"] == "L1")["postcode"]) == 3_000_000


def test_a_quote_left_open_in_a_last_field_does_not_swallow_the_rows_after_it(
    store, retail_config: Config
) -> None:
    header, *rows = CRM.splitlines()
    content = "\n".join([header, rows[0], 'Q1,Ann,Lee,q1@example.fr,,,,,,FR,1,1,"2025-01-01', *rows[1:3]]) + "\n"
    multiline = "\n".join([header, 'Q2,Ann,Lee,q2@example.fr,,,"1 rue X\nBât. B",,,FR,1,1,2025-01-01']) + "\n"

    outcome = ingest_file(store, retail_config, "crm", content.encode(), "open_quote.csv")
    assert (outcome.rows_in, outcome.rows_accepted, outcome.rows_quarantined) == (4, 3, 1)
    (bad,) = store.read("quarantine").to_pylist()
    assert bad["row_number"] == 2 and bad["reasons"][0]["rule"] == "unreadable_row: unbalanced quote"
    assert ingest_file(store, retail_config, "crm", multiline.encode(), "multiline.csv").rows_accepted == 1
    assert store.read("records", "source_id == 'Q2'").to_pylist()[0]["street"] == "1 rue X\nBât. B"


def test_a_file_missing_a_required_column_is_rejected_whole(store, retail_config: Config) -> None:
    without_id = "\n".join(",".join(line.split(",")[1:]) for line in CRM.splitlines()) + "\n"
    outcome = ingest_file(store, retail_config, "crm", without_id.encode(), "broken.csv")
    assert outcome.status == "rejected" and "customer_id" in outcome.reason
    assert store.read("records").num_rows == 0 and store.read("quarantine").num_rows == 0
    assert store.read("files").to_pylist()[0]["status"] == "rejected"


def test_a_header_alone_is_checked_against_the_contract(store, retail_config: Config) -> None:
    assert ingest_file(store, retail_config, "crm", b"first_name,last_name\n", "bad_header.csv").status == "rejected"
    header = CRM.splitlines()[0] + "\n"
    outcome = ingest_file(store, retail_config, "crm", header.encode(), "empty.csv")
    assert (outcome.status, outcome.rows_in) == ("ingested", 0)


def test_a_truncated_archive_is_rejected_with_a_reason(store, retail_config: Config) -> None:
    truncated = gzip.compress(CRM.encode())[:-20]
    outcome = ingest_file(store, retail_config, "crm", truncated, "crm.csv.gz")
    assert outcome.status == "rejected" and "truncated" in outcome.reason


def test_unknown_columns_are_kept_as_attributes(store, retail_config: Config) -> None:
    with_extra = CRM.replace("updated_at\n", "updated_at,loyalty_tier\n", 1).replace(
        "2025-01-01 10:00:00\n", "2025-01-01 10:00:00,gold\n")
    outcome = ingest_file(store, retail_config, "crm", with_extra.encode(), "crm.csv")
    assert outcome.unknown_columns == ("loyalty_tier",)
    record = store.read("records", "record_key == 'crm:C1'").to_pylist()[0]
    assert record["attributes"] == [("loyalty_tier", "gold")]


def test_ragged_and_malformed_json_rows_are_quarantined_not_lost(store, retail_config: Config) -> None:
    lines = ('{"account_id": "A1", "email": "a@example.com", "created_at": "2024-01-01T00:00:00Z"}\n'
             '{"account_id": "A2", "email": \n'
             '[1, 2]\n')
    outcome = ingest_file(store, retail_config, "accounts", lines.encode(), "accounts.jsonl")
    assert (outcome.rows_in, outcome.rows_accepted, outcome.rows_quarantined) == (3, 1, 2)
    raws = sorted(q["raw"] for q in store.read("quarantine").to_pylist())
    assert raws == ['[1, 2]', '{"account_id": "A2", "email": ']


def test_integration_events_ingest_under_the_source_contract_once(store, retail_config: Config) -> None:
    import json

    def event(event_id: str, email: str) -> str:
        return json.dumps({"version": "0", "id": event_id, "detail-type": "Customer Updated", "source": "shop",
                           "time": "2026-10-01T00:00:00Z", "detail": {
                               "account_id": "A7", "email": email, "created_at": "2024-01-01T00:00:00Z"}})

    first = ingest_file(store, retail_config, "accounts", (event("e1", "a@example.com") + "\n").encode(), "b1.jsonl")
    # The same event redelivered in another batch adds nothing; a real change adds a version.
    again = ingest_file(store, retail_config, "accounts",
                        (event("e1", "a@example.com") + "\n" + event("e2", "b@example.com") + "\n").encode(), "b2.jsonl")
    assert (first.rows_new, again.rows_new) == (1, 1)
    assert sorted(r["email"] for r in store.read("records").to_pylist()) == ["a@example.com", "b@example.com"]


def test_quotes_formulas_markup_nul_and_huge_fields_are_plain_data(store, retail_config: Config) -> None:
    header = CRM.splitlines()[0]
    rows = [
        'Q1,Jean,"Dupont, Jr",q1@example.fr,,,"12 ""rue"" A",,,,,,2025-01-01',
        "Q2,=HYPERLINK(\"x\"),<script>alert(1)</script>,q2@example.fr,,,'; DROP TABLE records;--,,,,,,2025-01-01",
        "Q3,A\x00B," + "x" * 100_000 + ",q3@example.fr,,,,,,,,,2025-01-01",
        'Q4,"unbalanced,q4@example.fr,,,,,,,,,2025-01-01',
        "Q5,Zoé,Zola,q5@example.fr,,,,,,,,,2025-01-01",
    ]
    text = "\ufeff" + header + "\r\n" + "\r\n".join(rows) + "\r\n"
    outcome = ingest_file(store, retail_config, "crm", text.encode("utf-8"), "tricky.csv")

    assert (outcome.rows_in, outcome.rows_accepted, outcome.rows_quarantined) == (5, 4, 1)
    records = {r["source_id"]: r for r in store.read("records").to_pylist()}
    assert records["Q1"]["last_name"] == "Dupont, Jr" and records["Q1"]["street"] == '12 "rue" A'
    assert records["Q2"]["street"] == "'; DROP TABLE records;--" and records["Q2"]["last_name"].startswith("<script>")
    assert records["Q3"]["first_name"] == "Ab" and len(records["Q3"]["last_name"]) == 100_000
    assert records["Q5"]["first_name"] == "Zoé"  # the row after the unbalanced quote is not lost
    (bad,) = store.read("quarantine").to_pylist()
    assert bad["row_number"] == 4 and bad["reasons"][0]["rule"] == "unreadable_row: unbalanced quote"


@pytest.mark.parametrize(("source", "name"), [("crm", "crm_export.csv"), ("accounts", "accounts.jsonl"),
                                            ("orders", "orders.parquet")])
def test_a_large_file_ingested_in_parts_gives_what_one_pass_gives(
    tmp_path: Path, retail_config: Config, source: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cdp.ingest import formats as readers
    from cdp.ingest.formats import plan_parts

    monkeypatch.setattr(readers, "PLAN_CHUNK_BYTES", 4096)  # planning reads many chunks, as on a real file
    from cdp.demo.synthetic import generate
    from cdp.ingest.parts import ingest_in_parts

    landing = generate(tmp_path / "data", profiles=400, seed=5).landing / source
    path = landing / name
    if name.endswith(".parquet"):
        # An export written in many small row groups: parts are cut between them.
        orders = pacsv.read_csv(landing / "orders.csv").to_pylist()
        for row in orders[5::300]:
            row["amount"] = "unknown"  # a required amount that is not a number: the row is quarantined
        table = pa.Table.from_pylist([{k: None if v is None else str(v) for k, v in row.items()} for row in orders])
        pq.write_table(table, path, row_group_size=97)
    table = retail_config.sources[source].table
    assert len(plan_parts(path, retail_config.sources[source].format, 4_000)) > 5
    whole_store = IcebergStore(local_catalog(tmp_path / "whole"))
    parts_store = IcebergStore(local_catalog(tmp_path / "parts"))

    whole = ingest_file(whole_store, retail_config, source, path, name)
    parts = ingest_in_parts(parts_store, retail_config, source, path, name, part_bytes=4_000, bus=MemoryBus(),
                            stage=tmp_path / "staging")

    assert (parts.file_id, parts.rows_in, parts.rows_accepted, parts.rows_quarantined, parts.rows_warned) == (
        whole.file_id, whole.rows_in, whole.rows_accepted, whole.rows_quarantined, whole.rows_warned)
    assert parts.quality == whole.quality and parts.rows_quarantined > 0
    for stored in (table, "quarantine"):
        columns = ("row_number", "content_hash") if stored == table else ("row_number", "raw")
        expected = sorted(whole_store.read(stored, columns=columns).to_pylist(), key=lambda r: r["row_number"])
        assert sorted(parts_store.read(stored, columns=columns).to_pylist(), key=lambda r: r["row_number"]) == expected
    assert not (tmp_path / "staging" / parts.file_id).exists()  # staged parts are cleaned up after the commit
    again = ingest_in_parts(parts_store, retail_config, source, path, name, part_bytes=4_000, bus=MemoryBus(),
                            stage=tmp_path / "staging")
    assert again.status == "skipped"
