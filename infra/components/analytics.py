"""The Athena workgroup analysts query the tables through: results encrypted, a cap on what one query scans."""

from __future__ import annotations

from aws_cdk import aws_athena as athena
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdp.config.platform import AnalyticsSpec
from cdp.settings import ATHENA_RESULTS_PREFIX


class Analytics(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, data: s3.IBucket, key: kms.IKey,
                 spec: AnalyticsSpec, name: str) -> None:
        super().__init__(scope, construct_id)
        self.workgroup = athena.CfnWorkGroup(
            self, "WorkGroup", name=name, state="ENABLED",
            description="Queries over the platform's tables (Glue database cdp)",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                # Every query in it uses these settings, whatever the client asks for.
                enforce_work_group_configuration=True, publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=spec.bytes_scanned_limit_gb * 1024**3,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{data.bucket_name}/{ATHENA_RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=key.key_arn)),
            ),
        )
