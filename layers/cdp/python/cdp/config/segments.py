"""Segments: marketer-readable SQL rules over profile, feature and score columns."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from cdp.config.base import ID_PATTERN, ConfigModel


class SegmentSpec(ConfigModel):
    id: Annotated[str, Field(pattern=ID_PATTERN)]
    name: str
    description: str = ""
    rule: str = Field(description="SQL boolean expression over profile, feature and score columns.")
