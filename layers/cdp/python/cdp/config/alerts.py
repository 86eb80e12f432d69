"""Who hears of an alarm: the subscribers of the platform's alarm topic."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from cdp.config.base import ConfigModel

Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Https = Annotated[str, Field(pattern=r"^https://\S+$")]
E164 = Annotated[str, Field(pattern=r"^\+[1-9]\d{6,14}$")]


class AlertsSpec(ConfigModel):
    """Subscribers of the alarm topic (a failed or timed-out run, a dead letter, a function's errors or throttles,
    a file waiting to be ingested). An email or HTTPS subscriber confirms its subscription before it receives any.
    """

    emails: tuple[Email, ...] = Field((), description="Addresses, e.g. data-team@example.com.")
    https: tuple[Https, ...] = Field((), description="Endpoints that accept SNS notifications (an on-call service).")
    sms: tuple[E164, ...] = Field((), description="Phone numbers in E.164, e.g. +33612345678.")
