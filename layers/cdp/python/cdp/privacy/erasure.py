"""Erasure of a person everywhere (GDPR article 17): every table, the landed files, the outbox, the tables' history.

A request names a person by an email, a phone or a profile id. The person is every profile that holds it or that
one of their records resolved into, every record of those profiles or carrying the identifier, and every fact
(order, web event) attributed to them or naming one of their identifiers. Each table's rows are found by the columns
``cdp.tables`` declares as tying a row to a person (``TableSpec.subject``), so a table added later is covered by
its declaration. Orders and web events are deleted with their lines, or pseudonymised (``privacy.erasure.facts``).

Then the rows go from the files they came from, every earlier snapshot of the touched tables is expired and the
files only they referenced deleted, so that no time travel reads them back. What remains: an ``erasures`` row with
the subject as a salted hash and counts per table, and, unless configured otherwise, the person's identifiers as
salted hashes in ``suppressions``, so that ingestion drops rows that would bring them back.

Running it again is harmless: it finds less, or nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

import pyarrow as pa

from cdp import sql
from cdp.config import Config
from cdp.features.behaviour import fact_views
from cdp.ingest.normalisers.emails import email as normalise_email
from cdp.ingest.normalisers.phones import phone as normalise_phone
from cdp.lineage import current_versions
from cdp.ports import TableStore
from cdp.privacy.hashing import salted_hash
from cdp.tables import TABLES

# Facts up to this day are attributed: all of them.
ALL_FACTS = date(9000, 1, 1)


class ErasureError(ValueError):
    """The request cannot be carried out as given (no subject, an identifier that is not one)."""


class LandedFiles(Protocol):
    """The files a person's rows may still be in, outside the tables."""

    def remove_rows(self, uri: str, file_format: str, rows: set[int], delimiter: str | None) -> int:
        """Rewrite the landed file without these rows (numbered as ingestion numbers them); how many went. A file
        no longer there (retention) has nothing to remove."""

    def remove_events(self, profile_ids: set[str]) -> int:
        """Remove the delivered events about these profiles (the outboxes), and the contact cards left for them
        (``cdp.activation.cards``); how many events went."""

    def purge(self, locations: list[str]) -> None:
        """Delete these files of the tables, every version of each."""


@dataclass(frozen=True)
class Subject:
    email: str | None = None
    phone: str | None = None
    profile_id: str | None = None

    def normalised(self, default_region: str) -> Subject:
        given = [v for v in (self.email, self.phone, self.profile_id) if v]
        if len(given) != 1:
            raise ErasureError("name the person by exactly one of an email, a phone or a profile id")
        if self.email:
            value = normalise_email(pa.array([self.email])).values[0].as_py()
            if value is None:
                raise ErasureError("the email given is not a valid address")
            return Subject(email=value)
        if self.phone:
            value = normalise_phone(pa.array([self.phone]), default_region).values[0].as_py()
            if value is None:
                raise ErasureError(f"the phone given is not a valid number (read with default region "
                                   f"{default_region})")
            return Subject(phone=value)
        return self

    @property
    def value(self) -> str:
        return self.email or self.phone or self.profile_id or ""


@dataclass
class Erasure:
    erasure_id: str
    reason: str = "request"  # a person's request, or "retention" (profiles inactive too long)
    profiles: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # table → rows deleted or pseudonymised
    file_rows: int = 0  # rows removed from landed files
    events: int = 0  # delivered events removed from the outbox
    history_files: int = 0  # files of earlier table versions deleted
    suppressed: int = 0  # identifiers added to the suppression list

    def as_json(self) -> str:
        return json.dumps({"reason": self.reason, "profiles": self.profiles, "tables": self.rows,
                           "landed_file_rows": self.file_rows, "outbox_events": self.events,
                           "history_files": self.history_files, "suppressed_identifiers": self.suppressed},
                          sort_keys=True)


@dataclass(frozen=True)
class Person:
    """Everything that belongs to the person, found before anything is deleted."""

    profiles: set[str]
    records: set[str]  # person records (every version)
    facts: set[str]  # orders and web events
    orders: set[str]  # the order ids of their orders
    emails: set[str]
    phones: set[str]
    raw_rows: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # table → (file_id, row_number)


def _in(column: str, values: set[str]) -> str:
    return f"{column} in ({', '.join(sql.literal(v) for v in sorted(values))})"


def find_person(store: TableStore, config: Config, subject: Subject) -> Person:
    """The person a request names, with every fact naming one of their addresses: they asked to be forgotten."""
    return _find(store, config, subject, {subject.profile_id} if subject.profile_id else set(), by_address=True)


def find_profiles(store: TableStore, config: Config, profile_ids: set[str]) -> Person:
    """These profiles, with their records and the facts attributed to them only: an order naming one of their
    addresses that resolution gave to someone else (a household's shared email) stays theirs."""
    return _find(store, config, Subject(), profile_ids, by_address=False)


def _find(store: TableStore, config: Config, subject: Subject, profile_ids: set[str], by_address: bool) -> Person:
    con = sql.connect()
    records = store.read("records", columns=("record_key", "email", "phone"))
    identities = store.read("identities")
    profiles = store.read("profiles")
    for name, table in (("records", records), ("identities", identities), ("profiles", profiles)):
        con.register(name, table)
    by = {"email": subject.email, "phone": subject.phone}
    matches = " OR ".join(f"{column} = {sql.literal(value)}" for column, value in by.items() if value) or "false"
    con.register("given", pa.table({"profile_id": pa.array(sorted(profile_ids), pa.string())}))
    found = {row[0] for row in con.execute(f"""
        SELECT profile_id FROM profiles WHERE profile_id IN (SELECT profile_id FROM given) OR {matches}
        UNION SELECT i.profile_id FROM identities i JOIN records r USING (record_key) WHERE {matches}""").fetchall()}
    con.register("found", pa.table({"profile_id": pa.array(sorted(found), pa.string())}))
    keys = {row[0] for row in con.execute(f"""
        SELECT record_key FROM identities SEMI JOIN found USING (profile_id)
        UNION SELECT record_key FROM records WHERE {matches}""").fetchall()}
    con.register("keys", pa.table({"record_key": pa.array(sorted(keys), pa.string())}))
    identifiers = con.execute("""
        SELECT email, phone FROM records SEMI JOIN keys USING (record_key)
        UNION SELECT email, phone FROM profiles SEMI JOIN found USING (profile_id)""").fetchall()
    emails = {e for e, _ in identifiers if e} | ({subject.email} if subject.email else set())
    phones = {p for _, p in identifiers if p} | ({subject.phone} if subject.phone else set())

    orders = current_versions(store.read("orders"), ordered=False)
    events = current_versions(store.read("events"), ordered=False)
    facts = fact_views(config, profiles, identities, orders, events, ALL_FACTS)
    facts.register("found", pa.table({"profile_id": pa.array(sorted(found), pa.string())}))
    facts.register("emails", pa.table({"email": pa.array(sorted(emails), pa.string())}))
    # Their facts: attributed to them, and, for a request, naming one of their addresses whoever they went to.
    named = "UNION SELECT record_key, order_id FROM orders SEMI JOIN emails USING (email)" if by_address else ""
    owned = facts.execute(f"""
        SELECT record_key, order_id FROM owned_orders SEMI JOIN found USING (profile_id)
        {named}
        UNION SELECT record_key, NULL FROM owned_events SEMI JOIN found USING (profile_id)""").fetchall()
    # Rows kept as they came (quarantine) carry no key: their text is searched once, here.
    raw_rows = {name: _raw_hits(store, name, emails, phones) for name, spec in TABLES.items()
                if "raw" in dict(spec.subject).values()}
    return Person(found, keys, {key for key, _ in owned}, {order for _, order in owned if order}, emails, phones,
                  raw_rows)


def erase(store: TableStore, files: LandedFiles, config: Config, subject: Subject, salt: str, now: datetime,
          erasure_id: str | None = None) -> Erasure:
    """Erase the person ``subject`` names everywhere; see the module's description."""
    subject = subject.normalised(_default_region(config))
    erasure = Erasure(erasure_id or new_erasure_id(now))
    person = find_person(store, config, subject)
    erase_found(store, files, config, person, erasure, now)
    if config.privacy.erasure.suppress:
        erasure.suppressed = _suppress(store, person, salt, erasure.erasure_id, now)
    record_erasure(store, erasure, salted_hash(salt, subject.value), now)
    return erasure


def new_erasure_id(now: datetime) -> str:
    return f"erasure-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def erase_found(store: TableStore, files: LandedFiles, config: Config, person: Person, erasure: Erasure,
                now: datetime) -> None:
    """Everything of ``person`` out of the tables, the landed files, the outboxes and the tables' history."""
    erasure.profiles = len(person.profiles)
    before = {name: store.snapshot_id(name) for name in TABLES}
    landed = _landed_rows(store, config, person)
    touched = set()
    for name, spec in TABLES.items():
        if spec.subject and (count := _erase_rows(store, config, name, person)):
            erasure.rows[name] = count
            touched.add(name)
    for (uri, file_format, delimiter), rows in landed.items():
        erasure.file_rows += files.remove_rows(uri, file_format, rows, delimiter)
    erasure.events = files.remove_events(person.profiles)
    erasure.history_files += forget_history(store, files, touched, now)
    _resume_after(store, touched, before, erasure.erasure_id, now)


def forget_history(store: TableStore, files: LandedFiles, tables: set[str], now: datetime) -> int:
    """Expire every earlier snapshot of these tables and delete the files only they referenced; how many went."""
    forgotten = 0
    for name in sorted(tables):
        locations = store.forget_history(name, now)
        files.purge(locations)
        forgotten += len(locations)
    return forgotten


def record_erasure(store: TableStore, erasure: Erasure, subject_hash: str, requested_at: datetime) -> None:
    """The audit row: a salted hash for the subject, the times and the counts, nothing else."""
    store.append("erasures", pa.Table.from_pylist([{
        "erasure_id": erasure.erasure_id, "subject_hash": subject_hash, "requested_at": requested_at,
        "completed_at": datetime.now(requested_at.tzinfo), "erased": erasure.as_json()}],
        schema=TABLES["erasures"].schema))


def _default_region(config: Config) -> str:
    regions = [spec.default_region for spec in config.sources.values() if spec.table == "records"]
    return regions[0] if regions else "FR"


def _erase_rows(store: TableStore, config: Config, name: str, person: Person) -> int:
    spec = TABLES[name]
    kinds = dict(spec.subject)
    if "raw" in kinds.values():
        return _erase_raw(store, name, person)
    if any(kind in ("profiles", "records") for kind in kinds.values()):
        return _erase_from_lists(store, name, person)
    filters = []
    for column, kind in spec.subject:
        values = {"profile": person.profiles, "record": person.records | person.facts,
                  "order": person.orders if config.privacy.erasure.facts == "delete" else set()}[kind]
        if values:
            filters.append(_in(column, values))
    if not filters:
        return 0
    row_filter = " or ".join(filters)
    rows = store.read(name, row_filter)
    if rows.num_rows == 0:
        return 0
    if name in ("orders", "events") and config.privacy.erasure.facts == "pseudonymise":
        store.overwrite(name, row_filter, _pseudonymised(rows, spec.pii))
    else:
        store.delete(name, row_filter)
    return rows.num_rows


def _pseudonymised(rows: pa.Table, pii: tuple[str, ...]) -> pa.Table:
    """The facts kept for the totals, nothing left that points back to the person (their content hash too: it
    digests the row as it came)."""
    for column in (*pii, "content_hash"):
        index = rows.schema.get_field_index(column)
        value = pa.array(["erased"] * rows.num_rows) if column == "content_hash" else \
            pa.nulls(rows.num_rows, rows.schema.field(index).type)
        rows = rows.set_column(index, rows.schema.field(index), value)
    return rows


def _erase_from_lists(store: TableStore, name: str, person: Person) -> int:
    """Rows that name the person among others (reviews, merges and splits): the person's ids leave the lists, and
    a row left naming nobody goes. The rows of each run concerned are rewritten in one commit."""
    gone = {"profiles": person.profiles, "records": person.records}
    lists = [(column, gone[kind]) for column, kind in TABLES[name].subject]
    rows = store.read(name).to_pylist()
    hit = [any(set(row[column] or ()) & values for column, values in lists) for row in rows]
    runs = {row["run_id"] for row, named in zip(rows, hit, strict=True) if named}
    if not runs:
        return 0
    kept = []
    for row, named in zip(rows, hit, strict=True):
        if row["run_id"] not in runs:
            continue
        if named:
            for column, values in lists:
                row[column] = [v for v in row[column] or () if v not in values]
            if not any(row[column] for column, _ in lists):
                continue
        kept.append(row)
    store.overwrite(name, _in("run_id", runs), pa.Table.from_pylist(kept, schema=TABLES[name].schema))
    return sum(hit)


def _raw_hits(store: TableStore, name: str, emails: set[str], phones: set[str]) -> list[tuple[str, int]]:
    """Rows kept as they came (quarantine) that hold the person's addresses or phone numbers in their text, the
    phone found by its national digits whatever the spacing: (file_id, row_number) of each."""
    tests = [f"contains(lower(raw), {sql.literal(e)})" for e in sorted(emails)]
    tests += [f"contains(regexp_replace(raw, '[^0-9]', '', 'g'), {sql.literal(p[-9:])})"
              for p in sorted(phones) if len(p) > 9]
    if not tests:
        return []
    con = sql.connect()
    con.register("rows", store.read(name, columns=("file_id", "row_number", "raw")))
    return con.execute(f"SELECT file_id, row_number FROM rows WHERE {' OR '.join(tests)}").fetchall()


def _erase_raw(store: TableStore, name: str, person: Person) -> int:
    hits = person.raw_rows.get(name, [])
    if hits:
        store.delete(name, " or ".join(f"(file_id == {sql.literal(f)} and row_number == {n})" for f, n in hits))
    return len(hits)


def _landed_rows(store: TableStore, config: Config, person: Person) -> dict[tuple[str, str, str | None], set[int]]:
    """Per landed file (its uri, format and delimiter): the numbers of the person's rows in it, every version."""
    found: list[tuple[str, int]] = []
    keys = person.records | person.facts
    for name, spec in TABLES.items():
        kinds = dict(spec.subject)
        if "file_id" not in spec.schema.names or not kinds:
            continue
        if "raw" in kinds.values():
            found += person.raw_rows.get(name, [])
            continue
        filters = [_in(c, keys) for c, kind in spec.subject if kind == "record" and keys]
        filters += [_in(c, person.orders) for c, kind in spec.subject if kind == "order" and person.orders
                    and config.privacy.erasure.facts == "delete"]
        if filters:
            rows = store.read(name, " or ".join(filters), ("file_id", "row_number"))
            found += list(zip(rows["file_id"].to_pylist(), rows["row_number"].to_pylist(), strict=True))
    if not found:
        return {}
    files = {row["file_id"]: row for row in store.read("files", _in("file_id", {f for f, _ in found}),
                                                        ("file_id", "source", "uri")).to_pylist()}
    landed: dict[tuple[str, str, str | None], set[int]] = {}
    for file_id, number in found:
        row = files.get(file_id)
        spec = config.sources.get(row["source"]) if row else None
        if spec is not None:
            landed.setdefault((row["uri"], spec.format, spec.delimiter), set()).add(number)
    return landed


def _suppress(store: TableStore, person: Person, salt: str, erasure_id: str, now: datetime) -> int:
    rows = [{"identifier_hash": salted_hash(salt, value), "kind": kind, "erasure_id": erasure_id,
             "suppressed_at": now}
            for kind, values in (("email", person.emails), ("phone", person.phones)) for value in sorted(values)]
    if rows:
        store.upsert("suppressions", pa.Table.from_pylist(rows, schema=TABLES["suppressions"].schema),
                     insert_only=True)
    return len(rows)


def _resume_after(store: TableStore, touched: set[str], before: dict[str, int | None], erasure_id: str,
                  now: datetime) -> None:
    """Steps that had consumed a touched table up to the erasure resume after it: the snapshots they would have
    resumed from are gone. (A step that was behind reads the whole table on its next run.)"""
    runs = store.read("pipeline_runs")
    if runs.num_rows == 0:
        return
    latest: dict[tuple[str, str], tuple[datetime, int | None]] = {}
    for row in runs.to_pylist():
        if row["table_name"] in touched and row["status"] in (None, "succeeded") and row["snapshot_id"] is not None:
            key = (row["step"], row["table_name"])
            if key not in latest or row["completed_at"] > latest[key][0]:
                latest[key] = (row["completed_at"], row["snapshot_id"])
    rows = [{"run_id": erasure_id, "step": step, "table_name": table, "snapshot_id": store.snapshot_id(table),
             "rows_read": 0, "incremental": True, "completed_at": now, "status": "succeeded", "error": None}
            for (step, table), (_, snapshot) in latest.items() if snapshot == before[table]]
    if rows:
        store.append("pipeline_runs", pa.Table.from_pylist(rows, schema=TABLES["pipeline_runs"].schema))
