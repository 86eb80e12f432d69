"""Training: fit the models a run loads (the identity matcher, and the scoring models) on the data up to a date, and
save each as a new version. A pipeline run never re-estimates a model; ``cdp train`` is how a brand refreshes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdp.config import Config
from cdp.identity.resolve import train_matcher
from cdp.lineage import current_versions
from cdp.pipeline.steps import IDENTITY_MODEL, MIN_RECORDS_TO_TRAIN
from cdp.ports import ModelStore, TableStore
from cdp.scoring.history import purchase_days, web_days
from cdp.scoring.models import SCORING_MODEL, train_scoring


@dataclass(frozen=True)
class Trained:
    model: str
    version: str
    records: int  # what it learnt from: records for the matcher, customers for the scoring models
    validation: dict | None = None  # figures measured on a time split inside the training data
    skipped: str | None = None  # why it was not trained


def train_models(store: TableStore, config: Config, models: ModelStore, as_of: date | None = None,
                 now: datetime | None = None) -> list[Trained]:
    now = now or datetime.now(UTC)
    records = store.read("records")
    if as_of is not None:
        # Only the versions that existed by the end of that day (updated then, or ingested then when a source
        # gives no update time): a back-test must not learn from the future.
        end = pa.scalar(datetime.combine(as_of + timedelta(days=1), time(), UTC),
                        records.schema.field("ingested_at").type)
        when = pc.coalesce(records["updated_at"], records["ingested_at"])
        records = records.filter(pc.less(when, end))
    records = current_versions(records).to_pandas()
    if records.empty:
        raise ValueError("no records to train on" + (f" dated up to {as_of}" if as_of else "") +
                         "; ingest files first (cdp ingest or cdp run)")
    if len(records) < MIN_RECORDS_TO_TRAIN:
        raise ValueError(f"{len(records)} records" + (f" dated up to {as_of}" if as_of else "") + " are too few to "
                         f"train the identity matcher (at least {MIN_RECORDS_TO_TRAIN}); identifiers alone link them")
    version = f"{(as_of or now.date()).isoformat()}-{now:%Y%m%dT%H%M%S}"
    models.save(IDENTITY_MODEL, version, train_matcher(records, config.identity))
    return [Trained(IDENTITY_MODEL, version, len(records)), _train_scoring(store, config, models, as_of or now.date(),
                                                                            version)]


def _train_scoring(store: TableStore, config: Config, models: ModelStore, as_of: date, version: str) -> Trained:
    """Purchases and web visits are attributed through the last resolved identities; only those up to ``as_of``
    are learnt from."""
    profiles, identities = store.read("profiles"), store.read("identities")
    if profiles.num_rows == 0:
        return Trained(SCORING_MODEL, "", 0, skipped="no profiles yet: run the pipeline once (cdp run)")
    spec = config.scoring
    purchases = purchase_days(config, profiles, identities, current_versions(store.read("orders")), as_of)
    web = web_days(config, profiles, identities, current_versions(store.read("events")), as_of)
    try:
        artefact = train_scoring(purchases, web, as_of, spec)
    except ValueError as exc:
        return Trained(SCORING_MODEL, "", 0, skipped=str(exc))
    models.save(SCORING_MODEL, version, artefact)
    customers = purchases[pd.to_datetime(purchases["day"]) <= pd.Timestamp(as_of)]["profile_id"].nunique()
    return Trained(SCORING_MODEL, version, int(customers), {**artefact["validation"], "clusters": artefact["clusters"]})
