"""Purpose limitation of identity resolution: records are linked across sources only where both sources' uses
include linking, and a fact is attributed by its email only where that is linking allowed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from cdp.adapters.buses import MemoryBus
from cdp.config import Config
from cdp.features.behaviour import _context_digest, fact_views
from cdp.identity.resolve import resolve_new
from cdp.ingest.files import ingest_file
from cdp.pipeline.local import local_models, open_store
from cdp.pipeline.runner import run_step
from cdp.pipeline.steps import StepContext
from cdp.tables import TABLES
from tests.unit.test_features import AS_OF, identity_graph, order
from tests.unit.test_identity import NOW, SPEC, link, profile_of, records

ACCOUNTS_ONLY = frozenset({"accounts"})  # the accounts' uses lack linking
ORDER_LINKS = {"orders": [{"customer_id": "crm", "account_id": "accounts"}]}


def without_linking(config: Config, *sources: str) -> Config:
    return config.model_copy(update={"sources": {
        name: spec.model_copy(update={"uses": tuple(u for u in spec.uses if u != "linking")}) if name in sources
        else spec for name, spec in config.sources.items()}})


def persons(identities: pd.DataFrame) -> set[frozenset[str]]:
    return {frozenset(group["record_key"]) for _, group in identities.groupby("profile_id")}


def test_records_of_two_sources_sharing_an_email_and_a_phone_are_one_person_only_if_both_allow_linking() -> None:
    frame = records(("crm:1", "jean@x.fr", "+33611223344", "Jean", None),
                    ("accounts:1", "jean@x.fr", "+33611223344", "Jean", None))

    assert len(set(profile_of(link(frame)).values())) == 1
    refused = link(frame, unlinkable=ACCOUNTS_ONLY)
    assert len(set(profile_of(refused).values())) == 2
    assert refused.refused_for_purpose == 2  # by the email and by the phone


def test_records_of_a_source_that_does_not_allow_linking_are_still_deduplicated_within_it() -> None:
    ids = profile_of(link(records(("accounts:1", "jean@x.fr", None, "Jean", None),
                                  ("accounts:2", "jean@x.fr", None, "Jean", None),
                                  ("crm:1", "jean@x.fr", None, "Jean", None)), unlinkable=ACCOUNTS_ONLY))
    assert ids["accounts:1"] == ids["accounts:2"] != ids["crm:1"]


def test_a_record_that_may_not_be_linked_coming_first_does_not_cut_the_link_of_those_after_it() -> None:
    # The first record carrying the email is the one each other carrier would be linked through.
    ids = profile_of(link(records(("accounts:0", "jean@x.fr", None, "Jean", None),
                                  ("crm:1", "jean@x.fr", None, "Jean", None),
                                  ("loyalty:1", "jean@x.fr", None, "Jean", None)), unlinkable=ACCOUNTS_ONLY))
    assert ids["crm:1"] == ids["loyalty:1"] != ids["accounts:0"]


def test_an_order_naming_a_card_and_an_account_links_them_only_if_the_order_source_allows_linking() -> None:
    frame = records(("crm:C1", "jean@x.fr", None, "Jean", None), ("accounts:A1", "jm@y.fr", None, "Jean", None),
                    ("crm:C2", None, None, "Anne", None), ("accounts:A2", "anne@y.fr", None, "Anne", None))
    # O1 names a card and an account; O2 a card and an email, which account A2 holds.
    orders = pd.DataFrame({"record_key": ["orders:O1", "orders:O2"], "customer_id": ["C1", "C2"],
                           "account_id": ["A1", None], "email": [None, "anne@y.fr"]})
    facts = {"facts": {"orders": orders}, "fact_links": ORDER_LINKS}

    ids = profile_of(link(frame, **facts))
    assert ids["crm:C1"] == ids["accounts:A1"] and ids["crm:C2"] == ids["accounts:A2"]
    # Orders that may not link: neither O1 nor O2 links. Accounts that may not be linked: O1's link is refused,
    # and O2's email names no one (a receipt is matched only to records that may be linked).
    for unlinkable, refused in ((frozenset({"orders"}), 2), (ACCOUNTS_ONLY, 1)):
        resolution = link(frame, **facts, unlinkable=unlinkable)
        assert len(set(profile_of(resolution).values())) == 4, unlinkable
        assert resolution.refused_for_purpose == refused, unlinkable


def test_incremental_resolution_refuses_what_a_full_one_refuses_and_undoes_links_no_longer_allowed() -> None:
    base = records(("crm:1", "jean@x.fr", None, "Jean", None), ("accounts:1", "jean@x.fr", None, "Jean", None),
                   ("crm:2", None, "+33611223344", "Jean", None), ("shop:1", "paul@x.fr", None, "Paul", None))
    arriving = records(("accounts:2", "jean@x.fr", "+33611223344", "Jean", None),
                       ("shop:2", "jean@x.fr", None, "Jean", None))
    everything = pd.concat([base, arriving], ignore_index=True)
    full = link(everything, unlinkable=ACCOUNTS_ONLY)
    # crm:2 shares its phone only with an account.
    assert persons(full.identities) == {frozenset({"crm:1", "shop:2"}), frozenset({"accounts:1", "accounts:2"}),
                                        frozenset({"crm:2"}), frozenset({"shop:1"})}
    # The base was resolved before and after the accounts stopped allowing linking: either way, what the new
    # records touch is resolved as a full run resolves it.
    for before in (link(base, unlinkable=ACCOUNTS_ONLY), link(base)):
        incremental = resolve_new(everything, set(arriving["record_key"]), before.identities,
                                  before.links.rename(columns={"left": "left_key", "right": "right_key"})
                                  .assign(run_id="r1"),
                                  before.reviews, SPEC, None, "r2", NOW, unlinkable=ACCOUNTS_ONLY)
        assert persons(incremental.identities) == persons(full.identities)
        assert incremental.refused_for_purpose > 0


def test_the_resolve_step_refuses_links_for_purpose_and_resolves_again_in_full_when_uses_change(
        small_landing: Path, tmp_path: Path, retail_config: Config) -> None:
    store, bus, models = open_store(tmp_path / "work"), MemoryBus(), local_models(tmp_path / "work")
    for source in ("crm", "accounts", "orders"):
        for path in sorted((small_landing / source).iterdir()):
            ingest_file(store, retail_config, source, path, str(path), bus=bus)

    def resolve(config: Config, run_id: str) -> tuple[dict, dict[str, str]]:
        summary = run_step("resolve", store, StepContext(config, run_id, date(2026, 11, 1), NOW, bus, models))
        ids = store.read("identities").to_pylist()
        return summary, {row["record_key"]: row["profile_id"] for row in ids}

    summary, ids = resolve(retail_config, "run-1")
    assert ids["crm:C1"] == ids["accounts:A1"] and summary["links_refused_for_purpose"] == 0
    # Nothing new arrived, but the accounts no longer allow linking: the profile they were linked into is undone.
    unlinked = without_linking(retail_config, "accounts")
    summary, ids = resolve(unlinked, "run-2")
    assert summary["mode"] == "full" and summary["links_refused_for_purpose"] > 0
    assert ids["crm:C1"] != ids["accounts:A1"]
    # A new account with the same address joins the accounts' person, incrementally.
    later = tmp_path / "accounts_later.jsonl"
    later.write_text(json.dumps({"account_id": "A9", "email": "jean.dupont@gmail.com", "first_name": "Jean",
                                 "last_name": "Dupont", "created_at": "2026-10-01T00:00:00Z"}) + "\n", encoding="utf-8")
    ingest_file(store, unlinked, "accounts", later, str(later), bus=bus)
    summary, ids = resolve(unlinked, "run-3")
    assert summary["mode"] == "incremental" and summary["links_refused_for_purpose"] > 0
    assert ids["accounts:A9"] == ids["accounts:A1"] != ids["crm:C1"]


# Attribution. P1: CRM customer C1. P2: account A2 alone. P3: CRM customer C3.
PROFILES = [("P1", "p1@example.fr"), ("P2", "p2@example.fr"), ("P3", "p3@example.fr")]
IDENTITIES = [("crm:C1", "P1"), ("accounts:A2", "P2"), ("crm:C3", "P3")]
ORDERS = [
    order("O1", "2026-10-01T10:00:00", 10.0, email="p1@example.fr"),  # by email only: a CRM profile
    order("O2", "2026-10-01T10:00:00", 10.0, email="p2@example.fr"),  # by email only: an accounts profile
    order("O3", "2026-10-01T10:00:00", 10.0, account_id="A2", email="p3@example.fr"),  # its link column
]


def owners(config: Config) -> dict[str, str]:
    profiles, identities = identity_graph(PROFILES, IDENTITIES)
    con = fact_views(config, profiles, identities, pa.Table.from_pylist(ORDERS, schema=TABLES["orders"].schema),
                     TABLES["events"].schema.empty_table(), AS_OF)
    return dict(con.sql("SELECT record_key, profile_id FROM order_owners").fetchall())


def test_an_order_is_attributed_by_email_only_if_its_source_allows_linking(retail_config: Config) -> None:
    assert owners(retail_config) == {"orders:O1": "P1", "orders:O2": "P2", "orders:O3": "P2"}
    # Its own link column still attributes it.
    assert owners(without_linking(retail_config, "orders")) == {"orders:O3": "P2"}


def test_no_order_is_attributed_by_email_to_a_profile_of_a_source_that_does_not_allow_linking(
        retail_config: Config) -> None:
    assert owners(without_linking(retail_config, "accounts")) == {
        "orders:O1": "P1", "orders:O3": "P2"}


def test_features_are_computed_again_when_a_source_stops_allowing_linking_and_only_then(
        retail_config: Config) -> None:
    digest = _context_digest(retail_config)
    assert _context_digest(without_linking(retail_config, "orders")) != digest
    no_sms = {name: spec.model_copy(update={"uses": tuple(u for u in spec.uses if u != "sms_marketing")})
              for name, spec in retail_config.sources.items()}
    assert _context_digest(retail_config.model_copy(update={"sources": no_sms})) == digest
