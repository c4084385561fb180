"""Finding every pair of 64-bit hashes within a Hamming distance, with vector operations.

Multi-index hashing: split each hash into four 16-bit blocks. Two hashes within distance ``r`` have
at least one block within ``r // 4`` of each other (pigeonhole), so the candidate pairs are those
whose block values differ by a mask of at most ``r // 4`` bits, in some block. Candidates come from
bucketing the block values (a counting sort over 65,536 keys), are generated as ragged cartesian
products in numpy and are verified with XOR and a population count. The search is exact: it finds
the same pairs as comparing all pairs, at a small fraction of the work.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, cast

import numpy as np

U64 = np.ndarray[Any, np.dtype[np.uint64]]
I64 = np.ndarray[Any, np.dtype[np.int64]]

_BLOCKS = 4
_BLOCK_BITS = 16
_KEYS = 1 << _BLOCK_BITS
# Candidate pairs generated per numpy batch: bounds the memory the search needs (~40 bytes a pair).
_BATCH_PAIRS = 1 << 21

_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount64(values: U64) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Set bits of each uint64 (``np.bitwise_count`` on numpy 2, a byte table before)."""
    bitwise_count = getattr(np, "bitwise_count", None)
    if bitwise_count is not None:
        return cast("np.ndarray[Any, np.dtype[np.uint8]]", bitwise_count(values))
    as_bytes = values.reshape(-1, 1).view(np.uint8)
    counted = _POPCOUNT8[as_bytes].sum(axis=1, dtype=np.uint8).reshape(values.shape)
    return cast("np.ndarray[Any, np.dtype[np.uint8]]", counted)


def _masks(radius: int) -> list[int]:
    """Every 16-bit mask with between 1 and ``radius`` bits set."""
    masks: list[int] = []
    for bits in range(1, radius + 1):
        for chosen in combinations(range(_BLOCK_BITS), bits):
            masks.append(sum(1 << b for b in chosen))
    return masks


def _ragged_pairs(left_start: I64, left_count: I64, right_start: I64, right_count: I64) -> tuple[I64, I64]:
    """All (l, r) positions with l in [left_start, +left_count) x r in [right_start, +right_count)."""
    sizes = left_count * right_count
    total = int(sizes.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    owner = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    offsets = np.cumsum(sizes) - sizes
    local = np.arange(total, dtype=np.int64) - offsets[owner]
    width = right_count[owner]
    return left_start[owner] + local // width, right_start[owner] + local % width


def _within_bucket_pairs(start: I64, count: I64) -> tuple[I64, I64]:
    """All (a, b) with a < b inside each bucket [start, start+count)."""
    keep = count > 1
    start, count = start[keep], count[keep]
    if len(start) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    left, right = _ragged_pairs(start, count, start, count)
    upper = left < right
    return left[upper], right[upper]


def near_pairs(hashes: U64, max_distance: int) -> tuple[I64, I64, np.ndarray[Any, np.dtype[np.uint8]]]:
    """Index pairs ``(i, j)`` with ``i < j`` whose hashes differ in at most ``max_distance`` bits.

    Returns three aligned arrays (i, j, distance), sorted by (i, j), each pair once.
    """
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    n = len(hashes)
    empty_i = np.empty(0, dtype=np.int64)
    if n < 2 or max_distance < 0:
        return empty_i, empty_i.copy(), np.empty(0, dtype=np.uint8)
    radius = max_distance // _BLOCKS
    masks = _masks(min(radius, _BLOCK_BITS))
    found: list[I64] = []

    def keep_close(a: I64, b: I64) -> None:
        if len(a) == 0:
            return
        distance = popcount64(hashes[a] ^ hashes[b])
        close = distance <= max_distance
        if close.any():
            lo, hi = np.minimum(a[close], b[close]), np.maximum(a[close], b[close])
            found.append(lo * n + hi)

    for block in range(_BLOCKS):
        values = ((hashes >> np.uint64(block * _BLOCK_BITS)) & np.uint64(_KEYS - 1)).astype(np.int64)
        order = np.argsort(values, kind="stable").astype(np.int64)
        counts = np.bincount(values, minlength=_KEYS).astype(np.int64)
        starts = np.cumsum(counts) - counts
        present = np.flatnonzero(counts)
        # pairs sharing this block's value exactly
        a, b = _within_bucket_pairs(starts[present], counts[present])
        for lo in range(0, len(a), _BATCH_PAIRS):
            keep_close(order[a[lo : lo + _BATCH_PAIRS]], order[b[lo : lo + _BATCH_PAIRS]])
        # pairs whose block values differ by a mask; each unordered key pair once (key < partner)
        pending_l: list[I64] = []
        pending_r: list[I64] = []
        pending = 0
        for mask in masks:
            partner = present ^ mask
            useful = (present < partner) & (counts[partner] > 0)
            keys, partners = present[useful], partner[useful]
            if len(keys) == 0:
                continue
            pending_l.append(keys)
            pending_r.append(partners)
            pending += int((counts[keys] * counts[partners]).sum())
            if pending >= _BATCH_PAIRS or mask == masks[-1]:
                keys = np.concatenate(pending_l)
                partners = np.concatenate(pending_r)
                a, b = _ragged_pairs(starts[keys], counts[keys], starts[partners], counts[partners])
                keep_close(order[a], order[b])
                pending_l, pending_r, pending = [], [], 0
        if pending_l:
            keys = np.concatenate(pending_l)
            partners = np.concatenate(pending_r)
            a, b = _ragged_pairs(starts[keys], counts[keys], starts[partners], counts[partners])
            keep_close(order[a], order[b])
    if not found:
        return empty_i, empty_i.copy(), np.empty(0, dtype=np.uint8)
    codes = np.unique(np.concatenate(found))
    i, j = codes // n, codes % n
    return i, j, popcount64(hashes[i] ^ hashes[j])


def near_pairs_bruteforce(hashes: U64, max_distance: int) -> tuple[I64, I64]:
    """All pairs within ``max_distance`` by comparing every pair in blocks (a reference for tests)."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    left: list[I64] = []
    right: list[I64] = []
    for start in range(0, len(hashes), 1024):
        block = hashes[start : start + 1024]
        distance = popcount64(block[:, None] ^ hashes[None, :])
        a, b = np.nonzero(distance <= max_distance)
        a = a + start
        upper = a < b
        left.append(a[upper].astype(np.int64))
        right.append(b[upper].astype(np.int64))
    if not left:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(left), np.concatenate(right)
