"""Behavioural features: orders and web events attributed to profiles, computed as of a date, on known answers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest

from cdp.config import Config
from cdp.features.behaviour import compute_features
from cdp.tables import TABLES

RUN = "run-20261101T060000-abcdef"
AS_OF = date(2026, 11, 1)
INGESTED = datetime(2026, 11, 1, 5, tzinfo=UTC)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def lineage(source: str, key: str) -> dict[str, Any]:
    return {"record_key": f"{source}:{key}", "source": source, "file_id": f"file-{source}", "row_number": 1,
            "content_hash": f"hash-{key}", "ingested_at": INGESTED}


# P1: CRM customer C1 and account A1. P2: account A2. P3: CRM customer C3. P4: no order, no event.
PROFILES = [("P1", "p1@example.fr"), ("P2", "p2@example.fr"), ("P3", "p3@example.fr"), ("P4", "p4@example.fr")]
IDENTITIES = [("crm:C1", "P1"), ("accounts:A1", "P1"), ("accounts:A2", "P2"), ("crm:C3", "P3"),
              ("accounts:A4", "P4")]


def order(order_id: str, when: str, amount: float, customer_id: str | None = None, account_id: str | None = None,
          email: str | None = None) -> dict[str, Any]:
    return {**lineage("orders", order_id), "order_id": order_id, "customer_id": customer_id,
            "account_id": account_id, "email": email, "order_date": ts(when), "amount": amount, "currency": "EUR"}


ORDERS = [
    order("O1", "2026-10-01T10:00:00", 100.10, customer_id="C1"),           # P1 through the CRM link
    order("O2", "2026-06-15T12:00:00", 50.25, account_id="A1"),             # P1 through the accounts link
    order("O9", "2026-03-01T08:00:00", 20.00, customer_id="C1", account_id="A1"),  # P1 by two links: once
    order("O10", "2026-07-01T00:00:00", 9.65, customer_id="C1", email="p1@example.fr"),  # link and email: once
    order("O5", "2026-11-02T00:00:00", 999.0, customer_id="C1"),            # after as_of: not counted
    order("O3", "2026-09-01T09:00:00", 30.0, email="p2@example.fr"),        # P2 by email only
    order("O8", "2026-08-01T09:00:00", 15.0, customer_id="C99", email="p2@example.fr"),  # unknown link: email
    order("O4", "2026-10-31T23:59:59", 70.0, customer_id="C3", email="p2@example.fr"),  # link beats email: P3
    order("O6", "2026-11-01T23:59:00", 10.0, email="p3@example.fr"),        # on the as_of day: counted
    order("O7", "2026-10-01T09:00:00", 500.0, customer_id="C99", email="nobody@example.fr"),  # nobody's
]


def event(event_id: str, when: str, account_id: str | None, anonymous_id: str | None = None) -> dict[str, Any]:
    return {**lineage("web_events", event_id), "event_id": event_id, "anonymous_id": anonymous_id,
            "account_id": account_id, "event_type": "page_view", "ts": ts(when), "url": "/"}


EVENTS = [
    event("E1", "2026-10-20T10:00:00", "A1"),
    event("E2", "2026-10-21T10:00:00", "A1"),
    event("E3", "2026-11-05T10:00:00", "A1"),  # after as_of
    event("E4", "2026-09-01T10:00:00", "A2"),
    event("E5", "2026-10-01T10:00:00", None, anonymous_id="anon-1"),  # anonymous: nobody's
    event("E6", "2026-10-01T10:00:00", "A99"),  # unknown account: nobody's
]


def identity_graph(profiles: list[tuple[str, str]] = PROFILES, identities: list[tuple[str, str]] = IDENTITIES
                   ) -> tuple[pa.Table, pa.Table]:
    """The ``profiles`` (id, email) and ``identities`` (record key, profile id) tables."""
    return (pa.Table.from_pylist([{"profile_id": p, "email": e, "run_id": RUN} for p, e in profiles],
                                 schema=TABLES["profiles"].schema),
            pa.Table.from_pylist([{"record_key": k, "source": k.split(":")[0], "profile_id": p, "rule": "email",
                                   "score": 1.0, "run_id": RUN, "linked_at": INGESTED} for k, p in identities],
                                 schema=TABLES["identities"].schema))


def compute(config: Config, orders: list[dict[str, Any]] = ORDERS, as_of: date = AS_OF) -> dict[str, dict]:
    profiles, identities = identity_graph()
    table = compute_features(config, profiles, identities,
                             pa.Table.from_pylist(orders, schema=TABLES["orders"].schema),
                             pa.Table.from_pylist(EVENTS, schema=TABLES["events"].schema), as_of, RUN)
    assert table.schema == TABLES["features"].schema
    assert table.column("profile_id").to_pylist() == ["P1", "P2", "P3", "P4"]  # one row per profile
    return {row["profile_id"]: row for row in table.to_pylist()}


@pytest.fixture(scope="module")
def features(retail_config: Config) -> dict[str, dict]:
    return compute(retail_config)


def test_the_retail_config_links_orders_and_web_events_as_these_tests_assume(retail_config: Config) -> None:
    assert dict(retail_config.sources["orders"].links) == {"customer_id": "crm", "account_id": "accounts"}
    assert dict(retail_config.sources["web_events"].links) == {"account_id": "accounts"}


def test_orders_reach_a_profile_through_the_crm_link_the_account_link_and_the_email(features: dict) -> None:
    # O1 (customer id), O2 (account id), O9 (both), O10 (customer id + email): four orders, each once.
    assert features["P1"]["orders_count"] == 4
    # O3 (email only) and O8 (unknown customer id, known email).
    assert features["P2"]["orders_count"] == 2


def test_an_order_with_a_link_and_an_email_belongs_to_the_linked_profile_only(features: dict) -> None:
    # O4 names customer C3 (P3) and P2's email: it is P3's, and P2 does not count it.
    assert features["P3"]["orders_count"] == 2
    assert features["P3"]["first_order_at"] == ts("2026-10-31T23:59:59")
    assert features["P2"]["revenue"] == 45.0


def test_an_order_nobody_can_be_linked_to_is_counted_for_no_one(features: dict) -> None:
    assert sum(f["orders_count"] for f in features.values()) == 8  # ten orders: O5 is late, O7 is nobody's
    assert round(sum(f["revenue"] for f in features.values()), 2) == 305.0


def test_orders_after_the_as_of_day_are_left_out_and_orders_on_it_are_counted(features: dict) -> None:
    assert features["P1"]["revenue"] == 180.0  # without O5's 999
    assert features["P1"]["last_order_at"] == ts("2026-10-01T10:00:00")
    assert features["P3"]["last_order_at"] == ts("2026-11-01T23:59:00")


def test_order_features_are_computed_exactly(features: dict) -> None:
    p1, p2, p3 = features["P1"], features["P2"], features["P3"]
    assert (p1["orders_count"], p1["revenue"], p1["avg_order_value"]) == (4, 180.0, 45.0)
    assert (p1["first_order_at"], p1["last_order_at"]) == (ts("2026-03-01T08:00:00"), ts("2026-10-01T10:00:00"))
    assert p1["days_since_last_order"] == 31
    assert (p2["orders_count"], p2["revenue"], p2["avg_order_value"]) == (2, 45.0, 22.5)
    assert (p2["first_order_at"], p2["last_order_at"]) == (ts("2026-08-01T09:00:00"), ts("2026-09-01T09:00:00"))
    assert p2["days_since_last_order"] == 61
    assert (p3["orders_count"], p3["revenue"], p3["avg_order_value"]) == (2, 80.0, 40.0)
    assert p3["days_since_last_order"] == 0
    assert all(f["as_of"] == AS_OF for f in features.values())
    assert all(f["run_id"] == RUN for f in features.values())


def test_amounts_are_rounded_to_the_cent(retail_config: Config) -> None:
    orders = [order(f"X{i}", f"2026-10-0{i}T00:00:00", 3.333, customer_id="C3") for i in (1, 2, 3)]
    p3 = compute(retail_config, orders)["P3"]
    assert p3["revenue"] == 10.0  # 9.999
    assert p3["avg_order_value"] == 3.33  # 3.333


def test_web_events_are_counted_through_the_account_link_up_to_the_as_of_day(features: dict) -> None:
    assert {pid: f["web_events_count"] for pid, f in features.items()} == {"P1": 2, "P2": 1, "P3": 0, "P4": 0}


def test_a_profile_without_orders_or_events_gets_zero_counts_and_no_dates(features: dict) -> None:
    p4 = features["P4"]
    assert (p4["orders_count"], p4["revenue"], p4["web_events_count"]) == (0, 0.0, 0)
    assert p4["avg_order_value"] is None
    assert p4["first_order_at"] is None
    assert p4["last_order_at"] is None
    assert p4["days_since_last_order"] is None


def test_an_earlier_as_of_date_sees_only_the_orders_placed_by_then(retail_config: Config) -> None:
    p1 = compute(retail_config, as_of=date(2026, 6, 30))["P1"]
    assert (p1["orders_count"], p1["revenue"]) == (2, 70.25)  # O9 and O2
    assert p1["last_order_at"] == ts("2026-06-15T12:00:00")
    assert p1["days_since_last_order"] == 15


@pytest.fixture
def paris_local_time() -> Iterator[None]:
    """The machine's local time zone set to Paris, as on a laptop running ``cdp run`` in France."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_the_as_of_day_is_a_utc_day_whatever_the_local_time_zone(retail_config: Config, paris_local_time) -> None:
    # O6 is placed at 23:59 UTC on the as_of day (00:59 on the next day in Paris); the cloud (UTC) counts it.
    p3 = compute(retail_config)["P3"]
    assert p3["orders_count"] == 2
    assert p3["last_order_at"] == ts("2026-11-01T23:59:00")


def test_anonymous_visits_of_a_device_count_for_the_account_it_signed_in_with(retail_config: Config) -> None:
    at = datetime(2026, 10, 1, tzinfo=UTC)
    lineage = {"source": "web_events", "file_id": "f", "content_hash": "h", "ingested_at": at}
    events = pa.Table.from_pylist([
        lineage | {"record_key": f"web_events:E{i}", "row_number": i, "event_id": f"E{i}", "anonymous_id": device,
                   "account_id": account, "event_type": "page_view", "ts": at}
        for i, (device, account) in enumerate([("D1", "A1"), ("D1", None), ("D1", None), ("D2", None),
                                               ("D3", "A2"), ("D3", "A1"), ("D3", "A2"), ("D3", None)])
    ], schema=TABLES["events"].schema)
    identities = pa.Table.from_pylist([
        {"record_key": "accounts:A1", "source": "accounts", "profile_id": "P1", "rule": "singleton", "score": 1.0,
         "run_id": "r", "linked_at": at},
        {"record_key": "accounts:A2", "source": "accounts", "profile_id": "P2", "rule": "singleton", "score": 1.0,
         "run_id": "r", "linked_at": at},
    ], schema=TABLES["identities"].schema)
    profiles = pa.Table.from_pylist([{"profile_id": "P1", "run_id": "r"}, {"profile_id": "P2", "run_id": "r"}],
                                    schema=TABLES["profiles"].schema)

    features = compute_features(retail_config, profiles, identities, TABLES["orders"].schema.empty_table(), events,
                                date(2026, 11, 1), "r")

    counts = dict(zip(features["profile_id"].to_pylist(), features["web_events_count"].to_pylist(), strict=True))
    # D1: one signed-in visit and two anonymous ones, all P1's; D2 never signed in: no one's; D3's anonymous visit
    # goes to the account it signed in with most (A2), its own signed-in visits to their accounts.
    assert counts == {"P1": 4, "P2": 3}


def test_breadth_channel_mix_tenure_and_decayed_web_intent(retail_config: Config) -> None:
    profiles, identities = identity_graph()
    orders = [{**o, "channel": "web" if o["order_id"] in ("O2", "O9") else "store"} for o in ORDERS]
    lines = [{**lineage("order_lines", f"{oid}-{n}"), "order_id": oid, "line_no": n, "category": category}
             for oid, n, category in (("O1", 1, "shoes"), ("O1", 2, "beauty"), ("O2", 1, "shoes"),
                                      ("O5", 1, "home"),  # after the date: not counted
                                      ("O3", 1, "kids"))]
    events = [
        {**lineage("web_events", eid), "event_id": eid, "account_id": "A1", "event_type": kind, "ts": ts(when),
         "url": url}
        for eid, kind, when, url in (
            ("W1", "add_to_cart", "2026-11-01T09:00:00", "/p/1"),  # today: weight 4
            ("W2", "product_view", "2026-10-25T09:00:00", "/p/2"),  # 7 days ago: weight 1, halved
            ("W3", "page_view", "2026-10-30T09:00:00", "https://shop.example.com/account/unsubscribe"),
            ("W4", "search", "2026-08-01T09:00:00", "/search"),  # outside the 30-day window
        )]
    table = compute_features(retail_config, profiles, identities,
                             pa.Table.from_pylist(orders, schema=TABLES["orders"].schema),
                             pa.Table.from_pylist(events, schema=TABLES["events"].schema), AS_OF, RUN,
                             pa.Table.from_pylist(lines, schema=TABLES["order_lines"].schema))
    rows = {row["profile_id"]: row for row in table.to_pylist()}

    p1 = rows["P1"]
    assert p1["category_breadth"] == 2  # shoes twice, beauty
    assert p1["web_order_share"] == 0.5  # O2 and O9 of four orders
    assert p1["tenure_days"] == (AS_OF - date(2026, 3, 1)).days  # since O9
    assert p1["days_since_web"] == 0
    assert (p1["add_to_cart_recent"], p1["product_views_recent"], p1["searches_recent"]) == (1, 1, 0)
    assert p1["risk_page_visits_recent"] == 1
    assert p1["intent_decayed"] == pytest.approx(4 + 1 * 0.5)
    assert rows["P2"]["category_breadth"] == 1 and rows["P4"]["category_breadth"] == 0
    assert rows["P4"]["web_order_share"] is None and rows["P4"]["intent_decayed"] == 0


def test_declared_features_are_computed_checked_and_usable_in_rules(retail_config: Config) -> None:
    from cdp.config import FeatureSpec, SegmentSpec
    from cdp.features.behaviour import check_declared, compute_declared, fact_views
    from cdp.segments.rules import check_rules, evaluate

    declared = (FeatureSpec(name="big_orders", source="orders", sql="count(*) FILTER (WHERE amount >= 70)"),
                FeatureSpec(name="recent_views", source="events", sql="count(*) FILTER (WHERE age_days <= 15)"))
    config = retail_config.model_copy(update={"features": declared})
    profiles, identities = identity_graph()
    con = fact_views(config, profiles, identities, pa.Table.from_pylist(ORDERS, schema=TABLES["orders"].schema),
                     pa.Table.from_pylist(EVENTS, schema=TABLES["events"].schema), AS_OF)

    values = compute_declared(config, con, AS_OF, RUN)

    got = {(r["profile_id"], r["feature"]): r["value"] for r in values.to_pylist()}
    assert got[("P1", "big_orders")] == 1  # O1 (100.10); O5 (999) is after the date
    assert got[("P3", "big_orders")] == 1  # O4 (70.0)
    assert got[("P1", "recent_views")] == 2  # E1, E2; E3 is after the date
    assert check_declared(config) == []
    broken = config.model_copy(update={"features": (FeatureSpec(name="x", source="orders", sql="sum(price)"),)})
    (problem,) = check_declared(broken)
    assert "'x'" in problem and "price" in problem and "amount" in problem
    rule = SegmentSpec(id="keen", name="Keen", rule="big_orders >= 1 AND recent_views >= 1")
    assert check_rules([rule], ["big_orders", "recent_views"]) == []
    assert check_rules([rule], []) != []  # a feature the config does not declare
    members = evaluate([rule], profiles, TABLES["features"].schema.empty_table(), None, values,
                       ["big_orders", "recent_views"])
    assert members == {"keen": {"P1"}}


def test_catchment_is_the_distance_from_the_postcode_to_the_nearest_store(retail_config: Config) -> None:
    profiles = pa.Table.from_pylist([
        {"profile_id": "P1", "postcode": "75001", "country": "FR", "run_id": RUN},
        {"profile_id": "P2", "postcode": "69002", "country": None, "run_id": RUN},  # no country: the postcode alone
        {"profile_id": "P3", "postcode": "99999", "country": "FR", "run_id": RUN},  # unknown postcode
        {"profile_id": "P4", "postcode": "75001", "country": "BE", "run_id": RUN},  # not the French 75001
    ], schema=TABLES["profiles"].schema)
    stores = pa.Table.from_pylist([
        {**lineage("stores", "S1"), "store_id": "S1", "latitude": 45.7640, "longitude": 4.8357},  # Lyon
        {**lineage("stores", "S2"), "store_id": "S2", "latitude": 48.8049, "longitude": 2.1204},  # Versailles
        {**lineage("stores", "S3"), "store_id": "S3", "latitude": None, "longitude": None},  # not placed: ignored
    ], schema=TABLES["stores"].schema)
    postcodes = pa.Table.from_pylist([
        {**lineage("postcodes", "FR-75001"), "country": "FR", "postcode": "75001", "latitude": 48.8625,
         "longitude": 2.3364},
        {**lineage("postcodes", "fr-69002"), "country": "fr", "postcode": "69002", "latitude": 45.7578,
         "longitude": 4.8320},
    ], schema=TABLES["postcodes"].schema)
    empty = {name: TABLES[name].schema.empty_table() for name in ("identities", "orders", "events")}
    table = compute_features(retail_config, profiles, empty["identities"], empty["orders"], empty["events"], AS_OF,
                             RUN, stores=stores, postcodes=postcodes)
    rows = {row["profile_id"]: row for row in table.to_pylist()}

    assert rows["P1"]["nearest_store_id"] == "S2" and rows["P1"]["store_distance_km"] == pytest.approx(17.06, abs=0.01)
    assert rows["P2"]["nearest_store_id"] == "S1" and rows["P2"]["store_distance_km"] == pytest.approx(0.75, abs=0.01)
    assert rows["P3"]["store_distance_km"] is None and rows["P4"]["store_distance_km"] is None
