"""Identifiers for partners that match on hashes (ads audiences): never the clear value."""

from __future__ import annotations

import hashlib


def sha256_identifier(value: str) -> str:
    """The hash ad platforms match on: SHA-256 of the normalised (trimmed, lower-case, E.164) identifier."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()
