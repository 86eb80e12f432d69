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
) -> pa.Table:
    """Features per profile as of a date. ``orders`` and ``events`` hold the current version of each fact."""

    def stitches_for(table: str) -> dict[str, str]:
        return {name: spec.target(spec.stitch_by) for name, spec in config.sources.items()
                if spec.table == table and spec.stitch_by}

    def links_for(table: str) -> dict[str, dict[str, str]]:
        return {name: dict(spec.links) for name, spec in config.sources.items() if spec.table == table}

    con = sql.connect()
    for name, table in (("profiles", profiles), ("identities", identities), ("orders", orders), ("events", events)):
        con.register(name, table)
    query = f"""
        WITH order_owner AS ({owner_sql('orders', links_for('orders'), by_email=True)}),
             event_owner AS ({owner_sql('events', links_for('events'), by_email=False,
                                        stitch_by=stitches_for('events'))}),
             order_stats AS (
                SELECT oo.profile_id,
                       count(*) AS orders_count,
                       sum(o.amount) AS revenue,
                       min(o.order_date) AS first_order_at,
                       max(o.order_date) AS last_order_at
                FROM orders o JOIN order_owner oo USING (record_key)
                WHERE o.order_date < (DATE '{as_of}' + INTERVAL 1 DAY)
                GROUP BY oo.profile_id),
             event_stats AS (
                SELECT eo.profile_id, count(*) AS web_events_count
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
               coalesce(es.web_events_count, 0) AS web_events_count,
               '{run_id}' AS run_id
        FROM profiles p
        LEFT JOIN order_stats os USING (profile_id)
        LEFT JOIN event_stats es USING (profile_id)
        ORDER BY p.profile_id
    """
    schema = TABLES["features"].schema
    return con.sql(query).to_arrow_table().select(schema.names).cast(schema)
