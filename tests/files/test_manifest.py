"""The shared lenient reader of ``manifest.jsonl``: complete lines, torn tail apart, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from onelazy.dataset.manifest import read_manifest
from onelazy.errors import StorageError


def test_complete_lines_parsed_and_a_torn_tail_kept_apart(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(b'{"a": 1}\n\n[1, 2]\n{"b": "caf\xc3\xa9"}\n{"c": "caf\xc3')
    manifest = read_manifest(path)
    assert manifest is not None
    assert [line.entry for line in manifest.lines] == [{"a": 1}, None, {"b": "café"}]
    assert manifest.lines[1].raw == b"[1, 2]"
    assert manifest.torn_tail == b'{"c": "caf\xc3' and manifest.unterminated


@pytest.mark.parametrize(
    ("data", "unterminated"), [(b"", False), (b'{"a": 1}\n', False), (b'{"a": 1}\n  ', True)]
)
def test_blanks_after_the_last_newline_are_no_torn_tail_but_leave_it_unterminated(
    tmp_path: Path, data: bytes, unterminated: bool
) -> None:
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(data)
    manifest = read_manifest(path)
    assert manifest is not None and manifest.torn_tail == b""
    assert manifest.unterminated is unterminated


def test_missing_file_is_none_and_an_unreadable_one_a_storage_error(tmp_path: Path) -> None:
    assert read_manifest(tmp_path / "manifest.jsonl") is None
    (tmp_path / "folder").mkdir()
    with pytest.raises(StorageError, match="folder: cannot read"):
        read_manifest(tmp_path / "folder")
