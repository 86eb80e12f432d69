"""Features, score inference and segments at scale, against a plain DuckDB aggregate of the same orders.

The tables are built directly in Arrow (no ingestion, no identity resolution): profiles, one CRM record each, their
orders drawn as customers buy (own rates, dropout) over two years, order lines and web events. The scoring models
are trained once beforehand, on the same data, and that training is not timed: a pipeline run only infers. Each
measure runs in its own process, so that its peak memory (max RSS) is its own.

    python -m bench.scoring --profiles 1000000 --lines 10000000
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.ingest import _measure

END = date(2026, 11, 1)
CATEGORIES = ["shoes", "dresses", "shirts", "trousers", "accessories", "beauty", "home", "kids", "sport", "outerwear"]


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _lineage(source: str, keys: np.ndarray, now: datetime) -> dict[str, pa.Array]:
    n = len(keys)
    return {"record_key": pa.array(np.char.add(f"{source}:", keys.astype(str))), "source": pa.array([source] * n),
            "file_id": pa.array([f"bench-{source}"] * n), "row_number": pa.array(np.arange(n, dtype=np.int64)),
            "content_hash": pa.array(keys.astype(str)), "ingested_at": pa.array([now] * n, pa.timestamp("us", "UTC"))}


def _build(folder: str, profiles: int, lines: int, queue: multiprocessing.Queue) -> None:
    """Write the tables as Parquet files: the measures read them back."""
    from cdp.tables import TABLES

    rng = np.random.default_rng(7)
    now = datetime(2026, 11, 2, tzinfo=UTC)
    started = time.perf_counter()
    ids = np.array([f"P{i:07d}" for i in range(profiles)])
    customer = np.array([f"C{i:07d}" for i in range(profiles)])
    table = pa.table({"profile_id": ids, "email": np.char.add(customer, "@example.com"), "phone": pa.nulls(profiles),
                      "consent_email": rng.random(profiles) < 0.6, "consent_sms": rng.random(profiles) < 0.3,
                      "run_id": ["bench"] * profiles})
    write = {"profiles": table}
    write["identities"] = pa.table({"record_key": np.char.add("crm:", customer), "source": ["crm"] * profiles,
                                    "profile_id": ids, "rule": ["singleton"] * profiles,
                                    "score": np.ones(profiles), "run_id": ["bench"] * profiles,
                                    "linked_at": pa.array([now] * profiles, pa.timestamp("us", "UTC"))})
    # Orders: a tenth of the lines, each buyer at their own rate from their first purchase, some stopping early.
    orders = lines // 3
    buyers = rng.random(profiles) < 0.6
    weight = rng.gamma(0.8, 1.0, profiles) * buyers
    owner = rng.choice(profiles, size=orders, p=weight / weight.sum())
    first = rng.integers(0, 730, profiles)
    span = np.maximum(1, (first * rng.beta(2, 1.2, profiles)).astype(int))  # stopped buying span days after
    offset = first[owner] - (rng.random(orders) * span[owner]).astype(int)
    order_dates = np.datetime64(END) - offset.astype("timedelta64[D]") - rng.integers(0, 1440, orders).astype(
        "timedelta64[m]")
    order_ids = np.char.add("O", np.arange(orders).astype(str))
    channel = rng.choice(["store", "web", "app"], size=orders, p=[0.4, 0.45, 0.15])
    amount = np.round(rng.gamma(2.0, 40.0, orders), 2)
    write["orders"] = pa.table({
        **_lineage("orders", order_ids, now), "order_id": order_ids, "customer_id": customer[owner],
        "account_id": pa.nulls(orders, pa.string()), "email": pa.nulls(orders, pa.string()),
        "order_date": pa.array(order_dates.astype("datetime64[us]"), pa.timestamp("us", "UTC")),
        "channel": channel, "store_id": pa.nulls(orders, pa.string()), "amount": amount,
        "currency": ["EUR"] * orders})
    line_order = np.sort(rng.integers(0, orders, lines))
    line_no = np.arange(lines) - np.searchsorted(line_order, line_order)
    line_keys = np.char.add(np.char.add(order_ids[line_order], "-"), line_no.astype(str))
    write["order_lines"] = pa.table({
        **_lineage("order_lines", line_keys, now), "order_id": order_ids[line_order], "line_no": line_no + 1,
        "sku": pa.nulls(lines, pa.string()), "category": rng.choice(CATEGORIES, size=lines),
        "quantity": np.ones(lines, dtype=np.int64), "unit_price": np.round(rng.gamma(2.0, 20.0, lines), 2)})
    events = lines // 2
    visitor = rng.integers(0, profiles, events)
    event_ids = np.char.add("E", np.arange(events).astype(str))
    write["events"] = pa.table({
        **_lineage("web_events", event_ids, now), "event_id": event_ids,
        "anonymous_id": pa.nulls(events, pa.string()), "account_id": customer[visitor],
        "event_type": rng.choice(["page_view", "product_view", "search", "add_to_cart"], size=events,
                                 p=[0.45, 0.35, 0.12, 0.08]),
        "ts": pa.array((np.datetime64(END) - rng.integers(0, 730 * 1440, events).astype("timedelta64[m]")).astype(
            "datetime64[us]"), pa.timestamp("us", "UTC")),
        "url": ["/p"] * events})
    for name, data in write.items():
        schema = TABLES[name].schema
        columns = [data[f.name] if f.name in data.column_names else pa.nulls(data.num_rows, f.type) for f in schema]
        pq.write_table(pa.Table.from_arrays(columns, schema=schema), Path(folder) / f"{name}.parquet")
    queue.put((time.perf_counter() - started, orders, lines, events))


def _config():
    from cdp.config import example_config_path, load_config

    # The web events' account ids are the CRM ids here: link them to the CRM.
    config = load_config(example_config_path())
    events = config.sources["web_events"].model_copy(update={"links": {"account_id": "crm"}, "stitch_by": None})
    return config.model_copy(update={"sources": {**config.sources, "web_events": events}})


def _read(folder: str) -> dict[str, pa.Table]:
    return {name: pq.read_table(Path(folder) / f"{name}.parquet")
            for name in ("profiles", "identities", "orders", "order_lines", "events")}


def _train(folder: str, queue: multiprocessing.Queue) -> None:
    import json

    from cdp.scoring.history import purchase_days, web_days
    from cdp.scoring.models import train_scoring

    config, tables = _config(), _read(folder)
    purchases = purchase_days(config, tables["profiles"], tables["identities"], tables["orders"], END)
    web = web_days(config, tables["profiles"], tables["identities"], tables["events"], END)
    artefact = train_scoring(purchases, web, END, config.scoring)
    (Path(folder) / "model.json").write_text(json.dumps(artefact))
    queue.put(artefact["validation"]["chosen"])


def _cdp(folder: str, queue: multiprocessing.Queue) -> None:
    """Features, score inference and segments, as the pipeline's steps compute them."""
    import json

    from cdp.features.behaviour import compute_features
    from cdp.scoring.history import purchase_days, web_days
    from cdp.scoring.models import score_profiles
    from cdp.segments.rules import described, evaluate, value_potential
    from cdp.tables import TABLES

    config, tables = _config(), _read(folder)
    artefact = json.loads((Path(folder) / "model.json").read_text())
    timings = {}
    started = time.perf_counter()
    features = compute_features(config, tables["profiles"], tables["identities"], tables["orders"], tables["events"],
                                END, "bench", tables["order_lines"])
    timings["features"] = time.perf_counter() - started
    started = time.perf_counter()
    purchases = purchase_days(config, tables["profiles"], tables["identities"], tables["orders"], END)
    web = web_days(config, tables["profiles"], tables["identities"], tables["events"], END)
    scored = score_profiles(tables["profiles"].to_pandas(), purchases, web, END, artefact, config.scoring, "bench",
                            datetime.now(UTC), "bench")
    scores = pa.Table.from_pandas(scored.reindex(columns=TABLES["scores"].schema.names),
                                  schema=TABLES["scores"].schema, preserve_index=False)
    timings["scores"] = time.perf_counter() - started
    started = time.perf_counter()
    members = evaluate(config.segments, tables["profiles"], features, scores)
    value_potential(described(config.segments), members, tables["profiles"], scores)
    timings["segments"] = time.perf_counter() - started
    queue.put((timings, _peak(), features.num_rows))


def _next_day(folder: str, queue: multiprocessing.Queue) -> None:
    """The next day's run of the features: yesterday's features, then 1% of the profiles order once more today.
    Computing every profile again, against computing again only those whose facts changed (``update_features``)."""
    from datetime import timedelta

    from cdp.features.behaviour import compute_declared, fact_views, features_over, update_features
    from cdp.tables import TABLES

    config, tables = _config(), _read(folder)
    yesterday = END - timedelta(days=1)
    con = fact_views(config, tables["profiles"], tables["identities"], tables["orders"], tables["events"],
                     yesterday, tables["order_lines"])
    previous = features_over(con, config, yesterday, "yesterday")
    previous_values = compute_declared(config, con, yesterday, "yesterday")
    rng = np.random.default_rng(8)
    buyers = rng.choice(tables["profiles"].num_rows, tables["profiles"].num_rows // 100, replace=False)
    keys = np.char.add("N", np.arange(len(buyers)).astype(str))
    now = datetime(2026, 11, 2, tzinfo=UTC)
    customer = np.char.replace(np.array(tables["profiles"]["profile_id"].to_pylist())[buyers], "P", "C")
    new = pa.table({**_lineage("orders", keys, now), "order_id": keys, "customer_id": customer,
                    "order_date": pa.array([datetime(2026, 11, 1, 10)] * len(keys), pa.timestamp("us", "UTC")),
                    "channel": ["web"] * len(keys), "amount": np.full(len(keys), 50.0),
                    "currency": ["EUR"] * len(keys)})
    schema = TABLES["orders"].schema
    new = pa.Table.from_arrays([new[f.name] if f.name in new.column_names else pa.nulls(len(keys), f.type)
                                for f in schema], schema=schema)
    orders = pa.concat_tables([tables["orders"], new])

    def views():
        return fact_views(config, tables["profiles"], tables["identities"], orders, tables["events"], END,
                          tables["order_lines"])

    started = time.perf_counter()
    con = views()
    features_over(con, config, END, "today")
    compute_declared(config, con, END, "today")
    every = time.perf_counter() - started
    started = time.perf_counter()
    updated = update_features(config, views(), END, "today", previous, previous_values, pa.array([], pa.string()))
    queue.put((every, time.perf_counter() - started, updated.recomputed, updated.features.num_rows))


def _plain(folder: str, queue: multiprocessing.Queue) -> None:
    """The floor: one DuckDB aggregate of the orders and their lines per customer, nothing else."""
    import duckdb

    tables = _read(folder)
    con = duckdb.connect()
    for name in ("orders", "order_lines"):
        con.register(name, tables[name])
    started = time.perf_counter()
    con.sql("""
        SELECT o.customer_id, count(DISTINCT o.order_id), sum(o.amount), max(o.order_date),
               count(DISTINCT l.category)
        FROM orders o JOIN order_lines l USING (order_id) GROUP BY o.customer_id
    """).to_arrow_table()
    queue.put((time.perf_counter() - started, _peak()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines (orders: a third of them)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        built, orders, lines, events = _measure(_build, folder, args.profiles, args.lines)
        print(f"{args.profiles:,} profiles, {orders:,} orders, {lines:,} order lines and {events:,} web events "
              f"built in {built:.1f} s")
        chosen = _measure(_train, folder)
        print(f"scoring models trained (not timed): {chosen['model']}, covariates: {chosen['covariates']}")
        timings, peak, rows = _measure(_cdp, folder)
        plain, plain_peak = _measure(_plain, folder)
        total = sum(timings.values())
        print(f"features {timings['features']:.1f} s, scores {timings['scores']:.1f} s, segments "
              f"{timings['segments']:.1f} s: {total:.1f} s for {rows:,} profiles (peak {peak / 2**20:,.0f} MB); "
              f"plain DuckDB aggregate of the orders and lines {plain:.1f} s (peak {plain_peak / 2**20:,.0f} MB); "
              f"ratio {total / plain:.1f}")
        every, incremental, recomputed, profiles = _measure(_next_day, folder)
        print(f"next day's features, 1% of the profiles having ordered: {recomputed:,} of {profiles:,} profiles "
              f"computed again in {incremental:.1f} s, against {every:.1f} s for all of them "
              f"({incremental / every:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
