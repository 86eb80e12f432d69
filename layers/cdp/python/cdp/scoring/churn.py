"""Churn risk: the probability that a customer makes no purchase in the next ``churn_days``.

A logistic regression (scikit-learn) on a customer's history at a cut-off (recency, frequency, tenure, spend,
channel, web activity and visits to risk pages), calibrated by Platt scaling (a logistic fit of its scores) on
customers it was not fitted on: smooth at the extremes, where isotonic steps overfit a few thousand customers. Both
are stored as plain numbers (JSON), so a run loads no pickled code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

FEATURES = ("log_recency", "log_purchase_days", "log_tenure", "log_avg_spend", "web_share", "log_days_since_web",
            "log_web_events", "risk_visits")


def churn_features(customers: pd.DataFrame, web: pd.DataFrame) -> pd.DataFrame:
    """The model's inputs per customer (``customers_at`` and ``web_at`` frames at the same cut-off)."""
    frame = customers.merge(web, on="profile_id", how="left")
    never = 3650.0  # no web activity at all reads as a visit ten years ago
    return pd.DataFrame({
        "log_recency": np.log1p(frame["recency_days"].astype(float)),
        "log_purchase_days": np.log1p(frame["purchase_days"].astype(float)),
        "log_tenure": np.log1p(frame["T"].astype(float)),
        "log_avg_spend": np.log1p(frame["avg_spend"].astype(float)),
        "web_share": frame["web_share"].astype(float),
        "log_days_since_web": np.log1p(frame["days_since_web"].astype(float).fillna(never)),
        "log_web_events": np.log1p(frame["web_events_window"].astype(float).fillna(0)),
        "risk_visits": frame["risk_visits_window"].astype(float).fillna(0).clip(upper=5),
    }, index=frame.index)[list(FEATURES)]


def fit_churn(features: pd.DataFrame, churned: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Fit on two thirds of the customers, calibrate on the other third."""
    rng = np.random.default_rng(seed)
    calibrate = rng.random(len(features)) < 1 / 3
    if len(set(churned[~calibrate])) < 2 or len(set(churned[calibrate])) < 2:
        raise ValueError("churn needs customers who churned and customers who did not, in both halves")
    x = features.to_numpy(dtype=float)
    mean, scale = x[~calibrate].mean(axis=0), x[~calibrate].std(axis=0)
    scale[scale == 0] = 1.0
    logistic = LogisticRegression(C=1.0, max_iter=1000).fit((x[~calibrate] - mean) / scale, churned[~calibrate])
    raw = logistic.decision_function((x[calibrate] - mean) / scale)
    platt = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), churned[calibrate])
    return {"features": list(FEATURES), "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": logistic.coef_[0].tolist(), "intercept": float(logistic.intercept_[0]),
            "calibration": [float(platt.coef_[0][0]), float(platt.intercept_[0])]}


def churn_probability(model: dict[str, Any], features: pd.DataFrame) -> np.ndarray:
    x = features[model["features"]].to_numpy(dtype=float)
    raw = ((x - np.asarray(model["mean"])) / np.asarray(model["scale"])) @ np.asarray(model["coef"]) \
        + model["intercept"]
    slope, offset = model["calibration"]
    return 1 / (1 + np.exp(-(slope * raw + offset)))


def reliability(predicted: np.ndarray, churned: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted against observed churn, by bands of predicted probability: a calibrated model's rows agree."""
    band = np.minimum((predicted * bins).astype(int), bins - 1)
    table = pd.DataFrame({"band": band, "predicted": predicted, "churned": churned.astype(float)})
    out = table.groupby("band").agg(customers=("predicted", "size"), predicted=("predicted", "mean"),
                                    observed=("churned", "mean")).reset_index()
    out["band"] = [f"{b / bins:.1f}-{(b + 1) / bins:.1f}" for b in out["band"]]
    return out


def auc(predicted: np.ndarray, churned: np.ndarray) -> float:
    return float(roc_auc_score(churned, predicted))
