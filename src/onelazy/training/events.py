"""What a training run reports, as typed events.

The runner turns OneTrainer's output into these; :func:`onelazy.training.run_events` yields them
and :func:`onelazy.launch` hands each to ``on_event``. Every event is a frozen dataclass with an
``event`` tag and :meth:`to_dict` for ``--json``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from onelazy.training.result import LaunchResult

PhaseName = Literal["loading", "caching", "training", "sampling", "validating", "saving", "stopping"]
SaveKind = Literal["save", "backup", "final"]
StreamName = Literal["stdout", "stderr"]


class _Event:
    """Common behaviour: an ``event`` tag (the JSON ``"event"`` key) and a JSON-ready dict."""

    event: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.event}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            data[item.name] = _jsonable(value)
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf": JSON has no such numbers (a NaN loss must still show)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


@dataclass(frozen=True)
class Started(_Event):
    """OneTrainer's process is running (``pid``; ``command`` exactly as started)."""

    pid: int
    command: tuple[str, ...]
    log_path: Path
    event: ClassVar[str] = "started"


@dataclass(frozen=True)
class Phase(_Event):
    """OneTrainer moved to another phase of the run."""

    name: PhaseName
    event: ClassVar[str] = "phase"


@dataclass(frozen=True)
class Progress(_Event):
    """Where training is: epochs completed of ``epochs``, ``step`` of ``steps`` in the current epoch.

    ``global_step`` counts optimizer steps since the start (OneTrainer's own counter, as in save
    names); ``loss``/``smooth_loss`` are as tqdm printed them (3 significant digits); ``rate`` is in
    steps per second; ``remaining`` is an estimate in seconds (None until a rate is known).
    """

    epoch: int
    epochs: int
    step: int
    steps: int
    global_step: int
    loss: float | None
    smooth_loss: float | None
    rate: float | None
    elapsed: float
    remaining: float | None
    event: ClassVar[str] = "progress"


@dataclass(frozen=True)
class Saved(_Event):
    """An announced save is on disk: an intermediate ``save``, a ``backup`` or the ``final`` model."""

    path: Path
    kind: SaveKind
    global_step: int | None
    epoch: int | None
    epoch_step: int | None
    event: ClassVar[str] = "saved"


@dataclass(frozen=True)
class TrainingWarning(_Event):
    """Something OneTrainer printed that the person should see.

    ``category`` is ``config`` for ``Could not set <key> as <value>`` (OneTrainer dropped a value
    and will train with its default: the launcher stops the run unless told otherwise), ``save``
    for a save or backup that failed, ``other`` for the rest; ``launcher`` is onelazy's own
    warning from the checks before the start (a OneTrainer newer than onelazy), not OneTrainer's.
    """

    message: str
    category: Literal["config", "save", "other", "launcher"]
    key: str | None = None
    value: str | None = None
    event: ClassVar[str] = "warning"


@dataclass(frozen=True)
class Stopping(_Event):
    """The launcher asked OneTrainer to stop: ``save`` (SIGINT: backup and final save follow once
    a step was trained and with ``backup_before_save``; the message says which), ``now`` (SIGTERM:
    the save may be incomplete) or ``config`` (a value was not taken)."""

    reason: Literal["save", "now", "config"]
    message: str
    event: ClassVar[str] = "stopping"


@dataclass(frozen=True)
class Output(_Event):
    """One line OneTrainer printed (split at ``\\r`` and ``\\n``, terminal codes removed)."""

    stream: StreamName
    text: str
    event: ClassVar[str] = "output"


@dataclass(frozen=True)
class Failed(_Event):
    """The run failed: ``error`` is the traceback's last line (or what went wrong)."""

    error: str
    exit_status: int | None
    last_lines: tuple[str, ...]
    event: ClassVar[str] = "failed"


@dataclass(frozen=True)
class Ended(_Event):
    """The run is over; ``result`` is the :class:`LaunchResult` (always the last event)."""

    result: LaunchResult
    event: ClassVar[str] = "ended"

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, **self.result.to_dict()}


#: The name this event had before it was :class:`TrainingWarning`.
TrainerWarning = TrainingWarning

Event = Started | Phase | Progress | Saved | TrainingWarning | Stopping | Output | Failed | Ended


def __getattr__(name: str) -> Any:
    """``Warning``, this event's first name, still imports (it shadowed Python's built-in)."""
    if name == "Warning":
        import warnings

        warnings.warn(
            "onelazy.training's Warning event is now TrainingWarning", DeprecationWarning, stacklevel=2
        )
        return TrainingWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
