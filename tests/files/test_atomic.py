"""Atomic writes: all or nothing, with the permissions a plain open() would give."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from onelazy._files import atomic_copy, atomic_write_bytes, atomic_write_json, atomic_write_text
from onelazy.errors import StorageError


def test_plain_file_gets_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a.txt", "hello")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == "hello"


def test_secret_file_gets_the_mode_asked_for(tmp_path: Path) -> None:
    path = atomic_write_json(tmp_path / "secrets.json", {"token": "x"}, mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    target.write_text("old")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_unwritable_folder_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot write"):
        atomic_write_text(blocker / "sub" / "x.txt", "x")


def test_a_file_where_a_folder_should_be_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("keep me")
    for target in (blocker / "x.json", blocker / "sub" / "deeper" / "x.json"):
        with pytest.raises(StorageError, match=f"{blocker} is a file, not a folder"):
            atomic_write_text(target, "x")
    assert blocker.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_folder_as_the_target_is_named_and_left_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(StorageError, match="it is a folder; give a file name"):
        atomic_write_text(folder, "x")
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_copy_copies_every_byte_with_plain_permissions(tmp_path: Path) -> None:
    source = tmp_path / "model.safetensors"
    data = os.urandom(3 * (1 << 20) + 17)  # more than one streaming chunk
    source.write_bytes(data)
    old = os.umask(0o022)
    try:
        copy = atomic_copy(source, tmp_path / "loras" / "copy.safetensors")
    finally:
        os.umask(old)
    assert copy == tmp_path / "loras" / "copy.safetensors" and copy.read_bytes() == data
    assert stat.S_IMODE(copy.stat().st_mode) == 0o644
    assert [p.name for p in copy.parent.iterdir()] == ["copy.safetensors"]


def test_a_failed_copy_keeps_the_old_target_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "lora.safetensors"
    target.write_bytes(b"old")
    with pytest.raises(StorageError, match=r"lora.safetensors: cannot copy .*gone.safetensors: No such file"):
        atomic_copy(tmp_path / "gone.safetensors", target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["lora.safetensors"]


def test_a_copy_onto_a_folder_is_refused_before_reading(tmp_path: Path) -> None:
    (tmp_path / "a folder").mkdir()
    source = tmp_path / "model.safetensors"
    source.write_bytes(b"x")
    with pytest.raises(StorageError, match="it is a folder; give a file name"):
        atomic_copy(source, tmp_path / "a folder")
