"""Hashing files the one streaming way: same digest as hashing the bytes, a clear error otherwise."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from onelazy._files import sha256_file
from onelazy.errors import StorageError


def test_streamed_hash_equals_the_hash_of_the_whole_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # more than one 1 MiB chunk
    path = tmp_path / "lora.safetensors"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("name", ["missing.safetensors", "folder"])
def test_unreadable_file_is_a_storage_error_naming_it(tmp_path: Path, name: str) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(StorageError, match=f"{re.escape(name)}: cannot read: "):
        sha256_file(tmp_path / name)


def test_launch_fingerprint_of_existing_projects_is_unchanged(tmp_path: Path) -> None:
    """Status compares it with the one state.json recorded: a new formula would mark launch stale."""
    from onelazy.pipeline import _file_digest

    (tmp_path / "config.json").write_bytes(b'{"a": 1}')
    (tmp_path / "concepts.json").write_bytes(b"[]")
    paths = [tmp_path / "config.json", tmp_path / "concepts.json", tmp_path / "samples.json"]
    assert _file_digest(paths) == hashlib.sha256(b'{"a": 1}[]\0missing').hexdigest()[:24]
    (tmp_path / "samples.json").mkdir()
    with pytest.raises(StorageError, match=r"samples\.json: cannot read: "):
        _file_digest(paths)
