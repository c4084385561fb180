"""A small planted corpus, built once per test session and copied for each test that changes it."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from tests.culling import corpus

SIZE = 256
COUNT = 72


@pytest.fixture(scope="session")
def corpus_master(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, corpus.Truth]:
    folder = tmp_path_factory.mktemp("cull-corpus") / "dataset"
    truth = corpus.build(folder, COUNT, SIZE, seed=3)
    return folder, truth


@pytest.fixture()
def dataset(corpus_master: tuple[Path, corpus.Truth], tmp_path: Path) -> tuple[Path, corpus.Truth]:
    """A private copy of the corpus, with a caption next to every image."""
    master, truth = corpus_master
    target = tmp_path / "dataset"
    shutil.copytree(master, target)
    for image in list(target.iterdir()):
        image.with_suffix(".txt").write_text(f"a photo, file {image.stem}\n")
    return target, truth


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> content hash), hidden ones included."""
    result: dict[str, str] = {}
    for base, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(base) / name
            result[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result
