"""The ``cdp`` command line: the local entry point to the same code the Lambdas run."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from cdp.config import Config, ConfigError, example_config_path, load_config
from cdp.features.behaviour import check_declared
from cdp.pipeline.local import RunSummary, ingest_paths, local_bus, local_salt, open_store, run_local
from cdp.segments.rules import check_rules
from cdp.sql import connect as connect_duckdb
from cdp.tables import TABLES

app = typer.Typer(help="Customer data platform: ingest, resolve, segment and activate first-party data.",
                  no_args_is_help=True, add_completion=False)
# Piped output (CI logs, files) gets a fixed width wide enough for the summary tables.
console = Console(width=None if sys.stdout.isatty() else 120)
errors = Console(stderr=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="Path to cdp.yaml.")]
WorkdirOption = Annotated[Path, typer.Option("--workdir", "-w", help="Folder holding the local tables and outputs.")]
DEMO_MARKER = ".cdp-demo"
# The synthetic data ends on this date; features are computed as of it so that every demo run agrees.
DEMO_END_DATE = date(2026, 11, 1)


def _load(config_path: Path) -> Config:
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        errors.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    problems = check_declared(config) + check_rules(config.segments, [f.name for f in config.features])
    if problems:
        errors.print(f"[red]{ConfigError(config_path, problems)}[/red]", highlight=False)
        raise typer.Exit(2)
    return config


def _require_tables(workdir: Path, hint: str) -> None:
    if not (workdir / "catalog.db").exists():
        errors.print(f"[red]{workdir} holds no tables yet; {hint}[/red]")
        raise typer.Exit(2)


def _print_summary(summary: RunSummary, workdir: Path, seconds: float) -> None:
    files = Table(title="Files", title_justify="left")
    for column in ("source", "file", "status", "rows in", "accepted", "quarantined", "warnings"):
        files.add_column(column, justify="right" if column.startswith(("rows", "acc", "quar", "warn")) else "left")
    for f in summary.files:
        files.add_row(f.source, Path(f.uri).name, f.status if f.status != "rejected" else f"rejected: {f.reason}",
                      str(f.rows_in), str(f.rows_accepted), str(f.rows_quarantined), str(f.rows_warned))
    console.print(files)
    issues = sorted(((f.source, i) for f in summary.files for i in f.quality),
                    key=lambda item: -item[1]["rows_quarantined"] - item[1]["rows_warned"])
    if issues:
        quality = Table(title="Data quality: most frequent issues", title_justify="left")
        for column in ("source", "field", "rule", "quarantined", "kept with a warning"):
            quality.add_column(column, justify="right" if column in ("quarantined", "kept with a warning") else "left")
        for source, issue in issues[:8]:
            quality.add_row(source, issue["field"] or "(whole row)", issue["rule"], f"{issue['rows_quarantined']:,}",
                            f"{issue['rows_warned']:,}")
        console.print(quality)
    steps = summary.steps
    console.print(
        f"Records: [bold]{steps['resolve']['records']:,}[/bold] → profiles: [bold]{steps['merge']['profiles']:,}[/bold]"
        f" (records re-linked this run: {steps['resolve']['relinked']})"
    )
    resolved = steps["resolve"]
    if resolved["model_trained"]:
        console.print(f"No identity model was trained yet: trained one on these records first (version "
                      f"{resolved['model']}; `cdp train` refreshes it).")
    elif resolved["model"] is None:
        console.print("No identity model: records were linked by their identifiers only (too few records to train "
                      "one, or the probabilistic matcher is disabled).")
    links = ", ".join(f"{rule} {count:,}" for rule, count in resolved["links"].items())
    console.print(f"Links: {links or 'none'}; candidate links refused by the household guards: "
                  f"{resolved['refused']:,} (see identity_reviews, or cdp explain --record KEY)")
    scored = steps["score"]
    if scored["model_trained"]:
        console.print(f"No scoring model was trained yet: trained them on the history up to the run's date first "
                      f"(version {scored['model']}; `cdp train` refreshes them and prints their validation).")
    elif scored["model"] is None:
        console.print(f"No scoring model: {scored['no_model']}. RFM and intent only.")
    value = f"; value expected over the next {scored['horizon_days']} days: {scored['predicted_value']:,.0f}" \
        if scored["predicted_value"] is not None else ""
    console.print(f"Scores: {scored['customers']:,} customers among {scored['profiles']:,} profiles{value}. RFM: "
                  + ", ".join(f"{name} {count:,}" for name, count in scored["rfm_segments"].items()))
    segments = Table(title="Segments and their value potential", title_justify="left")
    for column in ("segment", "members", f"value expected over {scored['horizon_days']} days", "average churn"):
        segments.add_column(column, justify="left" if column == "segment" else "right")
    for segment_id, size in steps["segments"]["sizes"].items():
        potential = steps["segments"]["potential"].get(segment_id, {})
        value, churn = potential.get("value"), potential.get("churn")
        label = f"{segment_id}: {potential['name']} (ML)" if potential.get("kind") == "ml" else segment_id
        segments.add_row(label, f"{size:,}", "" if value is None else f"{value:,.0f}",
                         "" if churn is None else f"{churn:.0%}")
    console.print(segments)
    published = steps["publish"]
    console.print(
        f"Changes: {steps['segments']['entered']:,} entered, {steps['segments']['exited']:,} exited; "
        f"events: {published['events']:,} ({published['holdout']:,} hold-out)"
    )
    plans = Table(title="Activation plans: their uses and the sources that feed them", title_justify="left")
    for column in ("segment", "uses", "sources"):
        plans.add_column(column)
    for segment_id, plan in steps["activate"].get("plans", {}).items():
        plans.add_row(segment_id, ", ".join(plan["uses"]), ", ".join(plan["sources"]))
    console.print(plans)
    channels = Table(title="Events delivered per channel", title_justify="left")
    channels.add_column("channel")
    channels.add_column("events", justify="right")
    channels.add_column("outbox")
    for channel, count in summary.delivered.items():
        channels.add_row(channel, f"{count:,}", str(workdir / "outbox" / f"{channel}.jsonl"))
    console.print(channels)
    console.print(f"Run [bold]{summary.run_id}[/bold] in {seconds:.1f} s. Tables: {workdir / 'warehouse'} "
                  f"(query them with: cdp query --workdir {workdir} \"SELECT * FROM profiles LIMIT 5\")")


@app.command()
def demo(
    workdir: WorkdirOption = Path("cdp-demo"),
    profiles: Annotated[int, typer.Option(help="Number of synthetic persons.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 0,
    fresh: Annotated[bool, typer.Option(help="Start from empty tables (only in a folder a demo made).")] = True,
) -> None:
    """Generate a realistic retail data set and run the whole pipeline on it, locally."""
    from cdp.demo.synthetic import generate
    from cdp.report.html import write_report

    started = time.perf_counter()
    if fresh and workdir.exists() and any(workdir.iterdir()):
        if not (workdir / DEMO_MARKER).exists():
            errors.print(f"[red]{workdir} is not empty and was not made by `cdp demo`; choose another --workdir "
                         "or pass --no-fresh[/red]")
            raise typer.Exit(2)
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / DEMO_MARKER).touch()
    config = _load(example_config_path())
    with console.status("Generating synthetic data…"):
        dataset = generate(workdir, profiles=profiles, seed=seed, end_date=DEMO_END_DATE)
    console.print(f"Generated {dataset.persons:,} persons: " +
                  ", ".join(f"{source} {rows:,} rows" for source, rows in dataset.rows.items()) +
                  f"; ground truth in {dataset.truth}")
    with console.status("Running the pipeline…") as status:
        summary = run_local(config, dataset.landing, workdir, as_of=DEMO_END_DATE,
                            progress=lambda message: status.update(message))
    report = write_report(open_store(workdir), workdir, config)
    _print_summary(summary, workdir, time.perf_counter() - started)
    console.print(f"Report: {report}")


@app.command()
def run(
    config: ConfigOption,
    landing: Annotated[Path, typer.Option(help="Folder with one sub-folder per source.")],
    workdir: WorkdirOption,
    as_of: Annotated[Optional[str], typer.Option(help="Date the features are computed as of (YYYY-MM-DD).")] = None,  # noqa: UP045
) -> None:
    """Ingest every file under LANDING/<source>/, then run the pipeline."""
    loaded = _load(config)
    if not landing.is_dir():
        errors.print(f"[red]landing folder {landing} does not exist[/red]")
        raise typer.Exit(2)
    started = time.perf_counter()
    with console.status("Running…") as status:
        summary = run_local(loaded, landing, workdir, as_of=date.fromisoformat(as_of) if as_of else None,
                            progress=lambda message: status.update(message))
    _print_summary(summary, workdir, time.perf_counter() - started)


@app.command()
def resolve(
    config: ConfigOption,
    workdir: WorkdirOption,
    full: Annotated[bool, typer.Option("--full", help="Rebuild identities from scratch (runs are incremental).")
                    ] = False,
) -> None:
    """Resolve identities and merge profiles again, without ingesting: only new records, or all with --full."""
    from cdp.pipeline.local import run_steps

    loaded = _load(config)
    _require_tables(workdir, "ingest files first (cdp ingest or cdp run)")
    started = time.perf_counter()
    with console.status("Resolving…"):
        steps = run_steps(loaded, workdir, ("resolve", "merge"), full_resolution=full)
    resolved = steps["resolve"]
    how = "incrementally" if resolved["mode"] == "incremental" else "fully"
    console.print(f"Resolved {how}: {resolved['compared']:,} records compared, "
                  f"{resolved['records']:,} records in {resolved['profiles']:,} profiles "
                  f"({resolved['relinked']:,} records changed profile) in {time.perf_counter() - started:.1f} s")


@app.command()
def erase(
    config: ConfigOption,
    workdir: WorkdirOption,
    email: Annotated[str | None, typer.Option(help="The person's email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="The person's phone number (read with the CRM's region).")] = None,
    profile_id: Annotated[str | None, typer.Option("--profile-id", help="The person's profile id.")] = None,
) -> None:
    """Erase a person everywhere (GDPR): tables, landed files, outbox and the tables' history; keep an audit row."""
    from cdp.pipeline.local import erase_local
    from cdp.privacy.erasure import ErasureError, Subject

    loaded = _load(config)
    _require_tables(workdir, "there is nothing to erase yet")
    try:
        with console.status("Erasing…"):
            erasure = erase_local(loaded, workdir, Subject(email, phone, profile_id))
    except ErasureError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if not erasure.profiles and not erasure.rows:
        console.print(f"Nobody matched: nothing erased ({erasure.erasure_id} records the request).")
        return
    tables = ", ".join(f"{name} {count:,}" for name, count in sorted(erasure.rows.items()))
    console.print(f"Erased {erasure.profiles} profile(s) as {erasure.erasure_id}: rows per table: {tables}; "
                  f"{erasure.file_rows} rows from landed files, {erasure.events} delivered events, "
                  f"{erasure.history_files} files of earlier table versions; "
                  f"{erasure.suppressed} identifiers suppressed.")


@app.command()
def retention(
    config: ConfigOption,
    workdir: WorkdirOption,
    as_of: Annotated[Optional[str], typer.Option(help="The day retention is reckoned from (YYYY-MM-DD); today by "  # noqa: UP045
                                                      "default.")] = None,
) -> None:
    """Delete what is past retention (privacy.retention): quarantined rows, and the people inactive too long, erased
    everywhere. Run it daily, as the cloud does."""
    from cdp.pipeline.local import retention_local

    loaded = _load(config)
    _require_tables(workdir, "there is nothing to retain yet")
    with console.status("Applying retention…"):
        done = retention_local(loaded, workdir, date.fromisoformat(as_of) if as_of else None)
    erased = done.erasure
    console.print(f"Retention: {done.quarantine_rows:,} quarantined rows deleted; "
                  f"{erased.profiles if erased else 0:,} inactive profile(s) erased"
                  + (f" as {erased.erasure_id} (rows per table: "
                     + ", ".join(f"{name} {count:,}" for name, count in sorted(erased.rows.items())) + ")"
                     if erased else "") + ".")


@app.command()
def ingest(
    config: ConfigOption,
    source: Annotated[str, typer.Option(help="Source name, as declared in the config.")],
    workdir: WorkdirOption,
    files: Annotated[list[Path], typer.Argument(help="Files to ingest.")],
) -> None:
    """Ingest files into the local tables (no pipeline run). Exits non-zero if a file was rejected."""
    loaded = _load(config)
    if source not in loaded.sources:
        errors.print(f"[red]unknown source {source!r}; declared sources: {', '.join(loaded.sources)}[/red]")
        raise typer.Exit(2)
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        errors.print(f"[red]no such file: {', '.join(missing)}[/red]")
        raise typer.Exit(2)
    outcomes = ingest_paths(open_store(workdir), loaded, source, files, local_bus(loaded, workdir),
                            salt=local_salt(workdir))
    for outcome in outcomes:
        console.print(f"{outcome.uri}: {outcome.status} — {outcome.rows_in} rows in, {outcome.rows_accepted} accepted, "
                      f"{outcome.rows_quarantined} quarantined" + (f" ({outcome.reason})" if outcome.reason else ""))
    if any(outcome.status == "rejected" for outcome in outcomes):
        raise typer.Exit(1)


def query_tables(workdir: Path, sql: str) -> duckdb.DuckDBPyRelation:
    """Run SQL in DuckDB over the local Iceberg tables that the statement names."""
    store = open_store(workdir)
    con = connect_duckdb()
    for name in TABLES:
        if re.search(rf"\b{name}\b", sql, flags=re.IGNORECASE):
            con.register(name, store.read(name))
    return con.sql(sql)


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL over the tables: " + ", ".join(TABLES))],
    workdir: WorkdirOption,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json")] = "table",
) -> None:
    """Query the local tables with DuckDB."""
    if format not in ("table", "csv", "json"):
        errors.print(f"[red]--format must be table, csv or json, not {format!r}[/red]")
        raise typer.Exit(2)
    _require_tables(workdir, "run `cdp demo` or `cdp run` first")
    try:
        result = query_tables(workdir, sql)
        frame = result.df() if result is not None else None
    except duckdb.Error as exc:
        errors.print(f"[red]query failed: {exc}[/red]", highlight=False)
        raise typer.Exit(1) from None
    if frame is None:
        return
    if format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", force_ascii=False) + "\n")
    elif format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    else:
        table = Table()
        for column in frame.columns:
            table.add_column(str(column))
        missing = frame.isna().to_numpy()
        for values, gaps in zip(frame.itertuples(index=False), missing, strict=True):
            # A missing value prints empty (pandas keeps it a float NaN even through astype(str)).
            table.add_row(*("" if gap else str(value) for value, gap in zip(values, gaps, strict=True)))
        console.print(table)


@app.command()
def validate(config: ConfigOption) -> None:
    """Check a configuration: every problem with its line, the bad value and what is expected."""
    loaded = _load(config)
    console.print(f"{config}: valid — {len(loaded.sources)} sources, {len(loaded.segments)} segments, "
                  f"{len(loaded.channels)} channels")


@app.command()
def evaluate(
    workdir: WorkdirOption,
    truth: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        help="CSV with record_key,person_id or source,source_id,person_id; default WORKDIR/truth.csv")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
) -> None:
    """Precision, recall and F1 of identity resolution (pairs of records) against a ground truth."""
    from cdp.identity.evaluate import TruthFormatError, link_quality, read_truth

    if format not in ("table", "json"):
        errors.print(f"[red]--format must be table or json, not {format!r}[/red]")
        raise typer.Exit(2)
    truth_path = truth or workdir / "truth.csv"
    if not truth_path.is_file():
        errors.print(f"[red]no ground truth at {truth_path}; pass --truth FILE (columns record_key,person_id or "
                     "source,source_id,person_id)[/red]")
        raise typer.Exit(2)
    try:
        expected = read_truth(truth_path)
    except TruthFormatError as exc:
        errors.print(f"[red]{truth_path}: {exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    _require_tables(workdir, "run `cdp demo` or `cdp run` first")
    identities = open_store(workdir).read("identities").to_pandas()
    quality = link_quality(identities, expected)
    if quality.records == 0:  # figures over nothing would read as perfect
        errors.print(f"[red]none of the {len(identities):,} records in the identities table is in the ground truth "
                     f"({len(expected):,} records); run the pipeline on the data the truth describes[/red]")
        raise typer.Exit(1)
    if format == "json":
        sys.stdout.write(json.dumps(quality.as_dict()) + "\n")
        return
    table = Table(title="Identity resolution against the ground truth", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in quality.as_dict().items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else f"{value:.4f}")
    console.print(table)


@app.command()
def train(
    config: ConfigOption,
    workdir: WorkdirOption,
    as_of: Annotated[Optional[str], typer.Option(help="Train on data ingested up to this date (YYYY-MM-DD).")] = None,  # noqa: UP045
) -> None:
    """Fit the identity matcher and the scoring models on the data up to a date and save each as a new version (runs
    load the latest)."""
    from cdp.pipeline.local import local_models
    from cdp.pipeline.training import train_models

    loaded = _load(config)
    _require_tables(workdir, "ingest files first (cdp ingest or cdp run)")
    started = time.perf_counter()
    with console.status("Training…"):
        try:
            trained = train_models(open_store(workdir), loaded, local_models(workdir),
                                   date.fromisoformat(as_of) if as_of else None)
        except ValueError as exc:
            errors.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    for model in trained:
        if model.skipped:
            console.print(f"[yellow]No {model.model} model trained: {model.skipped}[/yellow]")
            continue
        unit = "customers" if model.model == "scoring" else "records"
        console.print(f"Trained {model.model} model version {model.version} on {model.records:,} {unit}: "
                      f"{workdir / 'models' / model.model}")
        if model.validation:
            _print_scoring_validation(model.validation)
    console.print(f"Done in {time.perf_counter() - started:.1f} s")


def _print_scoring_validation(validation: dict) -> None:
    """The time split inside the training data: each purchase model against the period it did not see."""
    table = Table(title="Purchase days predicted per customer over the held-out period")
    for column in ("model", "covariates", "MAE", "RMSE", "correlation", "predicted / actual"):
        table.add_column(column)
    for row in validation["purchases"]:
        chosen = row["model"] == validation["chosen"]["model"] and row["covariates"] == validation["chosen"][
            "covariates"]
        table.add_row(row["model"] + (" (chosen)" if chosen else ""), "yes" if row["covariates"] else "no",
                      f"{row['mae']:.3f}", f"{row['rmse']:.3f}", f"{row['correlation']:.3f}",
                      f"{row['predicted_total']:,.0f} / {row['actual_total']:,.0f}")
    console.print(table)
    churn = validation["churn"]
    console.print(f"Churn model on the next period: ROC AUC {churn['roc_auc']:.3f} over {churn['customers']:,} "
                  f"customers ({churn['churn_rate']:.0%} churned)")
    reliability = Table(title="Churn reliability: predicted against observed, by band")
    for column in ("band", "customers", "predicted", "observed"):
        reliability.add_column(column)
    for row in churn["reliability"]:
        reliability.add_row(row["band"], f"{row['customers']:,}", f"{row['predicted']:.2f}", f"{row['observed']:.2f}")
    console.print(reliability)
    clusters = validation.get("clusters")
    if clusters:
        table = Table(title=f"ML segments: {clusters['k']} clusters (best silhouette), each explained by a rule")
        for column in ("segment", "customers", "rule (copy it into a rule segment to keep it)", "finds", "precision"):
            table.add_column(column)
        for cluster in clusters["clusters"]:
            table.add_row(f"{cluster['segment_id']}: {cluster['name']}", f"{cluster['size']:,}", cluster["rule_sql"],
                          f"{cluster['recall']:.0%}", f"{cluster['precision']:.0%}")
        console.print(table)


@app.command()
def explain(
    workdir: WorkdirOption,
    record: Annotated[str, typer.Option(help="Record key, <source>:<key>, e.g. crm:C0100001.")],
) -> None:
    """Why a record sits in its profile: the chain of links, and the candidate links refused."""
    from cdp.identity.explain import UnknownRecord
    from cdp.identity.explain import explain as explain_record

    _require_tables(workdir, "run `cdp demo` or `cdp run` first")
    store = open_store(workdir)
    try:
        lines = explain_record(record, store.read("identities").to_pandas(), store.read("identity_links").to_pandas(),
                               store.read("identity_reviews").to_pandas())
    except UnknownRecord as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


@app.command()
def report(
    workdir: WorkdirOption,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Path to cdp.yaml: adds its activation "
                                                "plans, their uses and the sources that feed them.")] = None,
) -> None:
    """(Re)build WORKDIR/report.html from the local tables."""
    from cdp.report.html import write_report

    console.print(f"Report: {write_report(open_store(workdir), workdir, _load(config) if config else None)}")


if __name__ == "__main__":
    app()
