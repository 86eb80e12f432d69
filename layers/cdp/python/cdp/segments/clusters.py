"""ML segments a marketer can read: customers clustered on what they do, each cluster explained by plain rules.

K-means (scikit-learn) on standardised behaviour (skewed amounts on a log scale), with k chosen by the best
silhouette score on a sample, from ``k_min`` to ``k_max``. Each cluster is then explained by a shallow decision
tree that tells its members from everyone else: the tree's branches that lead to the cluster become a SQL
condition (which a marketer can copy into a rule segment) and the same in words ("bought on 4 days or more and last
bought within 90 days"), with how much of the cluster the rule finds and how many it finds are in it. The cluster is
named from the features that set it apart most ("Frequent, recent customers").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.tree import DecisionTreeClassifier

# Column: (log scale, words for a high value, words for a low value, how a bound reads)
FEATURES: dict[str, tuple[bool, str, str, str]] = {
    "recency_days": (True, "lapsed", "recent", "last bought {op} {value:,.0f} days ago"),
    "purchase_days": (True, "frequent", "one-time", "bought on {op} {value:,.0f} days"),
    "avg_spend": (True, "big-basket", "small-basket", "spends {op} {value:,.0f} per purchase day"),
    "predicted_value": (True, "high-potential", "low-potential",
                        "is expected to spend {op} {value:,.0f} over the horizon"),
    "intent_score": (False, "browsing", "quiet online", "has a web intent {op} {value:,.0f}"),
}
_WORDS = {"<=": "at most", ">": "more than"}
WHOLE = {"recency_days", "purchase_days", "intent_score"}
SILHOUETTE_SAMPLE = 5_000


def cluster_inputs(scores: pd.DataFrame) -> pd.DataFrame:
    """The clustered columns for the customers among scored profiles (indexed by profile_id)."""
    customers = scores[scores["purchase_days"].notna()].set_index("profile_id")
    return pd.DataFrame({
        "recency_days": customers["recency_days"].astype(float),
        "purchase_days": customers["purchase_days"].astype(float),
        "avg_spend": (customers["monetary"] / customers["purchase_days"]).astype(float),
        "predicted_value": customers["predicted_value"].astype(float).fillna(0.0),
        "intent_score": customers["intent_score"].astype(float).fillna(0.0),
    }, index=customers.index)


def _transform(frame: pd.DataFrame) -> np.ndarray:
    columns = [np.log1p(frame[name].clip(lower=0)) if FEATURES[name][0] else frame[name] for name in FEATURES]
    return np.column_stack(columns).astype(float)


def _round(value: float) -> float:
    """A threshold a person would write: two significant figures."""
    if value == 0:
        return 0.0
    digits = 1 - int(np.floor(np.log10(abs(value))))
    return float(round(value, max(digits, 0)))


def _rule_paths(tree: DecisionTreeClassifier, names: list[str]) -> list[list[tuple[str, str, float]]]:
    """The tree's paths to the leaves that say 'in the cluster', as (column, op, threshold) conditions; a split
    whose two sides both say so is no condition."""
    inner = tree.tree_

    def walk(node: int, path: list[tuple[str, str, float]]) -> tuple[list, bool]:
        if inner.children_left[node] == -1:
            counts = inner.value[node][0]
            inside = bool(counts[1] > counts[0])
            return ([path] if inside else []), inside
        name, threshold = names[inner.feature[node]], float(inner.threshold[node])
        # Whole numbers (days, a score) compare to a whole threshold: x <= 2.5 is x <= 2, x > 2.5 is x > 2.
        threshold = float(np.floor(threshold)) if name in WHOLE else _round(threshold)
        left, left_all = walk(inner.children_left[node], [*path, (name, "<=", threshold)])
        right, right_all = walk(inner.children_right[node], [*path, (name, ">", threshold)])
        if left_all and right_all:
            return [path], True
        return left + right, False

    return walk(0, [])[0]


def _simplified(path: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    """One lower and one upper bound per column at most: the tightest."""
    bounds: dict[tuple[str, str], float] = {}
    for name, op, value in path:
        key = (name, op)
        bounds[key] = min(bounds.get(key, value), value) if op == "<=" else max(bounds.get(key, value), value)
    return [(name, op, value) for (name, op), value in bounds.items()]


def _sql(paths: list[list[tuple[str, str, float]]]) -> str:
    ands = [" AND ".join(f"{name} {op} {value:g}" for name, op, value in path) for path in paths]
    return " OR ".join(f"({a})" if len(ands) > 1 else a for a in ands) or "false"


def _words(paths: list[list[tuple[str, str, float]]]) -> str:
    sentences = [" and ".join(FEATURES[name][3].format(op=_WORDS[op], value=value) for name, op, value in path)
                 for path in paths]
    return "; or ".join(sentences)


def fit_clusters(frame: pd.DataFrame, k_min: int = 3, k_max: int = 8, seed: int = 0) -> dict[str, Any]:
    """Cluster the customers of ``cluster_inputs``; the artefact holds the scaling, centroids, the silhouette of
    every k tried, and per cluster its name, size, rule (SQL and words), and the rule's precision and recall."""
    x = _transform(frame)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(z), size=min(len(z), SILHOUETTE_SAMPLE), replace=False)
    tried, models = {}, {}
    for k in range(k_min, min(k_max, len(z) - 1) + 1):
        model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(z)
        tried[k] = float(silhouette_score(z[sample], model.labels_[sample]))
        models[k] = model
    k = max(tried, key=tried.get)
    labels = models[k].labels_
    names = list(FEATURES)
    clusters = []
    for c in range(k):
        inside = labels == c
        # Leaves of at least 1% of the customers, but small enough for a small cluster to have its own.
        leaf = max(5, min(len(z) // 100, int(inside.sum()) // 4))
        tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=leaf, random_state=seed)
        tree.fit(frame[names].to_numpy(dtype=float), inside.astype(int))
        paths = [_simplified(p) for p in _rule_paths(tree, names)]
        found = tree.predict(frame[names].to_numpy(dtype=float)).astype(bool)
        distinct = (z[inside].mean(axis=0)) if inside.any() else np.zeros(len(names))
        order = np.argsort(-np.abs(distinct))[:2]
        words = [FEATURES[names[i]][1] if distinct[i] > 0 else FEATURES[names[i]][2] for i in order]
        clusters.append({
            "segment_id": f"ml_{c + 1}", "name": f"{words[0].capitalize()}, {words[1]} customers",
            "size": int(inside.sum()), "rule_sql": _sql(paths), "rule_text": _words(paths) or "no simple rule",
            "precision": float((found & inside).sum() / max(found.sum(), 1)),
            "recall": float((found & inside).sum() / max(inside.sum(), 1)),
        })
    return {"features": names, "mean": mean.tolist(), "scale": scale.tolist(),
            "centroids": models[k].cluster_centers_.tolist(), "k": k,
            "silhouette": {str(key): value for key, value in tried.items()}, "clusters": clusters}


def assign_clusters(model: dict[str, Any], frame: pd.DataFrame) -> pd.Series:
    """Each customer's ML segment id: the nearest centroid."""
    if frame.empty:
        return pd.Series([], dtype=object, index=frame.index)
    z = (_transform(frame[model["features"]]) - np.asarray(model["mean"])) / np.asarray(model["scale"])
    distances = ((z[:, None, :] - np.asarray(model["centroids"])[None, :, :]) ** 2).sum(axis=2)
    ids = [cluster["segment_id"] for cluster in model["clusters"]]
    return pd.Series(np.asarray(ids, dtype=object)[distances.argmin(axis=1)], index=frame.index)
