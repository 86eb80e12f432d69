"""The local runner: ingest a landing folder, then run the declared steps in order, on a work folder."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cdp.adapters.buses import LocalBus
from cdp.adapters.contacts import LocalContacts
from cdp.adapters.iceberg import IcebergStore, local_catalog
from cdp.adapters.landed import LocalFiles
from cdp.adapters.models import FolderModels
from cdp.config import Config
from cdp.ingest.files import FileOutcome, ingest_file
from cdp.pipeline.runner import new_run_id, run_step
from cdp.pipeline.steps import STEPS, StepContext
from cdp.ports import EventBus
from cdp.privacy.erasure import Erasure, Subject, erase
from cdp.privacy.retention import Retention, apply_retention


@dataclass
class RunSummary:
    run_id: str
    files: list[FileOutcome] = field(default_factory=list)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)  # events per channel outbox
    published: dict[str, int] = field(default_factory=dict)  # events put on the bus, per detail-type


def landing_files(landing: Path, config: Config) -> list[tuple[str, Path]]:
    """Every file under ``landing/<source>/`` for the declared sources, in a stable order."""
    found = []
    for source in config.sources:
        folder = landing / source
        if folder.is_dir():
            found += [(source, path) for path in sorted(folder.rglob("*")) if path.is_file()
                      and not path.name.startswith(".")]
    return found


def open_store(workdir: Path) -> IcebergStore:
    return IcebergStore(local_catalog(workdir))


def local_models(workdir: Path) -> FolderModels:
    return FolderModels(workdir / "models")


def local_contacts(workdir: Path) -> LocalContacts:
    return LocalContacts(workdir)


def local_bus(config: Config, workdir: Path) -> LocalBus:
    return LocalBus(list(config.channels), workdir / "outbox", local_contacts(workdir))


def ingest_paths(store: IcebergStore, config: Config, source: str, paths: list[Path], bus: EventBus,
                 now: datetime | None = None, salt: str | None = None) -> list[FileOutcome]:
    return [ingest_file(store, config, source, path, str(path), bus=bus, now=now, salt=salt) for path in paths]


def run_local(
    config: Config,
    landing: Path,
    workdir: Path,
    as_of: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunSummary:
    now = datetime.now(UTC)
    store = open_store(workdir)
    bus = local_bus(config, workdir)
    summary = RunSummary(new_run_id(now))
    for source, path in landing_files(landing, config):
        if progress:
            progress(f"ingest {source}: {path.name}")
        summary.files += ingest_paths(store, config, source, [path], bus, now, local_salt(workdir))
    ctx = StepContext(config, summary.run_id, as_of or now.date(), now, bus, local_models(workdir),
                      contacts=bus.contacts)
    for step in STEPS:
        if progress:
            progress(f"step {step.name}: {step.description}")
        summary.steps[step.name] = run_step(step.name, store, ctx)
    summary.delivered = dict(bus.delivered)
    summary.published = dict(bus.published)
    return summary


def run_steps(config: Config, workdir: Path, names: tuple[str, ...], as_of: date | None = None,
              full_resolution: bool = False) -> dict[str, dict[str, Any]]:
    """Run some declared steps, in their declared order, on a work folder's tables (``cdp resolve``)."""
    now = datetime.now(UTC)
    store, bus = open_store(workdir), local_bus(config, workdir)
    ctx = StepContext(config, new_run_id(now), as_of or now.date(), now, bus, local_models(workdir), full_resolution,
                      contacts=bus.contacts)
    return {step.name: run_step(step.name, store, ctx) for step in STEPS if step.name in names}


def local_salt(workdir: Path) -> str:
    """The secret that salts the hashes of erased subjects and identifiers: made once per work folder, readable by
    its owner only (in the cloud, a Secrets Manager secret the stack generates)."""
    path = workdir / "secrets" / "salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def retention_local(config: Config, workdir: Path, today: date | None = None, now: datetime | None = None
                    ) -> Retention:
    """``cdp retention``: quarantined rows and inactive people past retention, out of the work folder."""
    return apply_retention(open_store(workdir), LocalFiles(workdir / "outbox"), config, local_salt(workdir),
                           now or datetime.now(UTC), today)


def erase_local(config: Config, workdir: Path, subject: Subject, now: datetime | None = None) -> Erasure:
    """``cdp erase``: the person erased from the work folder's tables, the files they landed from and the outbox."""
    return erase(open_store(workdir), LocalFiles(workdir / "outbox"), config, subject, local_salt(workdir),
                 now or datetime.now(UTC))
