"""Turning OneTrainer's raw output into lines and typed events.

OneTrainer prints messages (``Saving …``, ``Could not set …``) on stdout and tqdm bars and
tracebacks on stderr; bars are redrawn with ``\\r`` and nested with ``ESC[A``. :class:`LineSplitter`
cuts a byte stream at ``\\r`` and ``\\n`` (and every :data:`MAX_SEGMENT` bytes, so a child printing
megabytes without a newline costs bounded memory); :func:`strip_ansi` removes terminal codes;
:class:`OutputParser` keeps the state (epoch, step, loss, pending saves, the last traceback) and
turns lines into events.

The strings matched here are OneTrainer's printed messages and tqdm descriptions (not an API: a
OneTrainer that prints differently degrades to fewer events, never to a wrong outcome).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from onelazy.onetrainer.outputs import SAVE_DIR, printed_position
from onelazy.training.events import (
    Event,
    Phase,
    PhaseName,
    Progress,
    Saved,
    SaveKind,
    StreamName,
    TrainingWarning,
)

MAX_SEGMENT = 64 * 1024
LAST_LINES = 20

_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_SPLIT = re.compile(rb"[\r\n]")

# "step:  50%|█████     | 2/4 [00:00<00:00, 12.93it/s, loss=1.26, smooth loss=1.15]"
_BAR = re.compile(
    r"^(?P<desc>[^:|]+?):\s+(?:(?P<pct>\d+)%\|[^|]*\|\s*)?(?P<n>\d+)(?:/(?P<total>\d+))?(?:it)?\s*"
    r"\[(?P<elapsed>[\d:]+)(?:<(?P<remaining>[\d:?]+))?(?:,\s*(?P<rate>[^,\]]+))?(?:,\s*(?P<postfix>[^\]]*))?\]"
)
_POSTFIX = re.compile(r"(?P<key>[a-z][a-z ]*?)=(?P<value>[^,]+)")
_COULD_NOT_SET = re.compile(r"^Could not set (?P<key>\S+) as (?P<value>.*)$")

_BAR_PHASES: dict[str, PhaseName] = {
    "enumerating sample paths": "caching",
    "caching": "caching",
    "step": "training",
    "sampling": "sampling",
    "validation_step": "validating",
    "Quantizing model weights": "loading",
}
_SAVE_WARNINGS = (
    "Could not save model",
    "Could not delete partial save",
    "Could not save backup",
    "Could not delete partial backup",
    "Could not delete old rolling backup",
)
_OTHER_WARNINGS = ("Error during sampling", "Error during loading the sample definition file", "Warning: ")


def strip_ansi(data: bytes) -> bytes:
    """``data`` without terminal escape sequences."""
    return _ANSI.sub(b"", data) if b"\x1b" in data else data


class LineSplitter:
    """Cuts a byte stream into segments at ``\\r``/``\\n``; never holds more than MAX_SEGMENT bytes."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        """The complete segments in ``pending + data`` (empty ones dropped)."""
        buffer = self._pending + data if self._pending else data
        parts = _SPLIT.split(buffer)
        self._pending = parts.pop()
        segments = [p for p in parts if p]
        while len(self._pending) > MAX_SEGMENT:
            segments.append(self._pending[:MAX_SEGMENT])
            self._pending = self._pending[MAX_SEGMENT:]
        return segments

    def flush(self) -> list[bytes]:
        """What is left once the stream ended."""
        rest, self._pending = self._pending, b""
        return [rest] if rest else []


@dataclass
class _PendingSave:
    path: Path
    kind: SaveKind
    global_step: int | None
    epoch: int | None
    epoch_step: int | None


def _parse_rate(text: str | None) -> float | None:
    if not text:
        return None
    text = text.strip()
    try:
        if text.endswith("it/s"):
            return float(text[:-4])
        if text.endswith("s/it"):
            value = float(text[:-4])
            return 1.0 / value if value > 0 else None
    except ValueError:
        return None
    return None


def _parse_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


class OutputParser:
    """Turns OneTrainer's lines into events, keeping where the run is.

    ``root`` is OneTrainer's working directory (relative paths in its messages are relative to
    it); ``workspace_dir`` and ``output_model_destination`` classify ``Saving …`` messages.
    """

    def __init__(
        self, *, root: Path, workspace_dir: Path | None, output_model_destination: Path | None
    ) -> None:
        self.root = root
        self.save_dir = (workspace_dir / SAVE_DIR) if workspace_dir is not None else None
        self.destination = output_model_destination
        self.phase: PhaseName = "loading"
        self.epoch = 0
        self.epochs = 0
        self.step = 0
        self.steps = 0
        self._step_base = 0  # optimizer steps of the epochs before the current step bar
        self._last_step_n = 0
        self.loss: float | None = None
        self.smooth_loss: float | None = None
        self.rate: float | None = None
        self.last_lines: deque[str] = deque(maxlen=LAST_LINES)
        self.error_line: str | None = None
        self._in_traceback = False
        self._last_progress_key: tuple[object, ...] | None = None
        self._pending: list[_PendingSave] = []
        self._last_backup: tuple[int, int, int] | None = None
        self._saved_global_step = 0
        self.saved: list[Saved] = []
        self.missing: list[Path] = []
        self.warnings: list[TrainingWarning] = []

    @property
    def global_step(self) -> int:
        # tqdm redraws the step bar only every few steps; a save's name holds the exact count
        return max(self._step_base + self.step, self._saved_global_step)

    # ------------------------------------------------------------------ feeding

    def feed(self, stream: StreamName, text: str, elapsed: float) -> Iterator[Event]:
        """Events for one line (already split and stripped of terminal codes)."""
        if self._pending:
            yield from self.check_pending_saves()
        line = text.strip()
        if not line:
            return
        self.last_lines.append(text.rstrip())
        if stream == "stderr":
            yield from self._stderr(line, text, elapsed)
        else:
            yield from self._stdout(line)

    def _set_phase(self, name: PhaseName) -> Iterator[Event]:
        if name != self.phase:
            self.phase = name
            yield Phase(name)

    def _stderr(self, line: str, text: str, elapsed: float) -> Iterator[Event]:
        if line.startswith("Traceback (most recent call last)"):
            self._in_traceback = True
            return
        if self._in_traceback:
            if not text[:1].isspace():
                self._in_traceback = False
                self.error_line = line
            return
        match = _BAR.match(line)
        if match is None:
            return
        desc = match.group("desc").strip()
        if desc == "epoch":
            self.epoch = int(match.group("n"))
            self.epochs = int(match.group("total") or self.epochs)
            yield from self._progress(elapsed)
            return
        phase = _BAR_PHASES.get(desc)
        if phase is not None:
            yield from self._set_phase(phase)
        if desc != "step":
            return
        n = int(match.group("n"))
        if n < self._last_step_n:
            self._step_base += self._last_step_n
        self._last_step_n = n
        self.step = n
        self.steps = int(match.group("total") or self.steps)
        rate = _parse_rate(match.group("rate"))
        if rate is not None:
            self.rate = rate
        postfix = match.group("postfix")
        if postfix:
            values = {m.group("key").strip(): m.group("value") for m in _POSTFIX.finditer(postfix)}
            self.loss = _parse_float(values.get("loss")) if "loss" in values else self.loss
            if "smooth loss" in values:
                self.smooth_loss = _parse_float(values["smooth loss"])
        yield from self._progress(elapsed)

    def _progress(self, elapsed: float) -> Iterator[Event]:
        key = (self.epoch, self.epochs, self.step, self.steps, self.loss, self.smooth_loss)
        if key == self._last_progress_key:
            return
        self._last_progress_key = key
        remaining: float | None = None
        if self.rate and self.steps and self.epochs:
            left = max(0, (self.epochs - self.epoch) * self.steps - self.step)
            remaining = left / self.rate
        yield Progress(
            epoch=self.epoch,
            epochs=self.epochs,
            step=self.step,
            steps=self.steps,
            global_step=self.global_step,
            loss=self.loss,
            smooth_loss=self.smooth_loss,
            rate=self.rate,
            elapsed=elapsed,
            remaining=remaining,
        )

    def _stdout(self, line: str) -> Iterator[Event]:
        if line.startswith("Saving "):
            yield from self._set_phase("saving")
            self._announce(line[len("Saving ") :].strip(), backup=False)
            return
        if line.startswith("Creating Backup "):
            yield from self._set_phase("saving")
            self._announce(line[len("Creating Backup ") :].strip(), backup=True)
            return
        if line.startswith("Continuing training from backup "):
            self._resume_from(line)
            return
        match = _COULD_NOT_SET.match(line)
        if match is not None:
            warning = TrainingWarning(line, "config", key=match.group("key"), value=match.group("value"))
            self.warnings.append(warning)
            yield warning
            return
        if line.startswith(_SAVE_WARNINGS):
            warning = TrainingWarning(line, "save")
        elif line.startswith(_OTHER_WARNINGS):
            warning = TrainingWarning(line, "other")
        else:
            return
        self.warnings.append(warning)
        yield warning

    def _resume_from(self, line: str) -> None:
        """``continue_last_backup``: count on from the backup's step (its name holds it)."""
        printed = printed_position(line.rstrip(".'\" "))
        if printed is None or printed[0] != "backup":
            return
        global_step, epoch_step = printed[1].step, printed[1].epoch_step
        self._step_base = global_step - epoch_step
        self._last_step_n = epoch_step
        self._saved_global_step = global_step

    # ------------------------------------------------------------------ saves

    def _announce(self, raw_path: str, *, backup: bool) -> None:
        path = Path(raw_path)
        if not path.is_absolute():
            path = self.root / path
        kind: SaveKind
        global_step: int | None = None
        epoch: int | None = None
        epoch_step: int | None = None
        printed = printed_position(path.name)
        in_save_dir = self.save_dir is not None and path.parent == self.save_dir
        named_save = printed is not None and printed[0] == "save" and path.parent.name == SAVE_DIR
        if backup:
            kind = "backup"
        elif in_save_dir or named_save:
            kind = "save"
        else:
            kind = "final"
        if printed is not None and kind != "final":
            global_step, epoch, epoch_step = printed[1].step, printed[1].epoch, printed[1].epoch_step
        elif self._last_backup is not None:  # the final save holds what the backup before it holds
            global_step, epoch, epoch_step = self._last_backup
        else:
            global_step, epoch, epoch_step = self.global_step, self.epoch, self.step
            if self.steps and self.step >= self.steps:
                epoch_step = 0
        if global_step is not None:
            self._saved_global_step = max(self._saved_global_step, global_step)
        if kind == "backup" and global_step is not None and epoch is not None and epoch_step is not None:
            self._last_backup = (global_step, epoch, epoch_step)
        self._pending.append(_PendingSave(path, kind, global_step, epoch, epoch_step))

    def check_pending_saves(self) -> Iterator[Event]:
        """``Saved`` for every announced save that is now on disk."""
        still: list[_PendingSave] = []
        for item in self._pending:
            if item.path.exists():
                saved = Saved(item.path, item.kind, item.global_step, item.epoch, item.epoch_step)
                self.saved.append(saved)
                yield saved
            else:
                still.append(item)
        self._pending = still

    def finish(self) -> Iterator[Event]:
        """At the end of the run: settle the announced saves (missing ones are remembered)."""
        yield from self.check_pending_saves()
        self.missing.extend(item.path for item in self._pending)
        self._pending = []
        if self._in_traceback and self.last_lines:
            self.error_line = self.last_lines[-1].strip()
