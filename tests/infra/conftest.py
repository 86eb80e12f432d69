"""Synthesize the CDK app once per test session (each synthesis starts a jsii node process, 10-15 s)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass
class Synthesized:
    outdir: Path
    template: Any  # aws_cdk.assertions.Template
    template_json: dict
    metadata: dict[str, list[dict]]  # construct path -> metadata entries (cdk-nag findings among them)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    from aws_cdk.assertions import Template

    from infra.app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(outdir=str(outdir))
    assembly = app.synth()
    (stack,) = assembly.stacks
    # Recent CDK versions keep a stack's metadata (cdk-nag findings among it) in a file of its own.
    metadata_files = list(outdir.glob(f"{stack.id}.metadata.json"))
    manifest = json.loads((outdir / "manifest.json").read_text())
    metadata = (json.loads(metadata_files[0].read_text()) if metadata_files
                else manifest["artifacts"][stack.id].get("metadata", {}))
    template_json = json.loads((outdir / stack.template_file).read_text())
    return Synthesized(outdir, Template.from_json(template_json), template_json, metadata)
