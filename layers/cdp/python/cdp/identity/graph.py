"""The identity graph: records joined by the deterministic keys they share, and its connected components."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def components(records: pd.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, pd.Series]:
    """Connected components of the graph whose edges join records sharing a key value; and the linking rule."""
    n = len(records)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    rule = pd.Series("singleton", index=records.index, dtype="object")
    for key in reversed(keys):  # the first key listed names the rule when several keys link a record
        values = records[key]
        present = values.notna()
        if not present.any():
            continue
        positions = np.flatnonzero(present.to_numpy())
        # Star edges from every record to the first record with the same value: enough for connectivity.
        codes, _ = pd.factorize(values[present])
        _, first_of_code = np.unique(codes, return_index=True)
        anchors = positions[first_of_code[codes]]
        rows.append(positions)
        cols.append(anchors)
        shared = values[present].duplicated(keep=False)
        rule.loc[shared[shared].index] = key
    if rows:
        edges_from, edges_to = np.concatenate(rows), np.concatenate(cols)
    else:
        edges_from = edges_to = np.array([], dtype=int)
    graph = coo_matrix((np.ones(len(edges_from)), (edges_from, edges_to)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels, rule
