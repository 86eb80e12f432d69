"""Contact cards: what a channel needs to reach a person for one activation event, kept apart from the event.

Events on the bus, and in the archive that keeps them for replay, name a person by profile id only. Before it
publishes them, the publish step leaves one card per event and channel: the address that channel uses and the plan's
traits (for an ads audience, the hashed addresses alone), read from the profile as it is then, and only while the
person consents to the channel. The sender reads the card when it delivers and hands its connector the event with
the card's fields in its detail; an event whose card is missing (the person was erased since, or withdrew consent)
is not delivered.

Cards sit under the channel's outbox (``settings.contact_card_key``): the outbox's retention expires them and erasure
deletes them. Only the standard library here: the light sender functions import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ContactCard:
    channel: str
    profile_id: str
    event_id: str
    contact: dict[str, Any]  # "identifiers" or "hashed_identifiers", and "traits"


def with_contact(event: dict[str, Any], contact: dict[str, Any]) -> dict[str, Any]:
    """What the channel's connector receives: the event, its detail completed with the card."""
    return {**event, "detail": {**event["detail"], **contact}}


class MemoryContacts:
    """Cards kept in memory: for runs whose bus delivers nowhere."""

    def __init__(self) -> None:
        self.cards: dict[tuple[str, str, str], dict[str, Any]] = {}

    def put(self, cards: list[ContactCard]) -> None:
        self.cards.update({(c.channel, c.profile_id, c.event_id): c.contact for c in cards})

    def get(self, channel: str, profile_id: str, event_id: str) -> dict[str, Any] | None:
        return self.cards.get((channel, profile_id, event_id))
