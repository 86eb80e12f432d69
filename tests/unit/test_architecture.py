"""The domain knows nothing of AWS: it must run, and be tested, without boto3 or the CDK."""

from __future__ import annotations

import ast
from pathlib import Path

import cdp

PACKAGE = Path(cdp.__file__).parent
CLOUD_MODULES = ("boto3", "botocore", "aws_cdk", "aws_lambda_powertools", "moto")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_domain_and_pipeline_import_nothing_from_aws() -> None:
    checked = [*PACKAGE.glob("domain/*.py"), *PACKAGE.glob("pipeline/*.py"), PACKAGE / "config.py",
               PACKAGE / "schemas.py", PACKAGE / "events.py", PACKAGE / "ingestion.py"]
    offenders = {p.name: imported_modules(p) & set(CLOUD_MODULES) for p in checked}
    assert {name: mods for name, mods in offenders.items() if mods} == {}
