from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from cdp.ingest.versions import VersionSet, first_occurrences, version_digests


def test_digests_are_the_md5_of_key_and_content() -> None:
    high, low = version_digests(pa.array(["crm:C1"]), pa.array(["0f" * 16]))
    expected = hashlib.md5(("crm:C1\x00" + "0f" * 16).encode()).hexdigest()
    assert f"{int(high[0]):016x}{int(low[0]):016x}" == expected


def test_the_first_occurrence_of_each_version_is_kept() -> None:
    digests = version_digests(pa.array(["k1", "k2", "k1", "k1"]), pa.array(["a", "a", "a", "b"]))
    assert first_occurrences(digests).tolist() == [True, True, False, True]


def test_a_version_set_finds_every_version_added_and_nothing_else() -> None:
    rng = np.random.default_rng(1)
    versions = VersionSet()
    added = []
    for size in [1, 7, 1000, 3, 50_000, 20, 2_000]:  # batch sizes as they come: merges of uneven runs
        batch = (rng.integers(0, 2**64 - 1, size, dtype=np.uint64), rng.integers(0, 2**64 - 1, size, dtype=np.uint64))
        assert not versions.contains(batch).any()
        versions.add(batch)
        added.append(batch)
    high, low = np.concatenate([h for h, _ in added]), np.concatenate([lo for _, lo in added])
    assert len(versions) == len(high) and versions.contains((high, low)).all()
    assert len(versions._runs) <= 4  # merged as they grow
    # Same high half, another low half: not the same version.
    assert not versions.contains((high[:100], low[:100] ^ np.uint64(1))).any()
