"""The local runner: ingest a landing folder, then run the declared steps in order, on a work folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cdp.adapters.buses import LocalBus
from cdp.adapters.iceberg import IcebergStore, local_catalog
from cdp.config import Config
from cdp.ingestion import FileOutcome, ingest_file
from cdp.pipeline.run import RunContext, new_run_id, run_step
from cdp.pipeline.steps import STEPS


@dataclass
class RunSummary:
    run_id: str
    files: list[FileOutcome] = field(default_factory=list)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)


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


def ingest_paths(store: IcebergStore, config: Config, source: str, paths: list[Path]) -> list[FileOutcome]:
    return [ingest_file(store, config, source, path, str(path)) for path in paths]


def run_local(
    config: Config,
    landing: Path,
    workdir: Path,
    as_of: date | None = None,
    progress: Any = None,
) -> RunSummary:
    now = datetime.now(UTC)
    store = open_store(workdir)
    bus = LocalBus(list(config.channels), workdir / "outbox")
    summary = RunSummary(new_run_id(now))
    for source, path in landing_files(landing, config):
        if progress:
            progress(f"ingest {source}: {path.name}")
        summary.files.append(ingest_file(store, config, source, path, str(path), now=now))
    ctx = RunContext(config, store, bus, summary.run_id, as_of or now.date(), now)
    for step in STEPS:
        if progress:
            progress(f"step {step.name}: {step.description}")
        summary.steps[step.name] = run_step(step.name, ctx)
    summary.delivered = dict(bus.delivered)
    return summary
