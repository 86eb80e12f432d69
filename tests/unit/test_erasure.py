"""Erasure: a person leaves every table, the files they landed from, the outbox and the tables' history; an audit
row and a suppression list remain, neither of which reveals them."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from cdp.config import Config
from cdp.demo.synthetic import generate
from cdp.pipeline.local import erase_local, landing_files, open_store, run_local
from cdp.privacy.erasure import ErasureError, Subject, find_person
from cdp.tables import SUBJECT_KEYS, TABLES
from tests.scan import files_under, findings

AS_OF = date(2026, 11, 1)
# Columns that hold personal data wherever they are: a table that has one must declare it.
PERSONAL_NAMES = {"email", "phone", "first_name", "last_name", "birth_date", "street", "raw", "detail", "account_id",
                  "customer_id", "anonymous_id", "search_terms", "source_id"}


@dataclass
class Erased:
    workdir: Path
    landing: Path
    originals: Path
    identifiers: set[str]  # emails, source ids, device ids, profile ids
    phones: set[str]
    erasure: object
    before: dict[str, int]  # rows per table before


def contact_cards(workdir: Path, profile_id: str) -> list[Path]:
    """What the publish step left the channels to reach this person (``cdp.activation.cards``)."""
    return sorted(workdir.glob(f"outbox/*/contacts/{profile_id}/*.json"))


def _tables_text(workdir: Path) -> list[tuple[str, str]]:
    store = open_store(workdir)
    return [(name, "\n".join(json.dumps(row, default=str, ensure_ascii=False) for row in store.read(name).to_pylist()))
            for name in TABLES]


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory, retail_config: Config) -> Erased:
    root = tmp_path_factory.mktemp("erasure")
    dataset = generate(root / "data", profiles=300, seed=3, end_date=AS_OF)
    originals = root / "originals"
    shutil.copytree(dataset.landing, originals)
    workdir = root / "work"
    run_local(retail_config, dataset.landing, workdir, as_of=AS_OF)
    store = open_store(workdir)
    # Someone with a CRM record and an account, orders, web visits, a phone and a segment: erasure has much to find.
    profiles = store.read("profiles").to_pylist()
    features = {row["profile_id"]: row for row in store.read("features").to_pylist()}
    members = {row["profile_id"] for row in store.read("segment_memberships").to_pylist()}
    chosen = next(p for p in profiles if p["phone"] and p["email"] and len(p["sources"]) >= 2
                  and features[p["profile_id"]]["orders_count"] >= 2 and features[p["profile_id"]]["web_events_count"]
                  and p["profile_id"] in members and contact_cards(workdir, p["profile_id"]))
    person = find_person(store, retail_config, Subject(email=chosen["email"]))
    events = store.read("events").to_pylist()
    devices = {e["anonymous_id"] for e in events if e["record_key"] in person.facts and e["anonymous_id"]}
    ids = {key.split(":", 1)[1] for key in person.records}
    before = {name: store.read(name).num_rows for name in TABLES}
    erasure = erase_local(retail_config, workdir, Subject(email=chosen["email"].upper()),
                          now=datetime.now(UTC))
    return Erased(workdir, dataset.landing, originals, person.emails | ids | devices | person.profiles,
                  person.phones, erasure, before)


def test_every_table_declares_its_personal_columns_and_how_rows_tie_to_a_person() -> None:
    for name, spec in TABLES.items():
        undeclared = PERSONAL_NAMES & set(spec.schema.names) - set(spec.pii)
        assert not undeclared, f"{name} holds {undeclared} without declaring them personal"
        assert not spec.pii or spec.subject, f"{name} holds personal data but says not how its rows tie to a person"
        assert all(column in spec.schema.names and kind in SUBJECT_KEYS for column, kind in spec.subject), name
        if "profile_id" in spec.schema.names and name not in ("erasures",):
            assert ("profile_id", "profile") in spec.subject, f"{name} has profile ids erasure would not follow"


def test_nothing_of_the_person_is_left_in_any_table_or_file(erased: Erased) -> None:
    assert erased.erasure.profiles == 1
    assert {"records", "identities", "profiles", "features", "scores", "segment_memberships", "activations",
            "orders", "events"} <= set(erased.erasure.rows)
    assert erased.erasure.file_rows >= 4 and erased.erasure.history_files > 0
    # Every table as it reads now, every file under the work folder (Iceberg data, manifests and metadata of every
    # version kept, the outbox, the models) and every landed file.
    texts = _tables_text(erased.workdir) + files_under(erased.workdir, erased.landing)
    left = findings(texts, erased.identifiers, erased.phones)
    assert not left, "\n".join(left)
    assert not [card for pid in erased.identifiers for card in contact_cards(erased.workdir, pid)]
    # The search finds them where they still are: in the files as they landed.
    assert findings(files_under(erased.originals), erased.identifiers, erased.phones)


def test_only_the_person_is_erased_and_their_orders_stay_for_the_totals(erased: Erased) -> None:
    store = open_store(erased.workdir)
    after = {name: store.read(name).num_rows for name in TABLES}
    assert after["profiles"] == erased.before["profiles"] - 1
    assert after["records"] == erased.before["records"] - erased.erasure.rows["records"]
    assert after["orders"] == erased.before["orders"]  # pseudonymised (privacy.erasure.facts), not deleted
    orders = store.read("orders").to_pylist()
    assert sum(1 for o in orders if o["content_hash"] == "erased") == erased.erasure.rows["orders"]
    assert all(o["customer_id"] is None and o["account_id"] is None and o["email"] is None
               for o in orders if o["content_hash"] == "erased")


def test_the_audit_keeps_a_salted_hash_and_counts_only(erased: Erased) -> None:
    rows = open_store(erased.workdir).read("erasures").to_pylist()
    assert len(rows) == 1
    audit = rows[0]
    assert json.loads(audit["erased"])["tables"] == erased.erasure.rows
    assert len(audit["subject_hash"]) == 64
    assert not findings([("erasures", json.dumps(audit, default=str))], erased.identifiers, erased.phones)


def test_landing_the_same_files_again_does_not_bring_the_person_back(erased: Erased, retail_config: Config,
                                                                      tmp_path: Path) -> None:
    # The files as they first landed, under new names: ingested as new files.
    again = tmp_path / "landing"
    shutil.copytree(erased.originals, again)
    for _, path in landing_files(again, retail_config):
        path.rename(path.with_name("again_" + path.name))
    for _, path in landing_files(again, retail_config):
        content = path.read_bytes()
        path.write_bytes(content + (b"\n" if path.suffix == ".csv" else b""))  # other bytes: another file
    summary = run_local(retail_config, again, erased.workdir, as_of=AS_OF)
    assert sum(f.rows_suppressed for f in summary.files) >= 2
    texts = _tables_text(erased.workdir)
    assert not findings(texts, {i for i in erased.identifiers if "@" in i}, erased.phones)


def test_a_request_must_name_one_valid_identifier(erased: Erased, retail_config: Config) -> None:
    with pytest.raises(ErasureError, match="exactly one"):
        erase_local(retail_config, erased.workdir, Subject(email="a@b.fr", phone="0612345678"))
    with pytest.raises(ErasureError, match="not a valid address"):
        erase_local(retail_config, erased.workdir, Subject(email="not an address"))
    nobody = erase_local(retail_config, erased.workdir, Subject(email="nobody.here@example.org"))
    assert nobody.profiles == 0 and not nobody.rows


def test_rows_are_removed_from_landed_files_byte_for_byte_otherwise() -> None:
    from cdp.privacy.rewrite import without_rows

    csv = b'id,name\n1,"a\nb"\n\n2,c\n3,d\n'
    kept, removed = without_rows(csv, "csv", {1, 3})
    assert (kept, removed) == (b"id,name\n\n2,c\n", 2)
    lines = b'{"a": 1}\n\n{"a": 2}\n'
    assert without_rows(lines, "jsonl", {3}) == (b'{"a": 1}\n\n', 1)
    import gzip

    packed, removed = without_rows(gzip.compress(lines), "jsonl", {1})
    assert gzip.decompress(packed) == b'\n{"a": 2}\n' and removed == 1
    import io

    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2, 3]}), sink)
    content, removed = without_rows(sink.getvalue(), "parquet", {2})
    assert pq.read_table(io.BytesIO(content))["a"].to_pylist() == [1, 3] and removed == 1


def test_merges_and_splits_naming_the_person_among_others_lose_only_the_person(tmp_path: Path) -> None:
    from cdp.privacy.erasure import Person, _erase_from_lists

    store = open_store(tmp_path)
    now = datetime(2026, 11, 2, tzinfo=UTC)
    changes = [("r1", "merge", ["P1", "P2"], ["P1"]), ("r1", "split", ["P3"], ["P3", "P4"]),
               ("r2", "merge", ["P2"], ["P2"]), ("r3", "merge", ["P5", "P6"], ["P5"])]
    store.append("identity_changes", pa.Table.from_pylist(
        [{"run_id": r, "kind": k, "profile_ids_before": b, "profile_ids_after": a, "records": 2, "reason": None,
          "changed_at": now} for r, k, b, a in changes], schema=TABLES["identity_changes"].schema))
    person = Person(profiles={"P2"}, records=set(), facts=set(), orders=set(), emails=set(), phones=set())

    assert _erase_from_lists(store, "identity_changes", person) == 2
    left = sorted((r["run_id"], r["kind"], r["profile_ids_before"], r["profile_ids_after"])
                  for r in store.read("identity_changes").to_pylist())
    assert left == [("r1", "merge", ["P1"], ["P1"]), ("r1", "split", ["P3"], ["P3", "P4"]),
                    ("r3", "merge", ["P5", "P6"], ["P5"])]
