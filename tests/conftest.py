"""Fixtures shared by the suites: small landing folders whose every row has a known fate."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cdp.config import Config, example_config_path, load_config

CRM = (
    "customer_id,first_name,last_name,email,phone,birth_date,street,postcode,city,country,email_opt_in,"
    "sms_opt_in,updated_at\n"
    "C1,jean,DUPONT, Jean.Dupont@Gmail.com ,06 12 34 56 78,07/03/1984,1 rue de la Paix,75002,paris,France,oui,1,"
    "2025-01-01 10:00:00\n"
    "C2,Marie,Curie,marie@example.fr,,1970-01-01,,,,FR,1,0,2025-01-02\n"
    "C3,Hélène,Lefèvre,helene@example.fr,+33 6 98 76 54 32,1990-05-06,,,Lyon,fr,non,oui,2025-02-01\n"
    ",Nobody,Without-Id,no.id@example.fr,,,,,,FR,1,1,2025-01-01\n"
    "C5,Paul,Martin,paul.martin@example.fr,0033 6 11 22 33 44,31/02/1990,,,,FR,yes,yes,2025-03-01\n"
)

ACCOUNTS = [
    {"account_id": "A1", "email": "JEAN.DUPONT@gmail.com", "first_name": "Jean", "last_name": "Dupond",
     "phone": None, "created_at": "2024-05-01T00:00:00Z"},
    {"account_id": "A2", "email": "other@example.com", "first_name": "Zoé", "last_name": "Bernard",
     "phone": "0698765432", "created_at": "2024-06-01T00:00:00Z"},
    {"account_id": "A3", "email": "not-an-email", "first_name": "Bad", "last_name": "Row",
     "phone": None, "created_at": "2024-06-01T00:00:00Z"},
]

ORDERS = (
    "order_id,customer_id,account_id,email,order_date,channel,store_id,amount,currency\n"
    "O1,C1,,,2026-10-01,store,S1,600.50,EUR\n"
    "O2,,A1,,2026-09-01,web,,20,EUR\n"
    "O3,,,marie@example.fr,2025-01-01,web,,30,EUR\n"
    "O4,,,marie@example.fr,2025-09-01,web,,30,EUR\n"
    "O5,,A2,,2026-10-15,web,,710,EUR\n"
    "O6,C5,,,2026-06-01,store,S2,800,EUR\n"
)


@pytest.fixture(scope="session")
def retail_config() -> Config:
    return load_config(example_config_path())


def write_small_landing(landing: Path) -> Path:
    (landing / "crm").mkdir(parents=True)
    (landing / "accounts").mkdir()
    (landing / "orders").mkdir()
    (landing / "crm" / "crm_export.csv").write_text(CRM, encoding="utf-8")
    (landing / "accounts" / "accounts.jsonl").write_text(
        "\n".join(json.dumps(a, ensure_ascii=False) for a in ACCOUNTS) + "\n", encoding="utf-8")
    (landing / "orders" / "orders.csv").write_text(ORDERS, encoding="utf-8")
    return landing


@pytest.fixture
def small_landing(tmp_path: Path) -> Path:
    return write_small_landing(tmp_path / "landing")


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch):
    """moto's S3 (in process) with the bucket ``data``, and the region and credentials boto3 needs."""
    import boto3
    from moto import mock_aws

    for key, value in {"AWS_DEFAULT_REGION": "eu-west-3", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        yield client


# The CDK app synthesized once per test process (each synthesis starts a jsii node process, 10-15 s): the infra
# tests read its template, and the cloud tests run its state machines and stand its resources up.
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
