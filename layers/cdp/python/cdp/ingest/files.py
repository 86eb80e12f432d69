"""Ingest one landed file whole: the use case that the CLI and the ingest Lambda both call.

The file is read and validated batch by batch, so memory stays bounded whatever its size. Order of commits:
the target table's rows, then the quarantined rows, then the ``files`` row last. The ``files`` row is the commit
marker: a file without it was never ingested, and a retry first removes whatever an interrupted attempt left
behind, so a file never half-commits.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import pyarrow as pa

from cdp import sql
from cdp.config import Config, SourceSpec
from cdp.events import FILE_INGESTED, envelope, event_time
from cdp.ingest.contract import Validated, validate_all
from cdp.ingest.formats import MIXED, Content, FileRejected, NotUtf8, read_batches
from cdp.ingest.normalisers import as_text
from cdp.ingest.versions import VersionSet, first_occurrences, version_digests
from cdp.ports import EventBus, TableStore
from cdp.privacy.hashing import salted_hash_sql
from cdp.sql import literal
from cdp.tables import TABLES

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
    rows_suppressed: int = 0  # rows carrying an erased person's identifier, dropped (``suppressions``)
    # Data quality per field and rule, most frequent first: {field, rule, rows_quarantined, rows_warned}.
    quality: tuple[dict, ...] = ()


@dataclass
class Tally:
    """What a file's batches (or its parts) add up to; kept as JSON beside a staged part."""

    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_warned: int = 0
    rows_new: int = 0
    rows_suppressed: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    issues: dict[tuple[str | None, str], list[int]] = field(default_factory=dict)  # → [quarantined, warned]

    def add(self, validated: Validated, rows_new: int = 0, rows_suppressed: int = 0) -> None:
        self.rows_in += validated.rows_in
        self.rows_accepted += validated.accepted.num_rows - rows_suppressed
        self.rows_suppressed += rows_suppressed
        self.rows_quarantined += validated.quarantine.num_rows
        self.rows_warned += validated.rows_warned
        self.rows_new += rows_new
        self._add_columns(validated.unknown_columns)
        for issue, counts in validated.issues.items():
            self._count(issue, *counts)

    def as_dict(self) -> dict:
        """Plain JSON types: each issue as [field, rule, quarantined, warned]."""
        return dataclasses.asdict(self) | {"issues": [[*issue, *counts] for issue, counts in self.issues.items()]}

    def merge(self, other: dict) -> None:
        for key in ("rows_in", "rows_accepted", "rows_quarantined", "rows_warned", "rows_new", "rows_suppressed"):
            setattr(self, key, getattr(self, key) + other.get(key, 0))
        self._add_columns(other["unknown_columns"])
        for name, rule, quarantined, warned in other["issues"]:
            self._count((name, rule), quarantined, warned)

    def _add_columns(self, columns: list[str]) -> None:
        self.unknown_columns += [c for c in columns if c not in self.unknown_columns]

    def _count(self, issue: tuple[str | None, str], quarantined: int, warned: int) -> None:
        counts = self.issues.setdefault(issue, [0, 0])
        counts[0] += quarantined
        counts[1] += warned

    def outcome(self, file_id: str, source: str, uri: str) -> FileOutcome:
        quality = [{"field": name, "rule": rule, "rows_quarantined": q, "rows_warned": w}
                   for (name, rule), (q, w) in self.issues.items()]
        quality.sort(key=lambda i: (-i["rows_quarantined"] - i["rows_warned"], i["field"] or "", i["rule"]))
        return FileOutcome(file_id, source, uri, "ingested", None, self.rows_in, self.rows_accepted,
                           self.rows_quarantined, self.rows_warned, self.rows_new, tuple(self.unknown_columns),
                           self.rows_suppressed, tuple(quality))


def file_id_for(source: str, fingerprint: str) -> str:
    """A file's identity: its source and its content fingerprint (S3 ETag/version in the cloud, SHA-256 locally)."""
    return hashlib.sha256(f"{source}\x00{fingerprint}".encode()).hexdigest()[:24]


def content_fingerprint(content: Content) -> str:
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest()
    with open(content, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class NewVersions:
    """Keeps only rows whose (record_key, content) is not stored yet nor seen earlier in this file.

    Known versions are read batch by batch and kept as 16-byte digests, so memory stays small whatever the
    size of the file or of the table.
    """

    def __init__(self, store: TableStore, table: str, source: str):
        self.seen = VersionSet()
        for known in store.read_batches(table, f"source == {literal(source)}", ("record_key", "content_hash")):
            if known.num_rows:
                digests = version_digests(as_text(known["record_key"]), as_text(known["content_hash"]))
                keep = first_occurrences(digests) & ~self.seen.contains(digests)
                self.seen.add((digests[0][keep], digests[1][keep]))

    def filter(self, rows: pa.Table) -> pa.Table:
        if rows.num_rows == 0:
            return rows
        digests = version_digests(as_text(rows["record_key"]), as_text(rows["content_hash"]))
        # The same row exported twice in one file is one version: keep its first occurrence.
        fresh = first_occurrences(digests) & ~self.seen.contains(digests)
        self.seen.add((digests[0][fresh], digests[1][fresh]))
        return rows.filter(pa.array(fresh))


class Suppressed:
    """The identifiers of erased persons (``suppressions``, salted hashes): rows carrying one are dropped."""

    def __init__(self, store: TableStore, salt: str | None):
        self.hashes = store.read("suppressions", columns=("identifier_hash",))
        if self.hashes.num_rows and salt is None:
            raise RuntimeError("erased persons are suppressed, but ingestion was given no salt to recognise them")
        self.salt = salt or ""

    def filter(self, rows: pa.Table) -> tuple[pa.Table, int]:
        columns = [c for c in ("email", "phone") if c in rows.column_names]
        if not self.hashes.num_rows or not rows.num_rows or not columns:
            return rows, 0
        con = sql.connect()
        con.register("rows", rows.select(columns))
        con.register("suppressed", self.hashes)
        hit = " OR ".join(f"coalesce({salted_hash_sql(self.salt, c)} IN (SELECT identifier_hash FROM suppressed), "
                          "false)" for c in columns)
        keep = con.sql(f"SELECT NOT ({hit}) FROM rows").to_arrow_table().column(0)
        kept = rows.filter(keep)
        return kept, rows.num_rows - kept.num_rows


def _load(
    store: TableStore, spec: SourceSpec, source: str, content: Content, file_id: str, now: datetime,
    encoding: str | None, salt: str | None,
) -> Tally:
    tally = Tally()
    new_versions = NewVersions(store, spec.table, source)
    suppressed = Suppressed(store, salt)
    with store.writer(spec.table) as target, store.writer("quarantine") as quarantine:
        batches = read_batches(content, spec.format, spec.delimiter, encoding)
        for validated in validate_all(batches, source=source, spec=spec, file_id=file_id, now=now):
            kept, dropped = suppressed.filter(validated.accepted)
            fresh = new_versions.filter(kept)
            target.append(fresh)
            quarantine.append(validated.quarantine)
            tally.add(validated, fresh.num_rows, dropped)
    return tally


def begin_file(
    store: TableStore, config: Config, source: str, uri: str, fingerprint: str
) -> tuple[SourceSpec, str, FileOutcome | None]:
    """The file's contract and id, and the outcome already recorded for it, if any (then there is nothing to do)."""
    spec = config.sources.get(source)
    if spec is None:
        raise KeyError(f"{uri}: unknown source {source!r}; declared sources: {', '.join(config.sources)}")
    file_id = file_id_for(source, fingerprint)
    previous = store.read("files", f"file_id == {literal(file_id)}").to_pylist()
    final = [row for row in previous if row["status"] != "failed"]
    if final:
        return spec, file_id, FileOutcome(file_id, source, uri, "skipped",
                                          f"already {final[0]['status']} as {final[0]['uri']}")
    if previous:  # a failed attempt is tried again: its row goes (the other statuses are final)
        store.delete("files", f"file_id == {literal(file_id)} and status == 'failed'")
    # Leftovers of an interrupted attempt carry this file_id but no files row: remove them before writing.
    for table in (spec.table, "quarantine"):
        store.delete(table, f"file_id == {literal(file_id)}")
    return spec, file_id, None


def ingest_file(
    store: TableStore,
    config: Config,
    source: str,
    content: Content,
    uri: str,
    fingerprint: str | None = None,
    now: datetime | None = None,
    *,
    bus: EventBus,
    salt: str | None = None,
) -> FileOutcome:
    """Ingest a file given as a path (streamed) or bytes, and announce it with a ``File Ingested`` event.

    ``fingerprint`` identifies the file's content (the S3 ETag and version); a local file's is its SHA-256.
    ``salt`` recognises the identifiers of erased persons, once there are any (``cdp.privacy.erasure``).
    """
    now = now or datetime.now(UTC)
    fingerprint = fingerprint or content_fingerprint(content)
    spec, file_id, skipped = begin_file(store, config, source, uri, fingerprint)
    if skipped:
        return skipped
    try:
        try:
            tally = _load(store, spec, source, content, file_id, now, None, salt)
        except NotUtf8:
            # The sampled start was UTF-8 but later bytes are not: nothing was committed; read it value by value.
            tally = _load(store, spec, source, content, file_id, now, MIXED, salt)
    except FileRejected as exc:
        outcome = FileOutcome(file_id, source, uri, "rejected", str(exc))
    else:
        outcome = tally.outcome(file_id, source, uri)
    return record_file(store, bus, outcome, fingerprint, now)


def record_file(store: TableStore, bus: EventBus, outcome: FileOutcome, fingerprint: str, now: datetime) -> FileOutcome:
    """Write the file's ``files`` row (its commit marker), then publish ``File Ingested`` (rejections too)."""
    store.append("files", _files_row(outcome, fingerprint, now))
    bus.publish([file_ingested_event(outcome, now)])
    return outcome


def file_ingested_event(outcome: FileOutcome, now: datetime) -> dict:
    """Counts and the data-quality summary only: row values may be personal and stay out of events."""
    return envelope(FILE_INGESTED, dataclasses.asdict(outcome), event_id=outcome.file_id,
                    time=event_time(now))


def _files_row(outcome: FileOutcome, fingerprint: str, now: datetime) -> pa.Table:
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
                "rows_suppressed": outcome.rows_suppressed,
                "quality": list(outcome.quality),
                "ingested_at": now,
            }
        ],
        schema=TABLES["files"].schema,
    )
