"""Ingestion benchmark: CRM CSV → validated, normalised Parquet, against a plain pyarrow CSV read + Parquet write
of the same file; then the whole of `cdp ingest` into the local Iceberg tables. Each measure runs in its own
process so that its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

COUNTRIES = ["FR", "fr", "France", "BE", "Belgique", "DE", "Allemagne", "ES"]
BOOLS = ["1", "0", "oui", "non", "true", "false", "", "yes"]


def _name_pools(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First names, last names and cities in the variety of a real customer base (thousands of distinct values,
    several languages), so that the benchmark does not flatter work done once per distinct value."""
    from faker import Faker

    fake = Faker(["fr_FR", "fr_FR", "de_DE", "es_ES", "it_IT", "en_GB", "nl_BE"])
    fake.seed_instance(seed)
    first = {fake.first_name() for _ in range(20_000)}
    last = {fake.last_name() for _ in range(60_000)}
    # Exports write the same names in several ways: upper case, lower case, double-barrelled.
    pool = sorted(last)
    pairs = np.random.default_rng(seed).integers(0, len(pool), (30_000, 2))
    last |= {pool[a] + "-" + pool[b] for a, b in pairs}
    cities: set[str] = set()
    for locale in ("fr_FR", "de_DE", "es_ES", "en_GB", "nl_BE"):  # it_IT's cities depend on hash order
        local = Faker(locale)
        local.seed_instance(seed)
        cities |= {local.city() for _ in range(4_000)}
    return np.array(sorted(first)), np.array(sorted(last)), np.array(sorted(cities))


def make_crm_csv(path: Path, rows: int, seed: int = 0) -> int:
    """A CRM export with realistic variety: formats, case, accents, null tokens and a few bad rows."""
    rng = np.random.default_rng(seed)
    first_names, last_names, cities = _name_pools(seed)
    chunk = 200_000
    with path.open("w", encoding="utf-8") as handle:
        handle.write("customer_id,first_name,last_name,email,phone,birth_date,street,postcode,city,country,"
                     "email_opt_in,sms_opt_in,updated_at\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            ids = np.char.add("C", np.arange(start, start + n).astype(str))
            first = first_names[rng.integers(0, len(first_names), n)]
            last = last_names[rng.integers(0, len(last_names), n)]
            last = np.where(rng.random(n) < 0.2, np.char.upper(last), last)
            first = np.where(rng.random(n) < 0.1, np.char.lower(first), first)
            number = rng.integers(10_000_000, 99_999_999, n).astype(str)
            email = np.char.add(np.char.add(np.char.lower(first), "."), np.char.add(number, "@example.fr"))
            email[rng.random(n) < 0.02] = "N/A"
            email[rng.random(n) < 0.01] = "broken@"
            phone = np.char.add(np.where(rng.random(n) < 0.5, "06", "+33 7"), number)
            day, month, year = rng.integers(1, 29, n), rng.integers(1, 13, n), rng.integers(1940, 2006, n)
            birth = np.where(rng.random(n) < 0.5,
                             np.char.add(np.char.add(np.char.zfill(day.astype(str), 2), "/"),
                                         np.char.add(np.char.add(np.char.zfill(month.astype(str), 2), "/"),
                                                     year.astype(str))),
                             np.char.add(np.char.add(year.astype(str), "-"),
                                         np.char.add(np.char.add(np.char.zfill(month.astype(str), 2), "-"),
                                                     np.char.zfill(day.astype(str), 2))))
            street = np.char.add(rng.integers(1, 200, n).astype(str), " rue de la République")
            postcode = rng.integers(10_000, 95_999, n).astype(str)
            city = cities[rng.integers(0, len(cities), n)]
            country = np.array(COUNTRIES)[rng.integers(0, len(COUNTRIES), n)]
            opt_in = np.array(BOOLS)[rng.integers(0, len(BOOLS), (2, n))]
            # Seconds across a year: update times hardly ever repeat.
            updated = (np.datetime64("2025-01-01T00:00:00") + rng.integers(0, 365 * 86_400, n)).astype(str)
            updated = np.char.replace(updated, "T", " ")
            ids[rng.random(n) < 0.005] = ""
            columns = [ids, first, last, email, phone, birth, street, postcode, city, country, opt_in[0], opt_in[1],
                       updated]
            handle.write("\n".join(",".join(values) for values in zip(*columns, strict=True)) + "\n")
    return rows


def _baseline(csv_path: str, out: str, queue: multiprocessing.Queue) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    started = time.perf_counter()
    pq.write_table(pacsv.read_csv(csv_path), out)
    queue.put((time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))


def _cdp(csv_path: str, out: str, queue: multiprocessing.Queue) -> None:
    from cdp.config import example_config_path, load_config
    from cdp.ingest.formats import read_batches
    from cdp.ingest.contract import validate_all
    from cdp.ingest.files import staging_writer
    from cdp.tables import TABLES

    spec = load_config(example_config_path()).sources["crm"]
    started = time.perf_counter()
    accepted = quarantined = warned = 0
    with staging_writer(out, TABLES["records"].schema) as records, \
            staging_writer(out + ".quarantine", TABLES["quarantine"].schema) as quarantine:
        batches = read_batches(Path(csv_path), spec.format)
        for result in validate_all(batches, source="crm", spec=spec, file_id="bench", now=datetime.now(UTC)):
            records.write_table(result.accepted)
            quarantine.write_table(result.quarantine)
            accepted += result.accepted.num_rows
            quarantined += result.quarantine.num_rows
            warned += result.rows_warned
    elapsed = time.perf_counter() - started
    queue.put((elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, accepted, quarantined, warned))


def _ingest_into_tables(csv_path: str, workdir: str, queue: multiprocessing.Queue) -> None:
    """The whole of `cdp ingest`: validation, version checks and the commit to the local Iceberg tables."""
    from cdp.adapters.iceberg import IcebergStore, local_catalog
    from cdp.config import example_config_path, load_config
    from cdp.ingest.files import ingest_file

    store = IcebergStore(local_catalog(Path(workdir)))
    config = load_config(example_config_path())
    started = time.perf_counter()
    outcome = ingest_file(store, config, "crm", Path(csv_path), "crm.csv")
    queue.put((time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
               outcome.rows_new))


def _generate(csv_path: str, rows: int, queue: multiprocessing.Queue) -> None:
    queue.put(make_crm_csv(Path(csv_path), rows))


def _measure(target, *args):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200k rows instead of 1M")
    parser.add_argument("--rows", type=int, help="number of CRM rows (overrides --quick)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each measure, alternated; the fastest of each is compared (default 3)")
    args = parser.parse_args(argv)
    rows = args.rows or (200_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "crm.csv"
        # Generated in a child too: Linux carries a process's peak RSS across fork and exec, so a parent that
        # built the file itself would lend its own peak to every measure.
        _measure(_generate, str(csv_path), rows)
        size_mb = csv_path.stat().st_size / 1e6
        # Alternating the two measures spreads any background load over both; the fastest run of each is the
        # one least disturbed by it.
        base_runs, cdp_runs = [], []
        for _ in range(max(1, args.repeat)):
            base_runs.append(_measure(_baseline, str(csv_path), str(Path(folder) / "base.parquet")))
            cdp_runs.append(_measure(_cdp, str(csv_path), str(Path(folder) / "cdp.parquet")))
        tables_seconds, tables_rss, stored = _measure(_ingest_into_tables, str(csv_path), str(Path(folder) / "tables"))
    base_seconds, base_rss = min(base_runs)
    seconds, rss, accepted, quarantined, warned = min(cdp_runs)
    print(f"ingest crm rows {rows:,} ({size_mb:.0f} MB), best of {len(cdp_runs)}: cdp {seconds:.2f} s "
          f"({rows / seconds:,.0f} rows/s, peak {rss / 1e6:.0f} MB, {accepted:,} accepted, "
          f"{quarantined:,} quarantined, {warned:,} kept with a warning); pyarrow read+write {base_seconds:.2f} s (peak {base_rss / 1e6:.0f} MB); "
          f"ratio {seconds / base_seconds:.2f}")
    print("  all runs: cdp " + ", ".join(f"{run[0]:.2f}" for run in cdp_runs)
          + " s; pyarrow " + ", ".join(f"{run[0]:.2f}" for run in base_runs) + " s")
    print(f"into the tables (cdp ingest: validation, version checks, Iceberg commit), one run: {tables_seconds:.2f} s "
          f"({rows / tables_seconds:,.0f} rows/s, peak {tables_rss / 1e6:.0f} MB, {stored:,} versions stored)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
