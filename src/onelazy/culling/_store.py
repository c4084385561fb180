"""The dataset side of culling: the images to measure, moving rejects with their captions and back.

Nothing is ever deleted. A reject moves to ``DATASET/.rejected/<reason>/<its path>`` together with
the files that share its stem (captions and other sidecars); ``cull-report.json`` records every move,
so undo can put each file back. A batch of moves is all-or-nothing: if one fails, the ones already
done are reversed before the error is raised.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from onelazy._files import atomic_write_text
from onelazy.dataset import DATASET_DEPTH, find_images, is_image_name
from onelazy.dataset.cull_report import REJECTED_DIR, REPORT_NAME
from onelazy.errors import DatasetError, StorageError

HTML_NAME = "cull-report.html"


def there(path: Path) -> bool:
    """Is anything at ``path``? A link to nothing counts (it is moved like any file)."""
    return os.path.lexists(path)


#: what cull writes, said when the dataset folder is read-only
CULL_WRITES = (
    f"cull moves rejects into {REJECTED_DIR}/ and writes {REPORT_NAME} there "
    "(`onelazy cull --dry-run` only looks)"
)
#: what review writes, said when the dataset folder is read-only
REVIEW_WRITES = (
    f"review moves each image you reject into {REJECTED_DIR}/manual/ and records it in {REPORT_NAME} "
    "at once; review a writable copy"
)


def check_dataset(root: Path, *, writable: bool, writes: str = CULL_WRITES) -> Path:
    """The dataset folder, resolved; a clear :class:`DatasetError` when it cannot be used.

    ``writes`` says, for a read-only folder, what the caller writes and what to do instead."""
    if not root.exists():
        raise DatasetError(f"{root}: no such folder")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; give the folder that holds the images")
    if writable:
        try:
            fd, probe = tempfile.mkstemp(prefix=".onelazy-write-check.", dir=root)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise DatasetError(
                f"{root}: folder is not writable ({exc.strerror or exc}); {writes}"
            ) from exc
    return root.resolve()


def list_images(root: Path) -> tuple[list[str], dict[str, list[str]]]:
    """The dataset's images relative to ``root`` (POSIX, natural order; :func:`onelazy.dataset.find_images`)
    and every file in their folders by (folder, stem), for moving an image with its captions."""
    images = find_images(root, depth=DATASET_DEPTH)
    folders = {relative.rsplit("/", 1)[0] if "/" in relative else "" for relative in images}
    return images, files_by_stem(root, folders)


def files_by_stem(root: Path, folders: Iterable[str]) -> dict[str, list[str]]:
    """Every file (not folder) in each of ``folders`` (relative to ``root``) by its path without extension."""
    by_stem: dict[str, list[str]] = {}
    for folder in folders:
        prefix = f"{folder}/" if folder else ""
        for name in os.listdir(root / folder):
            relative = prefix + name
            if os.path.isdir(root / relative) and not os.path.islink(root / relative):
                continue
            by_stem.setdefault(os.path.splitext(relative)[0], []).append(relative)
    return by_stem


def companions_of(relative: str, by_stem: dict[str, list[str]]) -> list[str]:
    """Files that belong to an image: same folder and stem, not themselves images (captions etc.)."""
    stem = os.path.splitext(relative)[0]
    siblings = by_stem.get(stem, [])
    if sum(1 for s in siblings if is_image_name(s)) > 1:
        return []  # two images share the stem: the caption stays with the one that remains
    return sorted(s for s in siblings if s != relative and not is_image_name(s))


@dataclass
class Move:
    """One file moved (or to be moved) from ``source`` to ``target``, both relative to the dataset."""

    source: str
    target: str


@dataclass
class MoveBatch:
    """Moves done so far, so a failure part-way can be reversed."""

    root: Path
    done: list[Move] = field(default_factory=list)

    def move(self, source: str, target: str) -> None:
        src, dst = self.root / source, self.root / target
        if there(dst):
            raise StorageError(f"{dst}: already exists; not moving {source} over it")
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dst)
        except FileNotFoundError as exc:
            raise StorageError(
                f"{src}: disappeared before it could be moved; nothing was changed, run again"
            ) from exc
        except OSError as exc:
            raise StorageError(f"{src}: cannot move to {target}: {exc.strerror or exc}") from exc
        self.done.append(Move(source, target))

    def rollback(self) -> None:
        for step in reversed(self.done):
            with contextlib.suppress(OSError):
                os.rename(self.root / step.target, self.root / step.source)
        self.done.clear()
        remove_empty_dirs(self.root / REJECTED_DIR)


def remove_empty_dirs(top: Path) -> None:
    if not top.is_dir():
        return
    for folder, _dirs, _files in sorted(os.walk(top), key=lambda item: -len(item[0])):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def rejected_target(root: Path, reason: str, relative: str, taken: set[str]) -> str:
    """Where a reject goes: ``.rejected/<reason>/<relative>``, with ``~N`` added if that is taken."""
    base = f"{REJECTED_DIR}/{reason}/{relative}"
    stem, extension = os.path.splitext(base)
    candidate, counter = base, 0
    while candidate in taken or there(root / candidate):
        counter += 1
        candidate = f"{stem}~{counter}{extension}"
    taken.add(candidate)
    return candidate


def move_with_companions(
    batch: MoveBatch, relative: str, target: str, companions: Iterable[str]
) -> list[dict[str, str]]:
    """Move an image and its companions next to it; returns the companion moves for the report."""
    batch.move(relative, target)
    target_stem = os.path.splitext(target)[0]
    moved: list[dict[str, str]] = []
    for companion in companions:
        companion_target = target_stem + os.path.splitext(companion)[1]
        if not there(batch.root / companion):
            continue
        batch.move(companion, companion_target)
        moved.append({"from": companion, "to": companion_target})
    return moved


# --------------------------------------------------------------------------- the report file


def write_html(root: Path, html: str) -> None:
    atomic_write_text(root / HTML_NAME, html)
