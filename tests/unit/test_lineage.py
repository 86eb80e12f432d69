"""The current version of a record or fact: one rule for every stage (the runner applies it to 'current' reads)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from cdp.lineage import current_versions
from cdp.tables import TABLES

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rows(table: str, *versions: dict) -> pa.Table:
    base = {"source": "crm", "file_id": "f", "content_hash": "h", "ingested_at": T0}
    return pa.Table.from_pylist([base | v for v in versions], schema=TABLES[table].schema)


def test_a_record_s_current_version_is_the_most_recently_updated_whatever_the_order_of_ingestion() -> None:
    table = rows("records",
                 {"record_key": "crm:1", "source_id": "1", "row_number": 1, "email": "new@x.fr",
                  "updated_at": T0 + timedelta(days=2)},
                 # Ingested later, from an older export: it does not replace the newer content.
                 {"record_key": "crm:1", "source_id": "1", "row_number": 1, "email": "old@x.fr",
                  "updated_at": T0 + timedelta(days=1), "ingested_at": T0 + timedelta(days=5)},
                 {"record_key": "crm:1", "source_id": "1", "row_number": 2, "email": "undated@x.fr",
                  "updated_at": None, "ingested_at": T0 + timedelta(days=9)},
                 {"record_key": "crm:2", "source_id": "2", "row_number": 3, "email": "only@x.fr", "updated_at": None})

    current = {r["record_key"]: r["email"] for r in current_versions(table).to_pylist()}

    assert current == {"crm:1": "new@x.fr", "crm:2": "only@x.fr"}


def test_a_fact_s_current_version_is_the_last_ingested_then_the_last_in_its_file() -> None:
    table = rows("orders",
                 {"record_key": "orders:O1", "order_id": "O1", "row_number": 1, "amount": 10.0},
                 {"record_key": "orders:O1", "order_id": "O1", "row_number": 7, "amount": 12.0},
                 {"record_key": "orders:O2", "order_id": "O2", "row_number": 2, "amount": 99.0,
                  "ingested_at": T0 + timedelta(days=1)},
                 {"record_key": "orders:O2", "order_id": "O2", "row_number": 9, "amount": 50.0})

    current = current_versions(table)

    assert {r["record_key"]: r["amount"] for r in current.to_pylist()} == {"orders:O1": 12.0, "orders:O2": 99.0}
    assert current.schema == TABLES["orders"].schema
