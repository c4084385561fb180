"""Writing files so that a crash or Ctrl+C never leaves a half-written one.

Every file onelazy writes goes through here: the bytes go to a temporary file in the same folder,
are flushed to disk, and the temporary file is renamed over the target (atomic on POSIX and on
Windows for files on one volume). Files are hashed here too, streamed the one way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from onelazy.errors import StorageError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically; ``mode`` (e.g. ``0o600``) is set before the rename."""
    return _write_atomically(Path(path), lambda handle: handle.write(data), mode=mode, failure="cannot write")


def atomic_copy(
    source: str | os.PathLike[str], target: str | os.PathLike[str], *, mode: int | None = None
) -> Path:
    """Copy ``source`` to ``target`` atomically, streaming (a checkpoint need not fit in memory):
    a crash leaves the old ``target`` or the whole copy, never part of it."""
    source_path = Path(source)

    def fill(handle: BinaryIO) -> None:
        with source_path.open("rb") as src:
            shutil.copyfileobj(src, handle, 1 << 20)

    return _write_atomically(Path(target), fill, mode=mode, failure=f"cannot copy {source_path}")


def _write_atomically(
    target: Path, fill: Callable[[BinaryIO], object], *, mode: int | None, failure: str
) -> Path:
    """The one pattern: ``fill`` a temporary file beside ``target``, fsync it, rename it over ``target``."""
    check_writable(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise StorageError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            # mkstemp creates 0600 files; give ordinary files the permissions open() would.
            os.chmod(tmp_name, mode if mode is not None else 0o666 & ~_umask())
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise StorageError(f"{target}: {failure}: {exc.strerror or exc}") from exc
        raise
    return target


def check_writable(target: Path) -> None:
    """Raise :class:`StorageError` when ``target`` cannot be a file: it is a folder, or a file stands
    where one of its folders should be. Lets a writer of several files check all before the first."""
    in_the_way = file_in_the_way(target)
    if in_the_way is not None:
        raise StorageError(f"{target}: cannot write: {in_the_way} is a file, not a folder")
    if target.is_dir():
        raise StorageError(f"{target}: cannot write: it is a folder; give a file name")


def file_in_the_way(target: Path) -> Path | None:
    """The nearest existing ancestor of ``target`` when it is a file (then nothing can be written
    there, and the OS would only say "File exists" or "Not a directory"); None if there is none."""
    for parent in target.parents:
        if parent.exists() or parent.is_symlink():
            return None if parent.is_dir() else parent
    return None


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mode: int | None = None) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_json(
    path: str | os.PathLike[str], value: Any, *, indent: int = 4, mode: int | None = None
) -> Path:
    """Write ``value`` as JSON (UTF-8, trailing newline) to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(value, indent=indent, ensure_ascii=False) + "\n", mode=mode)


class Digest(Protocol):
    """What :func:`hash_file_into` feeds: any ``hashlib`` object."""

    def update(self, data: bytes, /) -> None: ...


def hash_file_into(digest: Digest, path: Path) -> None:
    """Feed the bytes of ``path`` to ``digest``, 1 MiB at a time (a checkpoint need not fit in
    memory); :class:`StorageError` naming the file when it cannot be read."""
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise StorageError(f"{path}: cannot read: {exc.strerror or exc}") from None


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of the file at ``path``; :class:`StorageError` when it cannot be read."""
    digest = hashlib.sha256()
    hash_file_into(digest, path)
    return digest.hexdigest()
