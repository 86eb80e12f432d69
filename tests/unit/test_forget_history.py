"""Forgetting a table's history (erasure, retention) while other writers go on: what it deletes and what it must not."""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from cdp.adapters.landed import LocalFiles
from cdp.pipeline.local import open_store
from cdp.tables import TABLES

TABLE = "erasures"


def rows(*ids: str) -> pa.Table:
    now = datetime.now(UTC)
    return pa.Table.from_pylist([{"erasure_id": i, "subject_hash": "h", "requested_at": now, "completed_at": now,
                                  "erased": "{}"} for i in ids], schema=TABLES[TABLE].schema)


def forget(workdir: Path, before: datetime) -> list[str]:
    forgotten = open_store(workdir).forget_history(TABLE, before)
    LocalFiles(workdir / "outbox").purge(forgotten)
    return forgotten


def data_files(workdir: Path) -> set[Path]:
    return set((workdir / "warehouse").rglob(f"{TABLE}/data/*.parquet"))


def test_the_files_of_earlier_versions_go_and_the_table_reads_the_same(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.append(TABLE, rows("a"))
    first = data_files(tmp_path)
    store.append(TABLE, rows("b"))
    store.delete(TABLE, "erasure_id == 'a'")

    forgotten = forget(tmp_path, datetime.now(UTC))

    assert {Path(f.removeprefix("file://")) for f in forgotten} >= first  # "a" was only in the first version's file
    assert not data_files(tmp_path) & first
    assert store.read(TABLE)["erasure_id"].to_pylist() == ["b"]
    assert store.snapshot_count(TABLE) == 1


def test_a_writer_committing_after_the_history_was_forgotten_loses_nothing(tmp_path: Path) -> None:
    """An ingestion or a pipeline step writes its files, then commits: forgetting the history in between must not
    take the files it has not committed yet."""
    store = open_store(tmp_path)
    store.append(TABLE, rows("a"))
    store.append(TABLE, rows("b"))
    with store.writer(TABLE) as writer:
        writer.append(rows("c"))
        writer.flush()  # its data file is written; the commit comes when the writer is done
        time.sleep(0.01)
        forget(tmp_path, datetime.now(UTC))
    assert sorted(store.read(TABLE)["erasure_id"].to_pylist()) == ["a", "b", "c"]


def test_a_file_no_commit_took_goes_once_a_day_old_and_not_before(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.append(TABLE, rows("a"))
    (live,) = data_files(tmp_path)
    recent, old = live.with_name("lost-recent.parquet"), live.with_name("lost-old.parquet")
    shutil.copy(live, recent)
    shutil.copy(live, old)
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    os.utime(old, (two_days_ago, two_days_ago))
    os.utime(live, (two_days_ago, two_days_ago))  # old, but the current version's: it stays

    forgotten = forget(tmp_path, datetime.now(UTC))

    assert [Path(f.removeprefix("file://")) for f in forgotten if f.endswith(".parquet")] == [old]
    assert data_files(tmp_path) == {live, recent}
    assert store.read(TABLE)["erasure_id"].to_pylist() == ["a"]
