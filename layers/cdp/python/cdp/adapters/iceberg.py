"""Tables as Apache Iceberg through pyiceberg: a SQLite catalog on a local folder, or AWS Glue on S3."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.fs as pafs
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import CommitFailedException, NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table, Transaction
from pyiceberg.types import TimestampType

from cdp import settings
from cdp.tables import DATABASE, TABLES

T = TypeVar("T")
COMMIT_ATTEMPTS = 5


def local_catalog(workdir: Path) -> Catalog:
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = (workdir / "warehouse").resolve()
    warehouse.mkdir(exist_ok=True)
    return load_catalog(
        "cdp",
        type="sql",
        uri=f"sqlite:///{(workdir / 'catalog.db').resolve()}",
        warehouse=warehouse.as_uri(),
    )


def glue_catalog(warehouse: str, **properties: Any) -> Catalog:
    """Glue catalog; extra properties (``glue.endpoint``, ``s3.endpoint``...) point it at moto in tests."""
    return load_catalog("cdp", type="glue", warehouse=warehouse, **properties)


def catalog_from_environment() -> Catalog:
    """The catalog a Lambda uses, from the variables the CDK stack sets."""
    extra = {
        key: os.environ[env]
        for key, env in (("glue.endpoint", settings.GLUE_ENDPOINT_ENV), ("s3.endpoint", settings.S3_ENDPOINT_ENV))
        if os.environ.get(env)
    }
    if os.environ.get("AWS_DEFAULT_REGION"):
        extra["client.region"] = os.environ["AWS_DEFAULT_REGION"]
    return glue_catalog(os.environ[settings.WAREHOUSE_ENV], **extra)


def private_metrics(name: str) -> dict[str, str]:
    """Table properties that keep personal values out of the manifests: Iceberg keeps each column's lowest and
    highest value per data file (and a manifest keeps them even for a file a delete removed); for the columns that
    hold personal data or tie a row to a person, only counts."""
    spec = TABLES[name]
    return {f"write.metadata.metrics.column.{column}": "counts"
            for column in dict.fromkeys((*spec.pii, *(c for c, _ in spec.subject)))}


def stored_schema(table: Table, declared: pa.Schema) -> pa.Schema:
    """``declared`` as ``table`` stores it. A UTC timestamp column that the catalog made without a time zone (Glue
    makes the columns CloudFormation declares as `timestamp` that way) takes the same instants without their zone:
    pyiceberg refuses to write zoned timestamps into it."""
    iceberg = {field.name: field.field_type for field in table.schema().fields}
    return pa.schema([field.with_type(pa.timestamp(field.type.unit))
                      if pa.types.is_timestamp(field.type) and field.type.tz is not None
                      and isinstance(iceberg.get(field.name), TimestampType) else field
                      for field in declared])


def declared_types(name: str, rows: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """Rows read from table ``name`` in its declared schema, whatever the catalog made of it: timestamps stored
    without their zone are UTC, and columns a catalog made optional are as declared."""
    declared = TABLES[name].schema
    schema = pa.schema([declared.field(field.name) if field.name in declared.names else field
                        for field in rows.schema])
    return rows if rows.schema.equals(schema) else rows.cast(schema)


FLUSH_BYTES = 16 << 20


class _TransactionWriter:
    """Appends batches to a transaction in chunks of about ``FLUSH_BYTES``.

    Each append is a snapshot and a data file: appending every small batch would leave many small files, and
    the transaction's metadata would grow with the square of their number.
    """

    def __init__(self, transaction: Transaction, schema: pa.Schema):
        self.transaction = transaction
        self.schema = schema
        self._pending: list[pa.Table] = []
        self._pending_bytes = 0

    def append(self, rows: pa.Table) -> None:
        if rows.num_rows:
            self._pending.append(rows.select(self.schema.names).cast(self.schema))
            self._pending_bytes += rows.nbytes
            if self._pending_bytes >= FLUSH_BYTES:
                self.flush()

    def flush(self) -> None:
        if self._pending:
            self.transaction.append(pa.concat_tables(self._pending))
            self._pending, self._pending_bytes = [], 0


@contextmanager
def _quiet_empty_delete() -> Iterator[None]:
    # pyiceberg warns when a delete matched nothing; for idempotent clean-ups that is the usual case.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Delete operation did not match any records")
        yield


# A writer commits within minutes of writing its files: one left uncommitted for a day never will be.
ABANDONED_AFTER = timedelta(days=1)


def _reachable(table: Table, snapshots: list[Any], live_only: bool) -> set[str]:
    """The manifest lists, manifests and data files these snapshots reach (with ``live_only``, not the entries a
    snapshot records as deleted)."""
    found: set[str] = set()
    for snapshot in snapshots:
        found.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            found.add(manifest.manifest_path)
            found.update(entry.data_file.file_path
                         for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=live_only))
    return found


def _where(location: str) -> str:
    """A file's location without its scheme: the metadata and a listing may spell the same file differently."""
    return location.split("://", 1)[-1].lstrip("/")


def _files_written_before(table: Table, moment: datetime) -> set[str]:
    """Every file under the table's location written before ``moment``, named as the table's metadata names them."""
    scheme, netloc, root = PyArrowFileIO.parse_location(table.location())
    filesystem = table.io.fs_by_scheme(scheme, netloc)
    found = set()
    for info in filesystem.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True)):
        if info.type == pafs.FileType.File and (info.mtime_ns or 0) < moment.timestamp() * 1e9:
            # The listing's paths: /folder/file locally, bucket/key on S3.
            found.add(Path(info.path).as_uri() if scheme == "file" else f"{scheme}://{info.path}")
    return found


class IcebergStore:
    """The ``TableStore`` port over a pyiceberg catalog; tables are created on first use from ``TABLES``."""

    def __init__(self, catalog: Catalog, database: str = DATABASE):
        self.catalog = catalog
        self.database = database
        self._tables: dict[str, Table] = {}
        # Locally the store makes its database; in the cloud the stack made it, and the functions are not allowed
        # to create one (IAM would refuse glue:CreateDatabase before Glue could say that it exists).
        if not catalog.namespace_exists(database):
            try:
                catalog.create_namespace(database)
            except NamespaceAlreadyExistsError:  # another process made it in between
                pass

    def table(self, name: str) -> Table:
        if name not in self._tables:
            identifier = f"{self.database}.{name}"
            try:
                table = self.catalog.load_table(identifier)
                if set(TABLES[name].schema.names) - set(table.schema().column_names):
                    # A newer release added columns: evolve the table in place (old rows read them as null).
                    with table.update_schema() as update:
                        update.union_by_name(TABLES[name].schema)
                missing = {k: v for k, v in private_metrics(name).items() if table.properties.get(k) != v}
                if missing:  # a table the stack declared, or an older one
                    with table.transaction() as transaction:
                        transaction.set_properties(missing)
                    table = table.refresh()
                self._tables[name] = table
            except NoSuchTableError:
                self._tables[name] = self.catalog.create_table_if_not_exists(
                    identifier, schema=TABLES[name].schema, properties=private_metrics(name))
        return self._tables[name]

    def _retrying(self, name: str, commit: Callable[[Table], T]) -> T:
        # Another writer may commit first; Iceberg's optimistic concurrency then asks us to refresh and retry.
        for attempt in range(COMMIT_ATTEMPTS):
            table = self.table(name).refresh()
            try:
                return commit(table)
            except CommitFailedException:
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def snapshot_id(self, name: str) -> int | None:
        snapshot = self.table(name).refresh().current_snapshot()
        return snapshot.snapshot_id if snapshot else None

    def read(
        self, name: str, row_filter: str | None = None, columns: tuple[str, ...] | None = None,
        snapshot_id: int | None = None,
    ) -> pa.Table:
        table = self.table(name).refresh()
        scan = table.scan(row_filter=row_filter or "True", selected_fields=columns or ("*",), snapshot_id=snapshot_id)
        return declared_types(name, scan.to_arrow())

    def read_appended(self, name: str, after: int | None, upto: int | None, row_filter: str | None = None) -> pa.Table:
        if upto is None or upto == after:
            return TABLES[name].schema.empty_table()
        if after is None:
            return self.read(name, row_filter, snapshot_id=upto)
        table = self.table(name).refresh()
        if table.snapshot_by_id(after) is None:
            raise LookupError(f"table {name}: snapshot {after} no longer exists, so what was appended since it is "
                              "unknown; run the step on the whole table")
        scan = table.incremental_append_scan(from_snapshot_id_exclusive=after, to_snapshot_id_inclusive=upto,
                                             row_filter=row_filter or "True")
        return declared_types(name, scan.to_arrow().select(TABLES[name].schema.names))

    def read_batches(
        self, name: str, row_filter: str | None = None, columns: tuple[str, ...] | None = None
    ) -> Iterator[pa.RecordBatch]:
        table = self.table(name).refresh()
        scan = table.scan(row_filter=row_filter or "True", selected_fields=columns or ("*",))
        for batch in scan.to_arrow_batch_reader():
            yield declared_types(name, batch)

    def append(self, name: str, rows: pa.Table) -> None:
        if rows.num_rows:
            rows = rows.select(TABLES[name].schema.names).cast(TABLES[name].schema)
            self._retrying(name, lambda table: table.append(rows.cast(stored_schema(table, rows.schema))))

    def replace(self, name: str, rows: pa.Table) -> None:
        rows = rows.select(TABLES[name].schema.names).cast(TABLES[name].schema)
        with _quiet_empty_delete():
            self._retrying(name, lambda table: table.overwrite(rows.cast(stored_schema(table, rows.schema))))

    def upsert(self, name: str, rows: pa.Table, *, insert_only: bool = False) -> None:
        if rows.num_rows:
            rows = rows.select(TABLES[name].schema.names).cast(TABLES[name].schema)
            key = list(TABLES[name].key)
            self._retrying(name, lambda table: table.upsert(rows.cast(stored_schema(table, rows.schema)),
                                                           join_cols=key, when_matched_update_all=not insert_only))

    def delete(self, name: str, row_filter: str) -> None:
        with _quiet_empty_delete():
            self._retrying(name, lambda table: table.delete(row_filter))

    def overwrite(self, name: str, row_filter: str, rows: pa.Table) -> None:
        rows = rows.select(TABLES[name].schema.names).cast(TABLES[name].schema)
        with _quiet_empty_delete():
            self._retrying(name, lambda table: table.overwrite(rows.cast(stored_schema(table, rows.schema)),
                                                               overwrite_filter=row_filter))

    def forget_history(self, name: str, before: datetime) -> list[str]:
        """Expire every snapshot but the current one; return, for the caller to delete (every version of them, in a
        versioned bucket), the table's files that only the expired snapshots reached, the earlier metadata files,
        and the files no snapshot ever committed that were written a day or more before ``before``.

        Other writers go on meanwhile (a file being ingested, a pipeline step): the files they have written and not
        committed yet are in no snapshot, and are younger than a day, so they are left alone."""
        table = self.table(name).refresh()
        current = table.current_snapshot()
        if current is None:
            return []
        older = [s for s in table.metadata.snapshots if s.snapshot_id != current.snapshot_id]
        reached = _reachable(table, older, live_only=False)
        if older:
            table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in older]).commit()
            table = table.refresh()
        live = {_where(f) for f in {table.metadata_location} | _reachable(table, table.metadata.snapshots, True)}
        superseded = {entry.metadata_file for entry in table.metadata.metadata_log}
        # Files no commit took (an attempt that lost a commit race, a writer that failed), once surely abandoned.
        abandoned = _files_written_before(table, before - ABANDONED_AFTER)
        return sorted({f for f in reached | superseded | abandoned if _where(f) not in live})

    @contextmanager
    def writer(self, name: str) -> Iterator[_TransactionWriter]:
        # Data files are written as batches come (memory stays a few batches); the commit makes them visible.
        table = self.table(name).refresh()
        with table.transaction() as transaction:
            writer = _TransactionWriter(transaction, stored_schema(table, TABLES[name].schema))
            yield writer
            writer.flush()

    def snapshot_count(self, name: str) -> int:
        return len(self.table(name).refresh().metadata.snapshots)
