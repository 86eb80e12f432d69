"""The whole configuration (``cdp.yaml``): every concern's section, and the references between them."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import Field, model_validator

from cdp.config.activation import ActivationPlanSpec, ChannelSpec
from cdp.config.alerts import AlertsSpec
from cdp.config.base import ID_PATTERN, ConfigModel
from cdp.config.features import FeatureSpec
from cdp.config.identity import IdentitySpec, SurvivorshipSpec
from cdp.config.privacy import PrivacySpec
from cdp.config.purposes import purpose_problems
from cdp.config.scoring import ScoringSpec
from cdp.config.segments import SegmentSpec
from cdp.config.sources import SourceSpec
from cdp.tables import TABLES

# Regions inside the European Union, where the data stays by default (London and Zurich are not in it).
EU_REGIONS = frozenset({"eu-west-1", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2"})


def residency_problem(region: str, allow_outside_eu: bool) -> str | None:
    """Why the data may not go to ``region``, if it may not."""
    if region in EU_REGIONS or allow_outside_eu:
        return None
    return (f"region {region!r} is outside the European Union ({', '.join(sorted(EU_REGIONS))}); the data would "
            "leave it: set allow_outside_eu: true to deploy there on purpose")


class AnalyticsSpec(ConfigModel):
    """The Athena workgroup analysts query the tables through."""

    bytes_scanned_limit_gb: int = Field(10, ge=1, description="A query that would scan more is cancelled.")
    results_days: int = Field(30, ge=1, description="Query results are kept this long.")


class Config(ConfigModel):
    version: Literal[1] = 1
    project: str = "cdp"
    region: str = Field("eu-west-3", description="Where the stack and every byte of data live.")
    allow_outside_eu: bool = Field(False, description="Required to set a region outside the European Union.")
    sources: dict[Annotated[str, Field(pattern=ID_PATTERN)], SourceSpec]
    identity: IdentitySpec = IdentitySpec()
    survivorship: SurvivorshipSpec = SurvivorshipSpec()
    scoring: ScoringSpec = ScoringSpec()
    features: tuple[FeatureSpec, ...] = ()
    segments: tuple[SegmentSpec, ...] = ()
    activation_plans: tuple[ActivationPlanSpec, ...] = ()
    channels: dict[Annotated[str, Field(pattern=ID_PATTERN)], ChannelSpec] = {}
    alerts: AlertsSpec = AlertsSpec()
    privacy: PrivacySpec = PrivacySpec()
    analytics: AnalyticsSpec = AnalyticsSpec()

    @model_validator(mode="after")
    def _references_resolve(self) -> Config:
        if problem := residency_problem(self.region, self.allow_outside_eu):
            raise ValueError(problem)
        segment_ids = [segment.id for segment in self.segments]
        if len(set(segment_ids)) != len(segment_ids):
            raise ValueError("segment ids must be unique")
        names = [feature.name for feature in self.features]
        taken = {f.name for table in ("profiles", "features", "scores") for f in TABLES[table].schema}
        clashing = sorted(set(names) & taken)
        if clashing or len(set(names)) != len(names):
            raise ValueError(f"declared feature names must be unique and new: {clashing or names} "
                             "(a profile, feature or score column already has that name)")
        for name, source in self.sources.items():
            for column, target in source.links.items():
                if target not in self.sources or self.sources[target].table != "records":
                    raise ValueError(
                        f"sources.{name}.links.{column} names {target!r}; expected a source whose table is records"
                    )
        for source in self.survivorship.source_priority:
            if source not in self.sources:
                raise ValueError(f"survivorship.source_priority names {source!r}, which is not a declared source")
        for plan in self.activation_plans:
            if plan.segment not in segment_ids:
                raise ValueError(f"activation plan names segment {plan.segment!r}; declared: {segment_ids}")
            for channel in plan.channels:
                if channel not in self.channels:
                    raise ValueError(
                        f"activation plan for {plan.segment!r} names channel {channel!r}; "
                        f"declared channels: {sorted(self.channels)}"
                    )
        problems = purpose_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]
