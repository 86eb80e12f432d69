"""Activation: which segment changes go to which channels, with what hold-out, and how each channel is reached."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from cdp.config.base import ConfigModel
from cdp.config.purposes import Use


class ActivationPlanSpec(ConfigModel):
    segment: str
    channels: tuple[str, ...] = Field(min_length=1)
    changes: tuple[Literal["entered", "exited"], ...] = ("entered", "exited")
    holdout_share: float = Field(0.1, ge=0.0, lt=1.0)
    objective: str = ""
    traits: tuple[str, ...] = ()
    use: Use | None = Field(None, description="What the plan uses the data for, besides what its channels do "
                                              "(email_marketing, sms_marketing, ads_audiences, crm_sync).")


class ChannelSpec(ConfigModel):
    type: Literal["email", "sms", "ads_audience", "webhook"]
    consent: Literal["consent_email", "consent_sms", "consent_ads"] | None = Field(
        None, description="Profile consent field that must be true for the person to be contacted on this channel."
    )
    identifier: Literal["email", "phone"] | None = Field(
        None, description="Field the channel addresses people by; people without it are skipped."
    )
    hashed: bool = Field(False, description="Send SHA-256 of normalised identifiers instead of clear text.")
    url: str | None = None

    @field_validator("consent", mode="before")
    @classmethod
    def _renamed_consent(cls, value: object) -> object:
        renamed = {"email_opt_in": "consent_email", "sms_opt_in": "consent_sms"}
        if isinstance(value, str) and value in renamed:
            raise ValueError(f"a record field; name the profile's consent field {renamed[value]!r} instead "
                             "(or consent_ads for ads audiences)")
        return value
