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


def _all_commands() -> list[tuple[str, click.Command]]:
    """Every command and subcommand, by its full name."""
    found: list[tuple[str, click.Command]] = []
    ctx = click.Context(cli_module.cli)
    for name in cli_module.cli.list_commands(ctx):
        command = cli_module.cli.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            found += [(f"{name} {sub}", command.commands[sub]) for sub in command.commands]
        else:
            found.append((name, command))
    return found


def test_the_backend_option_is_called_backend_everywhere_with_kind_as_its_alias() -> None:
    """onelazy.yaml says backend:, so every command does; --kind (generate, compare and backends
    check used to say it) still works and the help says it is the older name."""
    with_backend = []
    for name, command in _all_commands():
        for param in command.params:
            choices = getattr(param.type, "choices", ())
            if isinstance(param, click.Option) and set(choices) == {"swarmui", "comfyui"}:
                assert param.opts[0] == "--backend" and "--kind" in param.opts, (name, param.opts)
                assert "--kind" in (param.help or ""), name
                with_backend.append(name)
    assert sorted(with_backend) == ["backends check", "compare", "generate", "init"]


def test_kind_still_works_on_generate() -> None:
    result = CliRunner().invoke(cli_module.cli, ["generate", "--kind", "comfyui", "--prompt", "x"])
    assert result.exit_code == 2 and "give --url, --model, --count" in result.output
    missing = CliRunner().invoke(cli_module.cli, ["generate", "--prompt", "x"])
    assert "give --backend, --url, --model, --count" in missing.output
