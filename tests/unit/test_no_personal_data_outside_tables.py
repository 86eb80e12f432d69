"""No personal data where nobody would look for it: log lines, a file's rejection reason, File Ingested events."""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from pathlib import Path

import pytest

from cdp.adapters.buses import LocalBus
from cdp.config import Config
from cdp.demo.synthetic import generate
from cdp.pipeline.local import open_store, run_local
from tests.scan import findings

AS_OF = date(2026, 11, 1)


def test_the_demo_logs_reasons_and_events_name_no_one(tmp_path: Path, retail_config: Config,
                                                       caplog: pytest.LogCaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = generate(tmp_path / "data", profiles=200, seed=9, end_date=AS_OF)
    crm = dataset.landing / "crm" / "crm_export.csv"
    header, first, *rest = crm.read_text(encoding="utf-8").splitlines()
    # Files that are rejected whole: an export without its header line (its first row stands where the column
    # names should), and one whose quoting breaks pyarrow's parser on a row.
    (dataset.landing / "crm" / "no_header.csv").write_text("\n".join([first, *rest[:5]]) + "\n", encoding="utf-8")
    (dataset.landing / "accounts" / "broken.jsonl.gz").write_bytes(b"\x1f\x8b" + first.encode())
    published: list[dict] = []
    original = LocalBus.publish

    def recording(bus: LocalBus, events: list[dict]) -> None:
        published.extend(events)
        original(bus, events)

    monkeypatch.setattr(LocalBus, "publish", recording)
    caplog.set_level(logging.DEBUG)
    workdir = tmp_path / "work"
    run_local(retail_config, dataset.landing, workdir, as_of=AS_OF)

    store = open_store(workdir)
    records = store.read("records").to_pylist()
    emails = {r["email"] for r in records if r["email"]}
    phones = {r["phone"] for r in records if r["phone"]}
    # Names long enough not to be words of the platform's own messages, as whole words.
    names = {r["last_name"] for r in records if r["last_name"] and len(r["last_name"]) >= 6}
    files = store.read("files").to_pylist()
    assert {"rejected"} <= {f["status"] for f in files}
    texts = [("log", "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)),
             ("files.reason", "\n".join(f["reason"] or "" for f in files)),
             ("File Ingested", "\n".join(json.dumps(e, default=str) for e in published
                                         if e["detail-type"] == "File Ingested"))]
    assert texts[2][1]  # (locally nothing logs yet: a log line added later is searched too)
    assert not findings(texts, emails, phones)
    for name, text in texts:
        named = [n for n in names if re.search(rf"\b{re.escape(n)}\b", text)]
        assert not named, f"{name}: {named}"
