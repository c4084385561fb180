"""The command group itself: help, version, error mapping."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from onelazy import cli as cli_module
from onelazy.errors import ConfigError, OnelazyError, StorageError


def test_help_shows_an_example() -> None:
    result = CliRunner().invoke(cli_module.cli, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_every_command_help_shows_an_example() -> None:
    runner = CliRunner()
    for name in cli_module.COMMANDS:
        result = runner.invoke(cli_module.cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Example" in result.output, name


def test_onelazy_error_becomes_one_line_and_its_exit_code(monkeypatch: object) -> None:
    @click.command()
    @click.option("--kind")
    def boom(kind: str) -> None:
        if kind == "usage":
            raise ConfigError("'ADAMW8' is not an optimizer", file="config.json", key="optimizer.optimizer")
        raise StorageError("disk full")

    cli_module.cli.add_command(boom, "boom-test")
    try:
        runner = CliRunner()
        usage = runner.invoke(cli_module.cli, ["boom-test", "--kind", "usage"])
        assert usage.exit_code == 2
        assert usage.output.strip() == (
            "Error: config.json: optimizer.optimizer: 'ADAMW8' is not an optimizer"
        )
        failure = runner.invoke(cli_module.cli, ["boom-test", "--kind", "io"])
        assert failure.exit_code == 1
        assert "Traceback" not in failure.output
    finally:
        cli_module.cli.commands.pop("boom-test", None)


def test_every_error_class_has_a_docstring() -> None:
    import onelazy.errors as errors

    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, OnelazyError)]
    assert len(classes) > 10
    for cls in classes:
        assert cls.__doc__ and cls.__doc__.strip(), cls.__name__


def test_console_script_runs_as_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "onelazy", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("onelazy ")


def test_a_misspelt_command_gets_a_suggestion() -> None:
    result = CliRunner().invoke(cli_module.cli, ["generat"])
    assert result.exit_code == 2
    assert "No such command 'generat'. Did you mean 'generate'?" in result.output
