"""``onelazy presets``: list, show, diff, render and docs, including the CI drift checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from onelazy import cli as cli_module
from onelazy import presets as p


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli_module.cli, ["presets", *args])


def test_list_shows_name_base_and_summary() -> None:
    result = invoke("list")
    assert result.exit_code == 0
    rows = result.output.splitlines()
    assert [row.split()[0] for row in rows] == p.preset_names()
    lazy = next(row for row in rows if row.startswith("lazy-sd15 "))
    assert "sd15-lora" in lazy and "rank 32" in lazy


def test_show_prints_values_with_reasons() -> None:
    result = invoke("show", "lazy-sd15")
    assert result.exit_code == 0
    assert "lora_rank = 32  # The one change the lazy recipe makes" in result.output
    assert "learning_rate = 0.0003  # the recipe keeps" in result.output


def test_diff_lists_only_differing_keys() -> None:
    result = invoke("diff", "sd15-lora", "lazy-sd15")
    assert result.exit_code == 0
    assert result.output.splitlines()[1:] == ["lora_rank  16  →  32"]
    same = invoke("diff", "lazy-sd15", "lazy-sd15")
    assert "render to the same config" in same.output


def test_render_prints_the_full_onetrainer_json_or_writes_it(tmp_path: Path) -> None:
    result = invoke("render", "nonlazy-sdxl")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["__version"] == 11 and data["optimizer"]["optimizer"] == "PRODIGY"
    target = tmp_path / "out.json"
    written = invoke("render", "nonlazy-sdxl", "-o", str(target))
    assert written.exit_code == 0
    assert json.loads(target.read_text()) == data
    assert target.read_text() == (p.rendered_dir() / "nonlazy-sdxl.json").read_text()


def test_unknown_preset_is_one_line_and_exit_2() -> None:
    for args in (["show", "lazy"], ["render", "nope"], ["diff", "lazy-sd15", "nope"]):
        result = invoke(*args)
        assert result.exit_code == 2, args
        assert result.output.count("\n") == 1 and result.output.startswith("Error: unknown preset")


def test_ci_checks_pass_on_the_committed_files(repo_root: Path) -> None:
    """Exactly what .ci/run runs: both checks exit 0 on the committed renderings and docs."""
    for args in (["render", "--check"], ["docs", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "onelazy", "presets", *args],
            cwd=repo_root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    ci = (repo_root / ".ci" / "run").read_text()
    assert "onelazy presets render --check" in ci and "onelazy presets docs --check" in ci


def test_render_check_fails_on_drift_and_names_the_file(tmp_path: Path) -> None:
    root = tmp_path / "presets"
    (root / "onetrainer").mkdir(parents=True)
    source = p.presets_dir()
    for path in [*source.glob("*.yaml"), *source.glob("onetrainer/*.yaml"), *source.glob("rendered/*.json")]:
        target = root / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    lazy = root / "lazy-sd15.yaml"
    lazy.write_text(lazy.read_text().replace("value: 32", "value: 24"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(p, "presets_dir", lambda: root)
        result = invoke("render", "--check")
        assert result.exit_code == 2
        assert "lazy-sd15.json: differs from a fresh rendering" in result.output
        assert "onelazy presets render --all" in result.output
        fixed = invoke("render", "--all")
        assert fixed.exit_code == 0 and "lazy-sd15.json" in fixed.output
        assert invoke("render", "--check").exit_code == 0
        docs = invoke("docs", "--check", "-o", str(tmp_path / "presets.md"))
        assert docs.exit_code == 2 and "missing" in docs.output
        assert invoke("docs", "-o", str(tmp_path / "presets.md")).exit_code == 0
        assert "**24**" in (tmp_path / "presets.md").read_text()
