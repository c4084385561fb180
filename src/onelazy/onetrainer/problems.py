"""One problem found in a OneTrainer file, and "did you mean" suggestions.

A :class:`Problem` is what ``onelazy check`` prints (one line each) and what lenient reading
returns; strict reading raises the first one as a :class:`~onelazy.errors.ConfigError`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from onelazy.errors import ConfigError

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """Something in a config that OneTrainer would ignore, replace, or fail on later.

    ``str(problem)`` is one line: ``config.json: optimizer.optimizer: 'ADAMW8' is not an optimizer;
    did you mean 'ADAMW_8BIT'?``. ``allowed`` lists the accepted values when there is a fixed set.

    ``level`` is ``"error"`` for what OneTrainer would drop, mangle, fail on or do differently
    from what the file says, ``"warning"`` for what works but depends on where OneTrainer runs
    (a relative path, a file in OneTrainer's folder) or is only advice.
    """

    file: str | None
    key: str
    message: str
    allowed: tuple[str, ...] | None = None
    hint: str | None = None
    level: Level = "error"

    @property
    def is_error(self) -> bool:
        return self.level == "error"

    def __str__(self) -> str:
        # The line strict reading would raise: one wording for check's lines and for the error.
        return str(self.to_error())

    def to_error(self, *, more: int = 0) -> ConfigError:
        """This problem as the exception strict reading raises (``more`` = further problems found)."""
        hint = self.hint
        if more:
            extra = f"and {more} more problem{'s' if more > 1 else ''} (onelazy check lists them all)"
            hint = f"{hint}; {extra}" if hint else extra
        return ConfigError(
            self.message, file=self.file, key=self.key or None, allowed=self.allowed, hint=hint
        )


def raise_first(problems: Sequence[Problem]) -> None:
    """Raise the first problem as a ConfigError, mentioning how many more there are."""
    if problems:
        raise problems[0].to_error(more=len(problems) - 1)


def errors_only(problems: Sequence[Problem]) -> list[Problem]:
    """The problems of level ``"error"``."""
    return [problem for problem in problems if problem.is_error]


def _squash(text: str) -> str:
    return text.replace("_", "").replace("-", "").replace(" ", "").lower()


def did_you_mean(value: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``value`` most likely meant, or None.

    Close spellings are found with difflib on names without ``_``/``-`` and case; among them a name
    that starts with ``value`` wins, so an abbreviation like ``ADAMW8`` finds ``ADAMW_8BIT`` rather
    than the shorter ``ADAMW``.
    """
    by_squashed: dict[str, str] = {}
    for candidate in candidates:
        by_squashed.setdefault(_squash(candidate), candidate)
    wanted = _squash(value)
    if wanted in by_squashed:
        return by_squashed[wanted]
    close = difflib.get_close_matches(wanted, list(by_squashed), n=6, cutoff=0.6)
    if not close:
        return None
    for squashed in close:
        if squashed.startswith(wanted):
            return by_squashed[squashed]
    return by_squashed[close[0]]


def did_you_mean_hint(value: str, candidates: Iterable[str]) -> str | None:
    """``"did you mean 'x'?"`` or None."""
    match = did_you_mean(value, candidates)
    return f"did you mean {match!r}?" if match is not None and match != value else None
