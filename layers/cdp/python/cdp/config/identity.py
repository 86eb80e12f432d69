"""Identity resolution and survivorship: which keys link records, and which value each profile field keeps."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cdp.config.base import ConfigModel


class IdentitySpec(ConfigModel):
    deterministic_keys: tuple[Literal["email", "phone"], ...] = ("email", "phone")


class SurvivorshipSpec(ConfigModel):
    source_priority: tuple[str, ...] = Field((), description="Sources in order of trust; first wins on ties.")
    default: Literal["most_recent", "source_priority"] = "most_recent"
    fields: dict[str, Literal["most_recent", "source_priority"]] = {}
