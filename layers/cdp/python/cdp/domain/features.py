"""Behavioural features per profile: orders and web activity attributed through the identity graph."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from cdp.config import Config
from cdp.schemas import TABLES


def _attribution_sql(table: str, sources: dict[str, dict[str, str]], by_email: bool) -> str:
    """SQL giving (row key, profile_id) for a fact table: through each link column, then by email.

    The first link that resolves wins, so an order with both a customer id and an email is counted once.
    """
    branches = []
    for priority, (source, links) in enumerate(
        (s, column_links) for s, column_links in sources.items()
    ):
        for column, target in links.items():
            branches.append(
                f"SELECT f.record_key, i.profile_id, {priority * 10 + len(branches)} AS priority FROM {table} f "
                f"JOIN identities i ON i.record_key = '{target}:' || f.{column} WHERE f.source = '{source}'"
            )
    if by_email:
        branches.append(
            f"SELECT f.record_key, p.profile_id, 1000 AS priority FROM {table} f JOIN profiles p ON p.email = f.email"
        )
    if not branches:
        return "SELECT NULL::VARCHAR AS record_key, NULL::VARCHAR AS profile_id WHERE false"
    return (
        "SELECT record_key, arg_min(profile_id, priority) AS profile_id FROM ("
        + " UNION ALL ".join(branches)
        + ") GROUP BY record_key"
    )


def compute_features(
    config: Config,
    profiles: pa.Table,
    identities: pa.Table,
    orders: pa.Table,
    events: pa.Table,
    as_of: date,
    run_id: str,
) -> pa.Table:
    def links_for(table: str) -> dict[str, dict[str, str]]:
        return {name: dict(spec.links) for name, spec in config.sources.items() if spec.table == table}

    con = duckdb.connect()
    con.register("profiles", profiles)
    con.register("identities", identities)
    # Keep the latest version of each fact row (a re-exported order with a new amount replaces the old one).
    con.register("orders_all", orders)
    con.register("events_all", events)
    con.execute("CREATE VIEW orders AS SELECT * FROM orders_all QUALIFY row_number() OVER "
                "(PARTITION BY record_key ORDER BY ingested_at DESC, row_number DESC) = 1")
    con.execute("CREATE VIEW events AS SELECT * FROM events_all QUALIFY row_number() OVER "
                "(PARTITION BY record_key ORDER BY ingested_at DESC, row_number DESC) = 1")
    query = f"""
        WITH order_owner AS ({_attribution_sql('orders', links_for('orders'), by_email=True)}),
             event_owner AS ({_attribution_sql('events', links_for('events'), by_email=False)}),
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
