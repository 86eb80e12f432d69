"""Survivorship: which value of each field the golden profile keeps when a person's records disagree."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from cdp.config import SurvivorshipSpec
from cdp.profiles.survivorship import merge_profiles
from cdp.tables import TABLES

RUN = "run-20261101T000000-abcdef"
INGESTED = datetime(2026, 1, 1, tzinfo=UTC)

# The retail rules: the CRM is trusted over self-declared accounts for the address, the rest is most recent.
RETAIL = SurvivorshipSpec(
    source_priority=("crm", "accounts"),
    default="most_recent",
    fields={"birth_date": "source_priority", "street": "source_priority", "postcode": "source_priority",
            "city": "source_priority"},
)


def ts(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def record(source: str, source_id: str, updated_at: datetime | None, *, ingested_at: datetime = INGESTED,
           **fields: Any) -> dict[str, Any]:
    key = f"{source}:{source_id}"
    return {"record_key": key, "source": source, "file_id": f"file-{source}", "row_number": 1,
            "content_hash": f"hash-{key}", "ingested_at": ingested_at, "source_id": source_id,
            "updated_at": updated_at, **fields}


def merged_rows(rows: list[tuple[str, dict[str, Any]]], spec: SurvivorshipSpec = RETAIL) -> list[dict[str, Any]]:
    """Merge ``(profile_id, record)`` pairs; the profile rows as returned."""
    records = pa.Table.from_pylist([r for _, r in rows], schema=TABLES["records"].schema)
    identities = pa.Table.from_pylist(
        [{"record_key": r["record_key"], "source": r["source"], "profile_id": profile_id, "rule": "email",
          "score": 1.0, "run_id": RUN, "linked_at": INGESTED} for profile_id, r in rows],
        schema=TABLES["identities"].schema)
    merged = merge_profiles(records, identities, spec, RUN)
    assert merged.schema == TABLES["profiles"].schema
    return merged.to_pylist()


def merge(rows: list[tuple[str, dict[str, Any]]], spec: SurvivorshipSpec = RETAIL) -> dict[str, dict[str, Any]]:
    """The merged profiles by id."""
    return {p["profile_id"]: p for p in merged_rows(rows, spec)}


def test_by_default_the_most_recently_updated_record_supplies_each_field() -> None:
    profiles = merge([
        ("P1", record("crm", "C1", ts("2025-01-01"), first_name="Jean", email="old@example.fr")),
        ("P1", record("accounts", "A1", ts("2025-06-01"), first_name="Jeanne", email="new@example.fr")),
        # Here the CRM record is the newer one: recency, not source order, decides.
        ("P2", record("crm", "C2", ts("2025-09-01"), first_name="Marie", email="marie@crm.fr")),
        ("P2", record("accounts", "A2", ts("2025-03-01"), first_name="Mary", email="marie@shop.fr")),
    ])
    assert (profiles["P1"]["first_name"], profiles["P1"]["email"]) == ("Jeanne", "new@example.fr")
    assert (profiles["P2"]["first_name"], profiles["P2"]["email"]) == ("Marie", "marie@crm.fr")


def test_source_priority_wins_over_recency_for_the_fields_that_ask_for_it() -> None:
    profiles = merge([
        ("P1", record("crm", "C1", ts("2024-01-01"), first_name="Jean", city="Paris", postcode="75002",
                      birth_date=date(1984, 3, 7))),
        ("P1", record("accounts", "A1", ts("2026-01-01"), first_name="Jeannot", city="Lyon", postcode="69001",
                      birth_date=date(1985, 1, 1))),
    ])
    p1 = profiles["P1"]
    # city, postcode, birth_date follow source_priority: the older CRM record wins...
    assert (p1["city"], p1["postcode"], p1["birth_date"]) == ("Paris", "75002", date(1984, 3, 7))
    # ...while first_name follows the default, most_recent.
    assert p1["first_name"] == "Jeannot"


def test_a_listed_source_beats_an_unlisted_one_even_when_older() -> None:
    profiles = merge([
        ("P1", record("accounts", "A1", ts("2024-01-01"), city="Lyon")),
        ("P1", record("pos", "S1", ts("2026-01-01"), city="Marseille")),
    ])
    assert profiles["P1"]["city"] == "Lyon"


def test_a_null_never_wins_over_a_present_value() -> None:
    profiles = merge([
        ("P1", record("crm", "C1", ts("2024-01-01"), phone="+33612345678", first_name="Jean", city=None,
                      email_opt_in=True)),
        # Newer, but without phone, first name or consent: those come from the older record.
        ("P1", record("accounts", "A1", ts("2026-01-01"), phone=None, first_name=None, city="Lyon",
                      email_opt_in=None)),
    ])
    p1 = profiles["P1"]
    assert p1["phone"] == "+33612345678"
    assert p1["first_name"] == "Jean"
    assert p1["email_opt_in"] is True
    # The trusted source has no city: the less trusted one's value is used rather than none.
    assert p1["city"] == "Lyon"


def test_a_recent_opt_out_wins_over_an_older_opt_in() -> None:
    profiles = merge([
        ("P1", record("crm", "C1", ts("2025-01-01"), email_opt_in=True, sms_opt_in=True)),
        ("P1", record("accounts", "A1", ts("2026-01-01"), email_opt_in=False, sms_opt_in=None)),
    ])
    assert profiles["P1"]["email_opt_in"] is False  # False is a value, not a missing one
    assert profiles["P1"]["sms_opt_in"] is True


def test_records_of_equally_trusted_sources_fall_back_to_recency() -> None:
    profiles = merge([
        # Two CRM records for one person (a duplicate in the CRM): same priority, the newer wins.
        ("P1", record("crm", "C1", ts("2024-01-01"), city="Paris")),
        ("P1", record("crm", "C9", ts("2025-06-01"), city="Nantes")),
        ("P1", record("accounts", "A1", ts("2026-01-01"), city="Lyon")),
        # Two sources absent from source_priority rank the same: the newer wins.
        ("P2", record("pos", "S1", ts("2025-06-01"), city="Lille")),
        ("P2", record("kiosk", "K1", ts("2024-06-01"), city="Brest")),
    ])
    assert profiles["P1"]["city"] == "Nantes"
    assert profiles["P2"]["city"] == "Lille"


def test_a_record_without_updated_at_counts_as_updated_when_it_was_ingested() -> None:
    profiles = merge([
        ("P1", record("crm", "C1", ts("2025-01-01"), first_name="Old")),
        ("P1", record("accounts", "A1", None, ingested_at=ts("2025-02-01"), first_name="New")),
        ("P2", record("crm", "C2", ts("2025-03-01"), first_name="Newer")),
        ("P2", record("accounts", "A2", None, ingested_at=ts("2025-02-01"), first_name="Older")),
    ])
    assert profiles["P1"]["first_name"] == "New"
    assert profiles["P2"]["first_name"] == "Newer"
    assert profiles["P1"]["updated_at"] == ts("2025-02-01")


def test_source_priority_as_the_default_applies_to_every_field_not_overridden() -> None:
    spec = SurvivorshipSpec(source_priority=("crm", "accounts"), default="source_priority",
                            fields={"first_name": "most_recent"})
    profiles = merge([
        ("P1", record("crm", "C1", ts("2024-01-01"), first_name="Jean", email="crm@example.fr")),
        ("P1", record("accounts", "A1", ts("2026-01-01"), first_name="Jeannot", email="shop@example.fr")),
    ], spec)
    assert profiles["P1"]["email"] == "crm@example.fr"
    assert profiles["P1"]["first_name"] == "Jeannot"


def test_each_profile_counts_its_records_sources_and_dates() -> None:
    profiles = merge([
        ("P1", record("crm", "C1", ts("2025-01-01"), ingested_at=ts("2025-03-01"))),
        ("P1", record("crm", "C9", ts("2025-08-01"), ingested_at=ts("2025-02-01"))),
        ("P1", record("accounts", "A1", None, ingested_at=ts("2025-09-15"))),
        ("P2", record("accounts", "A2", ts("2024-05-05"), ingested_at=ts("2025-04-01"))),
    ])
    p1, p2 = profiles["P1"], profiles["P2"]
    assert p1["record_count"] == 3
    assert p1["sources"] == ["accounts", "crm"]  # sorted, each once
    assert p1["first_seen_at"] == ts("2025-02-01")  # earliest ingestion
    assert p1["updated_at"] == ts("2025-09-15")  # latest of updated_at, or ingested_at when it is missing
    assert p1["run_id"] == RUN
    assert (p2["record_count"], p2["sources"]) == (1, ["accounts"])
    assert (p2["first_seen_at"], p2["updated_at"]) == (ts("2025-04-01"), ts("2024-05-05"))


def test_one_row_per_profile() -> None:
    records = [("P1", record("crm", f"C{i}", ts(f"2025-01-0{i}"))) for i in range(1, 5)]
    records += [("P2", record("accounts", "A1", ts("2025-01-01"))), ("P3", record("crm", "C7", ts("2025-01-01")))]
    records += [("P2", record("accounts", "A2", ts("2025-01-02")))]
    rows = merged_rows(records)
    assert [p["profile_id"] for p in rows] == ["P1", "P2", "P3"]
    assert [p["record_count"] for p in rows] == [4, 2, 1]
