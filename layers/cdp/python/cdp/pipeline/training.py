"""Training: fit the models a run loads (today the identity matcher) on the data up to a date, and save each as a
new version. A pipeline run never re-estimates a model; ``cdp train`` is how a brand refreshes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from cdp.config import Config
from cdp.identity.resolve import train_matcher
from cdp.lineage import current_versions
from cdp.pipeline.steps import IDENTITY_MODEL
from cdp.ports import ModelStore, TableStore


@dataclass(frozen=True)
class Trained:
    model: str
    version: str
    records: int


def train_models(store: TableStore, config: Config, models: ModelStore, as_of: date | None = None,
                 now: datetime | None = None) -> list[Trained]:
    now = now or datetime.now(UTC)
    row_filter = None
    if as_of is not None:
        # Only what had been ingested by the end of that day: a back-test must not learn from the future.
        end = datetime.combine(as_of + timedelta(days=1), time(), UTC)
        row_filter = f"ingested_at < '{end.isoformat()}'"
    records = current_versions(store.read("records", row_filter)).to_pandas()
    if records.empty:
        raise ValueError("no records to train on" + (f" ingested by {as_of}" if as_of else "") +
                         "; ingest files first (cdp ingest or cdp run)")
    version = f"{(as_of or now.date()).isoformat()}-{now:%Y%m%dT%H%M%S}"
    models.save(IDENTITY_MODEL, version, train_matcher(records, config.identity))
    return [Trained(IDENTITY_MODEL, version, len(records))]
