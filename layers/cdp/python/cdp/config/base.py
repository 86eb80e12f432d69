"""The base of every configuration model: unknown keys are errors, and a loaded config never changes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
