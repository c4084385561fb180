"""``DATASET/manifest.jsonl``: one line per generated image, read the one lenient way every stage
should, and the one rule for when an image counts as made (:meth:`ManifestEntry.made`).

``generate`` appends one line per image and fsyncs it, so a kill can leave at most the LAST line
torn: no newline after it, possibly cut in the middle of a UTF-8 character. Readers must not crash
on that (nor on a line some editor broke); they get the complete lines, each parsed if it is a JSON
object, and the torn tail as raw bytes so a rewrite can keep or drop it on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onelazy._files import atomic_write_bytes, atomic_write_text, sha256_file
from onelazy.errors import StorageError

MANIFEST_NAME = "manifest.jsonl"
#: The ``rejected`` value of a line whose image ``generate --replace-stale`` moved to
#: ``.rejected/stale/`` (made with other settings than its set asks for now; its index was made
#: again). Not a cull reason: cull's report and undo leave such lines alone.
STALE_REASON = "stale"


@dataclass(frozen=True)
class ManifestLine:
    """One complete line: its bytes (without the newline) and the JSON object it holds, if it is one."""

    raw: bytes
    entry: dict[str, Any] | None


@dataclass(frozen=True)
class Manifest:
    """The complete lines of a manifest, in order, and the torn tail (``b""`` when there is none).

    ``unterminated`` is True when anything follows the last newline, even only blanks: a reader
    that rewrites the file to tidy it (generate) wants to know, one that keeps it (cull) need not."""

    lines: tuple[ManifestLine, ...]
    torn_tail: bytes
    unterminated: bool = False

    def entries(self) -> Iterator[ManifestEntry | None]:
        """Each line as an entry (None for one that is not one), then the torn tail when it is a
        whole entry that only lost its newline: its image was saved before the line, so it is made."""
        for line in self.lines:
            yield ManifestEntry.from_json(line.entry)
        if self.torn_tail:
            try:
                tail = json.loads(self.torn_tail)
            except ValueError:
                return
            entry = ManifestEntry.from_json(tail)
            if entry is not None:
                yield entry


def read_manifest(path: Path) -> Manifest | None:
    """The manifest at ``path``, or None when there is no such file; :class:`StorageError` when it
    cannot be read. Blank lines are left out; a line that is not UTF-8 JSON has ``entry`` None."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    *complete, tail = raw.split(b"\n")  # ``tail`` is b"" when the file ends with a newline
    lines: list[ManifestLine] = []
    for line in complete:
        if not line.strip():
            continue
        try:
            parsed = json.loads(line)
        except ValueError:  # UnicodeDecodeError included
            parsed = None
        lines.append(ManifestLine(line, parsed if isinstance(parsed, dict) else None))
    return Manifest(tuple(lines), tail if tail.strip() else b"", unterminated=bool(tail))


@dataclass(frozen=True)
class ManifestEntry:
    """One generated image as its manifest line records it: the set and index it was made for, the
    file (relative to the dataset; under ``.rejected/`` once cull or generate moved it) and the
    sha256 of its bytes. ``data`` is the whole line (prompt, seed, model, ...), kept as written."""

    set: str
    index: int
    file: str
    sha256: str
    data: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: Any) -> ManifestEntry | None:
        """The entry a parsed line holds, or None when it is not one (not an object, a key missing
        or of the wrong type)."""
        if not isinstance(data, dict):
            return None
        try:
            name, index, file, digest = data["set"], data["index"], data["file"], data["sha256"]
        except KeyError:
            return None
        if not (isinstance(name, str) and isinstance(file, str) and isinstance(digest, str)):
            return None
        if isinstance(index, bool) or not isinstance(index, int):
            return None
        return cls(name, index, file, digest, data)

    @property
    def key(self) -> tuple[str, int]:
        return self.set, self.index

    @property
    def rejected(self) -> str | None:
        """Why the image was moved under ``.rejected/`` (a cull reason, or :data:`STALE_REASON`)."""
        reason = self.data.get("rejected")
        return str(reason) if reason is not None else None

    @property
    def replaced(self) -> bool:
        """Moved aside by ``generate --replace-stale``: its index was made again, by another line."""
        return self.rejected == STALE_REASON

    def file_intact(self, dataset: Path) -> bool:
        """Does ``file`` name a place inside the dataset holding exactly the recorded bytes?"""
        relative = Path(self.file)
        if relative.is_absolute() or ".." in relative.parts:
            return False
        try:
            return sha256_file(dataset / relative) == self.sha256
        except StorageError:  # gone, unreadable, a folder
            return False

    def made(self, dataset: Path) -> bool:
        """The one rule for "this image is made": its file is intact (wherever cull moved it: a
        culled image stays made, so it is not generated again) and no newer image replaced it."""
        return not self.replaced and self.file_intact(dataset)


def read_made(dataset: Path) -> tuple[dict[tuple[str, int], ManifestEntry], list[ManifestEntry], bool]:
    """The made images of a dataset by (set, index); the lines of images ``--replace-stale`` moved
    aside (records only: their index was made again); and whether the file needs rewriting (a torn
    or unreadable line, a duplicate, an entry whose image is gone or changed)."""
    manifest = read_manifest(dataset / MANIFEST_NAME)
    if manifest is None:
        return {}, [], False
    made: dict[tuple[str, int], ManifestEntry] = {}
    replaced: list[ManifestEntry] = []
    rewrite = manifest.unterminated
    for entry in manifest.entries():
        if entry is None or not entry.file_intact(dataset):
            rewrite = True
            continue
        if entry.replaced:
            replaced.append(entry)
            continue
        if entry.key in made:
            rewrite = True
        made[entry.key] = entry
    return made, replaced, rewrite


def rewrite_manifest(
    dataset: Path, entries: Mapping[tuple[str, int], ManifestEntry], replaced: Sequence[ManifestEntry]
) -> None:
    """The manifest with only these lines (replaced ones first), written atomically."""
    lines = "".join(
        json.dumps(dict(entry.data), ensure_ascii=False) + "\n" for entry in [*replaced, *entries.values()]
    )
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
