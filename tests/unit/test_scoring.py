"""Scores: the buy-till-you-die and spend models recover what generated the data, churn is calibrated, RFM is read
as marketers read it, and the score step scores every profile from the data up to its date only."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cdp import sql
from cdp.adapters.buses import MemoryBus
from cdp.config import Config
from cdp.demo.synthetic import generate
from cdp.pipeline.local import local_models, open_store, run_local
from cdp.pipeline.runner import run_step
from cdp.pipeline.steps import StepContext
from cdp.scoring import btyd
from cdp.scoring.churn import auc, churn_probability, fit_churn, reliability
from cdp.scoring.rfm import quintile, rfm, segment_of
from cdp.segments.clusters import assign_clusters, fit_clusters
from cdp.segments.rules import check_rules

END = date(2026, 11, 1)


def simulate_bg_nbd(n: int, r: float, alpha: float, a: float, b: float, horizon: float, seed: int = 0
                    ) -> tuple[btyd.Summary, np.ndarray]:
    """Customers drawn from BG/NBD itself: their history up to T, and their purchases in the horizon after."""
    rng = np.random.default_rng(seed)
    rates, drop = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    T = rng.uniform(30, 700, n)
    x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / rates[i])
            if t > T[i] + horizon:
                break
            if t <= T[i]:
                x[i], t_x[i] = x[i] + 1, t
            else:
                future[i] += 1
            if rng.random() < drop[i]:
                break
    return btyd.Summary(x, t_x, T, np.zeros((n, 0))), future


def test_bg_nbd_recovers_the_parameters_that_generated_the_purchases() -> None:
    data, future = simulate_bg_nbd(4000, r=0.25, alpha=40.0, a=2.0, b=2.5, horizon=180)

    fitted = btyd.fit("bg_nbd", data)

    assert fitted["converged"]
    assert fitted["params"]["r"] == pytest.approx(0.25, rel=0.15)
    assert fitted["params"]["alpha"] == pytest.approx(40.0, rel=0.25)
    predicted = btyd.expected_purchases(fitted, data, 180)
    assert predicted.sum() == pytest.approx(future.sum(), rel=0.10)
    assert np.corrcoef(predicted, future)[0, 1] > 0.4  # 0.47 measured: purchases are Poisson noise around it


@pytest.mark.parametrize("model", btyd.MODELS)
def test_every_model_gives_probabilities_and_expectations_that_behave(model: str) -> None:
    data, future = simulate_bg_nbd(1500, r=0.4, alpha=30.0, a=1.5, b=4.0, horizon=90, seed=1)
    fitted = btyd.fit(model, data)

    alive = btyd.probability_alive(fitted, data)
    shorter, longer = btyd.expected_purchases(fitted, data, 30), btyd.expected_purchases(fitted, data, 90)

    assert np.all((alive >= 0) & (alive <= 1)) and np.all(np.isfinite(longer))
    assert np.all(longer >= shorter) and np.all(shorter >= 0)
    assert longer.sum() == pytest.approx(future.sum(), rel=0.25)
    # Two customers with the same purchases: the one silent for longer is less likely alive.
    pair = btyd.Summary(np.array([5.0, 5.0]), np.array([300.0, 100.0]), np.array([320.0, 320.0]), np.zeros((2, 0)))
    recent, silent = btyd.probability_alive(fitted, pair)
    assert recent > silent


def test_covariates_that_drive_the_purchase_rate_are_learnt() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    z = rng.normal(size=(n, 1))
    alpha = 30.0 * np.exp(-0.8 * z[:, 0])  # a larger z: a smaller scale, a higher rate
    rates, T = rng.gamma(0.5, 1 / alpha), np.full(n, 365.0)
    x = rng.poisson(rates * T).astype(float)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1), 0.0)
    fitted = btyd.fit("pareto_nbd", btyd.Summary(x, t_x, T, z))
    assert fitted["gamma"][0] == pytest.approx(0.8, abs=0.2)


def test_gamma_gamma_shrinks_a_customers_spend_towards_the_population_mean() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    p, q, v = 6.0, 4.0, 15.0
    nu = rng.gamma(q, 1 / v, n)
    x = rng.integers(1, 12, n).astype(float)
    spend = np.array([rng.gamma(p, 1 / nu[i], int(k)).mean() for i, k in enumerate(x)])

    params = btyd.fit_gamma_gamma(x, spend)

    population = p * v / (q - 1)
    assert params["p"] * params["v"] / (params["q"] - 1) == pytest.approx(population, rel=0.1)
    one, many = btyd.expected_spend(params, np.array([1.0, 10.0]), np.array([200.0, 200.0]))
    assert population < many < 200 and population < one < many  # fewer purchases: more shrinkage


def test_churn_probabilities_are_calibrated_and_rank_churners_first() -> None:
    rng = np.random.default_rng(4)
    n = 6000
    recency = rng.uniform(0, 6, n)
    features = pd.DataFrame({"log_recency": recency, "log_purchase_days": rng.uniform(0, 3, n),
                             "log_tenure": rng.uniform(2, 6, n), "log_avg_spend": rng.uniform(2, 6, n),
                             "web_share": rng.uniform(0, 1, n), "log_days_since_web": rng.uniform(0, 8, n),
                             "log_web_events": rng.uniform(0, 3, n), "risk_visits": rng.integers(0, 3, n)})
    truth = 1 / (1 + np.exp(-(1.2 * (recency - 3) - 0.8 * features["log_purchase_days"] + 0.5 *
                              features["risk_visits"])))
    churned = (rng.random(n) < truth).astype(int)
    model = fit_churn(features.iloc[:4000], churned[:4000])
    json.dumps(model)  # stored as plain numbers

    predicted = churn_probability(model, features.iloc[4000:])

    assert auc(predicted, churned[4000:]) > 0.8
    table = reliability(predicted, churned[4000:])
    big = table[table["customers"] >= 100]
    assert (big["predicted"] - big["observed"]).abs().max() < 0.08


def test_rfm_scores_and_names_as_marketers_read_them() -> None:
    # Tied values share the lower score: the many one-time buyers all score 1 on frequency.
    assert quintile(pd.Series([1, 1, 1, 1, 1, 1, 2, 3, 5, 9])).tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert {segment_of(r, f) for r in range(1, 6) for f in range(1, 6)} == {
        "Champions", "Can't lose", "At risk", "Loyal", "New", "Promising", "Potential loyalists",
        "Needs attention", "About to sleep", "Hibernating", "Lost"}
    frame = rfm(pd.Series([3, 400, 10, 700, 5]), pd.Series([12, 9, 1, 1, 2]), pd.Series([900.0, 700, 40, 30, 80]))
    assert frame["rfm_score"].tolist()[0] == "555"
    assert frame["rfm_segment"].tolist() == ["Champions", "At risk", "About to sleep", "Lost", "Loyal"]


def test_segment_rules_may_use_scores_and_unknown_columns_are_named(retail_config: Config) -> None:
    good = retail_config.segments[0].model_copy(update={"rule": "churn_probability > 0.6 AND rfm_segment = 'Loyal'"})
    bad = retail_config.segments[0].model_copy(update={"rule": "churn_prob > 0.6"})
    assert check_rules([good]) == []
    (problem,) = check_rules([bad])
    assert "churn_prob" in problem and "churn_probability" in problem


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory, retail_config: Config):
    root = tmp_path_factory.mktemp("scoring")
    dataset = generate(root / "data", profiles=2_500, seed=5, end_date=END)
    summary = run_local(retail_config, dataset.landing, root / "work", as_of=END)
    return root / "work", summary


def test_every_profile_is_scored_once_with_values_in_their_ranges(scored) -> None:
    workdir, summary = scored
    step = summary.steps["score"]
    assert step["model_trained"] is True and step["customers"] > 500
    scores = open_store(workdir).read("scores").to_pandas()
    profiles = open_store(workdir).read("profiles").to_pandas()
    assert sorted(scores["profile_id"]) == sorted(profiles["profile_id"])
    customers = scores[scores["rfm_score"].notna()]
    assert len(customers) == step["customers"]
    assert customers["rfm_score"].str.fullmatch(r"[1-5]{3}").all()
    assert customers["churn_probability"].between(0, 1).all()
    assert (customers["expected_purchases"] >= 0).all() and (customers["predicted_value"] >= 0).all()
    assert scores["intent_score"].between(0, 100).all()
    assert set(scores["preferred_channel"].dropna()) <= {"email", "sms"}
    prospects = scores[scores["rfm_score"].isna()]
    assert prospects["churn_probability"].isna().all()  # no purchase, nothing to churn from
    # Recent frequent buyers are expected to buy more than lapsed ones.
    by_segment = customers.groupby("rfm_segment")["expected_purchases"].mean()
    assert by_segment["Champions"] > 3 * by_segment["Lost"]


def test_a_run_loads_the_trained_models_and_a_back_test_never_sees_its_future(scored, retail_config: Config,
                                                                               tmp_path: Path) -> None:
    workdir, first = scored
    shutil.copytree(workdir, tmp_path / "work")  # the other tests read the first run's tables
    workdir = tmp_path / "work"
    store, models = open_store(workdir), local_models(workdir)
    ctx = StepContext(retail_config, "run-2", END, datetime(2026, 11, 2, tzinfo=UTC), MemoryBus(), models)
    again = run_step("score", store, ctx)
    assert again["model_trained"] is False and again["model"] == first.steps["score"]["model"]

    as_of = date(2026, 5, 1)
    back = StepContext(retail_config, "run-3", as_of, datetime(2026, 11, 2, tzinfo=UTC), MemoryBus(), models)
    summary = run_step("score", store, back)
    assert summary["model_trained"] is True and summary["model"] == "back-test-2026-05-01"
    assert models.latest("scoring")[0] == first.steps["score"]["model"]  # a back-test's models are not kept
    scores = store.read("scores").to_pandas().set_index("profile_id")
    orders = store.read("orders").to_pandas()
    assert (scores["as_of"] == as_of).all()
    assert (scores["recency_days"].dropna() >= 0).all()
    # A customer's purchase days are only those up to the date: none counts an order placed after it.
    identities = store.read("identities").to_pandas().set_index("record_key")["profile_id"]
    crm_orders = orders[orders["customer_id"].notna() & (orders["channel"] == "store")]
    owner = ("crm:" + crm_orders["customer_id"]).map(identities)
    later_only = set(owner[crm_orders["order_date"] >= pd.Timestamp(as_of, tz="UTC")]) - set(
        owner[crm_orders["order_date"] < pd.Timestamp(as_of, tz="UTC")])
    first_after = scores.loc[scores.index.isin(later_only), "rfm_score"]
    assert len(first_after) > 0
    # Store orders alone do not tell whether the web bought earlier: most such customers must be unscored.
    assert first_after.isna().mean() > 0.5


def test_each_segment_carries_its_value_potential(scored, retail_config: Config) -> None:
    workdir, summary = scored
    store = open_store(workdir)
    segments = store.read("segments").to_pandas().set_index("segment_id")
    rules = [segment.id for segment in retail_config.segments]
    assert list(segments.index[segments["kind"] == "rule"]) == rules
    assert set(segments["kind"]) == {"rule", "ml"}
    scores = store.read("scores").to_pandas().set_index("profile_id")
    memberships = store.read("segment_memberships").to_pandas()
    profiles = store.read("profiles").num_rows
    for segment_id, row in segments.iterrows():
        members = set(memberships.loc[(memberships["segment_id"] == segment_id)
                                      & (memberships["change"] == "entered"), "profile_id"])
        assert row["size"] == len(members) == summary.steps["segments"]["sizes"][segment_id]
        assert row["share"] == pytest.approx(len(members) / profiles)
        values = scores.loc[list(members), "predicted_value"]
        if values.notna().any():
            assert row["total_predicted_value"] == pytest.approx(values.sum(), abs=0.05)
            assert row["avg_churn_probability"] == pytest.approx(
                scores.loc[list(members), "churn_probability"].mean(), abs=1e-3)
    # The high-value segment is worth more per member than the lapsing one, and less likely to churn.
    assert segments.loc["high_value", "avg_predicted_value"] > segments.loc["lapsing", "avg_predicted_value"]
    assert segments.loc["high_value", "avg_churn_probability"] < segments.loc["lapsing", "avg_churn_probability"]


def test_ml_segments_are_found_and_explained_by_rules_that_select_them() -> None:
    rng = np.random.default_rng(6)
    groups = [  # recent frequent big spenders, lapsed one-timers, recent small browsers
        dict(recency_days=rng.integers(1, 60, 400), purchase_days=rng.integers(8, 20, 400),
             avg_spend=rng.uniform(150, 300, 400), predicted_value=rng.uniform(800, 2000, 400),
             intent_score=rng.integers(0, 5, 400)),
        dict(recency_days=rng.integers(300, 700, 600), purchase_days=np.ones(600, dtype=int),
             avg_spend=rng.uniform(20, 60, 600), predicted_value=rng.uniform(0, 20, 600),
             intent_score=np.zeros(600, dtype=int)),
        dict(recency_days=rng.integers(1, 90, 300), purchase_days=rng.integers(1, 3, 300),
             avg_spend=rng.uniform(20, 60, 300), predicted_value=rng.uniform(50, 150, 300),
             intent_score=rng.integers(40, 90, 300)),
    ]
    frame = pd.concat([pd.DataFrame(g) for g in groups], ignore_index=True).astype(float)
    frame.index = [f"P{i}" for i in range(len(frame))]

    model = fit_clusters(frame, k_min=2, k_max=6)
    json.dumps(model)

    assert model["k"] == 3
    labels = assign_clusters(model, frame)
    assert labels.groupby([0] * 400 + [1] * 600 + [2] * 300).nunique().tolist() == [1, 1, 1]
    con = sql.connect()
    con.register("customers", frame.reset_index(names="profile_id"))
    for cluster in model["clusters"]:
        assert cluster["precision"] >= 0.9 and cluster["recall"] >= 0.9, cluster
        found = {row[0] for row in con.execute(
            f"SELECT profile_id FROM customers WHERE {cluster['rule_sql']}").fetchall()}
        members = set(labels[labels == cluster["segment_id"]].index)
        assert len(found & members) / len(found) == pytest.approx(cluster["precision"], abs=0.02)
    names = {c["name"] for c in model["clusters"]}
    assert any("recent" in n.lower() or "frequent" in n.lower() for n in names)
    assert any("lapsed" in n.lower() or "one-time" in n.lower() for n in names)


def test_the_pipeline_keeps_ml_segments_with_their_rule_and_value(scored) -> None:
    workdir, summary = scored
    store = open_store(workdir)
    segments = store.read("segments").to_pandas()
    ml = segments[segments["kind"] == "ml"]
    assert len(ml) >= 2 and ml["explanation"].str.contains("rule: ").all()
    scores = store.read("scores").to_pandas()
    assert scores.loc[scores["purchase_days"].notna(), "ml_segment"].notna().all()
    assert scores.loc[scores["purchase_days"].isna(), "ml_segment"].isna().all()
    assert ml["size"].sum() == scores["ml_segment"].notna().sum()
