"""Behavioural features per profile: orders and web activity attributed through the identity graph."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from cdp import sql
from cdp.config import Config, FeatureSpec, IntentSpec
from cdp.config.purposes import sources_not_linking
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
    ``profile_id`` and ``age_days`` (days before ``as_of``), over the profiles of ``scoped_profiles`` (all of them
    until ``restrict_to`` narrows it)."""

    def stitches_for(table: str) -> dict[str, str]:
        return {name: spec.target(spec.stitch_by) for name, spec in config.sources.items()
                if spec.table == table and spec.stitch_by}

    def links_for(table: str) -> dict[str, dict[str, str]]:
        return {name: dict(spec.links) for name, spec in config.sources.items() if spec.table == table}

    con = sql.connect()
    for name, table in (("profiles", profiles), ("identities", identities), ("orders", orders), ("events", events),
                        ("order_lines", order_lines), ("stores", stores), ("postcodes", postcodes)):
        con.register(name, table if table is not None else TABLES[name].schema.empty_table())
    # Attributed once: each owner table serves several views, and the digests of what each profile owns.
    owner = owner_sql('orders', links_for('orders'), by_email=True, unlinkable=sources_not_linking(config))
    con.execute(f"CREATE TEMP TABLE order_owners AS {owner}")
    owner = owner_sql('events', links_for('events'), by_email=False, stitch_by=stitches_for('events'))
    con.execute(f"CREATE TEMP TABLE event_owners AS {owner}")
    _owned_views(con, as_of, scoped=False)
    return con


def _owned_views(con: duckdb.DuckDBPyConnection, as_of: date, scoped: bool) -> None:
    end = f"(DATE '{as_of}' + INTERVAL 1 DAY)"
    orders, events = ("scoped_order_owners", "scoped_event_owners") if scoped else ("order_owners", "event_owners")
    con.execute("CREATE OR REPLACE VIEW scoped_profiles AS SELECT * FROM profiles"
                + (" SEMI JOIN scope USING (profile_id)" if scoped else ""))
    con.execute(f"""
        CREATE OR REPLACE VIEW owned_orders AS
        SELECT w.profile_id, o.*, date_diff('day', o.order_date::DATE, DATE '{as_of}') AS age_days
        FROM orders o JOIN {orders} w USING (record_key) WHERE o.order_date < {end}""")
    con.execute("""
        CREATE OR REPLACE VIEW owned_order_lines AS
        SELECT o.profile_id, o.order_date, o.channel, o.store_id, o.age_days, l.*
        FROM owned_orders o JOIN order_lines l USING (order_id)""")
    con.execute(f"""
        CREATE OR REPLACE VIEW owned_events AS
        SELECT w.profile_id, e.*, date_diff('day', e.ts::DATE, DATE '{as_of}') AS age_days
        FROM events e JOIN {events} w USING (record_key) WHERE e.ts < {end}""")


def restrict_to(con: duckdb.DuckDBPyConnection, profile_ids: pa.Array, as_of: date) -> None:
    """Narrow ``con``'s fact views (made by ``fact_views`` for ``as_of``) to these profiles."""
    con.register("scope", pa.table({"profile_id": pa.array(profile_ids, pa.string())}))
    for owners in ("order_owners", "event_owners"):
        con.execute(f"CREATE OR REPLACE TEMP TABLE scoped_{owners} AS "
                    f"SELECT * FROM {owners} SEMI JOIN scope USING (profile_id)")
    _owned_views(con, as_of, scoped=True)


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
    ``orders``, ``order_lines`` and ``events`` hold the current version of each fact."""
    con = con or fact_views(config, profiles, identities, orders, events, as_of, order_lines, stores, postcodes)
    return features_over(con, config, as_of, run_id)


def features_over(con: duckdb.DuckDBPyConnection, config: Config, as_of: date, run_id: str) -> pa.Table:
    """Features of the profiles of ``con``'s fact views (``fact_views``, narrowed or not by ``restrict_to``). Web
    signals look back ``scoring.intent.window_days``; the decayed intent halves every ``half_life_days`` and weighs
    event types by ``weights``; risk pages are matched by URL fragment."""
    intent = config.scoring.intent
    weight, risky = intent_sql(intent)
    age = "e.age_days"
    recent = f"{age} < {int(intent.window_days)}"
    facts_digests(con, config, as_of)
    query = f"""
        WITH order_stats AS (
                SELECT profile_id,
                       count(*) AS orders_count,
                       -- Exactly (to the micro-unit): a sum of floats depends on the order DuckDB adds them in.
                       sum(CAST(amount AS DECIMAL(38, 6))) AS revenue,
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
                FROM scoped_profiles p JOIN places pl ON pl.postcode = p.postcode
                 AND (pl.country = upper(p.country) OR p.country IS NULL OR pl.country IS NULL)
                QUALIFY row_number() OVER (PARTITION BY p.profile_id ORDER BY pl.country = upper(p.country) DESC) = 1),
             catchment AS (  -- great-circle distance (haversine, Earth radius 6,371 km) to the nearest store
                            -- (of stores as near, the first by id: the same every run)
                SELECT l.profile_id, arg_min(s.store_id, (d.km, s.store_id)) AS nearest_store_id,
                       min(d.km) AS store_distance_km
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
               d.facts_digest,
               '{run_id}' AS run_id
        FROM scoped_profiles p
        LEFT JOIN digests d USING (profile_id)
        LEFT JOIN order_stats os USING (profile_id)
        LEFT JOIN line_stats ls USING (profile_id)
        LEFT JOIN event_stats es USING (profile_id)
        LEFT JOIN catchment c USING (profile_id)
        ORDER BY p.profile_id
    """
    schema = TABLES["features"].schema
    return con.sql(query).to_arrow_table().select(schema.names).cast(schema)


# Part of every digest: a change to how features are computed recomputes them all on the next run.
FEATURES_VERSION = 1


def _context_digest(config: Config) -> int:
    """What every profile's features also depend on, besides its own facts: the config that computes them."""
    attribution = {name: [spec.table, spec.links, spec.stitch_by] for name, spec in sorted(config.sources.items())}
    # Of the uses, only linking changes attribution (by email); named only when a source lacks it, so that a config
    # where every source allows it keeps the digests it had.
    unlinkable = sorted(sources_not_linking(config))
    context = json.dumps([FEATURES_VERSION, config.scoring.intent.model_dump(mode="json"),
                          [f.model_dump(mode="json") for f in config.features], attribution,
                          *([unlinkable] if unlinkable else [])], sort_keys=True)
    return int.from_bytes(hashlib.blake2b(context.encode(), digest_size=8).digest(), "big")


def facts_digests(con: duckdb.DuckDBPyConnection, config: Config, as_of: date) -> None:
    """Create ``digests`` (profile_id, facts_digest) on ``con`` (made by ``fact_views``), unless it is there: a
    fingerprint of everything a profile's features are computed from, whatever ``restrict_to`` narrowed. That is the
    orders and web events attributed to it up to ``as_of`` (their keys and contents), its postcode and country, the
    stores and postcodes, and the config. The digest of the same inputs is the same."""
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'digests'").fetchall()[0][0]:
        return
    end = f"(DATE '{as_of}' + INTERVAL 1 DAY)"
    con.execute(f"""
        CREATE TEMP TABLE digests AS
        WITH facts AS (
                SELECT w.profile_id, hash(o.record_key, o.content_hash) AS h
                FROM orders o JOIN order_owners w USING (record_key) WHERE o.order_date < {end}
                UNION ALL
                SELECT w.profile_id, hash(e.record_key, e.content_hash)
                FROM events e JOIN event_owners w USING (record_key) WHERE e.ts < {end}),
             owned AS (SELECT profile_id, bit_xor(h) AS h FROM facts GROUP BY profile_id),
             shared AS (
                SELECT xor(xor((SELECT coalesce(bit_xor(hash(s)), 0::UBIGINT) FROM stores s),
                               (SELECT coalesce(bit_xor(hash(c)), 0::UBIGINT) FROM postcodes c)),
                           {_context_digest(config)}::UBIGINT) AS h)
        SELECT p.profile_id,
               CAST(xor(xor(coalesce(f.h, 0::UBIGINT), hash(p.postcode, p.country)), shared.h) >> 1 AS BIGINT)
                   AS facts_digest
        FROM profiles p LEFT JOIN owned f USING (profile_id) CROSS JOIN shared""")


@dataclass(frozen=True)
class UpdatedFeatures:
    features: pa.Table
    values: pa.Table
    recomputed: int  # profiles whose features were computed again; the others were carried over


def update_features(config: Config, con: duckdb.DuckDBPyConnection, as_of: date, run_id: str,
                    previous: pa.Table, previous_values: pa.Table, new_line_orders: pa.Array) -> UpdatedFeatures:
    """Features as ``compute_features`` gives them, computed again only where they may have changed since
    ``previous`` (the last run's features): profiles whose digest differs (new or changed facts, facts moved between
    profiles by identity resolution, a new postcode), profiles with new lines to an order (``new_line_orders``),
    and, when the run date moved, profiles with web events inside the intent window. The others are carried over,
    their day counts moved by as many days as the run date. Declared features that read ``age_days`` are computed
    for everyone when the run date moved; the others follow their profiles.

    ``con`` holds the fact views of ``fact_views`` for ``as_of``; this narrows them."""
    facts_digests(con, config, as_of)
    dates = pc.unique(previous["as_of"]).to_pylist() if previous.num_rows else []
    if len(dates) != 1:  # nothing to carry over (or rows of several runs: not one run's output)
        return UpdatedFeatures(features_over(con, config, as_of, run_id),
                               compute_declared(config, con, as_of, run_id), con.sql("SELECT count(*) FROM profiles")
                               .fetchall()[0][0])
    shift = (as_of - dates[0]).days
    window = int(config.scoring.intent.window_days)
    con.register("previous", previous)
    con.register("new_line_orders", pa.table({"order_id": pa.array(new_line_orders, pa.string())}))
    # Profiles to compute again; of the others, the previous row is moved to this run's date.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE again AS
        SELECT d.profile_id FROM digests d LEFT JOIN previous p USING (profile_id)
        WHERE p.facts_digest IS DISTINCT FROM d.facts_digest
           OR ({shift} <> 0 AND p.days_since_web + {shift} < {window})
        UNION
        SELECT w.profile_id FROM orders o JOIN order_owners w USING (record_key)
        SEMI JOIN new_line_orders USING (order_id)""")
    declared_shifting = [f for f in config.features if shift != 0 and "age_days" in f.sql.lower()]
    declared_following = [f for f in config.features if f not in declared_shifting]
    every_profile = compute_declared(config, con, as_of, run_id, declared_shifting)
    again = con.sql("SELECT profile_id FROM again SEMI JOIN profiles USING (profile_id)").to_arrow_table()
    restrict_to(con, again["profile_id"], as_of)
    computed = features_over(con, config, as_of, run_id)
    recents = ("product_views_recent", "add_to_cart_recent", "searches_recent", "risk_page_visits_recent",
               "intent_decayed")
    moved = {"days_since_last_order", "tenure_days", "days_since_web"}
    # Carried over: nothing in the intent window (else computed again) unless the date stayed, so no recent signal.
    columns = ", ".join(
        f"p.{c} + {shift} AS {c}" if c in moved
        else f"CASE WHEN {shift} = 0 THEN p.{c} ELSE 0 END AS {c}" if c in recents
        else f"DATE '{as_of}' AS as_of" if c == "as_of"
        else f"{sql.literal(run_id)} AS run_id" if c == "run_id"
        else f"p.{c}"
        for c in TABLES["features"].schema.names)
    carried = con.sql(f"""
        SELECT {columns} FROM previous p SEMI JOIN profiles USING (profile_id) ANTI JOIN again USING (profile_id)
    """).to_arrow_table()
    con.register("computed", computed)
    con.register("carried", carried.cast(computed.schema))
    features = con.sql("SELECT * FROM computed UNION ALL SELECT * FROM carried ORDER BY profile_id") \
        .to_arrow_table().cast(computed.schema)
    con.register("previous_values", previous_values)
    con.register("followed", compute_declared(config, con, as_of, run_id, declared_following))
    con.register("every_profile", every_profile)
    names = "(" + ", ".join([sql.literal(f.name) for f in declared_following] or ["NULL"]) + ")"
    values = con.sql(f"""
        SELECT * FROM every_profile
        UNION ALL SELECT * FROM followed
        UNION ALL
        SELECT v.profile_id, v.feature, v.value, DATE '{as_of}' AS as_of, {sql.literal(run_id)} AS run_id
        FROM previous_values v SEMI JOIN carried USING (profile_id)
        WHERE v.feature IN {names}
        ORDER BY feature, profile_id""").to_arrow_table().cast(TABLES["feature_values"].schema)
    return UpdatedFeatures(features, values, again.num_rows)


def compute_declared(config: Config, con: duckdb.DuckDBPyConnection, as_of: date, run_id: str,
                     features: list[FeatureSpec] | None = None) -> pa.Table:
    """The features the config declares (``features[]``, or only ``features``), one row per profile with facts and
    feature, over the views ``fact_views`` registered on ``con``."""
    schema = TABLES["feature_values"].schema
    features = config.features if features is None else features
    if not features:
        return schema.empty_table()
    parts = [f"SELECT profile_id, {sql.literal(f.name)} AS feature, CAST(({f.sql}) AS DOUBLE) AS value "
             f"FROM owned_{f.source} GROUP BY profile_id" for f in features]
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
