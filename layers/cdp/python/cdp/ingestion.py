"""Ingest one landed file: the use case that the CLI and the ingest Lambda both call.

The file is read and validated batch by batch, so memory stays bounded whatever its size. Order of commits:
the target table's rows, then the quarantined rows, then the ``files`` row last. The ``files`` row is the commit
marker: a file without it was never ingested, and a retry first removes whatever an interrupted attempt left
behind, so a file never half-commits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from cdp.config import Config, SourceSpec
from cdp.domain.normalize import as_text
from cdp.domain.readers import MIXED, Content, FileRejected, NotUtf8, Part, plan_parts, read_batches
from cdp.domain.validate import Validated, validate_all
from cdp.domain.versions import VersionSet, first_occurrences, version_digests
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
    # Data quality per field and rule, most frequent first: {field, rule, rows_quarantined, rows_warned}.
    quality: tuple[dict, ...] = ()


@dataclass
class _Tally:
    """What a file's batches (or its parts) add up to; kept as JSON beside a staged part."""

    rows_in: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_warned: int = 0
    rows_new: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    issues: dict[tuple[str | None, str], list[int]] = field(default_factory=dict)  # → [quarantined, warned]

    def add(self, validated: Validated, rows_new: int = 0) -> None:
        self.rows_in += validated.rows_in
        self.rows_accepted += validated.accepted.num_rows
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
        for key in ("rows_in", "rows_accepted", "rows_quarantined", "rows_warned", "rows_new"):
            setattr(self, key, getattr(self, key) + other[key])
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
                           tuple(quality))


def file_id_for(source: str, fingerprint: str) -> str:
    """A file's identity: its source and its content fingerprint (S3 ETag/version in the cloud, SHA-256 locally)."""
    return hashlib.sha256(f"{source}\x00{fingerprint}".encode()).hexdigest()[:24]


def content_fingerprint(content: Content) -> str:
    if isinstance(content, bytes):
        return hashlib.sha256(content).hexdigest()
    with open(content, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class _NewVersions:
    """Keeps only rows whose (record_key, content) is not stored yet nor seen earlier in this file.

    Known versions are read batch by batch and kept as 16-byte digests, so memory stays small whatever the
    size of the file or of the table.
    """

    def __init__(self, store: TableStore, table: str, source: str):
        self.seen = VersionSet()
        for known in store.read_batches(table, f"source == {_quoted(source)}", ("record_key", "content_hash")):
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


def _load(
    store: TableStore, spec: SourceSpec, source: str, content: Content, file_id: str, now: datetime,
    encoding: str | None,
) -> _Tally:
    tally = _Tally()
    new_versions = _NewVersions(store, spec.table, source)
    with store.writer(spec.table) as target, store.writer("quarantine") as quarantine:
        batches = read_batches(content, spec.format, spec.delimiter, encoding)
        for validated in validate_all(batches, source=source, spec=spec, file_id=file_id, now=now):
            fresh = new_versions.filter(validated.accepted)
            target.append(fresh)
            quarantine.append(validated.quarantine)
            tally.add(validated, fresh.num_rows)
    return tally


def begin_file(
    store: TableStore, config: Config, source: str, uri: str, fingerprint: str
) -> tuple[SourceSpec, str, FileOutcome | None]:
    """The file's contract and id, and the outcome already recorded for it, if any (then there is nothing to do)."""
    spec = config.sources.get(source)
    if spec is None:
        raise KeyError(f"{uri}: unknown source {source!r}; declared sources: {', '.join(config.sources)}")
    file_id = file_id_for(source, fingerprint)
    previous = store.read("files", f"file_id == {_quoted(file_id)}")
    if previous.num_rows:
        row = previous.to_pylist()[0]
        return spec, file_id, FileOutcome(file_id, source, uri, "skipped", f"already {row['status']} as {row['uri']}")
    # Leftovers of an interrupted attempt carry this file_id but no files row: remove them before writing.
    for table in (spec.table, "quarantine"):
        store.delete(table, f"file_id == {_quoted(file_id)}")
    return spec, file_id, None


def ingest_file(
    store: TableStore,
    config: Config,
    source: str,
    content: Content,
    uri: str,
    fingerprint: str | None = None,
    now: datetime | None = None,
) -> FileOutcome:
    """Ingest a file given as a path (streamed) or bytes."""
    now = now or datetime.now(UTC)
    spec, file_id, skipped = begin_file(store, config, source, uri, fingerprint or content_fingerprint(content))
    if skipped:
        return skipped
    try:
        try:
            tally = _load(store, spec, source, content, file_id, now, None)
        except NotUtf8:
            # The sampled start was UTF-8 but later bytes are not: nothing was committed; read it value by value.
            tally = _load(store, spec, source, content, file_id, now, MIXED)
    except FileRejected as exc:
        outcome = FileOutcome(file_id, source, uri, "rejected", str(exc))
    else:
        outcome = tally.outcome(file_id, source, uri)
    store.append("files", _files_row(outcome, fingerprint, now))
    return outcome


def staging_writer(path: Path | str, schema: pa.Schema) -> pq.ParquetWriter:
    """A Parquet writer for validated rows on their way to the tables.

    Staged files are read once, whole, by ``commit_parts``: they are written for speed, without column
    statistics, with dictionaries only for the lineage columns that hold one value per file, and without
    compressing the content hashes (random hex digits, which Snappy hardly shrinks).
    """
    compression = {name: "none" if name == "content_hash" else "snappy" for name in schema.names}
    return pq.ParquetWriter(path, schema, use_dictionary=["source", "file_id"], write_statistics=False,
                            compression=compression)


def stage_part(
    config: Config, source: str, path: Path, part: Part, file_id: str, stage: Path, now: datetime,
    encoding: str | None = None,
) -> dict:
    """Read and validate one part of a large file into staged Parquet (what one fanned-out worker does).

    Nothing reaches the tables here: ``commit_parts`` commits all parts at once, so the file still never
    half-commits. Returns the part's counts, also kept beside its Parquet files.
    """
    try:
        return _stage_part(config, source, path, part, file_id, stage, now, encoding)
    except NotUtf8:
        # The part's start was UTF-8 but later bytes are not: its files are written again, value by value.
        return _stage_part(config, source, path, part, file_id, stage, now, MIXED)


def _stage_part(
    config: Config, source: str, path: Path, part: Part, file_id: str, stage: Path, now: datetime,
    encoding: str | None,
) -> dict:
    spec = config.sources[source]
    stage.mkdir(parents=True, exist_ok=True)
    tally = _Tally()
    name = f"part-{part.index:05d}"
    with staging_writer(stage / f"{name}.rows.parquet", TABLES[spec.table].schema) as rows_out, \
            staging_writer(stage / f"{name}.quarantine.parquet", TABLES["quarantine"].schema) as quarantine_out:
        batches = read_batches(path, spec.format, spec.delimiter, encoding, part)
        for validated in validate_all(batches, source=source, spec=spec, file_id=file_id, now=now):
            rows_out.write_table(validated.accepted.cast(TABLES[spec.table].schema))
            quarantine_out.write_table(validated.quarantine)
            tally.add(validated)
    counts = tally.as_dict()
    (stage / f"{name}.counts.json").write_text(json.dumps(counts))
    return counts


def commit_parts(
    store: TableStore, config: Config, source: str, file_id: str, uri: str, stage: Path, parts: int,
    fingerprint: str | None, now: datetime, rejected: str | None = None,
) -> FileOutcome:
    """Commit every staged part of a file in one transaction per table, then its files row.

    ``rejected`` is the reason a part refused the whole file: then nothing is committed but the rejection.
    """
    if rejected:
        outcome = FileOutcome(file_id, source, uri, "rejected", rejected)
        store.append("files", _files_row(outcome, fingerprint, now))
        return outcome
    spec = config.sources[source]
    names = [f"part-{index:05d}" for index in range(parts)]
    missing = [n for n in names if not (stage / f"{n}.counts.json").exists()]
    if missing:
        raise RuntimeError(f"{uri}: parts not staged yet: {', '.join(missing)}")
    tally = _Tally()
    for n in names:
        tally.merge(json.loads((stage / f"{n}.counts.json").read_text()))
    new_versions = _NewVersions(store, spec.table, source)
    with store.writer(spec.table) as target, store.writer("quarantine") as quarantine:
        for name in names:
            for batch in pq.ParquetFile(stage / f"{name}.rows.parquet").iter_batches():
                fresh = new_versions.filter(pa.Table.from_batches([batch]))
                target.append(fresh)
                tally.rows_new += fresh.num_rows
            for batch in pq.ParquetFile(stage / f"{name}.quarantine.parquet").iter_batches():
                quarantine.append(pa.Table.from_batches([batch]))
    outcome = tally.outcome(file_id, source, uri)
    store.append("files", _files_row(outcome, fingerprint, now))
    return outcome


def ingest_in_parts(
    store: TableStore, config: Config, source: str, path: Path, uri: str, *, part_bytes: int, stage: Path,
    fingerprint: str | None = None, now: datetime | None = None,
) -> FileOutcome:
    """Ingest a large file as parts, the way the cloud fans it out: plan, stage every part, commit once."""
    now = now or datetime.now(UTC)
    spec, file_id, skipped = begin_file(store, config, source, uri, fingerprint or content_fingerprint(path))
    if skipped:
        return skipped
    parts = plan_parts(path, spec.format, part_bytes)
    staged = stage / file_id
    try:
        for part in parts:
            stage_part(config, source, path, part, file_id, staged, now)
    except FileRejected as exc:
        rejected = str(exc)
    else:
        rejected = None
    try:
        return commit_parts(store, config, source, file_id, uri, staged, len(parts), fingerprint, now, rejected)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


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
                "quality": list(outcome.quality),
                "ingested_at": now,
            }
        ],
        schema=TABLES["files"].schema,
    )
