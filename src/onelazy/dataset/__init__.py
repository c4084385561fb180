"""What a dataset is: which files are its images, and where they live. Every stage asks here.

A dataset is the folder ``generate`` writes, ``DATASET/<set>/NNNN.png`` (or any folder of images):

- **An image** is a file whose extension is one of :data:`IMAGE_EXTENSIONS` (case-insensitive):
  what OneTrainer's data loader trains on, each of which Pillow decodes. A name ending in
  ``-masklabel`` or ``-condlabel`` before the extension is a mask, not an image (OneTrainer's rule).
- **Hidden files** (``.x.png``) are images like any other: OneTrainer trains on them, so cull
  measures them.
- **Hidden folders** (``.rejected/`` among them) are never looked into: OneTrainer skips them too.
- **A symbolic link** counts as the file it points to. One that points nowhere (dangling) is still
  an image of the dataset, an unreadable one: cull moves it aside with the other broken files.
- **Folders**: the images of a dataset are those in ``DATASET/`` itself and in each folder directly
  inside it (``DATASET/<set>/``, the layout generate writes). Deeper folders are not part of it;
  only a concept with ``include_subdirectories`` (``build-config --recursive``) trains on them.

:func:`find_images` is the one place that applies these rules; the manifest and the cull report
(the two files the stages share in a dataset) are read and written through this module too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "CAPTION_EXTENSION",
    "CONTENT_TYPES",
    "DATASET_DEPTH",
    "IMAGE_EXTENSIONS",
    "PILLOW_FORMATS",
    "SIDECAR_SUFFIXES",
    "concept_folders",
    "deeper_image_folders",
    "find_images",
    "is_image_name",
    "natural_key",
]

#: Each image extension, the Pillow formats a file of that name may hold, and its MIME type.
#: The keys are OneTrainer's supported image extensions (``modules/util/path_util.py``), and
#: every one decodes in Pillow (AVIF since Pillow 11.3).
_FORMATS: dict[str, tuple[tuple[str, ...], str]] = {
    ".bmp": (("BMP",), "image/bmp"),
    ".jpg": (("JPEG", "MPO"), "image/jpeg"),
    ".jpeg": (("JPEG", "MPO"), "image/jpeg"),
    ".png": (("PNG",), "image/png"),
    ".tif": (("TIFF",), "image/tiff"),
    ".tiff": (("TIFF",), "image/tiff"),
    ".webp": (("WEBP",), "image/webp"),
    ".avif": (("AVIF",), "image/avif"),
}
#: The image extensions of a dataset, lower case with the dot.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(_FORMATS)
#: Extension -> the Pillow formats a file with that name may hold (another one is misnamed).
PILLOW_FORMATS: dict[str, tuple[str, ...]] = {ext: formats for ext, (formats, _mime) in _FORMATS.items()}
#: Extension -> the MIME type the review page serves it as.
CONTENT_TYPES: dict[str, str] = {ext: mime for ext, (_formats, mime) in _FORMATS.items()}
#: Name endings (before the extension) OneTrainer treats as masks and conditioning images.
SIDECAR_SUFFIXES: tuple[str, ...] = ("-masklabel", "-condlabel")
#: A caption is ``<stem>.txt`` beside its image (OneTrainer's prompt source "sample").
CAPTION_EXTENSION = ".txt"
#: How deep the images of a dataset lie: in the folder itself (0) and in its set folders (1).
DATASET_DEPTH = 1


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts ``img2`` before ``img10``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name) if part)


def is_image_name(name: str) -> bool:
    """Does a file of this name count as an image (by its name alone)?"""
    stem, extension = os.path.splitext(name)
    return extension.lower() in IMAGE_EXTENSIONS and not stem.endswith(SIDECAR_SUFFIXES)


def _is_file_or_dangling(entry: os.DirEntry[str]) -> bool:
    """A file (a link to one included), or a link to nothing; never a folder."""
    try:
        if entry.is_file():
            return True
        return entry.is_symlink() and not os.path.exists(entry.path)
    except OSError:
        return False


def _walk(folder: Path, prefix: str, depth: int | None) -> Iterator[tuple[str, os.DirEntry[str]]]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        relative = prefix + entry.name
        try:
            is_folder = entry.is_dir()
        except OSError:
            is_folder = False
        if is_folder:
            if entry.name.startswith(".") or depth == 0:
                continue
            yield from _walk(Path(entry.path), relative + "/", None if depth is None else depth - 1)
        else:
            yield relative, entry


def find_images(folder: Path, *, depth: int | None = 0) -> list[str]:
    """The images in ``folder`` by the rules above, relative to it (POSIX), in natural order.

    ``depth`` is how many levels of non-hidden subfolders are looked into: 0 the folder alone (a
    concept as OneTrainer trains it by default), :data:`DATASET_DEPTH` a whole dataset, None every
    level (a concept with ``include_subdirectories``)."""
    found = [
        relative
        for relative, entry in _walk(folder, "", depth)
        if is_image_name(entry.name) and _is_file_or_dangling(entry)
    ]
    return sorted(found, key=natural_key)


def concept_folders(folder: Path) -> list[Path]:
    """The folders a dataset trains as concepts: ``folder`` itself when it holds images, else each
    set folder in it that does (``DATASET/<set>/``, as generate writes them), in natural order."""
    if find_images(folder):
        return [folder]
    sets: list[Path] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: natural_key(entry.name))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(".") and entry.is_dir() and find_images(Path(entry.path)):
            sets.append(Path(entry.path))
    return sets


def deeper_image_folders(folder: Path) -> list[str]:
    """Folders (relative, POSIX) below the dataset's depth that hold images: not part of it."""
    deeper = {
        relative.rsplit("/", 1)[0]
        for relative in find_images(folder, depth=None)
        if relative.count("/") > DATASET_DEPTH
    }
    return sorted(deeper, key=natural_key)
