"""What the pipeline needs from the outside world; adapters provide it locally and on AWS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa

from cdp.activation.cards import ContactCard


class TableStore(Protocol):
    """The platform's tables (Iceberg), by the names of ``cdp.tables.TABLES``."""

    def read(
        self, name: str, row_filter: str | None = None, columns: tuple[str, ...] | None = None,
        snapshot_id: int | None = None,
    ) -> pa.Table:
        """The table's rows (as of ``snapshot_id`` when given), optionally filtered and projected."""

    def snapshot_id(self, name: str) -> int | None:
        """The table's current snapshot, or None while nothing was ever written to it."""

    def read_appended(self, name: str, after: int | None, upto: int | None, row_filter: str | None = None) -> pa.Table:
        """Rows appended after snapshot ``after`` (exclusive; None for the beginning) up to ``upto`` (inclusive)."""

    def read_batches(
        self, name: str, row_filter: str | None = None, columns: tuple[str, ...] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """``read`` in batches, for tables too large to hold at once."""

    def append(self, name: str, rows: pa.Table) -> None: ...

    def replace(self, name: str, rows: pa.Table) -> None:
        """Replace the table's whole content in one commit (snapshots keep the history)."""

    def upsert(self, name: str, rows: pa.Table, *, insert_only: bool = False) -> None:
        """Update the rows whose key (``TABLES[name].key``) exists and insert the others, in one commit; with
        ``insert_only``, existing rows are left as they are."""

    def delete(self, name: str, row_filter: str) -> None: ...

    def overwrite(self, name: str, row_filter: str, rows: pa.Table) -> None:
        """In one commit: the rows matching ``row_filter`` become ``rows``."""

    def forget_history(self, name: str, before: datetime) -> list[str]:
        """Drop every earlier version of the table; the locations of the files only they referenced (written before
        ``before``), for the caller to delete."""

    def writer(self, name: str) -> AbstractContextManager[BatchWriter]:
        """Append batches that become visible together, in one commit, when the block exits without error."""


class BatchWriter(Protocol):
    def append(self, rows: pa.Table) -> None: ...


class EventBus(Protocol):
    """Publishes domain events (EventBridge entries: Source, DetailType, Detail)."""

    def publish(self, events: list[dict[str, Any]]) -> None: ...


class ModelStore(Protocol):
    """Versioned model artefacts (JSON): a folder locally, the data bucket's ``models/`` prefix in the cloud."""

    def save(self, name: str, version: str, artefact: dict[str, Any]) -> None:
        """Store a version and make it the latest."""

    def latest(self, name: str) -> tuple[str, dict[str, Any]] | None:
        """The latest version and its artefact, or None when none was ever saved."""


class ContactBook(Protocol):
    """Contact cards (``cdp.activation.cards``): a folder locally, the channels' outbox prefixes in the cloud."""

    def put(self, cards: list[ContactCard]) -> None:
        """Store the cards, replacing any of the same channel, profile and event."""

    def get(self, channel: str, profile_id: str, event_id: str) -> dict[str, Any] | None:
        """A card's contact, or None when there is none (never written, erased, expired)."""
