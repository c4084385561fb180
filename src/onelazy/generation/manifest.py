"""Generate's side of ``DATASET/manifest.jsonl``: reading which images are done, and appending a
line per image (fsynced, so a line is whole or torn at the end)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from onelazy._files import atomic_write_text, sha256_file
from onelazy._manifest import MANIFEST_NAME, STALE_REASON, read_manifest
from onelazy.errors import StorageError


def _sha256(path: Path) -> str | None:
    """The file's hash, or None when it cannot be read (then its manifest line is dropped)."""
    try:
        return sha256_file(path)
    except StorageError:
        return None


def read_generated(
    dataset: Path,
) -> tuple[dict[tuple[str, int], dict[str, Any]], list[dict[str, Any]], bool]:
    """Valid entries by (set, index), the lines of images ``replace_stale`` moved aside (records
    only: their index was made again), and whether the file needs rewriting (a torn last line,
    duplicates, or entries whose image is gone or changed)."""
    manifest = read_manifest(dataset / MANIFEST_NAME)
    if manifest is None:
        return {}, [], False
    entries: dict[tuple[str, int], dict[str, Any]] = {}
    replaced: list[dict[str, Any]] = []
    # bytes after the last newline are a torn append: dropped, the image is made again
    rewrite = manifest.unterminated
    for line in manifest.lines:
        entry = line.entry
        if entry is None:  # not a JSON object
            rewrite = True
            continue
        try:
            key = (str(entry["set"]), int(entry["index"]))
            file, digest = str(entry["file"]), str(entry["sha256"])
        except (ValueError, KeyError, TypeError):
            rewrite = True
            continue
        image = dataset / file
        # ``file`` may point under .rejected/ (cull moves files and updates their lines): any place
        # inside the dataset with the recorded hash counts as done.
        if Path(file).is_absolute() or ".." in Path(file).parts or _sha256(image) != digest:
            rewrite = True
            continue
        if entry.get("rejected") == STALE_REASON:
            replaced.append(entry)
            continue
        if key in entries:
            rewrite = True
        entries[key] = entry
    return entries, replaced, rewrite


def rewrite_manifest(
    dataset: Path, entries: Mapping[tuple[str, int], dict[str, Any]], replaced: Sequence[dict[str, Any]]
) -> None:
    lines = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in [*replaced, *entries.values()])
    atomic_write_text(dataset / MANIFEST_NAME, lines)


def remove_stale_temporaries(folder: Path) -> None:
    """Temporary files a killed run left behind (``.NAME.xxxx.tmp``); complete files are never touched."""
    if not folder.is_dir():
        return
    for leftover in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


class ManifestWriter:
    """Appends one line per image and fsyncs it, so a line is either whole or torn at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None  # opened at the first line: a run that saves nothing makes no file

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StorageError(f"{self.path}: cannot open: {exc.strerror or exc}") from None
        return self._fd

    def append(self, entry: Mapping[str, Any]) -> None:
        data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        fd = self._open()
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
            os.fsync(fd)
        except OSError as exc:
            raise StorageError(
                f"{self.path}: cannot append: {getattr(exc, 'strerror', None) or exc}"
            ) from None

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


