"""Showing a run: a rich progress display on a terminal, plain lines otherwise, or JSON events.

Each display is a callable taking one event (``on_event``) plus :meth:`close`. ``rich`` is imported
only for the terminal display.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from typing import IO, Literal

from onelazy.training.events import (
    Ended,
    Event,
    Failed,
    Output,
    Phase,
    Progress,
    Saved,
    Started,
    Stopping,
    TrainingWarning,
)
from onelazy.training.preflight import PreflightReport
from onelazy.training.result import LaunchResult

DisplayMode = Literal["auto", "rich", "plain", "quiet", "json"]
PLAIN_PROGRESS_SECONDS = 10.0


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _position(global_step: int | None, epoch: int | None) -> str:
    parts = []
    if global_step is not None:
        parts.append(f"step {global_step}")
    if epoch is not None:
        parts.append(f"epoch {epoch}")
    return ", ".join(parts)


SAVE_LABELS = {"save": "checkpoint", "backup": "backup", "final": "final model"}


def progress_text(event: Progress) -> str:
    """``epoch 1/2 · step 3/4 · loss 0.0812 (smooth 0.0911) · 2.9 it/s · 0:12 left``."""
    parts = [f"epoch {min(event.epoch + 1, event.epochs) if event.epochs else event.epoch}/{event.epochs}"]
    parts.append(f"step {event.step}/{event.steps}")
    if event.loss is not None:
        smooth = f" (smooth {event.smooth_loss:.3g})" if event.smooth_loss is not None else ""
        parts.append(f"loss {event.loss:.3g}{smooth}")
    if event.rate:
        parts.append(f"{event.rate:.3g} it/s")
    parts.append(f"{_duration(event.elapsed)} elapsed")
    if event.remaining is not None:
        parts.append(f"{_duration(event.remaining)} left")
    return " · ".join(parts)


def _started_text(event: Started) -> str:
    return f"Started OneTrainer (pid {event.pid}); its output goes to {event.log_path}.part until it ends"


def summary_lines(result: LaunchResult) -> list[str]:
    """What the run did and every file it wrote, for the end of any display."""
    reached = f"epoch {result.epochs_done}/{result.epochs}, step {result.global_step}"
    if result.outcome == "finished":
        head = f"Finished: {reached} in {_duration(result.duration)}."
    elif result.outcome == "interrupted":
        head = f"Interrupted at {reached} after {_duration(result.duration)}."
    else:
        status = result.exit_status
        how = (
            ""
            if status is None
            else f"killed by signal {-status}, "
            if status < 0
            else f"exit status {status}, "
        )
        head = f"Failed ({how}{reached}) after {_duration(result.duration)}: {result.error}"
    lines = [head]
    if result.saved:
        lines.append("Files written:")
        for item in result.saved:
            lines.append(f"  {item.kind:<6} {item.path}  ({_position(item.global_step, item.epoch)})")
    elif result.outcome != "finished":
        lines.append("Nothing was saved.")
    if result.outcome == "interrupted" and result.final_model is None:
        lines.append("The final model was not written (stopped before or during the save).")
    for warning in result.warnings:
        if warning.startswith("OneTrainer announced"):
            lines.append(f"Warning: {warning}")
    if result.outcome == "failed" and result.last_lines:
        lines.append(f"Last {len(result.last_lines)} lines of OneTrainer's output:")
        lines.extend(f"  | {line}" for line in result.last_lines)
    lines.append(f"Log: {result.log_path}")
    return lines


class JsonDisplay:
    """One JSON object per event on stdout (raw output lines are left to launch.log)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: Event) -> None:
        if isinstance(event, Output):
            return
        self.stream.write(json.dumps(event.to_dict()) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class PlainDisplay:
    """Plain lines (for logs and CI): phases, saves, warnings, progress every few seconds, a summary.

    ``quiet`` keeps only what needs attention: stops, failures and the summary.
    """

    def __init__(
        self, out: IO[str] | None = None, err: IO[str] | None = None, *, quiet: bool = False
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self._last_progress = 0.0
        self._last_epoch = -1
        self._pending_progress: Progress | None = None

    def _line(self, text: str, *, error: bool = False) -> None:
        stream = self.err if error else self.out
        stream.write(text + "\n")
        stream.flush()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Output):
            return
        if isinstance(event, Stopping):
            self._line(event.message, error=True)
        elif isinstance(event, Ended):
            self._flush_progress()
            failed = event.result.outcome == "failed"
            for line in summary_lines(event.result):
                self._line(line, error=failed)
        elif self.quiet:
            return
        elif isinstance(event, Started):
            self._line(_started_text(event))
        elif isinstance(event, Phase):
            self._flush_progress()
            self._line(f"[{event.name}]")
        elif isinstance(event, Progress):
            self._progress(event)
        elif isinstance(event, Saved):
            self._flush_progress()
            where = _position(event.global_step, event.epoch)
            self._line(f"Saved {SAVE_LABELS[event.kind]}: {event.path} ({where})")
        elif isinstance(event, TrainingWarning):
            who = "Warning" if event.category == "launcher" else "OneTrainer"
            self._line(f"{who}: {event.message}", error=event.category not in ("other", "launcher"))
        elif isinstance(event, Failed):
            pass  # the summary says it

    def _progress(self, event: Progress) -> None:
        now = time.monotonic()
        if event.epoch != self._last_epoch or now - self._last_progress >= PLAIN_PROGRESS_SECONDS:
            self._last_epoch = event.epoch
            self._last_progress = now
            self._pending_progress = None
            self._line(progress_text(event))
        else:
            self._pending_progress = event

    def _flush_progress(self) -> None:
        if self._pending_progress is not None:
            self._line(progress_text(self._pending_progress))
            self._pending_progress = None
            self._last_progress = time.monotonic()

    def close(self) -> None:
        self.out.flush()
        self.err.flush()


class RichDisplay:
    """Epoch and step bars with loss, elapsed and remaining time; messages scroll above them."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self.console = Console(stderr=False)
        self.progress = RichProgress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            refresh_per_second=4,
            transient=False,
        )
        self.progress.start()
        self._phase = "loading"
        self._remaining: float | None = None
        self.epoch_task = self.progress.add_task("epoch", total=None, info="loading")
        self.step_task = self.progress.add_task("step", total=None, info="")

    def __call__(self, event: Event) -> None:
        if isinstance(event, Output):
            return
        # paths and OneTrainer's messages are text, not rich markup: "[draft]" in a folder name
        # would vanish, and "[/x]" in a message would raise and stop the run
        from rich.markup import escape

        print_ = self.progress.console.print
        if isinstance(event, Started):
            print_(escape(_started_text(event)), highlight=False, soft_wrap=True)
        elif isinstance(event, Phase):
            self._phase = event.name
            self.progress.update(self.epoch_task, info=self._epoch_info())
        elif isinstance(event, Progress):
            self._remaining = event.remaining
            self.progress.update(
                self.epoch_task, total=event.epochs or None, completed=event.epoch, info=self._epoch_info()
            )
            loss = ""
            if event.loss is not None:
                smooth = f" (smooth {event.smooth_loss:.3g})" if event.smooth_loss is not None else ""
                loss = f"loss {event.loss:.3g}{smooth}"
            self.progress.update(self.step_task, total=event.steps or None, completed=event.step, info=loss)
        elif isinstance(event, Saved):
            where = _position(event.global_step, event.epoch)
            label = SAVE_LABELS[event.kind]
            print_(
                f"[green]Saved {label}[/]: {escape(f'{event.path} ({where})')}",
                highlight=False,
                soft_wrap=True,
            )
        elif isinstance(event, TrainingWarning):
            colour = "yellow" if event.category in ("other", "launcher") else "red"
            who = "Warning" if event.category == "launcher" else "OneTrainer"
            print_(f"[{colour}]{who}: {escape(event.message)}[/]", highlight=False)
        elif isinstance(event, Stopping):
            print_(f"[bold yellow]{escape(event.message)}[/]", highlight=False)
        elif isinstance(event, Ended):
            self.progress.stop()
            style = {"finished": "green", "interrupted": "yellow", "failed": "red"}[event.result.outcome]
            lines = summary_lines(event.result)
            self.console.print(f"[bold {style}]{escape(lines[0])}[/]", highlight=False, soft_wrap=True)
            for line in lines[1:]:
                self.console.print(line, highlight=False, markup=False, soft_wrap=True)

    def _epoch_info(self) -> str:
        left = f" · {_duration(self._remaining)} left" if self._remaining is not None else ""
        return f"{self._phase}{left}"

    def close(self) -> None:
        self.progress.stop()


def make_display(mode: DisplayMode = "auto") -> JsonDisplay | PlainDisplay | RichDisplay:
    """``auto``: rich on a terminal, plain lines otherwise."""
    if mode == "json":
        return JsonDisplay()
    if mode == "quiet":
        return PlainDisplay(quiet=True)
    if mode == "rich" or (mode == "auto" and sys.stdout.isatty()):
        return RichDisplay()
    return PlainDisplay()


def report_lines(report: PreflightReport) -> list[str]:
    """The dry-run printout: each check, then the exact command and its folder."""
    lines = [
        f"{'FAIL' if not check.ok else 'warn' if check.warning else 'ok  '} {check.name}: {check.detail}"
        for check in report.checks
    ]
    lines.append("command: " + shlex.join(report.command))
    lines.append(f"in: {report.install.root}")
    lines.append("env: PYTHONUNBUFFERED=1")
    return lines


__all__ = ["JsonDisplay", "PlainDisplay", "RichDisplay", "make_display", "report_lines", "summary_lines"]
