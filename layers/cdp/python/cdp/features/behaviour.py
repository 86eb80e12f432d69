"""Behavioural features per profile: orders and web activity attributed through the identity graph."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from cdp import sql
from cdp.config import Config, IntentSpec
from cdp.features.attribution import owner_sql
from cdp.tables import TABLES


def intent_sql(intent: IntentSpec, alias: str = "e") -> tuple[str, str]:
    """SQL over an event row (``alias``): its intent weight by type, and whether it visits a risk page."""
    cases = " ".join(f"WHEN {sql.literal(kind)} THEN {float(value)}" for kind, value in intent.weights.items())
    weight = f"CASE {alias}.event_type {cases} ELSE 0 END" if intent.weights else "0"
    risky = " OR ".join(f"contains(coalesce({alias}.url, ''), {sql.literal(page)})" for page in intent.risk_pages)
    return weight, risky or "false"


def fact_views(config: Config, profiles: pa.Table, identities: pa.Table, orders: pa.Table, events: pa.Table,
               as_of: date, order_lines: pa.Table | None = None, stores: pa.Table | None = None,
               postcodes: pa.Table | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with each profile's facts up to ``as_of``, attributed through the identity graph:
    ``owned_orders``, ``owned_order_lines`` (with their order's columns) and ``owned_events``, each with
    ``profile_id`` and ``age_days`` (days before ``as_of``)."""

    def stitches_for(table: str) -> dict[str, str]:
        return {name: spec.target(spec.stitch_by) for name, spec in config.sources.items()
                if spec.table == table and spec.stitch_by}

    def links_for(table: str) -> dict[str, dict[str, str]]:
        return {name: dict(spec.links) for name, spec in config.sources.items() if spec.table == table}

    con = sql.connect()
    for name, table in (("profiles", profiles), ("identities", identities), ("orders", orders), ("events", events),
                        ("order_lines", order_lines), ("stores", stores), ("postcodes", postcodes)):
        con.register(name, table if table is not None else TABLES[name].schema.empty_table())
    end = f"(DATE '{as_of}' + INTERVAL 1 DAY)"
    con.execute(f"""
        CREATE VIEW owned_orders AS
        WITH owner AS ({owner_sql('orders', links_for('orders'), by_email=True)})
        SELECT w.profile_id, o.*, date_diff('day', o.order_date::DATE, DATE '{as_of}') AS age_days
        FROM orders o JOIN owner w USING (record_key) WHERE o.order_date < {end}""")
    con.execute("""
        CREATE VIEW owned_order_lines AS
        SELECT o.profile_id, o.order_date, o.channel, o.store_id, o.age_days, l.*
        FROM owned_orders o JOIN order_lines l USING (order_id)""")
    owner = owner_sql('events', links_for('events'), by_email=False, stitch_by=stitches_for('events'))
    con.execute(f"""
        CREATE VIEW owned_events AS
        WITH owner AS ({owner})
        SELECT w.profile_id, e.*, date_diff('day', e.ts::DATE, DATE '{as_of}') AS age_days
        FROM events e JOIN owner w USING (record_key) WHERE e.ts < {end}""")
    return con


def compute_features(
    config: Config,
    profiles: pa.Table,
    identities: pa.Table,
    orders: pa.Table,
    events: pa.Table,
    as_of: date,
    run_id: str,
    order_lines: pa.Table | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    stores: pa.Table | None = None,
    postcodes: pa.Table | None = None,
) -> pa.Table:
    """Features per profile as of a date (over ``con``'s views when ``fact_views`` made them already).
    ``orders``, ``order_lines`` and ``events`` hold the current version of each fact. Web signals look back
    ``scoring.intent.window_days``; the decayed intent halves every ``half_life_days`` and weighs event types by
    ``weights``; risk pages are matched by URL fragment."""

    intent = config.scoring.intent
    weight, risky = intent_sql(intent)
    age = "e.age_days"
    recent = f"{age} < {int(intent.window_days)}"
    con = con or fact_views(config, profiles, identities, orders, events, as_of, order_lines, stores, postcodes)
    query = f"""
        WITH order_stats AS (
                SELECT profile_id,
                       count(*) AS orders_count,
                       sum(amount) AS revenue,
                       min(order_date) AS first_order_at,
                       max(order_date) AS last_order_at,
                       avg(CASE WHEN channel IN ('web', 'app') THEN 1.0 ELSE 0.0 END) AS web_order_share
                FROM owned_orders GROUP BY profile_id),
             line_stats AS (
                SELECT profile_id, count(DISTINCT category) AS category_breadth
                FROM owned_order_lines GROUP BY profile_id),
             event_stats AS (
                SELECT e.profile_id, count(*) AS web_events_count,
                       min({age}) AS days_since_web,
                       count(*) FILTER (WHERE e.event_type = 'product_view' AND {recent}) AS product_views_recent,
                       count(*) FILTER (WHERE e.event_type = 'add_to_cart' AND {recent}) AS add_to_cart_recent,
                       count(*) FILTER (WHERE e.event_type = 'search' AND {recent}) AS searches_recent,
                       count(*) FILTER (WHERE ({risky}) AND {recent}) AS risk_page_visits_recent,
                       sum({weight} * pow(0.5, {age} / {float(intent.half_life_days)})) FILTER (WHERE {recent})
                           AS intent_decayed
                FROM owned_events e
                GROUP BY e.profile_id),
             places AS (  -- the centroid of each postcode, per country
                SELECT upper(country) AS country, postcode, any_value(latitude) AS lat, any_value(longitude) AS lon
                FROM postcodes WHERE latitude IS NOT NULL AND longitude IS NOT NULL GROUP BY ALL),
             located AS (
                SELECT p.profile_id, pl.lat, pl.lon
                FROM profiles p JOIN places pl ON pl.postcode = p.postcode
                 AND (pl.country = upper(p.country) OR p.country IS NULL OR pl.country IS NULL)
                QUALIFY row_number() OVER (PARTITION BY p.profile_id ORDER BY pl.country = upper(p.country) DESC) = 1),
             catchment AS (  -- great-circle distance (haversine, Earth radius 6,371 km) to the nearest store
                SELECT l.profile_id, arg_min(s.store_id, d.km) AS nearest_store_id, min(d.km) AS store_distance_km
                FROM located l CROSS JOIN (SELECT * FROM stores WHERE latitude IS NOT NULL AND longitude IS NOT NULL) s,
                     LATERAL (SELECT 2 * 6371 * asin(sqrt(
                         pow(sin(radians(s.latitude - l.lat) / 2), 2)
                         + cos(radians(l.lat)) * cos(radians(s.latitude))
                           * pow(sin(radians(s.longitude - l.lon) / 2), 2))) AS km) d
                GROUP BY l.profile_id)
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
               c.nearest_store_id,
               round(c.store_distance_km, 2) AS store_distance_km,
               '{run_id}' AS run_id
        FROM profiles p
        LEFT JOIN order_stats os USING (profile_id)
        LEFT JOIN line_stats ls USING (profile_id)
        LEFT JOIN event_stats es USING (profile_id)
        LEFT JOIN catchment c USING (profile_id)
        ORDER BY p.profile_id
    """
    schema = TABLES["features"].schema
    return con.sql(query).to_arrow_table().select(schema.names).cast(schema)


def compute_declared(config: Config, con: duckdb.DuckDBPyConnection, as_of: date, run_id: str) -> pa.Table:
    """The features the config declares (``features[]``), one row per profile with facts and feature, over the
    views ``fact_views`` registered on ``con``."""
    schema = TABLES["feature_values"].schema
    if not config.features:
        return schema.empty_table()
    parts = [f"SELECT profile_id, {sql.literal(f.name)} AS feature, CAST(({f.sql}) AS DOUBLE) AS value "
             f"FROM owned_{f.source} GROUP BY profile_id" for f in config.features]
    query = f"SELECT *, DATE '{as_of}' AS as_of, {sql.literal(run_id)} AS run_id FROM (" + \
        " UNION ALL ".join(parts) + ") ORDER BY feature, profile_id"
    return con.sql(query).to_arrow_table().select(schema.names).cast(schema)


def check_declared(config: Config) -> list[str]:
    """Each declared feature bound against its empty view: an unknown column or bad SQL names the feature and the
    columns it may use, before any run."""
    empty = {name: TABLES[name].schema.empty_table() for name in ("profiles", "identities", "orders", "events")}
    con = fact_views(config, empty["profiles"], empty["identities"], empty["orders"], empty["events"],
                     date(2000, 1, 1))
    problems = []
    for feature in config.features:
        try:
            con.execute(f"SELECT CAST(({feature.sql}) AS DOUBLE) FROM owned_{feature.source} GROUP BY profile_id"
                        ).fetchall()
        except duckdb.Error as exc:
            columns = [row[0] for row in con.execute(f"DESCRIBE owned_{feature.source}").fetchall()]
            problems.append(f"feature {feature.name!r}: {feature.sql!r} is not an aggregate over "
                            f"{feature.source}: {str(exc).splitlines()[0]}. Columns you can use: {', '.join(columns)}")
    return problems
