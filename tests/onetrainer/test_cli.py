"""``onelazy check``, ``migrate`` and ``schema`` as a user runs them: output lines, exit codes, files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from onelazy.cli import cli
from tests.onetrainer.facts import FACTS, as_onetrainer_text


def _write(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def _clean(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    return _write(
        tmp_path / "config.json",
        {
            "__version": 11,
            "training_method": "LORA",
            "output_model_format": "KOHYA_LORA",
            "workspace_dir": str(tmp_path / "ws"),
            "cache_dir": str(tmp_path / "cache"),
            "output_model_destination": str(tmp_path / "out.safetensors"),
            "concepts": [{"path": str(images), "seed": 5}],
            "samples": [],
        },
    )


def test_check_clean_file_exits_0(tmp_path: Path) -> None:
    path = _clean(tmp_path)
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{path}: OK\n"


def test_check_prints_one_line_per_problem_and_exits_1(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "config.json", {"__version": 11, "optimizer": {"optimizer": "ADAMW8"}, "lora_rnak": 4}
    )
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"{path}: optimizer.optimizer: 'ADAMW8' is not an optimizer; did you mean 'ADAMW_8BIT'?" in lines
    assert any(line.startswith(f"{path}: lora_rnak: ") and "'lora_rank'" in line for line in lines)
    assert "Traceback" not in result.output


def test_check_concepts_and_samples_files(tmp_path: Path) -> None:
    concepts = _write(tmp_path / "concepts.json", [{"path": str(tmp_path), "seed": 1, "balancing": "x"}])
    samples = _write(tmp_path / "samples.json", [{"prompt": "a dog", "noise_scheduler": "EULER_AA"}])
    result = CliRunner().invoke(cli, ["check", str(concepts), str(samples)])
    assert result.exit_code == 1
    assert f"{concepts}: [0].balancing: expected a number" in result.stdout
    assert (
        f"{samples}: [0].noise_scheduler: 'EULER_AA' is not a noise scheduler; did you mean 'EULER_A'?"
        in (result.stdout)
    )


def test_check_unreadable_file_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    clean = _clean(tmp_path)
    result = CliRunner().invoke(cli, ["check", str(clean), str(broken)])
    assert result.exit_code == 2
    assert f"{clean}: OK" in result.stdout
    assert result.stderr.startswith(f"Error: {broken}: not valid JSON")
    missing = CliRunner().invoke(cli, ["check", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_check_reports_unreadable_files_in_the_order_given(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"name": "caf\xe9"}')
    bom = tmp_path / "bom.json"
    bom.write_bytes(b'\xef\xbb\xbf{"__version": 11}')
    project = tmp_path / "onelazy.yaml"
    project.write_text("name: faery\n", encoding="utf-8")
    missing = tmp_path / "nope.json"
    result = CliRunner().invoke(cli, ["check", str(latin1), str(bom), str(project), str(missing)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: {latin1}: not UTF-8 text (byte 13); OneTrainer reads its files as UTF-8",
        f"Error: {bom}: starts with a byte-order mark, which OneTrainer's JSON reader refuses; save it "
        "as UTF-8 without BOM",
        f"Error: {project}: not valid JSON: Expecting value at line 1, column 1; this reads OneTrainer's "
        "JSON files; `onelazy status` checks onelazy.yaml",
        f"Error: {missing}: no such file",
    ]


def test_check_without_files_is_a_usage_error() -> None:
    assert CliRunner().invoke(cli, ["check"]).exit_code == 2


def test_migrate_writes_the_current_version(tmp_path: Path) -> None:
    source = FACTS / "migrations" / "authentic-v9-default.in.json"
    target = tmp_path / "out" / "config.json"
    result = CliRunner().invoke(cli, ["migrate", str(source), "-o", str(target)])
    assert result.exit_code == 0, result.output
    written = json.loads(target.read_text(encoding="utf-8"))
    assert written["__version"] == 11 and written["output_model_format"] == "LEGACY_SAFETENSORS"
    assert "dropped: " in result.stderr and "coft_eps" in result.stderr  # removed keys are reported
    assert target.read_text(encoding="utf-8") == as_onetrainer_text(written)


def test_migrate_to_stdout(tmp_path: Path) -> None:
    source = _write(
        tmp_path / "old.json",
        {"__version": 10, "training_method": "LORA", "output_model_format": "SAFETENSORS"},
    )
    result = CliRunner().invoke(cli, ["migrate", str(source)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["output_model_format"] == "LEGACY_LORA"


def test_migrate_error_writes_nothing(tmp_path: Path) -> None:
    source = _write(tmp_path / "partial.json", {"learning_rate": 0.0001})
    target = tmp_path / "out.json"
    result = CliRunner().invoke(cli, ["migrate", str(source), "-o", str(target)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {source}: model_type: cannot migrate")
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["partial.json"]  # no temporary file left either
    target.write_text("keep me", encoding="utf-8")
    assert CliRunner().invoke(cli, ["migrate", str(source), "-o", str(target)]).exit_code == 2
    assert target.read_text(encoding="utf-8") == "keep me"


def test_schema_describes_every_key(tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    result = CliRunner().invoke(cli, ["schema", "-o", str(target)])
    assert result.exit_code == 0
    schema = json.loads(target.read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert "__version" in schema["properties"] and "lora_rank" in schema["properties"]
    part = schema["$defs"]["TrainModelPartConfig"]
    assert "__version" in part["properties"] and "gradient_checkpointing" in part["properties"]
    optimizer = schema["$defs"]["Optimizer"]
    assert "ADAMW_8BIT" in optimizer["enum"]
    concepts = json.loads(CliRunner().invoke(cli, ["schema", "--kind", "concepts"]).stdout)
    assert concepts["type"] == "array"


def test_help_does_not_import_pydantic_and_module_import_is_lazy() -> None:
    code = (
        "import sys\n"
        "from onelazy.cli import main\n"
        "sys.argv = ['onelazy', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import onelazy.onetrainer\n"
        "assert onelazy.onetrainer.CONFIG_VERSION == 11\n"
        "print('pydantic' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"
    assert "check" in result.stdout and "migrate" in result.stdout and "schema" in result.stdout


def test_check_keeps_the_index_of_each_concept(tmp_path: Path) -> None:
    concepts = _write(tmp_path / "concepts.json", [1, {"path": str(tmp_path / "missing"), "seed": 1}])
    result = CliRunner().invoke(cli, ["check", str(concepts)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{concepts}: [0]: expected a JSON object, got 1",
        f"{concepts}: [1].path: '{tmp_path / 'missing'}' is not an existing folder; "
        "OneTrainer would look it up as a Hugging Face dataset instead",
    ]


def test_the_schema_accepts_onetrainers_files_and_refuses_mistakes(onetrainer_facts: Path) -> None:
    import jsonschema

    from onelazy.onetrainer import json_schema
    from tests.onetrainer.facts import load

    validator = jsonschema.Draft202012Validator(json_schema("train"))
    for path in sorted(onetrainer_facts.glob("resolved-presets/**/*.json")):
        assert list(validator.iter_errors(load(path))) == [], path
    assert not validator.is_valid({"__version": 11, "lora_rnak": 4})
    assert not validator.is_valid({"optimizer": {"optimizer": "ADAMW8"}})
    assert not validator.is_valid({"unet": {"train": "false"}})
    assert validator.is_valid({"optimizer": {"growth_rate": "inf"}})
    concepts = jsonschema.Draft202012Validator(json_schema("concepts"))
    assert concepts.is_valid(load(onetrainer_facts / "default-concepts-file.json"))
    assert not concepts.is_valid([{"text": {"prompt_source": "caption"}}])


def test_check_never_prints_a_token_from_a_file_of_the_wrong_shape(tmp_path: Path) -> None:
    token = "hf_abcdefSECRET123"
    shapes = {
        "list.json": ([token], "[0]: expected a JSON object, got a string"),
        "string.json": (token, "expected a JSON object, got a string"),
        "nested.json": ({"huggingface_token": [token]}, "huggingface_token: expected a string, got a list"),
        "object.json": (
            {"huggingface_token": {"value": token}},
            "expected a string, got an object (not shown)",
        ),
    }
    for name, (content, said) in shapes.items():
        path = _write(tmp_path / name, content)
        result = CliRunner().invoke(cli, ["check", str(path)])
        assert result.exit_code in (1, 2), result.output
        assert said in result.output, result.output
        assert token not in result.output


def test_migrate_refuses_a_newer_config_and_writes_nothing(tmp_path: Path) -> None:
    source = _write(tmp_path / "new.json", {"__version": 12, "training_method": "LORA", "new_key": 1})
    target = tmp_path / "out.json"
    result = CliRunner().invoke(cli, ["migrate", str(source), "-o", str(target)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        f"Error: {source}: __version: config version 12 is newer than 11, the newest onelazy knows"
    )
    assert not target.exists() and [p.name for p in tmp_path.iterdir()] == ["new.json"]
    to_stdout = CliRunner().invoke(cli, ["migrate", str(source)])
    assert to_stdout.exit_code == 2 and to_stdout.stdout == ""
    concepts = _write(tmp_path / "concepts.json", [{"__version": 3, "path": str(tmp_path)}])
    refused = CliRunner().invoke(cli, ["migrate", str(concepts), "-o", str(target)])
    assert refused.exit_code == 2 and "newer than 2" in refused.stderr and not target.exists()


def test_migrate_writes_the_number_onetrainer_converts_a_wrong_type_to(tmp_path: Path) -> None:
    # OneTrainer's from_dict stores int(value) / float(value) / str(value) for a value of the key's
    # type family and keeps the default only where that conversion fails.
    source = _write(
        tmp_path / "v2.json",
        {
            "__version": 2,
            "model_type": "STABLE_DIFFUSION_15",
            "weight_dtype": "FLOAT_32",
            "prior": {"weight_dtype": "NONE"},
            "save_every": 2.5,
            "learning_rate": "0.0002",
            "optimizer_defaults": {"LAMB": {"optimizer": "LAMB", "percentile_clipping": 100.0, "eps": "x"}},
        },
    )
    result = CliRunner().invoke(cli, ["migrate", str(source)])
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    lamb = written["optimizer_defaults"]["LAMB"]
    assert lamb["percentile_clipping"] == 100 and type(lamb["percentile_clipping"]) is int
    assert lamb["eps"] is None  # float("x") fails: OneTrainer keeps the default
    assert written["save_every"] == 2 and written["learning_rate"] == 0.0002
    assert "OneTrainer would cut it to 100" in result.stderr


def test_check_refuses_values_onetrainer_cannot_train_with(tmp_path: Path) -> None:
    path = _clean(tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(lora_rank=0, learning_rate=-1, epochs=-3, batch_size=0, dropout_probability=1.5)
    data.update(gradient_accumulation_steps=0, resolution="1024x0")
    _write(path, data)
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    for line in (
        "lora_rank: 0 is out of range; expected at least 1",
        "learning_rate: -1 is out of range; expected above 0",
        "epochs: -3 is out of range; expected at least 1",
        "batch_size: 0 is out of range; expected at least 1",
        "gradient_accumulation_steps: 0 is out of range; expected at least 1",
        "dropout_probability: 1.5 is out of range; expected between 0 and 1",
        "resolution: '1024x0': every size must be above 0",
    ):
        assert any(row.startswith(f"{path}: {line}") for row in lines), (line, lines)
