"""Survivorship: which value of each field the golden profile keeps when a person's records disagree."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest
from pydantic import ValidationError

from cdp.config import ConfigError, SurvivorshipSpec, example_config_path, parse_config
from cdp.profiles.survivorship import GoldenRecords, merge_profiles
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


def golden(rows: list[tuple[str, dict[str, Any]]], spec: SurvivorshipSpec = RETAIL) -> GoldenRecords:
    """Merge ``(profile_id, record)`` pairs."""
    records = pa.Table.from_pylist([r for _, r in rows], schema=TABLES["records"].schema)
    identities = pa.Table.from_pylist(
        [{"record_key": r["record_key"], "source": r["source"], "profile_id": profile_id, "rule": "email",
          "score": 1.0, "run_id": RUN, "linked_at": INGESTED} for profile_id, r in rows],
        schema=TABLES["identities"].schema)
    merged = merge_profiles(records, identities, spec, RUN)
    assert merged.profiles.schema == TABLES["profiles"].schema
    assert merged.lineage.schema == TABLES["profile_lineage"].schema
    return merged


def merged_rows(rows: list[tuple[str, dict[str, Any]]], spec: SurvivorshipSpec = RETAIL) -> list[dict[str, Any]]:
    """The profile rows as returned."""
    return golden(rows, spec).profiles.to_pylist()


def lineage(rows: list[tuple[str, dict[str, Any]]], spec: SurvivorshipSpec = RETAIL) -> dict[tuple[str, str], dict]:
    """The profile_lineage rows by (profile_id, field)."""
    return {(row["profile_id"], row["field"]): row for row in golden(rows, spec).lineage.to_pylist()}


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
    assert p1["consent_email"] is True
    # The trusted source has no city: the less trusted one's value is used rather than none.
    assert p1["city"] == "Lyon"


def test_a_recent_opt_out_wins_over_an_older_opt_in() -> None:
    profiles = merge([
        ("P1", record("crm", "C1", ts("2025-01-01"), email_opt_in=True, sms_opt_in=True)),
        ("P1", record("accounts", "A1", ts("2026-01-01"), email_opt_in=False, sms_opt_in=None)),
    ])
    assert profiles["P1"]["consent_email"] is False  # False is a value, not a missing one
    assert profiles["P1"]["consent_sms"] is True


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
    assert profiles["P1"]["last_seen"] == ts("2025-02-01")


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
    assert p1["first_seen"] == ts("2025-01-01")  # earliest of ingested_at and updated_at
    assert p1["last_seen"] == ts("2025-09-15")  # latest of updated_at, or ingested_at when it is missing
    assert p1["run_id"] == RUN
    assert (p2["record_count"], p2["sources"]) == (1, ["accounts"])
    # Updated before it was ingested: first seen at its update, which is also the latest one.
    assert (p2["first_seen"], p2["last_seen"]) == (ts("2024-05-05"), ts("2024-05-05"))


def test_one_row_per_profile() -> None:
    records = [("P1", record("crm", f"C{i}", ts(f"2025-01-0{i}"))) for i in range(1, 5)]
    records += [("P2", record("accounts", "A1", ts("2025-01-01"))), ("P3", record("crm", "C7", ts("2025-01-01")))]
    records += [("P2", record("accounts", "A2", ts("2025-01-02")))]
    rows = merged_rows(records)
    assert [p["profile_id"] for p in rows] == ["P1", "P2", "P3"]
    assert [p["record_count"] for p in rows] == [4, 2, 1]


def test_most_frequent_keeps_the_value_most_records_carry_and_breaks_ties_by_recency() -> None:
    spec = SurvivorshipSpec(default="most_frequent")
    profiles = merge([
        # Two records of three say Paris; the newest says Lyon.
        ("P1", record("crm", "C1", ts("2024-01-01"), city="Paris", last_name="Martin")),
        ("P1", record("accounts", "A1", ts("2024-06-01"), city="Paris", last_name="Martin")),
        ("P1", record("accounts", "A2", ts("2026-01-01"), city="Lyon", last_name=None)),
        ("P1", record("pos", "S1", ts("2025-01-01"), city=None, last_name="Martins")),
        # One each: the most recent wins.
        ("P2", record("crm", "C2", ts("2024-01-01"), city="Nantes")),
        ("P2", record("accounts", "A3", ts("2025-01-01"), city="Brest")),
    ], spec)
    assert profiles["P1"]["city"] == "Paris"  # nulls are not counted as a value
    assert profiles["P1"]["last_name"] == "Martin"
    assert profiles["P2"]["city"] == "Brest"


def test_most_complete_keeps_the_most_informative_value_and_breaks_ties_by_recency() -> None:
    spec = SurvivorshipSpec(source_priority=("crm", "accounts"), default="most_recent",
                            fields={"street": "most_complete", "first_name": "most_complete"})
    profiles = merge([
        # The full street of an older record wins over the newer truncated one.
        ("P1", record("crm", "C1", ts("2024-01-01"), street="12 rue du Faubourg Saint-Antoine", first_name="Jean")),
        ("P1", record("accounts", "A1", ts("2026-01-01"), street="12 r. du Fbg St-Antoine", first_name="Jean-Pierre")),
        # Same letters and digits (punctuation and spaces do not count): the most recent wins.
        ("P2", record("crm", "C2", ts("2024-01-01"), street="3, Place Bellecour")),
        ("P2", record("accounts", "A2", ts("2025-01-01"), street="3 place bellecour")),
    ], spec)
    assert profiles["P1"]["street"] == "12 rue du Faubourg Saint-Antoine"
    assert profiles["P1"]["first_name"] == "Jean-Pierre"
    assert profiles["P2"]["street"] == "3 place bellecour"


def test_lineage_names_the_record_and_the_rule_that_supplied_each_value() -> None:
    rows = [
        ("P1", record("crm", "C1", ts("2024-01-01"), email="jean@crm.fr", city="Paris", email_opt_in=True)),
        ("P1", record("accounts", "A1", ts("2026-01-01"), email="jean@shop.fr", city="Lyon", phone="+33612345678")),
    ]
    found = lineage(rows)
    assert {field: (row["record_key"], row["source"], row["rule"]) for (_, field), row in found.items()} == {
        "email": ("accounts:A1", "accounts", "most_recent"),
        "phone": ("accounts:A1", "accounts", "most_recent"),
        "city": ("crm:C1", "crm", "source_priority"),
        "consent_email": ("crm:C1", "crm", "most_recent_statement"),
        "consent_ads": ("crm:C1", "crm", "consent_email"),  # ads follow the email consent
    }  # a field no record fills (first_name, consent_sms...) has no row
    # The version of the record: its content hash, as stored in records.
    assert found[("P1", "city")]["content_hash"] == "hash-crm:C1"
    assert {row["run_id"] for row in found.values()} == {RUN}
    # Every value of the profile is the value of the record its lineage names.
    profile = merge(rows)["P1"]
    by_key = {r["record_key"]: r for _, r in rows}
    for field in ("email", "phone", "city"):
        assert profile[field] == by_key[found[("P1", field)]["record_key"]][field]


def test_consent_comes_from_the_most_recent_statement_whatever_the_default_rule() -> None:
    # The CRM is trusted for every field, yet not for consent: the latest statement decides.
    spec = SurvivorshipSpec(source_priority=("crm", "accounts"), default="source_priority")
    rows = [
        ("P1", record("crm", "C1", ts("2024-01-01"), email_opt_in=True, sms_opt_in=True)),
        # A newer opt-out wins over the older opt-in...
        ("P1", record("accounts", "A1", ts("2025-01-01"), email_opt_in=False)),
        # ...and a still newer record that says nothing (null) erases no statement.
        ("P1", record("accounts", "A2", ts("2026-01-01"), email_opt_in=None, sms_opt_in=None)),
        # Never stated: unknown, which is no to every channel.
        ("P2", record("crm", "C2", ts("2025-01-01"))),
    ]
    profiles = merge(rows, spec)
    assert (profiles["P1"]["consent_email"], profiles["P1"]["consent_sms"], profiles["P1"]["consent_ads"]) == (
        False, True, False)
    assert (profiles["P2"]["consent_email"], profiles["P2"]["consent_sms"], profiles["P2"]["consent_ads"]) == (
        None, None, None)
    found = lineage(rows, spec)
    assert found[("P1", "consent_email")]["record_key"] == "accounts:A1"
    assert found[("P1", "consent_sms")]["record_key"] == "crm:C1"


def test_ads_consent_follows_the_email_consent_unless_a_record_states_ads_opt_in() -> None:
    rows = [
        ("P1", record("crm", "C1", ts("2024-01-01"), email_opt_in=True)),
        ("P2", record("crm", "C2", ts("2024-01-01"), email_opt_in=True, attributes={"ads_opt_in": "non"})),
        ("P2", record("accounts", "A2", ts("2026-01-01"), email_opt_in=True, attributes={"loyalty": "gold"})),
        ("P3", record("crm", "C3", ts("2024-01-01"), email_opt_in=False, attributes={"ads_opt_in": " Oui "})),
    ]
    profiles = merge(rows)
    assert profiles["P1"]["consent_ads"] is True
    assert (profiles["P2"]["consent_email"], profiles["P2"]["consent_ads"]) == (True, False)
    assert (profiles["P3"]["consent_email"], profiles["P3"]["consent_ads"]) == (False, True)
    found = lineage(rows)
    assert (found[("P2", "consent_ads")]["record_key"], found[("P2", "consent_ads")]["rule"]) == (
        "crm:C2", "most_recent_statement")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"default": "most_recnt"}, "'most_complete'"),
        ({"fields": {"street": "longest"}}, "'most_frequent'"),
        ({"fields": {"stret": "most_recent"}}, "'stret' is not a profile field a rule chooses"),
        ({"fields": {"consent_email": "most_recent"}}, "consent comes from the most recent record stating it"),
        ({"default": "source_priority"}, "needs survivorship.source_priority"),
    ],
)
def test_survivorship_rules_and_fields_are_validated(spec: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        SurvivorshipSpec(**spec)


def test_an_unknown_rule_in_cdp_yaml_names_the_line_and_the_rules() -> None:
    text = example_config_path().read_text().replace("    street: source_priority", "    street: most_complet", 1)
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    message = str(raised.value)
    assert "survivorship.fields.street: 'most_complet' is not allowed" in message
    assert "'most_frequent' or 'most_complete'" in message and "line " in message
