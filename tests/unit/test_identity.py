from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from cdp.identity.resolve import resolve

NOW = datetime(2026, 11, 1, tzinfo=UTC)
NO_PREVIOUS = pd.DataFrame(columns=["record_key", "profile_id", "linked_at", "run_id"])


def records(*rows: tuple[str, str | None, str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"record_key": key, "source": key.split(":")[0], "email": email, "phone": phone,
          "updated_at": NOW, "ingested_at": NOW} for key, email, phone in rows]
    )


def profile_of(linked: pd.DataFrame) -> dict[str, str]:
    return dict(zip(linked["record_key"], linked["profile_id"], strict=True))


def test_records_sharing_an_email_or_a_phone_are_one_person() -> None:
    linked = resolve(records(("crm:1", "a@x.fr", None), ("accounts:1", "a@x.fr", "+33611111111"),
                             ("crm:2", None, "+33611111111"), ("crm:3", "b@x.fr", None)),
                     NO_PREVIOUS, ["email", "phone"], "r1", NOW)
    ids = profile_of(linked)
    assert ids["crm:1"] == ids["accounts:1"] == ids["crm:2"] != ids["crm:3"]
    assert dict(zip(linked["record_key"], linked["rule"], strict=True))["crm:3"] == "singleton"


def test_profile_ids_survive_a_later_run_and_a_merge_keeps_the_larger_profile_id() -> None:
    first = resolve(records(("crm:1", "a@x.fr", None), ("crm:2", "a@x.fr", None), ("crm:3", None, "+33622222222")),
                    NO_PREVIOUS, ["email", "phone"], "r1", NOW)
    before = profile_of(first)
    # A new account carries both identifiers: the two former profiles are the same person.
    second = resolve(records(("crm:1", "a@x.fr", None), ("crm:2", "a@x.fr", None), ("crm:3", None, "+33622222222"),
                             ("accounts:9", "a@x.fr", "+33622222222")), first, ["email", "phone"], "r2", NOW)
    after = profile_of(second)
    assert after["crm:1"] == after["crm:3"] == after["accounts:9"] == before["crm:1"]
    assert set(second.loc[second["record_key"] == "crm:1", "run_id"]) == {"r1"}  # untouched links keep their run


def test_null_identifiers_never_link_people() -> None:
    linked = resolve(records(("crm:1", None, None), ("crm:2", None, None)), NO_PREVIOUS, ["email", "phone"], "r", NOW)
    assert linked["profile_id"].nunique() == 2


def test_link_quality_counts_pairs() -> None:
    from cdp.identity.evaluate import link_quality

    identities = pd.DataFrame({"record_key": ["a", "b", "c", "d"], "profile_id": ["P1", "P1", "P1", "P2"]})
    truth = pd.DataFrame({"record_key": ["a", "b", "c", "d"], "person_id": ["x", "x", "y", "y"]})
    quality = link_quality(identities, truth)
    # Predicted pairs ab, ac, bc; true pairs ab, cd; only ab is both.
    assert (quality.predicted_pairs, quality.true_pairs, quality.correct_pairs) == (3, 2, 1)
    assert quality.precision == round(1 / 3, 4) and quality.recall == 0.5
