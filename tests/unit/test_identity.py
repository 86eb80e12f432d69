"""Identity resolution on hand-made records: personal, shared and junk keys, cross-references, guards, stable ids.

The probabilistic model is left out here (``model=None``): these are the rules around it. The demo and the
end-to-end tests measure the whole, Splink included, against a ground truth.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from cdp.config.identity import IdentitySpec
from cdp.identity.compatibility import birth_dates_compatible, first_names_compatible
from cdp.identity.resolve import resolve

NOW = datetime(2026, 11, 1, tzinfo=UTC)
NO_PREVIOUS = pd.DataFrame(columns=["record_key", "profile_id", "linked_at", "run_id"])
SPEC = IdentitySpec()


def records(*rows: tuple) -> pd.DataFrame:
    """(record_key, email, phone, first_name, birth_date) per record."""
    frame = pd.DataFrame(
        [{"record_key": key, "source": key.split(":")[0], "email": email, "phone": phone, "first_name": first,
          "last_name": "Martin", "birth_date": birth, "street": None, "postcode": None, "city": None}
         for key, email, phone, first, birth in rows]
    )
    return frame


def link(frame: pd.DataFrame, previous: pd.DataFrame = NO_PREVIOUS, spec: IdentitySpec = SPEC, run_id: str = "r1",
         **facts):
    return resolve(frame, previous, spec, None, run_id, NOW, **facts)


def profile_of(resolution) -> dict[str, str]:
    ids = resolution.identities
    return dict(zip(ids["record_key"], ids["profile_id"], strict=True))


def test_records_sharing_a_personal_email_or_phone_are_one_person() -> None:
    resolution = link(records(("crm:1", "jean@x.fr", None, "Jean", None),
                              ("accounts:1", "jean@x.fr", "+33611223344", "Jean", None),
                              ("crm:2", None, "+33611223344", "Jean", date(1980, 3, 1)),
                              ("crm:3", "paul@x.fr", None, "Paul", None)))
    ids = profile_of(resolution)
    assert ids["crm:1"] == ids["accounts:1"] == ids["crm:2"] != ids["crm:3"]
    rules = dict(zip(resolution.identities["record_key"], resolution.identities["rule"], strict=True))
    assert rules["crm:3"] == "singleton" and rules["crm:2"] == "phone"


def test_a_family_mailbox_does_not_merge_people_with_different_first_names() -> None:
    resolution = link(records(("crm:1", "famille.martin@x.fr", None, "Jean", date(1970, 1, 2)),
                              ("crm:2", "famille.martin@x.fr", None, "Marie", date(1972, 5, 6)),
                              ("accounts:1", "famille.martin@x.fr", None, "Marie", None)))
    ids = profile_of(resolution)
    assert ids["crm:1"] != ids["crm:2"]
    reviews = resolution.reviews
    shared = reviews[reviews["kind"] == "shared_email"]
    assert shared["record_keys"].tolist() == [["accounts:1", "crm:1", "crm:2"]]
    assert "famille" not in " ".join(reviews["reason"])  # reviews name records, never the identifier itself


def test_twins_sharing_a_landline_stay_two_people_and_a_day_month_swap_is_one() -> None:
    resolution = link(records(("crm:1", None, "+33140506070", "Léa", date(2001, 4, 3)),
                              ("crm:2", None, "+33140506070", "Léo", date(2001, 4, 3)),
                              ("crm:3", "lea@x.fr", None, "Lea", date(2001, 3, 4)),
                              ("crm:4", "lea@x.fr", None, "Léa", date(2001, 4, 3))))
    ids = profile_of(resolution)
    assert ids["crm:1"] != ids["crm:2"]
    assert ids["crm:3"] == ids["crm:4"]


@pytest.mark.parametrize("email, phone", [("test@test.com", None), ("a@a.fr", None), (None, "+33600000000"),
                                          (None, "+33123456789")])
def test_values_typed_at_a_till_link_no_one(email, phone) -> None:
    resolution = link(records(("crm:1", email, phone, "Jean", None), ("crm:2", email, phone, "Jean", None)))
    assert resolution.identities["profile_id"].nunique() == 2
    assert resolution.reviews["kind"].str.startswith("junk_").all()


def test_configured_junk_and_keys_held_by_too_many_people_link_no_one() -> None:
    spec = IdentitySpec(junk_values={"email": ("magasin.lyon@brand.fr",)}, max_people_per_key=2)
    resolution = link(records(("crm:1", "magasin.lyon@brand.fr", None, "Jean", None),
                              ("crm:2", "magasin.lyon@brand.fr", None, "Jean", None),
                              ("crm:3", None, "+33611223344", "Anne", None),
                              ("crm:4", None, "+33611223344", "Paul", None),
                              ("crm:5", None, "+33611223344", "Zoé", None)), spec=spec)
    assert resolution.identities["profile_id"].nunique() == 5
    reasons = dict(zip(resolution.reviews["kind"], resolution.reviews["reason"], strict=True))
    assert reasons == {"junk_email": "listed as junk in the configuration",
                       "junk_phone": "carried by 3 different people"}


def test_typos_nicknames_initials_and_compound_names_are_one_person() -> None:
    resolution = link(records(("crm:1", "jp@x.fr", None, "Jean-Pierre", None),
                              ("crm:2", "jp@x.fr", None, "JP", None),
                              ("crm:3", "jp@x.fr", None, "Jean", None),
                              ("crm:4", "jp@x.fr", None, "Jaen-Pierre", None),
                              ("crm:5", "jp@x.fr", None, "jean pierre", None)))
    assert resolution.identities["profile_id"].nunique() == 1


def test_first_names_and_birth_dates_compatibility() -> None:
    assert first_names_compatible("Adriana", "Adirana")  # two letters swapped
    assert first_names_compatible("Hélène", "HELENE") and first_names_compatible("Manu", "Emmanuel")
    assert not first_names_compatible("Jean", "Marie")
    assert not first_names_compatible("Léo", "Léa")  # short names: one letter is another person
    assert birth_dates_compatible(date(1990, 3, 4), date(1990, 4, 3))
    assert not birth_dates_compatible(date(1990, 3, 4), date(1990, 4, 5))


def test_a_mistyped_birth_date_is_compatible_but_a_generation_apart_is_another_person() -> None:
    assert birth_dates_compatible(date(1984, 5, 26), date(1983, 5, 26))  # one digit
    assert birth_dates_compatible(date(1969, 5, 15), date(1969, 5, 25))
    assert birth_dates_compatible(date(1989, 8, 15), date(1989, 8, 11))  # 15 / 11: one digit
    assert not birth_dates_compatible(date(1959, 6, 1), date(1989, 6, 1))  # one digit, but parent and child
    assert not birth_dates_compatible(date(1979, 9, 13), date(1997, 9, 13))  # swapped digits, 18 years
    assert not birth_dates_compatible(date(1962, 9, 29), date(1989, 12, 1))


def test_a_carelessly_keyed_first_name_counts_only_where_the_birth_date_is_the_same() -> None:
    for typed, meant in (("Maruc", "Marcus"), ("Xatne", "Xanthe"), ("Emi Ilu", "Emiily"), ("Gus", "Gu"),
                         ("Kle", "Kyle"), ("Sma", "Sam")):
        assert first_names_compatible(typed, meant, same_birth=True), (typed, meant)
        assert not first_names_compatible(typed, meant), (typed, meant)
    # Twins are born the same day: their names differ by more than a slip, and an ending makes another name.
    for twin, other in (("Léo", "Léa"), ("Louis", "Louise"), ("Jean", "Jeanne"), ("Lucas", "Chloé")):
        assert not first_names_compatible(twin, other, same_birth=True), (twin, other)


def test_an_order_naming_a_card_and_an_account_links_them_unless_they_are_clearly_two_people() -> None:
    frame = records(("crm:C1", "jean@x.fr", None, "Jean", None), ("accounts:A1", "jm@y.fr", None, "Jean", None),
                    ("crm:C2", None, None, "Marie", None), ("accounts:A2", None, None, "Paul", None))
    orders = pd.DataFrame({"customer_id": ["C1", "C2", None], "account_id": ["A1", "A2", "A1"]})

    resolution = link(frame, facts={"orders": orders},
                      fact_links={"orders": [{"customer_id": "crm", "account_id": "accounts"}]})

    ids = profile_of(resolution)
    assert ids["crm:C1"] == ids["accounts:A1"]
    assert ids["crm:C2"] != ids["accounts:A2"]  # Marie's card on Paul's order: a household, refused
    refused = resolution.reviews[resolution.reviews["kind"] == "refused_link"]
    assert refused["record_keys"].tolist() == [["crm:C2", "accounts:A2"]]
    assert refused["reason"].tolist() == ["first names differ (Marie and Paul)"]


def test_profile_ids_survive_a_later_run_and_untouched_links_keep_their_run() -> None:
    first = link(records(("crm:1", "anne@x.fr", None, "Anne", None), ("crm:2", "anne@x.fr", None, "Anne", None),
                         ("crm:3", None, "+33622334455", "Anne", None)))
    before = profile_of(first)
    # A new account carries both identifiers: the two former profiles are the same person.
    second = link(records(("crm:1", "anne@x.fr", None, "Anne", None), ("crm:2", "anne@x.fr", None, "Anne", None),
                          ("crm:3", None, "+33622334455", "Anne", None),
                          ("accounts:9", "anne@x.fr", "+33622334455", "Anne", None)), first.identities, run_id="r2")
    after = profile_of(second)
    assert after["crm:1"] == after["crm:3"] == after["accounts:9"] == before["crm:1"]
    ids = second.identities
    assert set(ids.loc[ids["record_key"] == "crm:1", "run_id"]) == {"r1"}


def test_null_identifiers_never_link_people() -> None:
    resolution = link(records(("crm:1", None, None, "Anne", None), ("crm:2", None, None, "Anne", None)))
    assert resolution.identities["profile_id"].nunique() == 2


def test_link_quality_counts_pairs() -> None:
    from cdp.identity.evaluate import link_quality

    identities = pd.DataFrame({"record_key": ["a", "b", "c", "d"], "profile_id": ["P1", "P1", "P1", "P2"]})
    truth = pd.DataFrame({"record_key": ["a", "b", "c", "d"], "person_id": ["x", "x", "y", "y"]})
    quality = link_quality(identities, truth)
    # Predicted pairs ab, ac, bc; true pairs ab, cd; only ab is both.
    assert (quality.predicted_pairs, quality.true_pairs, quality.correct_pairs) == (3, 2, 1)
    assert quality.precision == round(1 / 3, 4)
    assert quality.recall == 0.5


def test_a_merge_keeps_the_oldest_profile_id_and_a_split_leaves_it_to_the_larger_part() -> None:
    from datetime import timedelta

    older, newer = pd.Timestamp(NOW - timedelta(days=30)), pd.Timestamp(NOW)
    previous = pd.DataFrame({"record_key": ["crm:1", "crm:2", "crm:3", "crm:4", "crm:5"],
                             "profile_id": ["POLD", "PNEW", "PNEW", "PNEW", "PSPLIT"],
                             "linked_at": [older, newer, newer, newer, newer], "run_id": "r0"})
    previous["linked_at"] = pd.to_datetime(previous["linked_at"], utc=True)
    # crm:1 (alone, but first) and crm:2-4 are now one person; crm:5 stays alone.
    resolution = link(records(("crm:1", "anne@x.fr", None, "Anne", None), ("crm:2", "anne@x.fr", None, "Anne", None),
                              ("crm:3", "anne@x.fr", None, "Anne", None), ("crm:4", "anne@x.fr", None, "Anne", None),
                              ("crm:5", None, None, "Zoé", None)), previous, run_id="r1")
    ids = profile_of(resolution)
    assert {ids[k] for k in ("crm:1", "crm:2", "crm:3", "crm:4")} == {"POLD"}
    assert ids["crm:5"] == "PSPLIT"


def test_merges_and_splits_are_recorded_with_the_ids_before_and_after() -> None:
    from cdp.identity.changes import profile_changes

    first = link(records(("crm:1", "anne@x.fr", None, "Anne", None), ("crm:2", None, "+33622334455", "Anne", None),
                         ("crm:3", "paul@x.fr", None, "Paul", None), ("crm:4", "paul@x.fr", None, "Paul", None)))
    # An account now carries Anne's email and phone; Paul's second card changed its email.
    second = link(records(("crm:1", "anne@x.fr", None, "Anne", None), ("crm:2", None, "+33622334455", "Anne", None),
                          ("accounts:9", "anne@x.fr", "+33622334455", "Anne", None),
                          ("crm:3", "paul@x.fr", None, "Paul", None), ("crm:4", "pauline@y.fr", None, "Paul", None)),
                  first.identities, run_id="r2")
    before, after = profile_of(first), profile_of(second)

    changes = profile_changes(first.identities, second.identities, second.links, "r2", NOW)

    merge = changes[changes["kind"] == "merge"].iloc[0]
    assert sorted(merge["profile_ids_before"]) == sorted({before["crm:1"], before["crm:2"]})
    assert merge["profile_ids_after"] == [after["crm:1"]] and merge["records"] == 2
    assert merge["reason"] == "linked by email, phone"
    split = changes[changes["kind"] == "split"].iloc[0]
    assert split["profile_ids_before"] == [before["crm:3"]]
    assert sorted(split["profile_ids_after"]) == sorted({after["crm:3"], after["crm:4"]})
    assert len(changes) == 2
