"""Where contact cards are kept: files under the work folder, objects in the data bucket, or memory.

Both stores use the same keys (``settings.contact_card_key``), relative to the work folder or the bucket. Only the
standard library and botocore here: the light sender functions read cards with ``S3Contacts``.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import botocore.exceptions

from cdp import settings
from cdp.activation.cards import ContactCard
from cdp.adapters.files import replace_file


def _body(card: ContactCard) -> bytes:
    return json.dumps(card.contact, ensure_ascii=False, sort_keys=True).encode("utf-8")


class LocalContacts:
    def __init__(self, root: Path):
        self.root = root

    def _path(self, channel: str, profile_id: str, event_id: str) -> Path:
        return self.root / settings.contact_card_key(channel, profile_id, event_id)

    def put(self, cards: list[ContactCard]) -> None:
        for card in cards:
            path = self._path(card.channel, card.profile_id, card.event_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            replace_file(path, _body(card))  # a sender never reads half a card

    def get(self, channel: str, profile_id: str, event_id: str) -> dict[str, Any] | None:
        path = self._path(channel, profile_id, event_id)
        return json.loads(path.read_bytes()) if path.is_file() else None


class S3Contacts:
    # Cards are small and many: written side by side, each a PutObject of its own.
    WRITERS = 16

    def __init__(self, s3: Any, bucket: str):
        self.s3, self.bucket = s3, bucket

    def put(self, cards: list[ContactCard]) -> None:
        def write(card: ContactCard) -> None:
            self.s3.put_object(Bucket=self.bucket, Key=settings.contact_card_key(card.channel, card.profile_id,
                                                                                 card.event_id),
                               Body=_body(card), ContentType="application/json")

        with ThreadPoolExecutor(self.WRITERS) as pool:
            list(pool.map(write, cards))

    def get(self, channel: str, profile_id: str, event_id: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket,
                                      Key=settings.contact_card_key(channel, profile_id, event_id))["Body"].read()
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return json.loads(body)
