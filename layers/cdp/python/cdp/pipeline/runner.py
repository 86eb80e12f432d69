"""The one runner of a declared step, locally and in the pipeline Lambda: it does every table read and write.

For each input it pins the table's current snapshot, reads the rows the step asks for (all, the current versions,
or only what was appended since the step last succeeded), calls the step, writes its outputs as declared, and
records in ``pipeline_runs`` the snapshot of each input it consumed: where the next run of the step resumes.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cdp.lineage import current_versions
from cdp.pipeline.steps import Read, Step, StepContext, Write, step_named
from cdp.ports import TableStore
from cdp.sql import literal
from cdp.tables import TABLES


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"run-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def last_consumed(store: TableStore, step: str, table: str) -> int | None:
    """The snapshot of ``table`` that ``step`` consumed in its last successful run, if it ever ran."""
    runs = store.read("pipeline_runs", f"step == {literal(step)} and table_name == {literal(table)}",
                      ("snapshot_id", "completed_at", "status"))
    succeeded = pc.or_kleene(pc.is_null(runs["status"]), pc.equal(runs["status"], "succeeded"))
    runs = runs.filter(pc.and_(pc.is_valid(runs["snapshot_id"]), succeeded))
    if runs.num_rows == 0:
        return None
    latest = pc.index(runs["completed_at"], pc.max(runs["completed_at"])).as_py()
    return runs["snapshot_id"][latest].as_py()


def _columns(read: Read) -> tuple[str, ...] | None:
    """The declared columns and those that pick the current version (cdp.lineage)."""
    if read.columns is None:
        return None
    names = TABLES[read.table].schema.names
    versioning = [c for c in ("record_key", "updated_at", "ingested_at", "row_number") if c in names]
    return tuple(dict.fromkeys((*read.columns, *versioning)))


def _read(store: TableStore, step: Step, read: Read) -> tuple[pa.Table, int | None]:
    snapshot, columns = store.snapshot_id(read.table), _columns(read)
    if read.rows == "new":
        try:
            rows = store.read_appended(read.table, last_consumed(store, step.name, read.table), snapshot, read.where)
        except LookupError:
            # The snapshot it resumes from is gone (an erasure forgot the table's history): all of it is new.
            rows = store.read(read.table, read.where, snapshot_id=snapshot) if snapshot is not None else \
                TABLES[read.table].schema.empty_table()
        return (rows.select(list(columns)) if columns else rows), snapshot
    if snapshot is None:
        rows = TABLES[read.table].schema.empty_table()
        rows = rows.select(list(columns)) if columns else rows
    else:
        rows = store.read(read.table, read.where, columns, snapshot_id=snapshot)
    return (current_versions(rows) if read.rows == "current" else rows), snapshot


def _write(store: TableStore, write: Write, rows: pa.Table) -> None:
    if write.mode == "append":
        store.append(write.table, rows)
    elif write.mode == "replace":
        store.replace(write.table, rows)
    else:
        store.upsert(write.table, rows, insert_only=write.mode == "insert_new")


def run_step(name: str, store: TableStore, ctx: StepContext) -> dict[str, Any]:
    step = step_named(name)
    inputs: dict[str, pa.Table] = {}
    consumed = []
    for read in step.reads:
        inputs[read.input], snapshot = _read(store, step, read)
        consumed.append({"run_id": ctx.run_id, "step": step.name, "table_name": read.table, "snapshot_id": snapshot,
                         "rows_read": inputs[read.input].num_rows, "incremental": read.rows == "new"})
    output = step.function(inputs, ctx)
    undeclared = set(output.writes) - {write.table for write in step.writes}
    if undeclared:
        raise RuntimeError(f"step {step.name!r} returned tables it does not declare: {sorted(undeclared)}")
    for write in step.writes:
        _write(store, write, output.writes[write.table])
    # Recorded last: a step that failed before this line consumed nothing, and its retry reads the same rows.
    completed_at = datetime.now(UTC)
    store.append("pipeline_runs", pa.Table.from_pylist(
        [row | {"completed_at": completed_at, "status": "succeeded"} for row in consumed],
        schema=TABLES["pipeline_runs"].schema))
    return output.summary


def record_failure(store: TableStore, run_id: str, step: str, error: str, now: datetime | None = None) -> None:
    """A step that failed for good (after its retries): one row, so that a run's fate is in the tables too."""
    store.append("pipeline_runs", pa.Table.from_pylist([{
        "run_id": run_id, "step": step, "table_name": "", "snapshot_id": None, "rows_read": 0, "incremental": False,
        "completed_at": now or datetime.now(UTC), "status": "failed", "error": error,
    }], schema=TABLES["pipeline_runs"].schema))
