"""Large files in parts, the way the cloud fans them out: plan the parts, stage each (validated Parquet) on its
own, then commit all of them at once, so that a file still never half-commits."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cdp.config import Config
from cdp.ingest.contract import validate_all
from cdp.ingest.files import FileOutcome, NewVersions, Suppressed, Tally, begin_file, content_fingerprint, record_file
from cdp.ingest.formats import MIXED, FileRejected, NotUtf8, Part, plan_parts, read_batches
from cdp.ports import EventBus, TableStore
from cdp.tables import TABLES


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
    tally = Tally()
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
    fingerprint: str, now: datetime, rejected: str | None = None, *, bus: EventBus, salt: str | None = None,
) -> FileOutcome:
    """Commit every staged part of a file in one transaction per table, then its files row.

    ``rejected`` is the reason a part refused the whole file: then nothing is committed but the rejection.
    """
    if rejected:
        return record_file(store, bus, FileOutcome(file_id, source, uri, "rejected", rejected), fingerprint, now)
    spec = config.sources[source]
    names = [f"part-{index:05d}" for index in range(parts)]
    missing = [n for n in names if not (stage / f"{n}.counts.json").exists()]
    if missing:
        raise RuntimeError(f"{uri}: parts not staged yet: {', '.join(missing)}")
    tally = Tally()
    for n in names:
        tally.merge(json.loads((stage / f"{n}.counts.json").read_text()))
    new_versions = NewVersions(store, spec.table, source)
    suppressed = Suppressed(store, salt)
    with store.writer(spec.table) as target, store.writer("quarantine") as quarantine:
        for name in names:
            for batch in pq.ParquetFile(stage / f"{name}.rows.parquet").iter_batches():
                kept, dropped = suppressed.filter(pa.Table.from_batches([batch]))
                tally.rows_accepted -= dropped
                tally.rows_suppressed += dropped
                fresh = new_versions.filter(kept)
                target.append(fresh)
                tally.rows_new += fresh.num_rows
            for batch in pq.ParquetFile(stage / f"{name}.quarantine.parquet").iter_batches():
                quarantine.append(pa.Table.from_batches([batch]))
    return record_file(store, bus, tally.outcome(file_id, source, uri), fingerprint, now)


def ingest_in_parts(
    store: TableStore, config: Config, source: str, path: Path, uri: str, *, part_bytes: int, stage: Path,
    bus: EventBus, fingerprint: str | None = None, now: datetime | None = None, salt: str | None = None,
) -> FileOutcome:
    """Ingest a large file as parts, the way the cloud fans it out: plan, stage every part, commit once."""
    now = now or datetime.now(UTC)
    fingerprint = fingerprint or content_fingerprint(path)
    spec, file_id, skipped = begin_file(store, config, source, uri, fingerprint)
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
        return commit_parts(store, config, source, file_id, uri, staged, len(parts), fingerprint, now, rejected,
                            bus=bus, salt=salt)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
