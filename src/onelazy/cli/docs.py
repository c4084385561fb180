"""``docs/cli.md`` from the commands' own ``--help``, so the reference never drifts from the code.

    python -m onelazy.cli.docs            # rewrite docs/cli.md
    python -m onelazy.cli.docs --check    # exit 1 when docs/cli.md differs from a fresh rendering

A test runs the check, so a changed option or docstring shows up as a changed ``docs/cli.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from onelazy.cli import COMMANDS, cli

#: Help is rendered at this width whatever the terminal, so the file is the same everywhere.
WIDTH = 100
HEADER = """# Command reference

Generated from each command's `--help` by `python -m onelazy.cli.docs`; do not edit by hand
(a test fails when this file and the commands differ). The guide (`docs/guide.md`) shows how the
commands fit together.

"""


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    """A context as click makes it for ``--help`` (the command's own settings, e.g. ``-h``), at a
    fixed width; nothing is parsed or checked."""
    return command.make_context(
        name, [], parent=parent, resilient_parsing=True, terminal_width=WIDTH, max_content_width=WIDTH
    )


def _sections(command: click.Command, path: list[str], parent: click.Context | None) -> list[str]:
    ctx = _context(command, path[-1], parent)
    parts = [f"## `{' '.join(path)}`\n\n```text\n{command.get_help(ctx).rstrip()}\n```\n"]
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                parts.extend(_sections(sub, [*path, name], ctx))
    return parts


def render() -> str:
    """The whole of ``docs/cli.md``: the group's help, then every command in ``COMMANDS`` order."""
    root = _context(cli, "onelazy", None)
    parts = [HEADER, f"## `onelazy`\n\n```text\n{cli.get_help(root).rstrip()}\n```\n"]
    for name in COMMANDS:
        command = cli.get_command(root, name)
        if command is not None and not command.hidden:
            parts.extend(_sections(command, ["onelazy", name], root))
    return "\n".join(parts)


def docs_path() -> Path:
    """``docs/cli.md`` of the checkout this module runs from."""
    return Path(__file__).resolve().parents[3] / "docs" / "cli.md"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = docs_path()
    fresh = render()
    if "--check" in args:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != fresh:
            print(f"{target} is out of date; run: python -m onelazy.cli.docs", file=sys.stderr)
            return 1
        return 0
    from onelazy._files import atomic_write_text

    atomic_write_text(target, fresh)
    print(f"Wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
