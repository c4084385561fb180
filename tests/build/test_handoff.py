"""The launch command build-config prints passes launch's preflight against a stand-in OneTrainer."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from onelazy import cli as cli_module
from tests.build.test_build import make_images
from tests.training.standin import make_onetrainer


@pytest.mark.parametrize("with_token", [False, True])
def test_printed_launch_command_passes_preflight(
    tmp_path: Path, onetrainer_facts: Path, monkeypatch: pytest.MonkeyPatch, with_token: bool
) -> None:
    monkeypatch.delenv("ONETRAINER_DIR", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    onetrainer = make_onetrainer(tmp_path / "OneTrainer", onetrainer_facts)
    make_images(tmp_path / "faery", 8, captions=True)
    args = [
        "build-config", str(tmp_path / "faery"), "--no-validation", "--preset", "nonlazy-sdxl",
        "--base-model", "stabilityai/stable-diffusion-xl-base-1.0",
        "--output", str(tmp_path / "out" / "faery.safetensors"),
        "-o", str(tmp_path / "run"), "--onetrainer", str(onetrainer),
    ]  # fmt: skip
    if with_token:
        args += ["--hf-token", "hf_abc"]
    runner = CliRunner()
    built = runner.invoke(cli_module.cli, args)
    assert built.exit_code == 0, built.output
    lines = built.output.splitlines()
    command = shlex.split(lines[lines.index("Next:") + 1])
    assert command[:2] == ["onelazy", "launch"]
    assert ("--secrets" in command) is with_token
    checked = runner.invoke(cli_module.cli, [*command[1:], "--dry-run"])
    assert checked.exit_code == 0, checked.output
    assert str(tmp_path / "run" / "config.json") in checked.output
