"""RFM: recency, frequency and monetary value as scores of 1 to 5 among customers, and the named segment that a
recency and frequency pair falls in."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

# First match wins; together they cover every recency and frequency pair.
SEGMENTS: tuple[tuple[str, Callable[[int, int], bool]], ...] = (
    ("Champions", lambda r, f: r >= 4 and f >= 4),
    ("Can't lose", lambda r, f: r == 1 and f >= 4),
    ("At risk", lambda r, f: r <= 2 and f >= 3),
    ("Loyal", lambda r, f: r >= 3 and f >= 3),
    ("New", lambda r, f: r == 5 and f == 1),
    ("Promising", lambda r, f: r == 4 and f == 1),
    ("Potential loyalists", lambda r, f: r >= 4 and f == 2),
    ("Needs attention", lambda r, f: r == 3 and f == 2),
    ("About to sleep", lambda r, f: r == 3 and f == 1),
    ("Hibernating", lambda r, f: r == 2),
    ("Lost", lambda r, f: r == 1),
)


def quintile(values: pd.Series, higher_is_better: bool = True) -> np.ndarray:
    """1 to 5 by rank; tied values share the lower score, so that the many one-time buyers all score 1 on
    frequency rather than being spread over scores by chance."""
    ranked = (values if higher_is_better else -values).rank(method="min").to_numpy()
    return (1 + np.floor(5 * (ranked - 1) / max(len(values), 1))).astype(int)


def segment_of(r: int, f: int) -> str:
    for name, rule in SEGMENTS:
        if rule(r, f):
            return name
    raise AssertionError(f"no RFM segment for r={r}, f={f}")


def rfm(recency_days: pd.Series, purchase_days: pd.Series, total_spend: pd.Series) -> pd.DataFrame:
    """rfm_score ("545") and rfm_segment per customer, in the order given."""
    r = quintile(recency_days, higher_is_better=False)
    f = quintile(purchase_days)
    m = quintile(total_spend)
    names = {(i, j): segment_of(i, j) for i in range(1, 6) for j in range(1, 6)}
    return pd.DataFrame({"rfm_score": [f"{a}{b}{c}" for a, b, c in zip(r, f, m, strict=True)],
                         "rfm_segment": [names[(a, b)] for a, b in zip(r, f, strict=True)]},
                        index=recency_days.index)
