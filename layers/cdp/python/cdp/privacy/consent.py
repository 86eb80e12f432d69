"""Consent: whom a channel may contact. A person is contacted only where they said yes and can be reached."""

from __future__ import annotations

from typing import Any

from cdp.config import ChannelSpec


def may_contact(channel: ChannelSpec, profile: dict[str, Any]) -> bool:
    """True when the profile's consent field the channel names (``consent_email``, ``consent_sms``, ``consent_ads``:
    the most recent statement, see ``cdp.profiles.survivorship``) is true, unknown being no, and the profile has the
    channel's identifier."""
    if channel.consent and profile.get(channel.consent) is not True:
        return False
    return not (channel.identifier and not profile.get(channel.identifier))
