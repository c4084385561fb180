"""The numpy pHash equals imagehash's, and the multi-index search finds exactly the all-pairs answer."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from PIL import Image

from onelazy.culling._measure import phash_of_grey, sharpness_and_contrast
from onelazy.culling._search import near_pairs, near_pairs_bruteforce, popcount64
from tests.culling.corpus import generated_looking


def test_phash_is_imagehash_phash_of_the_same_grey_image() -> None:
    distances = []
    for seed in range(12):
        grey = generated_looking(seed, 256).convert("L")
        theirs = int(str(imagehash.phash(grey)), 16)
        distances.append(bin(phash_of_grey(grey) ^ theirs).count("1"))
    assert max(distances) <= 2 and distances.count(0) >= 9, distances


def test_flat_image_has_no_contrast_and_no_sharpness() -> None:
    assert sharpness_and_contrast(Image.new("L", (64, 64), 128)) == (0.0, 0.0)


def test_sharpness_is_the_strength_of_the_crispest_edges() -> None:
    from PIL import ImageFilter

    calm = Image.new("L", (256, 256), 100)
    calm.paste(200, (100, 100, 160, 160))  # one hard-edged square, nothing else
    sharp_edge, _ = sharpness_and_contrast(calm)
    soft_edge, _ = sharpness_and_contrast(calm.filter(ImageFilter.GaussianBlur(2)))
    assert sharp_edge == 100.0 and soft_edge < sharp_edge / 3  # a 100-level step: |4*200 - 3*200 - 100|


def _planted(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    for k in range(n // 10):  # near copies at distances 0..14, some sharing blocks, some not
        flipped = hashes[k]
        for bit in rng.choice(64, size=int(rng.integers(0, 15)), replace=False):
            flipped ^= np.uint64(1) << np.uint64(bit)
        hashes[n - 1 - k] = flipped
    hashes[5] = hashes[6]  # exact equal pair
    return hashes


@pytest.mark.parametrize("distance", [0, 2, 6, 7, 8, 10, 13])
def test_multi_index_search_equals_all_pairs(distance: int) -> None:
    hashes = _planted(3000, distance)
    i, j, d = near_pairs(hashes, distance)
    bi, bj = near_pairs_bruteforce(hashes, distance)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == sorted(
        zip(bi.tolist(), bj.tolist(), strict=True)
    )
    assert (i < j).all() and (d <= distance).all()
    assert d.tolist() == [bin(int(hashes[a]) ^ int(hashes[b])).count("1") for a, b in zip(i, j, strict=True)]


def test_skewed_hashes_with_crowded_buckets() -> None:
    hashes = np.zeros(500, dtype=np.uint64)  # every block value equal: one huge bucket per block
    hashes[::7] = np.uint64(0xFFFF)
    i, _, _ = near_pairs(hashes, 6)
    bi, _ = near_pairs_bruteforce(hashes, 6)
    assert len(i) == len(bi) == 500 * 499 // 2 - (72 * 428)


@pytest.mark.parametrize("numpy_has_bitwise_count", [True, False])
def test_popcount_with_and_without_numpy_bitwise_count(
    numpy_has_bitwise_count: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not numpy_has_bitwise_count:
        monkeypatch.delattr(np, "bitwise_count", raising=False)
    values = np.array([0, 1, 2**64 - 1, 0xF0F0], dtype=np.uint64)
    assert popcount64(values).tolist() == [0, 1, 64, 8]
