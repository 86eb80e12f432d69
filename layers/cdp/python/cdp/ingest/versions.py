"""Which record versions are known already: a set of 128-bit digests that stays small and fast at millions.

A version is a record key with a content hash. Holding millions of them as strings, and rebuilding a hash table
of them for every batch, costs gigabytes and grows quadratically; their MD5 digests take 16 bytes each, kept in
a few sorted runs (merged as they grow, like a binary counter), and a lookup is a binary search per run.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cdp.ingest.normalisers import sql_over

Digests = tuple[np.ndarray, np.ndarray]  # high and low 64 bits, uint64 each

_NIBBLE = np.zeros(256, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"abcdef", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint64)
_SHIFTS = np.arange(60, -4, -4, dtype=np.uint64)
MERGED_RUN_LIMIT = 1 << 20


def version_digests(record_keys: pa.Array, content_hashes: pa.Array) -> Digests:
    """MD5 of each (record_key, content_hash), as two uint64 halves."""
    hexes = sql_over({"k": record_keys, "h": content_hashes},
                     "SELECT md5(coalesce(k, '') || chr(0) || coalesce(h, '')) AS d FROM batch")["d"].combine_chunks()
    data = np.frombuffer(hexes.buffers()[2], dtype=np.uint8)[: 32 * len(hexes)].reshape(-1, 32)
    nibbles = _NIBBLE[data]
    high = np.bitwise_or.reduce(nibbles[:, :16] << _SHIFTS, axis=1)
    low = np.bitwise_or.reduce(nibbles[:, 16:] << _SHIFTS, axis=1)
    return high, low


def first_occurrences(digests: Digests) -> np.ndarray:
    """True at the first row of each distinct digest."""
    high, low = digests
    order = np.lexsort((np.arange(len(high)), low, high))
    first = np.ones(len(high), dtype=bool)
    first[1:] = (high[order][1:] != high[order][:-1]) | (low[order][1:] != low[order][:-1])
    keep = np.zeros(len(high), dtype=bool)
    keep[order[first]] = True
    return keep


class VersionSet:
    """Digests in sorted runs, each searched by bisection: about log2 of the runs below a million entries, and
    one run per million above."""

    def __init__(self) -> None:
        self._runs: list[Digests] = []

    def __len__(self) -> int:
        return sum(len(high) for high, _ in self._runs)

    def contains(self, digests: Digests) -> np.ndarray:
        high, low = digests
        found = np.zeros(len(high), dtype=bool)
        for run_high, run_low in self._runs:
            start = np.searchsorted(run_high, high, side="left")
            end = np.searchsorted(run_high, high, side="right")
            # Runs of equal high halves are one entry long but for a 2^-64 chance: check each entry's low half.
            for offset in range(int((end - start).max(initial=0))):
                at = np.minimum(start + offset, len(run_high) - 1)
                found |= (start + offset < end) & (run_low[at] == low)
        return found

    def add(self, digests: Digests) -> None:
        """Add digests that are not in the set yet."""
        high, low = digests
        if not len(high):
            return
        order = np.argsort(high, kind="stable")
        self._runs.append((high[order], low[order]))
        # Merge while the newest run is at least half the size of the one before (few runs, each merge cheap),
        # up to runs of a million: past that a merge would briefly need several times the set's memory.
        while len(self._runs) > 1 and 2 * len(self._runs[-1][0]) >= len(self._runs[-2][0]) \
                and len(self._runs[-2][0]) < MERGED_RUN_LIMIT:
            (high_b, low_b), (high_a, low_a) = self._runs.pop(), self._runs.pop()
            high, low = np.concatenate([high_a, high_b]), np.concatenate([low_a, low_b])
            order = np.argsort(high, kind="stable")
            self._runs.append((high[order], low[order]))
