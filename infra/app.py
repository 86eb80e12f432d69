"""CDK app: `cdk synth` / `cdk deploy` run this (see cdk.json). Context: region, config, prefix, schedule."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "layers" / "cdp" / "python"))

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from cdp.config import load_config
from cdp.config.platform import EU_REGIONS, residency_problem
from infra.packaging import build_light_layer
from infra.stack import CdpStack


def build_app(outdir: str | None = None, context: dict | None = None) -> cdk.App:
    app = cdk.App(outdir=outdir, context=context or {})
    config_path = ROOT / (app.node.try_get_context("config") or "examples/retail/cdp.yaml")
    config = load_config(config_path)
    region = app.node.try_get_context("region") or config.region
    if problem := residency_problem(region, config.allow_outside_eu):
        raise SystemExit(f"{config_path}: {problem}")
    stack = CdpStack(
        app, f"{app.node.try_get_context('prefix') or 'cdp'}-platform",
        config=config, config_path=config_path, light_layer=build_light_layer(),
        schedule=app.node.try_get_context("pipeline_schedule") or "cron(0 3 * * ? *)",
        training_schedule=app.node.try_get_context("training_schedule") or "cron(0 2 ? * SUN *)",
        retention_schedule=app.node.try_get_context("retention_schedule") or "cron(0 1 * * ? *)",
        alarm_email=app.node.try_get_context("alarm_email") or None,
        env=cdk.Environment(region=region, account=None),
        description="Serverless customer data platform (cdp)",
    )
    if region not in EU_REGIONS:
        cdk.Annotations.of(stack).add_warning_v2(
            "cdp:DataOutsideEU", f"The data will live in {region}, outside the European Union (allow_outside_eu).")
    cdk.Tags.of(stack).add("project", "cdp")
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app


if __name__ == "__main__":
    build_app().synth()
