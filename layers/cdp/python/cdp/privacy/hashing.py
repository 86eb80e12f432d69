"""Identifiers for partners that match on hashes (ads audiences): never the clear value."""

from __future__ import annotations

import hashlib


def sha256_identifier(value: str) -> str:
    """The hash ad platforms match on: SHA-256 of the normalised (trimmed, lower-case, E.164) identifier."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()


def salted_hash(salt: str, value: str) -> str:
    """What the erasure audit and the suppression list keep of an identifier: SHA-256 of the platform's secret salt
    and the value, unreadable without the salt (``salted_hash_sql`` computes the same in DuckDB)."""
    return hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()


def salted_hash_sql(salt: str, column: str) -> str:
    from cdp.sql import literal

    return f"sha256({literal(salt + ':')} || {column})"
