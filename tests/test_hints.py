"""Every option and command a message names exists where it says.

A hint that names a flag the command does not have (``run`` saying "pass --onetrainer DIR",
``review`` saying "use --dry-run") sends a person to "No such option". These tests read every
string in the package's source and check the flags and commands it names against the real
command line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import click

import onelazy
from onelazy.cli import cli

SOURCE = Path(onelazy.__file__).parent

#: flags of OneTrainer's own scripts, which onelazy passes or names but does not have
ONETRAINER_FLAGS = {"--config-path", "--secrets-path", "--preset-path"}

_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
#: "onelazy CMD [SUB] ... --flag" within one string: the flag must be CMD's (or SUB's)
_COMMAND = re.compile(r"(`?)\bonelazy ([a-z][a-z-]*)((?: [^`;()\n]*?)?)(?=$|[`;()\n]|\. )")


def _commands() -> dict[str, click.Command]:
    """Every command by its full name (``backends check``), the group itself as ``""``."""
    found: dict[str, click.Command] = {"": cli}
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        found[name] = command
        if isinstance(command, click.Group):
            found.update({f"{name} {sub}": command.commands[sub] for sub in command.commands})
    return found


def _flags(command: click.Command) -> set[str]:
    return {
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
    } | {"--help"}


def _strings() -> Iterator[tuple[str, int, str]]:
    """(file, line, text) of every string in the source; an f-string's literal parts joined with
    its fields as ``X``, so a message spread over implicitly joined lines is read whole."""
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        fstrings = [node for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)]
        inside_fstring = {id(part) for node in fstrings for part in node.values}
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(p.value if isinstance(p, ast.Constant) else "X" for p in node.values)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in inside_fstring:
                    continue
                text = node.value
            else:
                continue
            yield str(path.relative_to(SOURCE)), node.lineno, str(text)


def test_every_flag_a_message_names_is_an_option_of_some_command() -> None:
    known = set().union(*(_flags(c) for c in _commands().values())) | ONETRAINER_FLAGS
    unknown = [
        f"{file}:{line}: {flag}"
        for file, line, text in _strings()
        for flag in _FLAG.findall(text)
        if flag not in known
    ]
    assert not unknown, unknown


def test_every_onelazy_command_a_message_spells_out_exists_with_its_flags() -> None:
    commands = _commands()
    wrong = []
    for file, line, text in _strings():
        for match in _COMMAND.finditer(text):
            quoted, name, rest = match.groups()
            if name not in commands:  # prose ("onelazy writes ...") unless quoted as a command
                if quoted:
                    wrong.append(f"{file}:{line}: onelazy {name}: no such command")
                continue
            sub = rest.split()[0] if rest.split() else ""
            command = commands.get(f"{name} {sub}", commands[name])
            missing = [flag for flag in _FLAG.findall(rest) if flag not in _flags(command)]
            if missing:
                wrong.append(f"{file}:{line}: onelazy {name}{rest}: {', '.join(missing)} is not an option")
    assert not wrong, wrong


def test_the_checker_catches_what_it_is_for() -> None:
    """The two hints of the past, as text: each is found wrong."""
    commands = _commands()
    assert "--onetrainer" not in _flags(commands["run"]) and "--dry-run" not in _flags(commands["review"])
    found = [m.groups() for m in _COMMAND.finditer("try `onelazy review --dry-run DATASET` then")]
    assert found == [("`", "review", " --dry-run DATASET")]
