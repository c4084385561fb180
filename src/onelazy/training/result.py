"""The outcome of a run, as the launcher saw it (not OneTrainer's exit code, which is 0 for both
a finished and an interrupted run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Outcome = Literal["finished", "interrupted", "failed"]

EXIT_CODES: dict[str, int] = {"finished": 0, "interrupted": 130, "failed": 1}


@dataclass(frozen=True)
class SavedFile:
    """A file or folder the run wrote, with the training position it holds."""

    path: Path
    kind: Literal["save", "backup", "final"]
    global_step: int | None
    epoch: int | None
    epoch_step: int | None


@dataclass(frozen=True)
class LaunchResult:
    """How a run ended: ``finished`` / ``interrupted`` / ``failed``, how far it got, what it wrote."""

    outcome: Outcome
    exit_status: int | None  # the process's status: negative = killed by that signal
    command: tuple[str, ...]
    log_path: Path
    epochs_done: int
    epochs: int
    global_step: int
    duration: float
    saved: tuple[SavedFile, ...] = ()
    error: str | None = None
    last_lines: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        """The launcher's exit code for this outcome: 0, 130 or 1."""
        return EXIT_CODES[self.outcome]

    @property
    def final_model(self) -> Path | None:
        """The final model's path, if it was written."""
        for item in self.saved:
            if item.kind == "final":
                return item.path
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "exit_status": self.exit_status,
            "command": list(self.command),
            "log_path": str(self.log_path),
            "epochs_done": self.epochs_done,
            "epochs": self.epochs,
            "global_step": self.global_step,
            "duration": round(self.duration, 3),
            "saved": [
                {
                    "path": str(s.path),
                    "kind": s.kind,
                    "global_step": s.global_step,
                    "epoch": s.epoch,
                    "epoch_step": s.epoch_step,
                }
                for s in self.saved
            ],
            "error": self.error,
            "last_lines": list(self.last_lines),
            "warnings": list(self.warnings),
        }
