"""Identity resolution benchmark: cdp's household-aware resolution against Splink alone, on the demo's data with
its traps (households, shared and junk keys, second accounts, common names), in the same run; then new records
resolved incrementally against a full rebuild.

Each measure runs in its own process so that its peak memory (max RSS) is its own. F1 is pairwise, against the
data's ground truth.
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

from bench.ingest import _measure

END = date(2026, 11, 1)
# The drop resolved incrementally: 10,000 new records, or 1% of a smaller base.
NEW_RECORDS = 10_000


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _prepare(folder: str, persons: int, queue: multiprocessing.Queue) -> None:
    """Generate the data, hold back the last accounts as the 'new' drop (1% of all person records, at most
    ``NEW_RECORDS``), ingest the rest."""
    from cdp.adapters.buses import MemoryBus
    from cdp.config import example_config_path, load_config
    from cdp.demo.synthetic import generate
    from cdp.ingest.files import ingest_file
    from cdp.pipeline.local import landing_files, open_store

    root = Path(folder)
    config = load_config(example_config_path())
    started = time.perf_counter()
    dataset = generate(root / "data", profiles=persons, seed=1, end_date=END, web_events=False)
    generated = time.perf_counter() - started
    store, bus = open_store(root / "work"), MemoryBus()
    held = min(NEW_RECORDS, max(1, (dataset.rows["crm"] + dataset.rows["accounts"]) // 100))
    for source, path in landing_files(dataset.landing, config):
        if source == "accounts":
            lines = path.read_text(encoding="utf-8").splitlines()
            cut = len(lines) - held
            (root / "accounts_base.jsonl").write_text("\n".join(lines[:cut]) + "\n", encoding="utf-8")
            (root / "accounts_new.jsonl").write_text("\n".join(lines[cut:]) + "\n", encoding="utf-8")
            path = root / "accounts_base.jsonl"
        if source in ("crm", "accounts", "orders"):
            ingest_file(store, config, source, path, str(path), bus=bus)
    queue.put((generated, str(dataset.truth)))


def _cdp_full(folder: str, truth: str, queue: multiprocessing.Queue) -> None:
    """cdp's resolution from scratch, training its model first (as a first run does)."""
    import pandas as pd

    from cdp.adapters.buses import MemoryBus
    from cdp.config import example_config_path, load_config
    from cdp.identity.evaluate import link_quality
    from cdp.pipeline.local import local_models, open_store
    from cdp.pipeline.runner import run_step
    from cdp.pipeline.steps import StepContext

    root = Path(folder)
    config = load_config(example_config_path())
    store = open_store(root / "work")
    ctx = StepContext(config, "bench-1", END, datetime.now(UTC), MemoryBus(), local_models(root / "work"),
                      full_resolution=True)
    started = time.perf_counter()
    summary = run_step("resolve", store, ctx)
    seconds = time.perf_counter() - started
    quality = link_quality(store.read("identities").to_pandas(), pd.read_csv(truth, dtype=str))
    queue.put((seconds, _peak(), summary["records"], quality))


def _splink_alone(folder: str, truth: str, queue: multiprocessing.Queue) -> None:
    """Splink as its documentation sets it up for people data: name and identifier blocking, EM training,
    predict, connected components at a threshold; identifiers taken as they are."""
    import duckdb
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from cdp.identity.evaluate import link_quality
    from cdp.lineage import current_versions
    from cdp.pipeline.local import open_store

    records = current_versions(open_store(Path(folder) / "work").read("records")).to_pandas()
    started = time.perf_counter()
    frame = pd.DataFrame({"unique_id": records["record_key"], "first_name": records["first_name"].str.lower(),
                          "last_name": records["last_name"].str.lower(), "email": records["email"],
                          "phone": records["phone"], "postcode": records["postcode"],
                          "birth_date": records["birth_date"].map(lambda d: d.isoformat() if pd.notna(d) else None)})
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[cl.NameComparison("first_name"), cl.NameComparison("last_name"),
                     cl.DateOfBirthComparison("birth_date", input_is_string=True), cl.EmailComparison("email"),
                     cl.ExactMatch("phone"), cl.ExactMatch("postcode")],
        blocking_rules_to_generate_predictions=[block_on("first_name", "last_name"), block_on("email"),
                                                block_on("phone"), block_on("last_name", "birth_date")],
    )
    db_api = DuckDBAPI(connection=duckdb.connect())
    linker = Linker(db_api.register(frame), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match([block_on("email"), block_on("phone")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in (block_on("first_name", "last_name"), block_on("email")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pairs = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs, 0.95).as_pandas_dataframe()
    seconds = time.perf_counter() - started
    identities = clusters.rename(columns={"unique_id": "record_key", "cluster_id": "profile_id"})
    quality = link_quality(identities, pd.read_csv(truth, dtype=str))
    queue.put((seconds, _peak(), len(frame), quality))


def _cdp_new(folder: str, queue: multiprocessing.Queue) -> None:
    """The held-back accounts arrive: ingested, then resolved incrementally against the base."""
    from cdp.adapters.buses import MemoryBus
    from cdp.config import example_config_path, load_config
    from cdp.ingest.files import ingest_file
    from cdp.pipeline.local import local_models, open_store
    from cdp.pipeline.runner import run_step
    from cdp.pipeline.steps import StepContext

    root = Path(folder)
    config = load_config(example_config_path())
    store, bus = open_store(root / "work"), MemoryBus()
    path = root / "accounts_new.jsonl"
    ingest_file(store, config, "accounts", path, str(path), bus=bus)
    ctx = StepContext(config, "bench-2", END, datetime.now(UTC), bus, local_models(root / "work"))
    started = time.perf_counter()
    summary = run_step("resolve", store, ctx)
    queue.put((time.perf_counter() - started, _peak(), summary["compared"], summary.get("neighbourhood", 0)))


def _cdp_rebuild(folder: str, queue: multiprocessing.Queue) -> None:
    """The same base with the new records, resolved from scratch with the same model."""
    from cdp.adapters.buses import MemoryBus
    from cdp.config import example_config_path, load_config
    from cdp.pipeline.local import local_models, open_store
    from cdp.pipeline.runner import run_step
    from cdp.pipeline.steps import StepContext

    root = Path(folder)
    ctx = StepContext(load_config(example_config_path()), "bench-3", END, datetime.now(UTC), MemoryBus(),
                      local_models(root / "work"), full_resolution=True)
    started = time.perf_counter()
    summary = run_step("resolve", open_store(root / "work"), ctx)
    queue.put((time.perf_counter() - started, _peak(), summary["records"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=20_000, help="synthetic persons (default 20,000)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        folder = str(args.keep or temporary)
        generated, truth = _measure(_prepare, folder, args.persons)
        print(f"{args.persons:,} persons generated in {generated:.1f} s and ingested (the last accounts held back: "
              f"1% of the person records, at most {NEW_RECORDS:,})")
        cdp_s, cdp_peak, records, cdp_q = _measure(_cdp_full, folder, truth)
        splink_s, splink_peak, _, splink_q = _measure(_splink_alone, folder, truth)
        print(f"full resolution of {records:,} records: cdp {cdp_s:.1f} s (peak {cdp_peak / 2**20:,.0f} MB; precision "
              f"{cdp_q.precision:.3f}, recall {cdp_q.recall:.3f}, F1 {cdp_q.f1:.3f}); Splink alone (train, predict, "
              f"cluster) {splink_s:.1f} s (peak {splink_peak / 2**20:,.0f} MB; precision {splink_q.precision:.3f}, "
              f"recall {splink_q.recall:.3f}, F1 {splink_q.f1:.3f}); time ratio {cdp_s / splink_s:.2f}")
        new_s, new_peak, compared, neighbourhood = _measure(_cdp_new, folder)
        rebuild_s, rebuild_peak, total = _measure(_cdp_rebuild, folder)
        print(f"{compared:,} new records resolved incrementally into the base in {new_s:.1f} s (neighbourhood "
              f"{neighbourhood:,} records; peak {new_peak / 2**20:,.0f} MB) against a full rebuild of {total:,} "
              f"records in {rebuild_s:.1f} s (peak {rebuild_peak / 2**20:,.0f} MB): {new_s / rebuild_s:.1%} of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
