"""The dataset side of culling: finding images, moving rejects (with captions), the report file, the manifest.

Nothing is ever deleted. A reject moves to ``DATASET/.rejected/<reason>/<its path>`` together with
the files that share its stem (captions and other sidecars); ``cull-report.json`` records every move,
so undo can put each file back. A batch of moves is all-or-nothing: if one fails, the ones already
done are reversed before the error is raised.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from onelazy._files import atomic_write_bytes, atomic_write_json, atomic_write_text
from onelazy.dataset import DATASET_DEPTH, find_images, is_image_name, natural_key
from onelazy.dataset.manifest import MANIFEST_NAME, STALE_REASON, read_manifest
from onelazy.errors import DatasetError, StorageError

REJECTED_DIR = ".rejected"
REPORT_NAME = "cull-report.json"
HTML_NAME = "cull-report.html"
REPORT_FORMAT = "onelazy-cull-report"
REPORT_VERSION = 1

#: Every reason a file can be rejected for, in the order the checks apply.
REASONS: tuple[str, ...] = (
    "unreadable",
    "too-small",
    "aspect",
    "flat",
    "blurry",
    "duplicate",
    "near-duplicate",
    "manual",
)


def there(path: Path) -> bool:
    """Is anything at ``path``? A link to nothing counts (it is moved like any file)."""
    return os.path.lexists(path)


def check_dataset(root: Path, *, writable: bool) -> Path:
    """The dataset folder, resolved; a clear :class:`DatasetError` when it cannot be used."""
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
                f"{root}: folder is not writable ({exc.strerror or exc}); cull moves rejects into "
                f"{REJECTED_DIR}/ and writes {REPORT_NAME} there (use --dry-run to only look)"
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


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def read_report(root: Path) -> dict[str, Any] | None:
    """The dataset's ``cull-report.json``, or None when there is none yet."""
    path = root / REPORT_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a cull report onelazy can read ({exc}); move it aside") from exc
    if (
        not isinstance(data, dict)
        or data.get("format") != REPORT_FORMAT
        or not isinstance(data.get("files"), list)
    ):
        raise DatasetError(
            f"{path}: not a cull report written by onelazy (key 'format' must be {REPORT_FORMAT!r})"
        )
    return data


def summarise(files: list[dict[str, Any]]) -> dict[str, Any]:
    rejected: dict[str, int] = {}
    kept = 0
    for entry in files:
        if entry.get("status") == "rejected":
            reason = str(entry.get("reason"))
            rejected[reason] = rejected.get(reason, 0) + 1
        else:
            kept += 1
    ordered = {reason: rejected[reason] for reason in REASONS if reason in rejected}
    return {"kept": kept, "rejected": sum(rejected.values()), "rejected_by_reason": ordered}


def write_report(root: Path, data: dict[str, Any]) -> None:
    data["format"] = REPORT_FORMAT
    data["version"] = REPORT_VERSION
    data["updated"] = now_iso()
    data["files"] = sorted(data["files"], key=lambda entry: natural_key(str(entry["file"])))
    data["summary"] = summarise(data["files"])
    atomic_write_json(root / REPORT_NAME, data, indent=1)


# --------------------------------------------------------------------------- the manifest


def update_manifest(root: Path, rejected: dict[str, dict[str, Any]], restored: Iterable[str]) -> bool:
    """Point ``manifest.jsonl`` entries at where their files now are; False if there is no manifest.

    Entries are never removed. A rejected image keeps its line (prompt, seed, hash) with ``file``
    (and ``caption_file``) changed to the file's place under ``.rejected/``, ``rejected`` set to the
    reason and ``original_file`` to where it was; undo reverses exactly that. So every ``file`` in the
    manifest still names an existing file with the recorded hash, and a rerun of ``generate`` sees the
    image as done instead of generating it again. Lines that are not JSON are kept as they are, and
    so is a last line a killed ``generate`` left torn (read leniently, never a crash); the file is
    rewritten atomically.
    """
    path = root / MANIFEST_NAME
    manifest = read_manifest(path)
    if manifest is None:
        return False
    restored_set = set(restored)
    changed = False
    lines_out: list[bytes] = []
    for line in manifest.lines:
        entry = line.entry
        if entry is None or not isinstance(entry.get("file"), str):
            lines_out.append(line.raw)
            continue
        before = dict(entry)
        original = entry.get("original_file")
        if (
            isinstance(original, str)
            and original in restored_set
            and "rejected" in entry
            and entry["rejected"] != STALE_REASON  # generate's, not cull's: a new image took its place
        ):
            entry["file"] = original
            if "original_caption_file" in entry:
                entry["caption_file"] = entry.pop("original_caption_file")
            for key in ("original_file", "rejected"):
                entry.pop(key, None)
        # after a restore, so that a cull that put its rejects back and rejected one again says so
        name = Path(entry["file"]).as_posix()
        if name in rejected and "rejected" not in entry:
            move = rejected[name]
            entry["original_file"] = name
            entry["file"] = move["to"]
            entry["rejected"] = move["reason"]
            caption = entry.get("caption_file")
            for companion in move.get("companions", []):
                if isinstance(caption, str) and Path(caption).as_posix() == companion["from"]:
                    entry["original_caption_file"] = caption
                    entry["caption_file"] = companion["to"]
        if entry == before:
            lines_out.append(line.raw)
            continue
        changed = True
        lines_out.append(json.dumps(entry, ensure_ascii=False).encode("utf-8"))
    if changed:
        # the torn tail stays last and unterminated, so generate still sees it as torn and drops it
        atomic_write_bytes(path, b"".join(line + b"\n" for line in lines_out) + manifest.torn_tail)
    return True


def write_html(root: Path, html: str) -> None:
    atomic_write_text(root / HTML_NAME, html)
