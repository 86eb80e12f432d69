"""Features a brand declares: a name and a SQL aggregate over one fact view, per profile, as of the run date."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cdp.config.base import ID_PATTERN, ConfigModel

# The views a declared feature aggregates: the facts of each profile up to the run date, with ``age_days`` (days
# before the run date); order lines carry their order's columns too.
FeatureSource = Literal["orders", "order_lines", "events"]


class FeatureSpec(ConfigModel):
    name: Annotated[str, Field(pattern=ID_PATTERN)]
    source: FeatureSource = Field(description="The facts it aggregates: orders, order_lines or events.")
    sql: str = Field(description="A SQL aggregate over the source's columns and age_days, e.g. "
                                 "count(*) FILTER (WHERE amount > 150 AND age_days < 365).")
    description: str = ""
