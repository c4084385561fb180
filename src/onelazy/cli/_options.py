"""Options several commands share, declared once so their names, types and help cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

_Command = TypeVar("_Command", bound=Callable[..., Any])

_RENDER_OPTIONS = (
    click.option("--width", type=int),
    click.option("--height", type=int),
    click.option("--steps", type=int),
    click.option("--cfg", type=float),
    click.option("--sampler"),
    click.option("--scheduler"),
)


def render_options(command: _Command) -> _Command:
    """``--width --height --steps --cfg --sampler --scheduler``, in that order: how images are rendered
    (``generate`` and ``compare``); unset ones are None, so the file or the backend decides."""
    for option in reversed(_RENDER_OPTIONS):
        command = option(command)
    return command
