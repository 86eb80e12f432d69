"""Ingest one landed file: the use case that the CLI and the ingest Lambda both call.

Order of writes: the target table's rows, then the quarantined rows, then the ``files`` row last. The ``files``
row is the commit marker: a file without it was never ingested, and a retry first removes whatever an
interrupted attempt left behind, so a file never half-commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from cdp.config import Config
from cdp.domain.readers import FileRejected, read_rows
from cdp.domain.validate import validate
from cdp.ports import TableStore
from cdp.schemas import TABLES

Status = Literal["ingested", "rejected", "skipped"]


@dataclass(frozen=True)
class FileOutcome:
    file_id: str
    source: str
    uri: str
    status: Status
    reason: str | None = None
    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_warned: int = 0
    rows_new: int = 0  # accepted rows that were not already known (new records or new versions)
    unknown_columns: tuple[str, ...] = ()


def file_id_for(source: str, fingerprint: str) -> str:
    """A file's identity: its source and its content fingerprint (S3 ETag/version in the cloud, SHA-256 locally)."""
    return hashlib.sha256(f"{source}\x00{fingerprint}".encode()).hexdigest()[:24]


def content_fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _already_ingested(store: TableStore, file_id: str) -> pa.Table:
    return store.read("files", f"file_id == {_quoted(file_id)}")


def _new_versions(store: TableStore, table: str, source: str, rows: pa.Table) -> pa.Table:
    """Drop rows whose (record_key, content) is already stored: a re-export adds no duplicate versions."""
    if rows.num_rows == 0:
        return rows
    known = store.read(table, f"source == {_quoted(source)}", ("record_key", "content_hash"))
    if known.num_rows == 0:
        return rows
    known_keys = pc.binary_join_element_wise(known["record_key"], known["content_hash"], "\x00")
    row_keys = pc.binary_join_element_wise(rows["record_key"], rows["content_hash"], "\x00")
    return rows.filter(pc.invert(pc.is_in(row_keys, value_set=known_keys)))


def ingest_file(
    store: TableStore,
    config: Config,
    source: str,
    data: bytes,
    uri: str,
    fingerprint: str | None = None,
    now: datetime | None = None,
) -> FileOutcome:
    now = now or datetime.now(UTC)
    spec = config.sources.get(source)
    if spec is None:
        raise KeyError(f"{uri}: unknown source {source!r}; declared sources: {', '.join(config.sources)}")
    file_id = file_id_for(source, fingerprint or content_fingerprint(data))
    previous = _already_ingested(store, file_id)
    if previous.num_rows:
        row = previous.to_pylist()[0]
        return FileOutcome(file_id, source, uri, "skipped", f"already {row['status']} as {row['uri']}")

    try:
        validated = validate(read_rows(data, spec.format, spec.delimiter), source=source, spec=spec, file_id=file_id, now=now)
    except FileRejected as exc:
        outcome = FileOutcome(file_id, source, uri, "rejected", str(exc))
        store.append("files", _files_row(outcome, fingerprint, now))
        return outcome

    # Leftovers of an interrupted attempt carry this file_id but no files row: remove them before writing.
    for table in (spec.table, "quarantine"):
        store.delete(table, f"file_id == {_quoted(file_id)}")
    new_rows = _new_versions(store, spec.table, source, validated.accepted)
    store.append(spec.table, new_rows)
    store.append("quarantine", validated.quarantine)
    outcome = FileOutcome(
        file_id,
        source,
        uri,
        "ingested",
        None,
        validated.rows_in,
        validated.accepted.num_rows,
        validated.quarantine.num_rows,
        validated.rows_warned,
        new_rows.num_rows,
        tuple(validated.unknown_columns),
    )
    store.append("files", _files_row(outcome, fingerprint, now))
    return outcome


def _files_row(outcome: FileOutcome, fingerprint: str | None, now: datetime) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "file_id": outcome.file_id,
                "source": outcome.source,
                "uri": outcome.uri,
                "content_hash": fingerprint,
                "status": outcome.status,
                "reason": outcome.reason,
                "rows_in": outcome.rows_in,
                "rows_accepted": outcome.rows_accepted,
                "rows_quarantined": outcome.rows_quarantined,
                "rows_warned": outcome.rows_warned,
                "ingested_at": now,
            }
        ],
        schema=TABLES["files"].schema,
    )
