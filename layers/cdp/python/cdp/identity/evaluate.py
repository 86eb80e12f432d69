"""Quality of identity resolution against a ground truth: pairwise precision, recall and F1."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

# The shapes a ground truth may take: each record's key and its person, or the key in two parts
# (``<source>:<source_id>`` is the record key).
TRUTH_SHAPES = (("record_key", "person_id"), ("source", "source_id", "person_id"))


class TruthFormatError(ValueError):
    """A ground truth without the columns of either accepted shape."""


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


def truth_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A ground truth as ``record_key, person_id``, from either shape; rows missing a part are dropped."""
    columns = {str(c).strip().lower(): c for c in frame.columns}
    if "record_key" in columns and "person_id" in columns:
        truth = pd.DataFrame({"record_key": frame[columns["record_key"]], "person_id": frame[columns["person_id"]]})
    elif all(name in columns for name in TRUTH_SHAPES[1]):
        source, source_id = frame[columns["source"]], frame[columns["source_id"]]
        truth = pd.DataFrame({"record_key": source.str.strip() + ":" + source_id.str.strip(),
                              "person_id": frame[columns["person_id"]]})
    else:
        expected = " or ".join(",".join(shape) for shape in TRUTH_SHAPES)
        found = ",".join(map(str, frame.columns)) or "(none)"
        raise TruthFormatError(f"the ground truth needs the columns {expected}; found {found}")
    return truth.dropna().reset_index(drop=True)


def read_truth(path: Path) -> pd.DataFrame:
    """Read a ground truth CSV of either shape as ``record_key, person_id`` (every value a string)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    return truth_frame(frame)


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
