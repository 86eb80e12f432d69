"""Each profile's purchase and web history, by day, and its summary at a cut-off date.

Purchases are counted in days, as buy-till-you-die models expect: two orders on one day are one purchase day.
Every summary takes only what happened up to its cut-off, so that a score as of a date, and a model trained as of
a date, never see the future.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from cdp.config import Config
from cdp.features.behaviour import fact_views, intent_sql
from cdp.tables import TABLES


def purchase_days(config: Config, profiles: pa.Table, identities: pa.Table, orders: pa.Table,
                  as_of: date) -> pd.DataFrame:
    """One row per profile and day with a purchase up to ``as_of``: profile_id, day, amount, orders, web_orders
    (web and app)."""
    con = fact_views(config, profiles, identities, orders, TABLES["events"].schema.empty_table(), as_of)
    return con.sql("""
        SELECT profile_id, order_date::DATE AS day, sum(amount) AS amount, count(*) AS orders,
               count(*) FILTER (WHERE channel IN ('web', 'app')) AS web_orders
        FROM owned_orders GROUP BY ALL ORDER BY 1, 2
    """).df()


def web_days(config: Config, profiles: pa.Table, identities: pa.Table, events: pa.Table, as_of: date) -> pd.DataFrame:
    """One row per profile and day with web activity up to ``as_of``: events, intent (weighted events), risk page
    visits, as ``scoring.intent`` weighs them."""
    con = fact_views(config, profiles, identities, TABLES["orders"].schema.empty_table(), events, as_of)
    weight, risky = intent_sql(config.scoring.intent)
    return con.sql(f"""
        SELECT e.profile_id, e.ts::DATE AS day, count(*) AS events, sum({weight}) AS intent,
               count(*) FILTER (WHERE {risky}) AS risk_visits
        FROM owned_events e GROUP BY ALL ORDER BY 1, 2
    """).df()


def _days_between(later: pd.Series | date, earlier: pd.Series) -> np.ndarray:
    later = pd.to_datetime(later) if isinstance(later, pd.Series) else pd.Timestamp(later)
    return (later - pd.to_datetime(earlier)).dt.days.to_numpy(dtype=float)


def customers_at(purchases: pd.DataFrame, cutoff: date) -> pd.DataFrame:
    """Per profile with a purchase up to ``cutoff``: x (repeat purchase days), t_x and T (days from the first
    purchase to the last and to the cut-off), recency_days, purchase_days, total_spend, avg_spend (per purchase
    day), repeat_spend (mean of the repeat days, NaN without one), web_share (of orders), first_day, last_day."""
    upto = purchases[pd.to_datetime(purchases["day"]) <= pd.Timestamp(cutoff)]
    if upto.empty:
        return pd.DataFrame(columns=["profile_id", "x", "t_x", "T", "recency_days", "purchase_days", "total_spend",
                                     "avg_spend", "repeat_spend", "web_share", "first_day", "last_day"])
    grouped = upto.groupby("profile_id", sort=True)
    frame = grouped.agg(first_day=("day", "min"), last_day=("day", "max"), purchase_days=("day", "size"),
                        total_spend=("amount", "sum"), orders=("orders", "sum"),
                        web_orders=("web_orders", "sum")).reset_index()
    first_amount = grouped["amount"].first().to_numpy()
    frame["x"] = frame["purchase_days"] - 1
    frame["t_x"] = _days_between(frame["last_day"], frame["first_day"])
    frame["T"] = _days_between(cutoff, frame["first_day"])
    frame["recency_days"] = _days_between(cutoff, frame["last_day"])
    frame["avg_spend"] = frame["total_spend"] / frame["purchase_days"]
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["repeat_spend"] = np.where(frame["x"] > 0, (frame["total_spend"] - first_amount) / frame["x"], np.nan)
    frame["web_share"] = frame["web_orders"] / frame["orders"].clip(lower=1)
    return frame.drop(columns=["orders", "web_orders"])


def purchase_days_between(purchases: pd.DataFrame, start: date, end: date) -> pd.Series:
    """Purchase days per profile after ``start`` and up to ``end`` (the period a model predicts)."""
    days = pd.to_datetime(purchases["day"])
    within = purchases[(days > pd.Timestamp(start)) & (days <= pd.Timestamp(end))]
    return within.groupby("profile_id").size()


def web_at(web: pd.DataFrame, cutoff: date, window_days: int, half_life_days: float) -> pd.DataFrame:
    """Per profile with web activity up to ``cutoff``: days_since_web, web_events_window, risk_visits_window and
    intent_decayed (each day's intent halved every ``half_life_days``), over the last ``window_days``."""
    columns = ["profile_id", "days_since_web", "web_events_window", "risk_visits_window", "intent_decayed"]
    if web.empty:
        return pd.DataFrame(columns=columns)
    upto = web[pd.to_datetime(web["day"]) <= pd.Timestamp(cutoff)].copy()
    upto["age"] = _days_between(cutoff, upto["day"])
    recent = upto[upto["age"] < window_days].copy()
    recent["decayed"] = recent["intent"] * 0.5 ** (recent["age"] / half_life_days)
    last = upto.groupby("profile_id")["age"].min().rename("days_since_web")
    window = recent.groupby("profile_id").agg(web_events_window=("events", "sum"),
                                              risk_visits_window=("risk_visits", "sum"),
                                              intent_decayed=("decayed", "sum"))
    frame = pd.concat([last, window], axis=1).fillna({"web_events_window": 0, "risk_visits_window": 0,
                                                      "intent_decayed": 0.0})
    return frame.rename_axis("profile_id").reset_index()[columns]
