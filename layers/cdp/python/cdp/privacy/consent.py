"""Consent: whom a channel may contact. A person is contacted only where they said yes and can be reached."""

from __future__ import annotations

from typing import Any

from cdp.config import ChannelSpec


def may_contact(channel: ChannelSpec, profile: dict[str, Any]) -> bool:
    """True when the channel's consent field is true (unknown is no) and the profile has the channel's identifier."""
    if channel.consent and profile.get(channel.consent) is not True:
        return False
    return not (channel.identifier and not profile.get(channel.identifier))
