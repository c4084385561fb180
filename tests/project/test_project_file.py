"""onelazy.yaml: init writes a file that loads once three values are filled; errors name line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from onelazy.errors import ProjectFileError, UsageError
from onelazy.project import FILL_IN, FILL_IN_KEYS, init_project, load_project


def fill(path: Path, **values: str) -> None:
    if "lora_dir" in values:  # the backend's LoRA folder exists (load_project checks it)
        (path.parent / values["lora_dir"]).mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8")
    for marker, value in values.items():
        line = {"prompt": "prompt: &prompt", "model": "model:", "lora_dir": "lora_dir:"}[marker]
        text = text.replace(f"{line} {FILL_IN}", f'{line} "{value}"', 1)
    path.write_text(text, encoding="utf-8")


def test_init_leaves_exactly_three_values_and_says_which(tmp_path: Path) -> None:
    result = init_project(tmp_path / "faery")
    assert result.path.read_text(encoding="utf-8").count(FILL_IN) == 4  # 3 values + the header line
    assert set(result.to_fill) == set(FILL_IN_KEYS)
    lines = result.path.read_text(encoding="utf-8").splitlines()
    for key, number in result.to_fill.items():
        assert FILL_IN in lines[number - 1], key
    described = "\n".join(result.describe())
    assert "Fill in these 3 values" in described and "generate.model" in described


def test_unfilled_value_names_line_column_and_what_belongs(tmp_path: Path) -> None:
    result = init_project(tmp_path)
    with pytest.raises(ProjectFileError) as caught:
        load_project(tmp_path)
    line = result.to_fill["generate.model"]
    assert f"onelazy.yaml:{line}:" in str(caught.value)
    assert "generate.model: still says FILL IN" in str(caught.value)


def test_filled_file_loads_with_the_recipe_defaults(tmp_path: Path) -> None:
    result = init_project(tmp_path, name="faery")
    fill(result.path, prompt="photo of a faery", model="sd15.safetensors", lora_dir=str(tmp_path / "loras"))
    project = load_project(result.path)
    assert project.name == "faery" and project.preset == "lazy-sd15"
    assert [s.count for s in project.generate.sets] == [100, 100]
    assert [s.prompt for s in project.generate.sets] == ["photo of a faery"] * 2
    assert project.output == (tmp_path / "faery.safetensors").resolve()
    assert project.dataset == (tmp_path / "dataset").resolve()
    assert project.compare is not None and project.compare_prompts() == ["photo of a faery"]


@pytest.mark.parametrize(
    ("preset", "base_model", "side", "steps"),
    [
        ("lazy-sd15", "stable-diffusion-v1-5/stable-diffusion-v1-5", 512, 40),
        ("nonlazy-sdxl", "stabilityai/stable-diffusion-xl-base-1.0", 1024, 100),
        ("lazy-flux1", "black-forest-labs/FLUX.1-dev", 1024, 100),
        ("lazy-chroma-8gb", "lodestones/Chroma1-HD", 1024, 100),
        ("nonlazy-qwen-24gb", "Qwen/Qwen-Image", 1024, 100),
    ],
)
def test_init_takes_the_base_model_size_and_steps_from_the_presets_family(
    tmp_path: Path, preset: str, base_model: str, side: int, steps: int
) -> None:
    """A Flux preset must not start from SD 1.5's base model at 512 px (the file would train nonsense)."""
    result = init_project(tmp_path, preset=preset, model="m", prompt="p", lora_dir=str(tmp_path))
    text = result.path.read_text(encoding="utf-8")
    assert f"base_model: {base_model}\n" in text
    assert f"  width: {side}\n  height: {side}\n" in text
    assert f"# steps_per_image: {steps} " in text
    project = load_project(tmp_path)
    assert project.base_model == base_model
    project_without = text.replace(f"base_model: {base_model}\n", "")
    result.path.write_text(project_without, encoding="utf-8")
    assert load_project(tmp_path).base_model == base_model  # the preset's, when the file names none


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    init_project(tmp_path)
    with pytest.raises(UsageError, match="already exists"):
        init_project(tmp_path)
    init_project(tmp_path, force=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"preset": "lazy-sd1"}, "did you mean 'lazy-sd15'"),
        ({"preset": "nope"}, "presets: .*lazy-sd15"),
        ({"url": "localhost:7801"}, "is not a backend URL"),
        ({"url": "http://127.0.0.1:99999"}, "out of range"),
    ],
)
def test_init_refuses_a_value_that_could_not_run_and_writes_nothing(
    tmp_path: Path, options: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        init_project(tmp_path / "faery", **options)
    assert not (tmp_path / "faery").exists()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("count: 100", "count: -3", 1), ":{line}:14: generate.sets.0.count: Input should be greater than"),
        (("cfg: 7", "cfgg: 7", 1), ":{line}:3: generate.cfgg: unknown key"),
        (("preset: lazy-sd15", "preset: lazy-sd16", 1), ":{line}:9: preset: "),
        (("set: {}", "set: {lora_rnak: 48}", 1), ":{line}:9: train.set.lora_rnak: "),
        (("set: {}", "set: {lora_rank: abc}", 1), ":{line}:9: train.set.lora_rank: "),
        (("set: {}", "set: {lora_rank: -4}", 1), ":{line}:9: train.set.lora_rank: -4 is out of range"),
        (("set: {}", "set: {batch_size: 0}", 1), ":{line}:9: train.set.batch_size: 0 is out of range"),
        (("backend: swarmui", "backend: a1111", 1), ":{line}:12: generate.backend: "),
    ],
)
def test_bad_values_name_the_line_and_column(
    tmp_path: Path, edit: tuple[str, str, int], expected: str
) -> None:
    result = init_project(tmp_path)
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    old, new, count = edit
    text = result.path.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, count)
    result.path.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if new in row)
    with pytest.raises(ProjectFileError) as caught:
        load_project(result.path)
    message = str(caught.value)
    assert expected.format(line=line) in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("preset: lazy-sd15", "preset: lazy-sd15\nnme: faery"),
            ":{line}:1: nme: unknown key; did you mean 'name'?",
        ),
        (("preset: lazy-sd15", "preset: lazy-sd15\ntrain_device: cpu"), "it belongs under train:"),
        (("  steps: 25", "  stesp: 25"), ":{line}:3: generate.stesp: unknown key; did you mean 'steps'?"),
        (("preset: lazy-sd15", "preset: lazy-sd15\nzzz: 1"), "zzz: unknown key; allowed: name, preset,"),
        (
            ("  steps: 25", "  steps: many"),
            "generate.steps: Input should be a valid integer, unable to parse "
            "string as an integer (got 'many')",
        ),
    ],
)
def test_an_unknown_key_or_a_wrong_value_says_what_was_meant_and_what_was_given(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    result = init_project(tmp_path)
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    text = result.path.read_text(encoding="utf-8")
    assert edit[0] in text
    text = text.replace(*edit, 1)
    result.path.write_text(text, encoding="utf-8")
    added = edit[1].splitlines()[-1]
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if row == added)
    with pytest.raises(ProjectFileError) as caught:
        load_project(result.path)
    assert expected.format(line=line) in str(caught.value)


def test_a_misspelled_required_key_says_did_you_mean_first(tmp_path: Path) -> None:
    """pydantic lists 'name: required, but missing' first; the misspelling beside it is the news."""
    result = init_project(tmp_path, name="faery")
    fill(result.path, prompt="p", model="m.safetensors", lora_dir=str(tmp_path))
    text = result.path.read_text(encoding="utf-8")
    assert "\nname: faery\n" in text
    result.path.write_text(text.replace("\nname: faery\n", "\nnmae: faery\n"), encoding="utf-8")
    line = text.splitlines().index("name: faery") + 1
    with pytest.raises(ProjectFileError) as caught:
        load_project(result.path)
    assert f"onelazy.yaml:{line}:1: nmae: unknown key; did you mean 'name'? (and 1 more)" in str(caught.value)


def test_an_empty_or_non_utf8_file_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "onelazy.yaml"
    path.write_bytes(b"")
    with pytest.raises(ProjectFileError, match="is empty; `onelazy init --force"):
        load_project(path)
    path.write_bytes(b"name: caf\xe9\n")  # Latin-1, as an old editor may save it
    with pytest.raises(ProjectFileError, match=r"not UTF-8 text \(byte 9\); save it as UTF-8"):
        load_project(path)


@pytest.mark.parametrize("key", ["dataset", "run_dir", "output"])
def test_a_file_where_a_stage_writes_is_named_with_its_line(tmp_path: Path, key: str) -> None:
    result = init_project(tmp_path)
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("")
    value = {"dataset": "notes.txt", "run_dir": "notes.txt/run", "output": "notes.txt/x.safetensors"}[key]
    text = result.path.read_text(encoding="utf-8")
    lines = [f"{key}: {value}" if line.startswith(f"{key}:") else line for line in text.splitlines()]
    result.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        ProjectFileError, match=rf"onelazy\.yaml:\d+:\d+: {key}: .*notes\.txt is a file, not a folder"
    ):
        load_project(result.path)


def test_relative_paths_given_to_init_mean_the_same_from_the_projects_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # ~/loras below is tmp_path/loras
    (tmp_path / "loras").mkdir()
    result = init_project(
        "faery", prompt="p", model="m.safetensors", lora_dir="loras", onetrainer="OneTrainer"
    )
    project = load_project(result.path)
    assert project.onetrainer == tmp_path / "OneTrainer"
    assert project.compare is not None and project.path(project.compare.lora_dir) == tmp_path / "loras"
    home = init_project("home", prompt="p", model="m", lora_dir="~/loras", onetrainer="~/OneTrainer")
    assert '"~/OneTrainer"' in home.path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("base_model", "problem"),
    [
        ("/nowhere/sd15.safetensors", "/nowhere/sd15.safetensors: no such file or folder"),
        ("models/sd15.safetensors", "models/sd15.safetensors: no such file or folder"),
        ("./sd15", "sd15: no such file or folder"),
        ("sd15.safetensors", "sd15.safetensors: no such file or folder"),
        ("a/b/c", "a/b/c: no such file or folder"),
    ],
)
def test_a_local_base_model_that_is_not_there_is_named_with_its_line(
    tmp_path: Path, base_model: str, problem: str
) -> None:
    """Found when the file is read, not at launch after generate and cull."""
    result = init_project(tmp_path)
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    text = result.path.read_text(encoding="utf-8")
    old = "base_model: stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert old in text
    result.path.write_text(text.replace(old, f"base_model: {base_model}"), encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if row.startswith(old))
    with pytest.raises(ProjectFileError) as caught:
        load_project(result.path)
    message = str(caught.value)
    assert f"onelazy.yaml:{line}:13: base_model: " in message and problem in message
    assert "a Hugging Face repo id is written owner/name" in message


def test_a_hub_id_is_not_checked_and_an_existing_folder_of_that_name_is_local(tmp_path: Path) -> None:
    result = init_project(tmp_path)
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    assert load_project(result.path).base_model == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    (tmp_path / "stable-diffusion-v1-5" / "stable-diffusion-v1-5").mkdir(parents=True)
    local = tmp_path / "stable-diffusion-v1-5" / "stable-diffusion-v1-5"
    assert load_project(result.path).base_model == str(local)


def test_a_single_file_url_is_not_checked_as_a_local_path(tmp_path: Path) -> None:
    """OneTrainer loads a URL to one file itself (its Z-Image DeTurbo preset names one)."""
    result = init_project(tmp_path)
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    url = "https://huggingface.co/owner/repo/blob/main/model.safetensors"
    text = result.path.read_text(encoding="utf-8")
    old = "base_model: stable-diffusion-v1-5/stable-diffusion-v1-5"
    result.path.write_text(text.replace(old, f"base_model: {url}"), encoding="utf-8")
    assert load_project(result.path).base_model == url


def test_a_missing_lora_dir_is_named_with_its_line(tmp_path: Path) -> None:
    """Found when the file is read, not at compare after training."""
    result = init_project(tmp_path)
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    (tmp_path / "loras").rmdir()
    line = next(n for n, row in enumerate(result.path.read_text().splitlines(), 1) if "lora_dir:" in row)
    with pytest.raises(ProjectFileError) as caught:
        load_project(result.path)
    assert str(caught.value).startswith(
        f"{result.path}:{line}:13: compare.lora_dir: {tmp_path / 'loras'}: no such folder; give the folder"
    )
    (tmp_path / "loras").write_text("a file")
    with pytest.raises(ProjectFileError, match="is a file, not a folder"):
        load_project(result.path)


def test_init_refuses_a_lora_dir_that_is_not_there(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from onelazy.cli import cli

    result = CliRunner().invoke(cli, ["init", str(tmp_path / "faery"), "--lora-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: --lora-dir {tmp_path / 'nope'}: no such folder; give the folder the backend loads LoRAs from"
    )
    assert not (tmp_path / "faery").exists()


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="no such file; `onelazy init"):
        load_project(tmp_path)
    (tmp_path / "onelazy.yaml").write_text("name: x\ngenerate: [\n", encoding="utf-8")
    with pytest.raises(ProjectFileError, match=r"onelazy.yaml:3:1: not valid YAML"):
        load_project(tmp_path)


def test_init_comments_cull_defaults_that_cull_really_uses(tmp_path: Path) -> None:
    """The commented near_distance in the template is what cull uses when the line stays commented."""
    import re

    from click.testing import CliRunner

    from onelazy.cli import cli
    from onelazy.culling import DEFAULT_NEAR_DISTANCE

    text = init_project(tmp_path / "faery").path.read_text(encoding="utf-8")
    commented = re.search(r"# near_distance: (\d+)", text)
    assert commented is not None and int(commented[1]) == DEFAULT_NEAR_DISTANCE
    help_text = CliRunner().invoke(cli, ["cull", "--help"]).output
    near_help = help_text.split("--near-distance", 1)[1].split("\n  --", 1)[0]
    assert f"{DEFAULT_NEAR_DISTANCE} is measured" in " ".join(near_help.split())


@pytest.mark.parametrize(
    "url",
    ["ftp://user:secretpw@host", "http://user:secretpw@127.0.0.1:8188", "localhost:8188", "http://h:99999"],
)
def test_a_bad_compare_url_is_refused_when_the_file_is_read_without_echoing_a_password(
    tmp_path: Path, url: str
) -> None:
    """Not after generating and training, when compare finally opens it."""
    result = init_project(tmp_path)
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    text = result.path.read_text(encoding="utf-8").replace("  seed: 1234\n", f"  seed: 1234\n  url: {url}\n")
    result.path.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if row == f"  url: {url}")
    with pytest.raises(ProjectFileError) as caught:
        load_project(result.path)
    message = str(caught.value)
    assert f"onelazy.yaml:{line}:8: compare.url: " in message, message
    assert "secretpw" not in message and "\n" not in message


def test_a_compare_url_is_kept_normalized(tmp_path: Path) -> None:
    result = init_project(tmp_path)
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    text = result.path.read_text(encoding="utf-8")
    result.path.write_text(text.replace("  seed: 1234\n", "  seed: 1234\n  url: http://127.0.0.1:9/\n"))
    project = load_project(result.path)
    assert project.compare is not None and project.compare_options()["url"] == "http://127.0.0.1:9"


def test_reading_a_project_loads_no_http_client(tmp_path: Path) -> None:
    """Reading onelazy.yaml (status, --help paths) checks URLs without importing httpx."""
    import subprocess
    import sys

    result = init_project(tmp_path, url="http://127.0.0.1:7801/")
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    code = (
        "import sys\n"
        "import onelazy.project\n"
        f"project = onelazy.project.load_project({str(result.path)!r})\n"
        "assert project.generate.urls == ['http://127.0.0.1:7801'], project.generate.urls\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('httpx', 'httpcore')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
def test_a_training_value_out_of_range_stops_status_and_run_before_any_stage(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from onelazy.cli import cli

    result = init_project(tmp_path)
    fill(result.path, prompt="p", model="m.safetensors", lora_dir=str(tmp_path / "loras"))
    text = result.path.read_text(encoding="utf-8").replace("set: {}", "set: {lora_rank: -4}", 1)
    result.path.write_text(text, encoding="utf-8")
    for command in (["status", str(result.path)], ["run", str(result.path)]):
        done = CliRunner().invoke(cli, command)
        assert done.exit_code == 2, (command, done.output)
        assert "train.set.lora_rank: -4 is out of range; expected at least 1" in done.stderr
        assert "Traceback" not in done.output
    assert not (tmp_path / "run").exists() and not (tmp_path / "dataset").exists()


def test_one_name_per_value_each_resolved_as_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``dataset``/``dataset_dir``, ``run_dir``/``run_path`` and ``base_model``/``base_model_name`` were
    two names for one value (as written, and as used); now the value is used under the file's name."""
    monkeypatch.delenv("ONETRAINER_DIR", raising=False)
    result = init_project(tmp_path, name="faery", preset="lazy-sdxl")
    fill(result.path, prompt="p", model="m.safetensors", lora_dir="loras")
    text = result.path.read_text(encoding="utf-8")
    text = text.replace("dataset: dataset ", "dataset: images ")
    text = text.replace("run_dir: run ", "run_dir: ../runs/faery ")
    text = "\n".join(line for line in text.splitlines() if not line.startswith(("base_model:", "output:")))
    result.path.write_text(text + "\n", encoding="utf-8")
    (tmp_path / "local-model").mkdir()
    project = load_project(result.path)
    assert project.dataset == tmp_path.resolve() / "images"
    assert project.run_dir == tmp_path.resolve().parent / "runs" / "faery"
    assert project.output == tmp_path.resolve() / "faery.safetensors"
    assert project.base_model == "stabilityai/stable-diffusion-xl-base-1.0"
    assert project.onetrainer is None
    for old in ("dataset_dir", "run_path", "base_model_name", "output_path", "onetrainer_path"):
        assert not hasattr(project, old), old
    result.path.write_text(text + "\nbase_model: ./local-model\n", encoding="utf-8")
    assert load_project(result.path).base_model == str(tmp_path.resolve() / "local-model")
