"""Privacy: what erasing a person does to the facts they leave behind, and whether they may come back."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from cdp.config.base import ConfigModel


class ErasureSpec(ConfigModel):
    facts: Literal["delete", "pseudonymise"] = Field(
        "pseudonymise",
        description="The person's orders and web events: deleted with their lines, or kept for the totals with "
                    "every column that could point back to them (links, email, device, URL, search, raw attributes) "
                    "emptied.")
    suppress: bool = Field(
        True, description="Keep the erased identifiers as salted hashes, so that ingestion drops the rows that "
                          "carry them and a later file does not bring the person back.")


LOG_RETENTION_DAYS = frozenset({1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                                2557, 2922, 3288, 3653})


class RetentionSpec(ConfigModel):
    """How long the bucket keeps what it holds outside the tables (S3 lifecycle rules of the stack), and how long the
    tables keep quarantined rows and the people who are no longer customers (``cdp.privacy.retention``)."""

    quarantine_days: int = Field(90, ge=1, description="Quarantined rows (kept as they came, for repair) are deleted "
                                                       "this long after their file was ingested.")
    inactive_profile_days: int | None = Field(
        1095, ge=1, description="A person with no activity for this long (no record of theirs updated or received, no "
                                "order, no visit) is erased, records and all, as an erasure would, but not suppressed: "
                                "three years by default; null keeps everyone.")

    landing_days: int = Field(90, ge=1, description="Landed files, once ingested, are kept this long.")
    staging_days: int = Field(2, ge=1, description="Staged parts of large files left behind by a failure.")
    outbox_days: int = Field(30, ge=1, description="What the channels delivered, for their connectors.")
    noncurrent_days: int = Field(30, ge=1, description="Earlier versions of any object (an overwritten or deleted "
                                                       "file, a table file no snapshot needs).")
    access_logs_days: int = Field(365, ge=1, description="S3 access logs of the data bucket.")
    incomplete_upload_days: int = Field(1, ge=1, description="Multipart uploads never completed are aborted.")
    logs_days: int = Field(90, description="Each function's log group keeps its lines this long (a period "
                                           "CloudWatch Logs offers: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, "
                                           "400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 days).")

    @field_validator("logs_days")
    @classmethod
    def _a_period_cloudwatch_offers(cls, days: int) -> int:
        if days not in LOG_RETENTION_DAYS:
            raise ValueError(f"{days} is not a retention CloudWatch Logs offers: one of {sorted(LOG_RETENTION_DAYS)}")
        return days


class PrivacySpec(ConfigModel):
    erasure: ErasureSpec = ErasureSpec()
    retention: RetentionSpec = RetentionSpec()
