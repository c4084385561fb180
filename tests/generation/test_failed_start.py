"""A generate that fails before saving an image leaves nothing behind; one that fails later keeps all."""

from __future__ import annotations

from pathlib import Path

import pytest

from onelazy.errors import BackendRejected, BackendUnreachable
from onelazy.generation import generate
from tests.generation.conftest import FAST_RETRY
from tests.generation.standins import ComfyStandin
from tests.generation.test_generate import manifest, write_config


def test_an_unknown_model_leaves_no_dataset_folder(comfy: ComfyStandin, tmp_path: Path) -> None:
    dataset = tmp_path / "new" / "ds"
    with pytest.raises(BackendRejected):
        generate(
            write_config(tmp_path, [comfy.url], model="tiny_sd16.safetensors"), dataset, retry=FAST_RETRY
        )
    assert not (tmp_path / "new").exists()  # neither the folder, its parent, a lock nor a manifest


@pytest.mark.parametrize("captions", ["image", "set"])
def test_an_unreachable_server_leaves_no_dataset_folder(tmp_path: Path, captions: str) -> None:
    server = ComfyStandin().start()
    url = server.url
    server.stop()
    with pytest.raises(BackendUnreachable):
        generate(write_config(tmp_path, [url], captions=captions), tmp_path / "ds", retry=FAST_RETRY)
    assert not (tmp_path / "ds").exists()  # set captions: the prompt files go too


def test_a_failure_in_an_existing_dataset_removes_nothing(comfy: ComfyStandin, tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    generate(write_config(tmp_path, [comfy.url], front=2, side=1), dataset, retry=FAST_RETRY)
    before = sorted(p.relative_to(dataset) for p in dataset.rglob("*"))
    with pytest.raises(BackendRejected):
        generate(
            write_config(tmp_path, [comfy.url], front=3, side=1, model="tiny_sd16.safetensors"),
            dataset,
            retry=FAST_RETRY,
        )
    assert sorted(p.relative_to(dataset) for p in dataset.rglob("*")) == before
    assert len(manifest(dataset)) == 3


def test_an_empty_folder_made_by_the_person_is_kept(tmp_path: Path) -> None:
    server = ComfyStandin().start()
    url = server.url
    server.stop()
    dataset = tmp_path / "ds"
    dataset.mkdir()
    with pytest.raises(BackendUnreachable):
        generate(write_config(tmp_path, [url]), dataset, retry=FAST_RETRY)
    assert dataset.is_dir()


def test_a_bad_flag_over_a_config_file_is_named_as_the_flag_not_as_a_line_of_the_file(
    comfy: ComfyStandin, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from onelazy.cli import cli

    config = write_config(tmp_path, [comfy.url])
    result = CliRunner().invoke(cli, ["generate", str(config), "--width", "13", "-o", str(tmp_path / "ds")])
    assert result.exit_code == 2
    assert result.output == "Error: --width: Input should be a multiple of 8 (got 13)\n"
    assert not (tmp_path / "ds").exists()

    result = CliRunner().invoke(cli, ["generate", str(config), "--url", "nope", "-o", str(tmp_path / "ds")])
    assert result.exit_code == 2 and result.output.startswith("Error: --url: 'nope' is not a backend URL")


def test_a_non_utf8_config_file_is_one_line(tmp_path: Path) -> None:
    from onelazy.errors import ProjectFileError
    from onelazy.generation import load_generate_config

    path = tmp_path / "onelazy.yaml"
    path.write_bytes(b"generate:\n  model: caf\xe9\n")
    with pytest.raises(ProjectFileError, match=r"not UTF-8 text \(byte 22\)"):
        load_generate_config(path)


def test_a_misspelt_key_in_the_generate_section_gets_a_suggestion(tmp_path: Path) -> None:
    from onelazy.errors import ProjectFileError
    from onelazy.generation import load_generate_config

    path = write_config(tmp_path, ["http://127.0.0.1:8188"])
    path.write_text(path.read_text().replace("seed: 1000", "sede: 1000"))
    with pytest.raises(ProjectFileError, match=r"generate\.sede: unknown key; did you mean 'seed'\?"):
        load_generate_config(path)


def test_a_file_where_a_set_folder_belongs_is_named_before_anything_renders(
    comfy: ComfyStandin, tmp_path: Path
) -> None:
    from onelazy.errors import DatasetError

    dataset = tmp_path / "ds"
    dataset.mkdir()
    (dataset / "front").write_text("notes")
    with pytest.raises(DatasetError, match=r"front: is a file where set 'front' keeps its images"):
        generate(write_config(tmp_path, [comfy.url]), dataset, retry=FAST_RETRY)
    assert comfy.renders == 0
    assert sorted(p.name for p in dataset.iterdir()) == ["front"]


def test_one_url_may_be_written_without_brackets(tmp_path: Path) -> None:
    from onelazy.generation import load_generate_config

    path = write_config(tmp_path, ["http://127.0.0.1:8188"])
    path.write_text(path.read_text().replace("urls: [http://127.0.0.1:8188]", "urls: http://127.0.0.1:8188/"))
    assert load_generate_config(path).urls == ["http://127.0.0.1:8188"]


def test_a_dataset_path_through_a_file_is_named(comfy: ComfyStandin, tmp_path: Path) -> None:
    from onelazy.errors import DatasetError

    (tmp_path / "notes.txt").write_text("")
    for dataset in (tmp_path / "notes.txt", tmp_path / "notes.txt" / "ds"):
        with pytest.raises(DatasetError, match=r"notes\.txt is a file, not a folder"):
            generate(write_config(tmp_path, [comfy.url]), dataset, retry=FAST_RETRY)
    assert comfy.renders == 0


def test_a_lora_given_by_name_alone_is_taken_at_weight_1_and_a_scalar_set_is_explained(
    tmp_path: Path,
) -> None:
    from onelazy.errors import ProjectFileError
    from onelazy.generation import load_generate_config

    path = write_config(tmp_path, ["http://127.0.0.1:8188"])
    text = path.read_text()
    path.write_text(text.replace("  seed: 1000\n", "  seed: 1000\n  loras: [faery_style.safetensors]\n"))
    loras = load_generate_config(path).loras
    assert [(lora.name, lora.weight) for lora in loras] == [("faery_style.safetensors", 1.0)]

    path.write_text(text.replace("    - name: side\n", "    - side\n    - name: side2\n"))
    with pytest.raises(ProjectFileError, match=r"generate\.sets\.1: expected a mapping of keys .*got 'side'"):
        load_generate_config(path)
