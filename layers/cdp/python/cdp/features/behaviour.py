"""Behavioural features per profile: orders and web activity attributed through the identity graph."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from cdp import sql
from cdp.config import Config
from cdp.features.attribution import owner_sql
from cdp.tables import TABLES


def compute_features(
    config: Config,
    profiles: pa.Table,
    identities: pa.Table,
    orders: pa.Table,
    events: pa.Table,
    as_of: date,
    run_id: str,
    order_lines: pa.Table | None = None,
) -> pa.Table:
    """Features per profile as of a date. ``orders``, ``order_lines`` and ``events`` hold the current version of
    each fact. Web signals look back ``scoring.intent.window_days``; the decayed intent halves every
    ``half_life_days`` and weighs event types by ``weights``; risk pages are matched by URL fragment."""

    def stitches_for(table: str) -> dict[str, str]:
        return {name: spec.target(spec.stitch_by) for name, spec in config.sources.items()
                if spec.table == table and spec.stitch_by}

    def links_for(table: str) -> dict[str, dict[str, str]]:
        return {name: dict(spec.links) for name, spec in config.sources.items() if spec.table == table}

    intent = config.scoring.intent
    lines = order_lines if order_lines is not None else TABLES["order_lines"].schema.empty_table()
    weight = " ".join(f"WHEN {sql.literal(kind)} THEN {float(value)}" for kind, value in intent.weights.items())
    weight = f"CASE e.event_type {weight} ELSE 0 END" if intent.weights else "0"
    risky = " OR ".join(f"contains(coalesce(e.url, ''), {sql.literal(page)})" for page in intent.risk_pages) \
        or "false"
    age = f"date_diff('day', e.ts::DATE, DATE '{as_of}')"
    recent = f"{age} < {int(intent.window_days)}"
    con = sql.connect()
    for name, table in (("profiles", profiles), ("identities", identities), ("orders", orders), ("events", events),
                        ("order_lines", lines)):
        con.register(name, table)
    query = f"""
        WITH order_owner AS ({owner_sql('orders', links_for('orders'), by_email=True)}),
             event_owner AS ({owner_sql('events', links_for('events'), by_email=False,
                                        stitch_by=stitches_for('events'))}),
             owned_orders AS (
                SELECT oo.profile_id, o.*
                FROM orders o JOIN order_owner oo USING (record_key)
                WHERE o.order_date < (DATE '{as_of}' + INTERVAL 1 DAY)),
             order_stats AS (
                SELECT profile_id,
                       count(*) AS orders_count,
                       sum(amount) AS revenue,
                       min(order_date) AS first_order_at,
                       max(order_date) AS last_order_at,
                       avg(CASE WHEN channel IN ('web', 'app') THEN 1.0 ELSE 0.0 END) AS web_order_share
                FROM owned_orders GROUP BY profile_id),
             line_stats AS (
                SELECT oo.profile_id, count(DISTINCT l.category) AS category_breadth
                FROM owned_orders oo JOIN order_lines l USING (order_id)
                GROUP BY oo.profile_id),
             event_stats AS (
                SELECT eo.profile_id, count(*) AS web_events_count,
                       min({age}) AS days_since_web,
                       count(*) FILTER (WHERE e.event_type = 'product_view' AND {recent}) AS product_views_recent,
                       count(*) FILTER (WHERE e.event_type = 'add_to_cart' AND {recent}) AS add_to_cart_recent,
                       count(*) FILTER (WHERE e.event_type = 'search' AND {recent}) AS searches_recent,
                       count(*) FILTER (WHERE ({risky}) AND {recent}) AS risk_page_visits_recent,
                       sum({weight} * pow(0.5, {age} / {float(intent.half_life_days)})) FILTER (WHERE {recent})
                           AS intent_decayed
                FROM events e JOIN event_owner eo USING (record_key)
                WHERE e.ts < (DATE '{as_of}' + INTERVAL 1 DAY)
                GROUP BY eo.profile_id)
        SELECT p.profile_id,
               DATE '{as_of}' AS as_of,
               coalesce(os.orders_count, 0) AS orders_count,
               round(coalesce(os.revenue, 0), 2) AS revenue,
               round(os.revenue / nullif(os.orders_count, 0), 2) AS avg_order_value,
               os.first_order_at,
               os.last_order_at,
               date_diff('day', os.last_order_at::DATE, DATE '{as_of}') AS days_since_last_order,
               date_diff('day', os.first_order_at::DATE, DATE '{as_of}') AS tenure_days,
               coalesce(ls.category_breadth, 0) AS category_breadth,
               round(os.web_order_share, 4) AS web_order_share,
               coalesce(es.web_events_count, 0) AS web_events_count,
               es.days_since_web,
               coalesce(es.product_views_recent, 0) AS product_views_recent,
               coalesce(es.add_to_cart_recent, 0) AS add_to_cart_recent,
               coalesce(es.searches_recent, 0) AS searches_recent,
               coalesce(es.risk_page_visits_recent, 0) AS risk_page_visits_recent,
               round(coalesce(es.intent_decayed, 0), 4) AS intent_decayed,
               '{run_id}' AS run_id
        FROM profiles p
        LEFT JOIN order_stats os USING (profile_id)
        LEFT JOIN line_stats ls USING (profile_id)
        LEFT JOIN event_stats es USING (profile_id)
        ORDER BY p.profile_id
    """
    schema = TABLES["features"].schema
    return con.sql(query).to_arrow_table().select(schema.names).cast(schema)
