"""The held-out validation set: which kept images OneTrainer never trains on, so that its
validation loss can tell one checkpoint from another.

Pure decisions, no I/O. The draw is by a fixed seed: each image is ranked by a hash of the seed,
its set and its path inside the set, and the lowest ranks are held out. So the same images give the
same split on every run, and adding images to a set moves few of the earlier choices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from onelazy.errors import DatasetError

#: About this fraction of the kept images is held out ...
HELD_OUT_FRACTION = 0.10
#: ... but at least this many (fewer make a validation loss that one odd image dominates) ...
MIN_HELD_OUT = 4
#: ... and at most this many (each one costs a forward pass at every validation).
MAX_HELD_OUT = 20
#: The held-out images are at most this share of all images: training needs the rest.
MAX_HELD_OUT_SHARE = 0.20
#: The draw's seed: changing it changes every run's split, so it is fixed.
HELD_OUT_SEED = "onelazy-validation-1"


@dataclass(frozen=True)
class HeldOutSplit:
    """Which images of each set are trained on and which are held out."""

    training: Mapping[str, tuple[Path, ...]]
    """Set name → images trained on, in their original order."""
    held_out: Mapping[str, tuple[Path, ...]]
    """Set name → images held out (only sets that give some)."""

    @property
    def count(self) -> int:
        return sum(len(images) for images in self.held_out.values())


def held_out_count(images: int) -> int:
    """How many of ``images`` kept images are held out: about 10 %, at least 4, at most 20."""
    return min(MAX_HELD_OUT, max(MIN_HELD_OUT, round(images * HELD_OUT_FRACTION)))


def images_needed(held_out: int = MIN_HELD_OUT) -> int:
    """The fewest images that can spare ``held_out`` of them for validation."""
    return round(held_out / MAX_HELD_OUT_SHARE)


def split_held_out(sets: Mapping[str, Sequence[Path]], roots: Mapping[str, Path]) -> HeldOutSplit:
    """Hold out :func:`held_out_count` images across ``sets`` (set name → images; ``roots``: set
    name → its folder, for the paths the draw hashes), keeping at least one image in every set.

    Raises DatasetError, with the number of images needed, when there are too few to spare them.
    """
    total = sum(len(images) for images in sets.values())
    wanted = held_out_count(total)
    needed = images_needed(wanted)
    if total < needed:
        raise DatasetError(
            f"{_plural(total, 'kept image')} are too few to hold out a validation set: "
            f"{wanted} held-out images need at least {needed} kept images ({needed - total} more), "
            "so that training keeps four in five; add images, or turn validation off "
            "(--no-validation, or validation: none under train: in onelazy.yaml)"
        )
    ranked = sorted(
        ((_rank(name, image, roots[name]), name, image) for name, images in sets.items() for image in images)
    )
    left = {name: len(images) for name, images in sets.items()}
    chosen: set[tuple[str, Path]] = set()
    for _rank_value, name, image in ranked:
        if len(chosen) == wanted:
            break
        if left[name] > 1:  # every set keeps an image to train on
            chosen.add((name, image))
            left[name] -= 1
    training = {name: tuple(i for i in images if (name, i) not in chosen) for name, images in sets.items()}
    held_out = {
        name: tuple(i for i in images if (name, i) in chosen)
        for name, images in sets.items()
        if any((name, i) in chosen for i in images)
    }
    if len(chosen) < wanted:  # only when most sets have a single image
        raise DatasetError(
            f"cannot hold out {wanted} images and keep one in every set ({len(sets)} sets, "
            f"{total} images); add images, or turn validation off (--no-validation)"
        )
    return HeldOutSplit(training, held_out)


def _rank(name: str, image: Path, root: Path) -> str:
    try:
        inside = image.relative_to(root).as_posix()
    except ValueError:
        inside = image.name
    return hashlib.sha256(f"{HELD_OUT_SEED}\0{name}\0{inside}".encode()).hexdigest()


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")
