"""Training the scoring models on the data up to a date, and scoring profiles with them.

Future purchases: BG/NBD, MBG/NBD and Pareto/NBD, each with and without covariates (a customer's average spend per
purchase day and share of web orders), are fitted on the history up to ``horizon_days`` before the training date
and judged on the purchase days each customer made in the ``horizon_days`` that follow, which they never saw. The
chosen one has the lowest per-customer RMSE among those that predict at least 95% of the period's purchases
(a model that under-predicts the total would starve budgets); it is then fitted again on the whole history. Spend
per purchase day: Gamma-Gamma. Churn: ``churn.fit_churn`` on the history up to ``2 × churn_days`` before the
training date, judged on the next ``churn_days`` (ROC AUC, reliability table), then fitted again one period later.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from cdp.config.scoring import ScoringSpec
from cdp.scoring import btyd
from cdp.scoring.churn import auc, churn_features, churn_probability, fit_churn, reliability
from cdp.scoring.history import customers_at, purchase_days_between, web_at
from cdp.scoring.rfm import rfm
from cdp.segments.clusters import assign_clusters, cluster_inputs, fit_clusters

SCORING_MODEL = "scoring"
COVARIATES = ("log_avg_spend", "web_share")
UNDER_PREDICTION_TOLERANCE = 0.95  # a chosen model predicts at least this share of the period's purchase days
MAX_TRAINING_CUSTOMERS = 100_000  # customers the models are trained on at most (a random sample beyond)


def _covariates(customers: pd.DataFrame, standard: dict[str, list[float]] | None = None
                ) -> tuple[np.ndarray, dict[str, list[float]]]:
    raw = np.column_stack([np.log1p(customers["avg_spend"].to_numpy(dtype=float)),
                           customers["web_share"].to_numpy(dtype=float)])
    if standard is None:
        scale = raw.std(axis=0)
        standard = {"mean": raw.mean(axis=0).tolist(), "scale": np.where(scale > 0, scale, 1.0).tolist()}
    return (raw - np.asarray(standard["mean"])) / np.asarray(standard["scale"]), standard


def _summary(customers: pd.DataFrame, z: np.ndarray | None) -> btyd.Summary:
    return btyd.Summary(customers["x"].to_numpy(dtype=float), customers["t_x"].to_numpy(dtype=float),
                        customers["T"].to_numpy(dtype=float),
                        z if z is not None else np.zeros((len(customers), 0)))


def _errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    correlation = float(np.corrcoef(predicted, actual)[0, 1]) if np.std(predicted) > 0 else 0.0
    return {"mae": float(np.mean(np.abs(predicted - actual))),
            "rmse": float(np.sqrt(np.mean((predicted - actual) ** 2))), "correlation": correlation,
            "predicted_total": float(predicted.sum()), "actual_total": float(actual.sum())}


def compare_purchase_models(purchases: pd.DataFrame, as_of: date, horizon: int, min_customers: int
                            ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every candidate fitted up to ``as_of - horizon`` and judged on the ``horizon`` days after; the naive rate
    (each customer's past purchase days per day, carried forward) for reference. Returns the table and the choice."""
    cutoff = as_of - timedelta(days=horizon)
    customers = customers_at(purchases, cutoff)
    if len(customers) < min_customers:
        raise ValueError(f"{len(customers)} customers had bought by {cutoff} (the training date less the "
                         f"{horizon}-day horizon); at least {min_customers} are needed to fit purchase models")
    actual = purchase_days_between(purchases, cutoff, as_of).reindex(customers["profile_id"]).fillna(0).to_numpy()
    # The naive rate: purchase days per day so far (over at least one horizon, so that a first purchase last week is
    # not read as one a week), carried forward.
    rate = customers["purchase_days"].to_numpy() / np.maximum(customers["T"].to_numpy(), horizon)
    rows = [{"model": "naive rate", "covariates": False, **_errors(rate * horizon, actual)}]
    z, _ = _covariates(customers)
    for model in btyd.MODELS:
        for with_covariates in (False, True):
            data = _summary(customers, z if with_covariates else None)
            fitted = btyd.fit(model, data)
            predicted = btyd.expected_purchases(fitted, data, horizon)
            rows.append({"model": model, "covariates": with_covariates, **_errors(predicted, actual),
                         "log_likelihood": fitted["log_likelihood"]})
    table = pd.DataFrame(rows)
    table["total_ratio"] = table["predicted_total"] / table["actual_total"].clip(lower=1)
    candidates = table[(table["model"] != "naive rate")]
    fair = candidates[candidates["total_ratio"] >= UNDER_PREDICTION_TOLERANCE]
    best = (fair if not fair.empty else candidates.assign(
        gap=(candidates["total_ratio"] - 1).abs()).sort_values("gap")).sort_values("rmse").iloc[0]
    return table, {"model": best["model"], "covariates": bool(best["covariates"])}


def _churn_data(purchases: pd.DataFrame, web: pd.DataFrame, cutoff: date, end: date | None,
                spec: ScoringSpec) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray | None]:
    customers = customers_at(purchases, cutoff)
    features = churn_features(customers, web_at(web, cutoff, spec.intent.window_days, spec.intent.half_life_days))
    churned = None
    if end is not None:
        bought = purchase_days_between(purchases, cutoff, end).reindex(customers["profile_id"]).fillna(0)
        churned = (bought.to_numpy() == 0).astype(int)
    return customers, features, churned


def train_scoring(purchases: pd.DataFrame, web: pd.DataFrame, as_of: date, spec: ScoringSpec) -> dict[str, Any]:
    """Fit the purchase, spend and churn models on the history up to ``as_of``; the artefact holds their
    parameters and the validation figures that chose and judged them."""
    purchases = purchases[pd.to_datetime(purchases["day"]) <= pd.Timestamp(as_of)]
    web = web[pd.to_datetime(web["day"]) <= pd.Timestamp(as_of)] if not web.empty else web
    # Models of shares and rates learn as well from a random sample of customers, at a fraction of the time.
    buyers = purchases["profile_id"].unique()
    if len(buyers) > MAX_TRAINING_CUSTOMERS:
        sample = set(np.random.default_rng(0).choice(buyers, MAX_TRAINING_CUSTOMERS, replace=False))
        purchases = purchases[purchases["profile_id"].isin(sample)]
        web = web[web["profile_id"].isin(sample)] if not web.empty else web
    comparison, choice = compare_purchase_models(purchases, as_of, spec.horizon_days, spec.min_customers)
    customers = customers_at(purchases, as_of)
    z, standard = _covariates(customers)
    purchase_model = btyd.fit(choice["model"], _summary(customers, z if choice["covariates"] else None))
    purchase_model["covariates"] = standard if choice["covariates"] else None
    spend = btyd.fit_gamma_gamma(customers["x"].to_numpy(dtype=float), customers["repeat_spend"].to_numpy())

    first, second = as_of - timedelta(days=2 * spec.churn_days), as_of - timedelta(days=spec.churn_days)
    _, features, churned = _churn_data(purchases, web, first, second, spec)
    if len(features) < spec.min_customers:
        raise ValueError(f"{len(features)} customers had bought by {first} (the training date less twice the "
                         f"{spec.churn_days}-day churn period); at least {spec.min_customers} are needed")
    judged = fit_churn(features, churned)
    _, later, churned_later = _churn_data(purchases, web, second, as_of, spec)
    predicted = churn_probability(judged, later)
    churn_model = fit_churn(later, churned_later)
    artefact = {
        "as_of": as_of.isoformat(), "horizon_days": spec.horizon_days, "churn_days": spec.churn_days,
        "purchases": purchase_model, "spend": spend, "churn": churn_model,
        "validation": {
            "purchases": comparison.to_dict(orient="records"), "chosen": choice,
            "churn": {"customers": int(len(later)), "churn_rate": float(churned_later.mean()),
                      "roc_auc": auc(predicted, churned_later),
                      "reliability": reliability(predicted, churned_later).to_dict(orient="records")},
        },
    }
    artefact["clusters"] = train_segments(purchases, web, as_of, artefact, spec)
    return artefact


def intent_score(decayed: pd.Series, saturation: float) -> pd.Series:
    """0 to 100: 100 · (1 − e^(−decayed weight / saturation))."""
    return (100 * (1 - np.exp(-decayed.astype(float) / saturation))).round().astype("Int64")


def preferred_channel(profiles: pd.DataFrame, web_share: pd.Series, days_since_web: pd.Series) -> pd.Series:
    """The consented channel to reach a person by: email for those who buy or browse online (half their orders on
    the web, or a visit in the last 90 days), SMS for store buyers with a phone; the other where only one is
    consented; none without consent."""
    email = profiles["consent_email"].fillna(False).astype(bool) & profiles["email"].notna()
    sms = profiles["consent_sms"].fillna(False).astype(bool) & profiles["phone"].notna()
    online = (web_share.fillna(0) >= 0.5) | (days_since_web.fillna(np.inf) <= 90)
    choice = np.where(email & (online | ~sms), "email", np.where(sms, "sms", None))
    return pd.Series(choice, index=profiles.index, dtype=object)


def _customer_scores(purchases: pd.DataFrame, web: pd.DataFrame, as_of: date, artefact: dict[str, Any] | None,
                     spec: ScoringSpec) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per customer (a profile with a purchase up to ``as_of``): RFM, and with models, expected purchases and
    value, probability alive, churn; per profile with web activity: intent. Also the customers' history."""
    purchases = purchases[pd.to_datetime(purchases["day"]) <= pd.Timestamp(as_of)]
    customers = customers_at(purchases, as_of)
    scored = pd.DataFrame({
        "profile_id": customers["profile_id"].to_numpy(),
        "recency_days": customers["recency_days"].astype("int64").to_numpy(),
        "purchase_days": customers["purchase_days"].astype("int64").to_numpy(),
        "monetary": customers["total_spend"].round(2).to_numpy(),
    }).join(rfm(customers["recency_days"], customers["purchase_days"], customers["total_spend"])
            .reset_index(drop=True))
    if artefact is not None and not customers.empty:  # without models (too little history yet): RFM and intent
        model = artefact["purchases"]
        z = _covariates(customers, model["covariates"])[0] if model.get("covariates") else None
        data = _summary(customers, z)
        expected = btyd.expected_purchases(model, data, spec.horizon_days)
        spend = btyd.expected_spend(artefact["spend"], data.x, customers["repeat_spend"].to_numpy())
        _, features, _ = _churn_data(purchases, web, as_of, None, spec)
        scored["expected_purchases"] = np.round(expected, 4)
        scored["probability_alive"] = np.round(btyd.probability_alive(model, data), 4)
        scored["predicted_value"] = np.round(expected * spend, 2)
        scored["churn_probability"] = np.round(churn_probability(artefact["churn"], features), 4)
    web_now = web_at(web, as_of, spec.intent.window_days, spec.intent.half_life_days).set_index("profile_id")
    web_now["intent_score"] = intent_score(web_now["intent_decayed"], spec.intent.saturation)
    scored["intent_score"] = scored["profile_id"].map(web_now["intent_score"]).fillna(0).astype("int64")
    return scored, customers, web_now


def train_segments(purchases: pd.DataFrame, web: pd.DataFrame, as_of: date, artefact: dict[str, Any],
                   spec: ScoringSpec) -> dict[str, Any] | None:
    """ML segments fitted on the customers as the trained models score them as of the training date."""
    if not spec.ml_segments.enabled:
        return None
    scored, _, _ = _customer_scores(purchases, web, as_of, artefact, spec)
    if len(scored) < spec.min_customers:
        return None
    return fit_clusters(cluster_inputs(scored), spec.ml_segments.k_min, spec.ml_segments.k_max)


def score_profiles(profiles: pd.DataFrame, purchases: pd.DataFrame, web: pd.DataFrame, as_of: date,
                   artefact: dict[str, Any] | None, spec: ScoringSpec, model_version: str | None, scored_at: datetime,
                   run_id: str) -> pd.DataFrame:
    """One row per profile: RFM, expected purchase days and value over the horizon, churn probability (customers
    only: a prospect has no purchase to churn from), ML segment, intent and preferred channel, from data up to
    ``as_of``."""
    scored, customers, web_now = _customer_scores(purchases, web, as_of, artefact, spec)
    if artefact is not None and artefact.get("clusters") and not scored.empty:
        scored["ml_segment"] = assign_clusters(artefact["clusters"], cluster_inputs(scored)).to_numpy()
    out = profiles[["profile_id"]].merge(scored.drop(columns="intent_score"), on="profile_id", how="left")
    out["intent_score"] = out["profile_id"].map(web_now["intent_score"]).fillna(0).astype("int64").to_numpy()
    web_share = customers.set_index("profile_id")["web_share"].reindex(out["profile_id"])
    out["preferred_channel"] = preferred_channel(
        profiles.reset_index(drop=True), web_share.reset_index(drop=True),
        web_now["days_since_web"].reindex(out["profile_id"]).reset_index(drop=True)).to_numpy()
    out["as_of"] = as_of
    out["model_version"] = model_version
    out["scored_at"] = pd.Timestamp(scored_at)
    out["run_id"] = run_id
    return out
