"""Activation plans: consented channels only, hashes for ads, a stable hold-out and stable event ids."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from cdp.activation.cards import ContactCard
from cdp.activation.holdout import in_holdout
from cdp.activation.plans import Activation, activations_table, contact_cards, plan_activations
from cdp.config import Config
from cdp.privacy.hashing import sha256_identifier
from cdp.tables import TABLES

NOW = datetime(2026, 11, 1, 6, tzinfo=UTC)
CHANGE_RUN = "run-20261101T060000-abcdef"

# The retail plans: high_value → email + ads (hashed); lapsing → email + sms; browsers_no_purchase → email +
# crm_webhook (no consent field). email needs consent_email, ads consent_ads, sms consent_sms and a phone. As merged,
# consent_ads is the email consent unless a record stated ads_opt_in.
PEOPLE = {
    "all_yes": {"email": "all.yes@example.fr", "phone": "+33611111111", "consent_email": True, "consent_sms": True,
                "consent_ads": True},
    "email_no": {"email": "email.no@example.fr", "phone": "+33622222222", "consent_email": False, "consent_sms": True,
                 "consent_ads": False},
    "unknown": {"email": "unknown@example.fr", "phone": "+33633333333", "consent_email": None, "consent_sms": None,
                "consent_ads": None},
    "sms_no": {"email": "sms.no@example.fr", "phone": "+33644444444", "consent_email": True, "consent_sms": False,
               "consent_ads": True},
    "no_phone": {"email": "no.phone@example.fr", "phone": None, "consent_email": True, "consent_sms": True,
                 "consent_ads": True},
}


def profiles_table(people: dict[str, dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([{"profile_id": pid, "first_name": pid.title(), "run_id": CHANGE_RUN, **fields}
                                 for pid, fields in people.items()], schema=TABLES["profiles"].schema)


def changes_table(rows: list[tuple[str, str, str]], run_id: str = CHANGE_RUN) -> pa.Table:
    return pa.Table.from_pylist(
        [{"segment_id": s, "profile_id": p, "change": c, "run_id": run_id, "changed_at": NOW} for s, p, c in rows],
        schema=TABLES["segment_memberships"].schema)


def without_holdout(config: Config) -> Config:
    return config.model_copy(update={"activation_plans": tuple(
        plan.model_copy(update={"holdout_share": 0.0}) for plan in config.activation_plans)})


def plan(config: Config, rows: list[tuple[str, str, str]], people: dict[str, dict[str, Any]] = PEOPLE,
         run_id: str = "run-20261101T070000-123456", now: datetime = NOW) -> list[Activation]:
    return plan_activations(config, changes_table(rows), profiles_table(people), run_id, now)


def channels_per_profile(activations: list[Activation]) -> dict[str, list[str]]:
    listed: dict[str, list[str]] = defaultdict(list)
    for activation in activations:
        listed[activation.row["profile_id"]] += activation.row["channels"]
    return {pid: sorted(channels) for pid, channels in listed.items()}


def cards(config: Config, activations: list[Activation], people: dict[str, dict[str, Any]] = PEOPLE
          ) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The contact cards, by (profile, segment, channel)."""
    segment_of = {a.row["event_id"]: a.row["segment_id"] for a in activations}
    issued = contact_cards(config, activations_table(activations), profiles_table(people))
    assert all(isinstance(card, ContactCard) for card in issued)
    return {(card.profile_id, segment_of[card.event_id], card.channel): card.contact for card in issued}


def entering(segment: str, people: dict[str, Any] = PEOPLE) -> list[tuple[str, str, str]]:
    return [(segment, pid, "entered") for pid in people]


@pytest.fixture(scope="module")
def config(retail_config: Config) -> Config:
    """The retail config with no hold-out, so that consent alone decides the channels."""
    return without_holdout(retail_config)


def test_people_are_listed_only_on_the_channels_they_consented_to(config: Config) -> None:
    lapsing = plan(config, entering("lapsing"))
    assert channels_per_profile(lapsing) == {
        "all_yes": ["email", "sms"], "email_no": ["sms"], "unknown": [], "sms_no": ["email"], "no_phone": ["email"]}
    high_value = plan(config, entering("high_value"))
    assert channels_per_profile(high_value) == {
        "all_yes": ["ads", "email"], "email_no": [], "unknown": [], "sms_no": ["ads", "email"],
        "no_phone": ["ads", "email"]}
    # The webhook declares no consent field: it receives everyone; email still needs the opt-in.
    browsers = plan(config, entering("browsers_no_purchase"))
    assert channels_per_profile(browsers) == {
        "all_yes": ["crm_webhook", "email"], "email_no": ["crm_webhook"], "unknown": ["crm_webhook"],
        "sms_no": ["crm_webhook", "email"], "no_phone": ["crm_webhook", "email"]}


def test_ads_audiences_follow_the_ads_consent_and_email_the_email_consent(config: Config) -> None:
    assert (config.channels["email"].consent, config.channels["ads"].consent) == ("consent_email", "consent_ads")
    people = {"ads_only": {"email": "ads.only@example.fr", "consent_email": False, "consent_ads": True},
              "email_only": {"email": "email.only@example.fr", "consent_email": True, "consent_ads": False}}
    listed = channels_per_profile(plan(config, entering("high_value", people), people))
    assert listed == {"ads_only": ["ads"], "email_only": ["email"]}


def test_the_event_detail_lists_the_same_channels_as_the_recorded_row(config: Config) -> None:
    for activation in plan(config, entering("lapsing") + entering("high_value")):
        assert activation.event["detail"]["channels"] == activation.row["channels"]
        assert json.loads(activation.row["detail"]) == activation.event["detail"]


def test_someone_without_consent_is_recorded_with_no_channel_and_gets_no_card(config: Config) -> None:
    activations = plan(config, [("high_value", "unknown", "entered")])
    [activation] = activations
    assert activation.row["channels"] == []
    assert activation.row["holdout"] is False
    assert cards(config, activations) == {}


def test_events_and_recorded_rows_name_people_by_profile_id_only(config: Config) -> None:
    """What goes on the bus is kept by its archive for replay: no address, no name, not even hashed."""
    activations = plan(config, entering("high_value") + entering("lapsing") + entering("browsers_no_purchase"))
    assert len(activations) >= 15
    for activation in activations:
        text = json.dumps(activation.event) + activation.row["detail"]
        assert activation.event["detail"]["profile_id"] in PEOPLE
        assert "@" not in text
        assert "identifiers" not in text and "traits" not in text
        person = PEOPLE[activation.row["profile_id"]]
        for value in (person["email"], person["phone"], activation.row["profile_id"].title()):
            assert not value or value not in text
        assert sha256_identifier(person["email"]) not in text


def test_a_person_without_a_phone_is_never_listed_for_sms(config: Config) -> None:
    people = {**PEOPLE, "no_phone_2": {"email": None, "phone": None, "consent_email": True, "consent_sms": True},
              "empty_phone": {"email": "e@example.fr", "phone": "", "consent_email": False, "consent_sms": True}}
    listed = channels_per_profile(plan(config, entering("lapsing", people), people))
    assert [pid for pid, channels in listed.items() if "sms" in channels] == ["all_yes", "email_no"]
    assert listed["no_phone_2"] == []  # no email either, so the email channel cannot reach them


def test_each_channel_gets_a_card_with_only_the_identifier_it_addresses_people_by(config: Config) -> None:
    activations = plan(config, entering("high_value") + entering("lapsing") + entering("browsers_no_purchase"))
    issued = cards(config, activations)
    # A card for every channel an event lists, and none else.
    assert sorted(issued) == sorted((a.row["profile_id"], a.row["segment_id"], channel)
                                    for a in activations for channel in a.row["channels"])
    assert issued["all_yes", "lapsing", "email"] == {"identifiers": {"email": "all.yes@example.fr"},
                                                      "traits": {"first_name": "All_Yes"}}
    assert issued["all_yes", "lapsing", "sms"] == {"identifiers": {"phone": "+33611111111"},
                                                    "traits": {"first_name": "All_Yes"}}
    for (pid, _, channel), contact in issued.items():
        if not config.channels[channel].hashed:
            identifier = config.channels[channel].identifier  # none for the webhook: it knows people by profile id
            assert contact["identifiers"] == ({identifier: PEOPLE[pid][identifier]} if identifier else {})
            assert "hashed_identifiers" not in contact


def test_ads_cards_carry_only_sha256_of_the_identifiers(config: Config) -> None:
    activations = plan(config, entering("high_value"))
    ads = {pid: contact for (pid, _, channel), contact in cards(config, activations).items() if channel == "ads"}
    assert sorted(ads) == ["all_yes", "no_phone", "sms_no"]
    for activation in activations:
        if "ads" in activation.row["channels"]:
            assert activation.row["channels"] == ["ads"]  # never shares an event with a clear-text channel
    for pid, contact in ads.items():
        person = PEOPLE[pid]
        expected = {"email_sha256": sha256_identifier(person["email"])}
        if person["phone"]:
            expected["phone_sha256"] = sha256_identifier(person["phone"])
        assert contact == {"hashed_identifiers": expected}  # no trait either: a first name is not for an audience


def test_no_card_for_someone_erased_or_who_withdrew_consent_since_the_decision(config: Config) -> None:
    activations = plan(config, entering("lapsing"))
    now = {**PEOPLE, "all_yes": {**PEOPLE["all_yes"], "consent_sms": False}}
    del now["sms_no"]
    issued = cards(config, activations, now)
    assert ("all_yes", "lapsing", "email") in issued
    assert ("all_yes", "lapsing", "sms") not in issued
    assert not [key for key in issued if key[0] == "sms_no"]
    assert ("email_no", "lapsing", "sms") in issued


def test_the_hash_is_the_one_ad_platforms_match_on() -> None:
    import hashlib

    assert sha256_identifier("  Jean.Dupont@Example.FR ") == hashlib.sha256(b"jean.dupont@example.fr").hexdigest()


def test_hold_out_members_get_an_event_with_no_channel(retail_config: Config) -> None:
    people = {f"P{i:04d}": PEOPLE["all_yes"] for i in range(300)}
    activations = plan(retail_config, entering("high_value", people), people)
    held = {a.row["profile_id"] for a in activations if a.row["holdout"]}
    expected = {pid for pid in people if in_holdout(pid, "high_value", 0.1)}
    assert held == expected
    assert 10 <= len(held) <= 60  # 10% of 300 is 30 (sd 5.2): the draw is not all-or-nothing
    for activation in activations:
        if activation.row["holdout"]:
            assert activation.row["channels"] == []
            assert activation.event["detail"]["channels"] == []
            assert activation.event["detail"]["holdout"] is True
    assert not {pid for pid, _, _ in cards(retail_config, activations, people)} & held
    listed = channels_per_profile(activations)
    assert {pid for pid, channels in listed.items() if channels == []} == held
    assert {pid for pid, channels in listed.items() if channels == ["ads", "email"]} == set(people) - held
    assert sum(1 for a in activations if a.row["profile_id"] in held) == len(held)  # one event each


def test_the_hold_out_share_matches_the_plan_over_ten_thousand_profiles(retail_config: Config) -> None:
    [high_value] = [p for p in retail_config.activation_plans if p.segment == "high_value"]
    assert high_value.holdout_share == 0.1
    people = {f"profile-{i:05d}": {"consent_email": False} for i in range(10_000)}
    activations = plan(retail_config, entering("high_value", people), people)
    assert len(activations) == 10_000  # nobody consented: one channel-less event each
    share = sum(a.row["holdout"] for a in activations) / 10_000
    # Binomial standard deviation: sqrt(0.1 * 0.9 / 10000) = 0.003; 0.01 is over three of them.
    assert share == pytest.approx(0.1, abs=0.01)


def test_a_profile_is_in_the_hold_out_on_every_run_and_the_draw_differs_per_segment(retail_config: Config) -> None:
    people = {f"profile-{i:05d}": {"consent_email": False} for i in range(10_000)}

    def held(segment: str, run_id: str, now: datetime) -> set[str]:
        activations = plan_activations(retail_config, changes_table(entering(segment, people), run_id),
                                       profiles_table(people), run_id, now)
        return {a.row["profile_id"] for a in activations if a.row["holdout"]}

    first = held("high_value", "run-20261101T060000-aaaaaa", NOW)
    later = held("high_value", "run-20261201T060000-bbbbbb", datetime(2026, 12, 1, tzinfo=UTC))
    assert later == first
    # lapsing has the same share, but its own draw: two independent 10% draws share about 1% (100, sd 9.5).
    overlap = len(first & held("lapsing", "run-20261101T060000-aaaaaa", NOW))
    assert 60 <= overlap <= 140


def test_the_event_id_is_in_the_detail_and_planning_a_change_again_gives_the_same_ids(config: Config) -> None:
    rows = entering("high_value") + [("lapsing", "all_yes", "entered"), ("high_value", "no_phone", "exited")]
    first = plan(config, rows)
    retried = plan(config, rows, run_id="run-20261101T080000-654321", now=datetime(2026, 11, 1, 8, tzinfo=UTC))
    ids = [a.row["event_id"] for a in first]
    assert len(set(ids)) == len(ids)  # the clear and the hashed event of one change have ids of their own
    assert [a.row["event_id"] for a in retried] == ids
    for activation in first:
        assert activation.event["detail"]["event_id"] == activation.row["event_id"]
        assert json.loads(activation.row["detail"])["event_id"] == activation.row["event_id"]
        assert activation.event["id"] == activation.row["event_id"]


def test_the_same_person_entering_again_in_a_later_run_gets_new_ids(config: Config) -> None:
    first = plan_activations(config, changes_table(entering("lapsing"), "run-20261101T060000-aaaaaa"),
                             profiles_table(PEOPLE), "run-a", NOW)
    again = plan_activations(config, changes_table(entering("lapsing"), "run-20261201T060000-bbbbbb"),
                             profiles_table(PEOPLE), "run-b", NOW)
    assert not {a.row["event_id"] for a in first} & {a.row["event_id"] for a in again}


def test_changes_the_plan_does_not_list_produce_nothing(config: Config) -> None:
    # lapsing and browsers_no_purchase activate entries only; a segment without a plan activates nothing.
    assert plan(config, [("lapsing", "all_yes", "exited"), ("browsers_no_purchase", "all_yes", "exited"),
                         ("no_such_segment", "all_yes", "entered")]) == []
    exits = plan(config, [("high_value", "all_yes", "exited")])
    assert sorted(tuple(a.row["channels"]) for a in exits) == [("ads",), ("email",)]
    assert {a.row["change"] for a in exits} == {"exited"}


def test_decisions_are_recorded_as_activation_rows(config: Config) -> None:
    activations = plan(config, [("high_value", "all_yes", "entered")], run_id="run-x")
    table = activations_table(activations)
    assert table.schema == TABLES["activations"].schema
    rows = table.to_pylist()
    assert [(r["profile_id"], r["segment_id"], r["change"], r["channels"], r["run_id"], r["occurred_at"],
             r["published_at"]) for r in rows] == [
        ("all_yes", "high_value", "entered", ["email"], "run-x", NOW, None),
        ("all_yes", "high_value", "entered", ["ads"], "run-x", NOW, None)]
