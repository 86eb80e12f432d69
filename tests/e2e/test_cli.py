"""The command line end to end, on synthetic data and on small hand-made landing folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cdp.cli import app
from cdp.config import example_config_path

runner = CliRunner()
CONFIG = str(example_config_path())


def cdp(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def query(workdir: Path, sql: str) -> list[dict]:
    code, output = cdp("query", "--workdir", str(workdir), "--format", "json", sql)
    assert code == 0, output
    return json.loads(output)


@pytest.fixture(scope="module")
def demo_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("demo")
    code, output = cdp("demo", "--profiles", "400", "--seed", "7", "--workdir", str(workdir))
    assert code == 0, output
    (workdir / "summary.txt").write_text(output)
    return workdir


def test_demo_runs_every_stage_and_says_where_the_outputs_are(demo_workdir: Path) -> None:
    summary = (demo_workdir / "summary.txt").read_text()
    for expected in ("Files", "quarantined", "profiles", "Segments", "high_value", "Events delivered per channel",
                     "outbox", "report.html"):
        assert expected in summary
    counts = query(demo_workdir, "SELECT (SELECT count(*) FROM records) AS records, "
                                 "(SELECT count(*) FROM profiles) AS profiles, "
                                 "(SELECT count(*) FROM quarantine) AS quarantined, "
                                 "(SELECT count(*) FROM activations) AS activations")[0]
    assert counts["profiles"] < counts["records"]  # duplicates across sources were merged
    assert counts["quarantined"] > 0 and counts["activations"] > 0
    files = query(demo_workdir, "SELECT * FROM files")
    assert {f["source"] for f in files} == {"crm", "accounts", "orders", "order_lines", "web_events"}
    assert all(f["rows_in"] == f["rows_accepted"] + f["rows_quarantined"] for f in files)
    email_outbox = (demo_workdir / "outbox" / "email.jsonl").read_text().splitlines()
    assert email_outbox and all(json.loads(line)["detail-type"] == "Segment Membership Changed"
                                for line in email_outbox)
    assert (demo_workdir / "report.html").read_text().count("<table") >= 4


def test_deterministic_links_are_precise_against_the_ground_truth(demo_workdir: Path) -> None:
    truth = pd.read_csv(demo_workdir / "truth.csv")
    linked = pd.DataFrame(query(demo_workdir, "SELECT record_key, profile_id FROM identities"))
    joined = linked.merge(truth, on="record_key")
    # A profile is pure when all its records belong to one real person.
    persons_per_profile = joined.groupby("profile_id")["person_id"].nunique()
    assert (persons_per_profile == 1).mean() > 0.97
    assert joined["profile_id"].nunique() < joined["record_key"].nunique()


def test_activation_respects_consent_and_never_sends_clear_identifiers_to_ads(demo_workdir: Path) -> None:
    profiles = {p["profile_id"]: p for p in query(demo_workdir, "SELECT profile_id, email_opt_in, sms_opt_in FROM profiles")}
    outbox = demo_workdir / "outbox"
    for line in (outbox / "sms.jsonl").read_text().splitlines() if (outbox / "sms.jsonl").exists() else []:
        assert profiles[json.loads(line)["detail"]["profile_id"]]["sms_opt_in"] is True
    for line in (outbox / "email.jsonl").read_text().splitlines():
        assert profiles[json.loads(line)["detail"]["profile_id"]]["email_opt_in"] is True
    ads = (outbox / "ads.jsonl").read_text().splitlines()
    assert ads
    for line in ads:
        detail = json.loads(line)["detail"]
        assert "identifiers" not in detail and "@" not in json.dumps(detail)
    holdout = query(demo_workdir, "SELECT count(*) AS n FROM activations WHERE holdout")[0]["n"]
    assert holdout > 0


def test_running_again_on_the_same_landing_changes_nothing(demo_workdir: Path) -> None:
    tables = ("records", "quarantine", "files", "identities", "profiles", "segment_memberships", "activations")
    before = {t: query(demo_workdir, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in tables}
    profiles_before = query(demo_workdir, "SELECT * EXCLUDE (run_id) FROM profiles ORDER BY profile_id")
    outbox_before = {p.name: p.read_text() for p in (demo_workdir / "outbox").glob("*.jsonl")}

    code, output = cdp("run", "--config", CONFIG, "--landing", str(demo_workdir / "landing"),
                       "--workdir", str(demo_workdir), "--as-of", "2026-11-01")

    assert code == 0, output
    assert {t: query(demo_workdir, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in tables} == before
    assert query(demo_workdir, "SELECT * EXCLUDE (run_id) FROM profiles ORDER BY profile_id") == profiles_before
    assert {p.name: p.read_text() for p in (demo_workdir / "outbox").glob("*.jsonl")} == outbox_before


def test_query_formats(demo_workdir: Path) -> None:
    code, output = cdp("query", "--workdir", str(demo_workdir), "--format", "csv",
                       "SELECT segment_id, count(*) AS n FROM segment_memberships GROUP BY 1 ORDER BY 1")
    assert code == 0 and output.splitlines()[0] == "segment_id,n"
    code, output = cdp("query", "--workdir", str(demo_workdir), "SELECT count(*) AS n FROM profiles")
    assert code == 0 and "n" in output
    code, output = cdp("query", "--workdir", str(demo_workdir), "SELECT nope FROM profiles")
    assert code == 1 and "nope" in output


def test_the_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    """In separate processes: Python salts string hashes per process, so set order must not leak into the data."""
    import subprocess
    import sys

    script = "import sys; from pathlib import Path; from cdp.demo.synthetic import generate; " \
             "generate(Path(sys.argv[1]), profiles=300, seed=3)"
    for folder, salt in (("a", "1"), ("b", "2")):
        subprocess.run([sys.executable, "-c", script, str(tmp_path / folder)], check=True,
                       env={**os.environ, "PYTHONHASHSEED": salt})
    first = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert first == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_validate_accepts_the_example_and_points_at_mistakes(tmp_path: Path) -> None:
    code, output = cdp("validate", "--config", CONFIG)
    assert code == 0 and "valid" in output
    bad = tmp_path / "cdp.yaml"
    bad.write_text(example_config_path().read_text().replace("phone: {type: phone}", "phone: {type: telephone}", 1))
    code, output = cdp("validate", "--config", str(bad))
    assert code == 2
    assert "line 19" in output and "sources.crm.columns.phone.type" in output and "'telephone'" in output


def test_ingest_exits_non_zero_only_when_a_file_is_rejected(tmp_path: Path, small_landing: Path) -> None:
    workdir = tmp_path / "work"
    code, output = cdp("ingest", "--config", CONFIG, "--source", "crm", "--workdir", str(workdir),
                       str(small_landing / "crm" / "crm_export.csv"))
    assert code == 0 and "1 quarantined" in output
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 50)
    code, output = cdp("ingest", "--config", CONFIG, "--source", "crm", "--workdir", str(workdir), str(junk))
    assert code == 1 and "rejected" in output and "binary" in output
