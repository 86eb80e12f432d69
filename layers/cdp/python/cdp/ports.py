"""What the pipeline needs from the outside world; adapters provide it locally and on AWS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

import pyarrow as pa


class TableStore(Protocol):
    """The platform's tables (Iceberg), by the names of ``cdp.schemas.TABLES``."""

    def read(self, name: str, row_filter: str | None = None, columns: tuple[str, ...] | None = None) -> pa.Table: ...

    def read_batches(
        self, name: str, row_filter: str | None = None, columns: tuple[str, ...] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """``read`` in batches, for tables too large to hold at once."""

    def append(self, name: str, rows: pa.Table) -> None: ...

    def replace(self, name: str, rows: pa.Table) -> None:
        """Replace the table's whole content in one commit (snapshots keep the history)."""

    def delete(self, name: str, row_filter: str) -> None: ...

    def writer(self, name: str) -> AbstractContextManager[BatchWriter]:
        """Append batches that become visible together, in one commit, when the block exits without error."""


class BatchWriter(Protocol):
    def append(self, rows: pa.Table) -> None: ...


class EventBus(Protocol):
    """Publishes domain events (EventBridge entries: Source, DetailType, Detail)."""

    def publish(self, events: list[dict[str, Any]]) -> None: ...
