"""The hold-out group: a stable share of each segment that no channel contacts, so that uplift can be measured."""

from __future__ import annotations

import hashlib

BUCKETS = 10_000


def in_holdout(profile_id: str, segment_id: str, share: float) -> bool:
    """A stable draw per person and segment, so that a hold-out member stays one across runs.

    The draw depends on the segment too, so that the same people are not the control group of every plan.
    """
    bucket = int(hashlib.sha256(f"{segment_id}\x00{profile_id}".encode()).hexdigest()[:8], 16) % BUCKETS
    return bucket < round(share * BUCKETS)
