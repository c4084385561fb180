"""The ``onelazy`` command: a thin shell over the library.

Each command lives in a small module of this package and calls one public library function. The
group loads a command's module only when that command is asked for, so ``onelazy --help`` stays
fast: the heavy libraries (pydantic, Pillow, httpx, numpy) are imported by the library functions,
never at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from onelazy.errors import OnelazyError

# command name -> "module:attribute"; the order here is the order ``--help`` lists them in
# (the pipeline's order, then the tools).
COMMANDS: dict[str, str] = {
    "init": "onelazy.cli.project:init_command",
    "run": "onelazy.cli.project:run_command",
    "status": "onelazy.cli.project:status_command",
    "generate": "onelazy.cli.generate:generate_command",
    "cull": "onelazy.cli.cull:cull",
    "review": "onelazy.cli.cull:review",
    "build-config": "onelazy.cli.build:build_config_command",
    "launch": "onelazy.cli.launch:launch_command",
    "compare": "onelazy.cli.compare:compare_command",
    "presets": "onelazy.cli.presets:presets",
    "backends": "onelazy.cli.generate:backends_group",
    "check": "onelazy.cli.config_files:check",
    "migrate": "onelazy.cli.config_files:migrate",
    "schema": "onelazy.cli.config_files:schema",
}


class OnelazyGroup(click.Group):
    """A group that imports its commands lazily and turns onelazy errors into one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # click suggests from the commands it has loaded, which are none here: offer the lazy ones.
        name = str(args[0]) if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            if close:
                ctx.fail(f"No such command {name!r}. Did you mean {close[0]!r}?")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Keep the pipeline order instead of click's alphabetical one.
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OnelazyError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=OnelazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="onelazy", message="onelazy %(version)s")
def cli() -> None:
    """onelazy: a LoRA of a subject in two commands, trained by OneTrainer.

    Generate images through SwarmUI or ComfyUI, cull the bad ones, write the OneTrainer
    config from a preset, run OneTrainer's own training, and compare the saved checkpoints.

    \b
    Example:
        onelazy build-config ./images --preset lazy-sd15 \\
            --base-model stablediffusionapi/ghostmix --output ./faery.safetensors
        onelazy launch runs/faery/config.json --onetrainer ~/OneTrainer
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="onelazy")


if __name__ == "__main__":  # pragma: no cover
    main()
