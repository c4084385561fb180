"""Options several commands share, declared once so their names, types and help cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from onelazy.backends import KINDS

_Command = TypeVar("_Command", bound=Callable[..., Any])

_RENDER_OPTIONS = (
    click.option("--width", type=int),
    click.option("--height", type=int),
    click.option("--steps", type=int),
    click.option("--cfg", type=float),
    click.option("--sampler"),
    click.option("--scheduler"),
)


def backend_option(
    help: str = "Backend: swarmui or comfyui (--kind is the older name).", **extra: Any
) -> Callable[[_Command], _Command]:
    """``--backend``, the name onelazy.yaml's ``backend:`` uses, with ``--kind`` kept as an alias
    (``generate``, ``compare`` and ``backends check`` used to call it that). The value arrives as
    the parameter ``kind`` unless ``extra`` names another."""
    names = ("--backend", "--kind", extra.pop("dest", "kind"))
    return click.option(*names, type=click.Choice(KINDS), help=help, **extra)


def render_options(command: _Command) -> _Command:
    """``--width --height --steps --cfg --sampler --scheduler``, in that order: how images are rendered
    (``generate`` and ``compare``); unset ones are None, so the file or the backend decides."""
    for option in reversed(_RENDER_OPTIONS):
        command = option(command)
    return command
