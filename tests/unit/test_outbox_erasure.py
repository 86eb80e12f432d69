"""Erasure in the channels' outboxes on S3 (moto): every version of every delivered file and contact card."""

from __future__ import annotations

import json
from datetime import date

import pytest

from cdp import settings
from cdp.activation.cards import ContactCard
from cdp.adapters.contacts import S3Contacts
from cdp.adapters.landed import S3Files

BUCKET = "data"


def line(profile_id: str, event_id: str) -> str:
    return json.dumps({"detail": {"profile_id": profile_id, "event_id": event_id,
                                  "identifiers": {"email": f"{profile_id.lower()}@example.fr"}}})


@pytest.fixture
def s3(moto_s3):
    moto_s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return moto_s3


def every_version(s3) -> dict[str, list[str]]:
    """Each key's bodies, over all its versions."""
    bodies: dict[str, list[str]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
            bodies.setdefault(version["Key"], []).append(body.decode())
    return bodies


def test_a_persons_events_and_cards_go_from_every_version_and_nobody_elses(s3) -> None:
    today = settings.outbox_key("email", date(2026, 11, 2), "batch-2")
    expired = settings.outbox_key("email", date(2026, 8, 1), "batch-1")
    s3.put_object(Bucket=BUCKET, Key=today, Body="\n".join([line("P1", "e1"), line("P2", "e2")]) + "\n")
    # A file the outbox's lifecycle expired: a delete marker on top, its content still there as a noncurrent version.
    s3.put_object(Bucket=BUCKET, Key=expired, Body=line("P1", "e0") + "\n")
    s3.delete_object(Bucket=BUCKET, Key=expired)
    contacts = S3Contacts(s3, BUCKET)
    contacts.put([ContactCard("email", "P1", "e1", {"identifiers": {"email": "p1@example.fr"}}),
                  ContactCard("sms", "P1", "e3", {"identifiers": {"phone": "+33611111111"}}),
                  ContactCard("email", "P2", "e2", {"identifiers": {"email": "p2@example.fr"}})])
    # A card written again (a retried publish): two versions of it.
    contacts.put([ContactCard("email", "P1", "e1", {"identifiers": {"email": "p1@example.fr"}})])

    removed = S3Files(s3, BUCKET, settings.OUTBOX_PREFIX).remove_events({"P1"})

    assert removed == 2  # e1 and e0: each event once, however many versions held it
    left = every_version(s3)
    assert not [key for key, bodies in left.items() for body in bodies if "P1" in body or "p1@" in body or
                "+33611111111" in body], left
    assert [json.loads(body)["detail"]["profile_id"] for body in left[today][0].splitlines()] == ["P2"]
    assert contacts.get("email", "P2", "e2") == {"identifiers": {"email": "p2@example.fr"}}
    assert contacts.get("email", "P1", "e1") is None and contacts.get("sms", "P1", "e3") is None
