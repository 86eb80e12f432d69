"""Retention of the tables' rows: quarantined rows and people inactive too long go, and nothing of them survives."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cdp.config import Config
from cdp.pipeline.local import (
    ingest_paths,
    landing_files,
    local_bus,
    local_salt,
    open_store,
    retention_local,
    run_steps,
)
from cdp.pipeline.steps import STEP_NAMES
from cdp.tables import TABLES
from tests.scan import files_under, findings

AS_OF = date(2026, 11, 1)
# The small landing's files reach the platform on this day; then the people's last activity (conftest): Jean's last
# order 2026-10-01, the account A2's 2026-10-15, Paul's 2026-06-01; Marie's last order 2025-09-01; Hélène, nothing
# since her record arrived.
RECEIVED = datetime(2025, 6, 1, 9, tzinfo=UTC)
ACTIVE = {"jean.dupont@gmail.com", "other@example.com", "paul.martin@example.fr"}
INACTIVE = {"marie@example.fr", "helene@example.fr"}
# A year before this day is 2026-06-01: Paul's last order is on the day, so he stays.
TODAY = date(2027, 6, 1)


def with_retention(config: Config, **days: int | None) -> Config:
    retention = config.privacy.retention.model_copy(update=days)
    return config.model_copy(update={"privacy": config.privacy.model_copy(update={"retention": retention})})


def table_texts(workdir: Path) -> list[tuple[str, str]]:
    store = open_store(workdir)
    return [(name, json.dumps(store.read(name).to_pylist(), default=str, ensure_ascii=False)) for name in TABLES]


def emails_in_profiles(workdir: Path) -> set[str]:
    return set(open_store(workdir).read("profiles")["email"].to_pylist()) - {None}


def received_then_run(config: Config, landing: Path, workdir: Path) -> None:
    """The landing's files ingested on ``RECEIVED``, then the pipeline run as of ``AS_OF``."""
    store, bus = open_store(workdir), local_bus(config, workdir)
    for source, path in landing_files(landing, config):
        ingest_paths(store, config, source, [path], bus, RECEIVED, local_salt(workdir))
    run_steps(config, workdir, STEP_NAMES, as_of=AS_OF)


@pytest.fixture
def workdir(small_landing: Path, tmp_path: Path, retail_config: Config) -> Path:
    workdir = tmp_path / "work"
    received_then_run(retail_config, small_landing, workdir)
    assert ACTIVE | INACTIVE <= emails_in_profiles(workdir)
    assert open_store(workdir).read("quarantine").num_rows >= 2
    return workdir


def test_people_inactive_longer_than_configured_are_erased_everywhere_and_the_active_stay(
        workdir: Path, retail_config: Config) -> None:
    config = with_retention(retail_config, inactive_profile_days=365, quarantine_days=3650)
    store = open_store(workdir)
    orders_before = store.read("orders").num_rows
    active_orders = {o["order_id"]: o for o in store.read("orders").to_pylist() if o["order_id"] in {"O1", "O5", "O6"}}

    assert findings(table_texts(workdir), INACTIVE | {"crm:C2", "crm:C3"}, set())

    done = retention_local(config, workdir, TODAY)

    assert done.erasure is not None and done.erasure.profiles == 2
    assert emails_in_profiles(workdir) == ACTIVE
    # Nothing of the inactive left in any table, nor in any file of the work folder (the tables' history included).
    # (Hélène's phone stays: the account A2, active, gives it too.)
    left = findings(table_texts(workdir) + files_under(workdir), INACTIVE | {"crm:C2", "crm:C3"}, set())
    assert not left, left
    # Their orders stay for the totals, pseudonymised; the active people's are untouched.
    assert store.read("orders").num_rows == orders_before
    after = {o["order_id"]: o for o in store.read("orders").to_pylist()}
    assert all(after[order_id] == row for order_id, row in active_orders.items())
    assert after["O3"]["email"] is None and after["O4"]["content_hash"] == "erased"
    # The audit says why, names no one; nobody is suppressed: should they come back, they are collected anew.
    (audit,) = store.read("erasures").to_pylist()
    erased = json.loads(audit["erased"])
    assert erased["reason"] == "retention" and erased["profiles"] == 2 and erased["suppressed_identifiers"] == 0
    assert store.read("suppressions").num_rows == 0
    assert not findings([("erasures", json.dumps(audit, default=str))], INACTIVE, set())


def test_running_retention_again_the_same_day_erases_no_one_more(workdir: Path, retail_config: Config) -> None:
    config = with_retention(retail_config, inactive_profile_days=365)
    retention_local(config, workdir, TODAY)
    again = retention_local(config, workdir, TODAY)
    assert again.erasure is None and again.quarantine_rows == 0
    assert open_store(workdir).read("erasures").num_rows == 1


def test_nobody_is_erased_while_active_or_when_retention_of_people_is_off(workdir: Path,
                                                                           retail_config: Config) -> None:
    # Three years (the default) from this day: everyone was active since.
    assert retention_local(retail_config, workdir, TODAY).erasure is None
    # Hélène's record says it was last updated on 2025-02-01, but it reached the platform on 2025-06-01: a source
    # still sending someone keeps them.
    since_april = with_retention(retail_config, inactive_profile_days=(TODAY - date(2025, 4, 1)).days)
    assert retention_local(since_april, workdir, TODAY).erasure is None
    assert retention_local(with_retention(retail_config, inactive_profile_days=None), workdir,
                           TODAY + timedelta(days=3650)).erasure is None
    assert ACTIVE | INACTIVE <= emails_in_profiles(workdir)


def test_quarantined_rows_go_once_past_their_retention_and_not_before(workdir: Path, retail_config: Config) -> None:
    config = with_retention(retail_config, quarantine_days=30, inactive_profile_days=None)
    store = open_store(workdir)
    quarantined = store.read("quarantine")
    ingested = max(quarantined["quarantined_at"].to_pylist()).date()
    raw = " ".join(quarantined["raw"].to_pylist())
    assert "no.id@example.fr" in raw

    assert retention_local(config, workdir, ingested + timedelta(days=30)).quarantine_rows == 0
    assert store.read("quarantine").num_rows == quarantined.num_rows

    done = retention_local(config, workdir, ingested + timedelta(days=31), now=datetime.now(UTC))

    assert done.quarantine_rows == quarantined.num_rows
    assert store.read("quarantine").num_rows == 0
    assert done.quarantine_history_files > 0
    # Gone from the table's history too: no file under the work folder holds the quarantined row's text.
    assert not findings(files_under(workdir / "warehouse"), {"no.id@example.fr"}, set())


def test_an_active_persons_order_that_names_an_inactive_persons_email_stays_theirs(
        small_landing: Path, tmp_path: Path, retail_config: Config) -> None:
    """Retention erases the inactive person's own facts only: unlike an erasure request, which also takes every
    order naming the requester's address, it must not pseudonymise an active customer's order."""
    (small_landing / "orders" / "gift.csv").write_text(
        "order_id,customer_id,account_id,email,order_date,channel,store_id,amount,currency\n"
        "O7,,A1,helene@example.fr,2026-10-20,web,,45,EUR\n", encoding="utf-8")
    workdir = tmp_path / "work"
    received_then_run(retail_config, small_landing, workdir)
    store = open_store(workdir)
    (gift,) = store.read("orders", "order_id == 'O7'").to_pylist()

    done = retention_local(with_retention(retail_config, inactive_profile_days=365), workdir, TODAY)

    assert "helene@example.fr" not in emails_in_profiles(workdir) and done.erasure is not None
    assert store.read("orders", "order_id == 'O7'").to_pylist() == [gift]
