"""Quality of identity resolution against a ground truth: pairwise precision, recall and F1."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd


@dataclass(frozen=True)
class LinkQuality:
    records: int
    profiles: int
    persons: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def link_quality(identities: pd.DataFrame, truth: pd.DataFrame) -> LinkQuality:
    """Counts pairs of records: linked by us, linked in truth, and both. Records absent from either are ignored."""
    joined = identities[["record_key", "profile_id"]].merge(truth[["record_key", "person_id"]], on="record_key")
    predicted = _pairs(joined.groupby("profile_id").size())
    actual = _pairs(joined.groupby("person_id").size())
    correct = _pairs(joined.groupby(["profile_id", "person_id"]).size())
    precision = correct / predicted if predicted else 1.0
    recall = correct / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return LinkQuality(len(joined), joined["profile_id"].nunique(), joined["person_id"].nunique(), actual, predicted,
                       correct, round(precision, 4), round(recall, 4), round(f1, 4))
