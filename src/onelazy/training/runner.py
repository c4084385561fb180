"""Running OneTrainer's ``scripts/train.py`` and watching it.

The child runs in its own session (so its own process group, away from the terminal's Ctrl+C),
with ``PYTHONUNBUFFERED=1`` and SIGINT at its default. Both pipes are read without blocking from
one loop (``selectors``), so a child that fills one pipe never stalls and a child that prints
nothing never makes the launcher unresponsive. Ctrl+C once forwards SIGINT to the group
(OneTrainer then backs up and saves); twice sends SIGTERM (stop now). Whatever happens, the
group is terminated at the end, so no OneTrainer or TensorBoard process outlives the launch.

On Windows there are no process groups to signal: OneTrainer shares the console, so Ctrl+C
reaches it directly (and it saves); a second Ctrl+C, SIGTERM or :meth:`TrainingRun.interrupt`
from code end it at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import IO, Any

from onelazy._files import file_in_the_way
from onelazy.errors import LaunchError, StorageError
from onelazy.run_folder import RunFolder
from onelazy.training.events import (
    Ended,
    Event,
    Failed,
    Output,
    Phase,
    Started,
    Stopping,
    StreamName,
    TrainingWarning,
)
from onelazy.training.output import LineSplitter, OutputParser, strip_ansi
from onelazy.training.pipes import PipeReader, SelectorReader, ThreadReader
from onelazy.training.preflight import PreflightReport, WorkspaceLock, resolve
from onelazy.training.result import LaunchResult, Outcome, SavedFile

POLL_SECONDS = 0.25  # how often the loop wakes when nothing is printed (to act on Ctrl+C)
DRAIN_SECONDS = 0.5  # after the child exits, how long to read what a grandchild still prints
GROUP_GRACE_SECONDS = 3.0  # SIGTERM to leftovers, then SIGKILL after this
LOG_FLUSH_SECONDS = 0.5
KEEP_LOGS = 5  # launch.log.1 … launch.log.5: the logs of earlier runs in the same folder

SAVE_MESSAGE = (
    "Stopping: OneTrainer is making a backup and saving the model - wait for it. "
    "Press Ctrl+C again to stop now (the save may then be incomplete)."
)
#: Ctrl+C before OneTrainer finished its first optimizer step: its end() saves only once one was
#: trained, so it exits with nothing new on disk
NOTHING_TRAINED_MESSAGE = (
    "Stopping: OneTrainer has not trained a step yet, so it saves nothing and exits (it saves on "
    "Ctrl+C only once a step is trained); saves and backups already in the workspace stay."
)
#: Ctrl+C with backup_before_save off: train.py then skips end(), so nothing is saved at all
NO_BACKUP_MESSAGE = (
    "Stopping: OneTrainer exits without saving: with backup_before_save off it saves nothing on "
    "Ctrl+C; the saves already made stay."
)
NOW_MESSAGE = "Stopping now: OneTrainer was told to quit; a save in progress may be incomplete."


class LaunchLog:
    """``RUN_DIR/launch.log``: every segment OneTrainer printed, raw, each line timestamped.

    Written to ``launch.log.part`` while the run goes (``tail -f`` it) and renamed to
    ``launch.log`` at the end, after an fsync, as every onelazy write is; the previous logs are
    kept as ``launch.log.1`` (newest) to ``launch.log.5``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".part")
        blocker = file_in_the_way(self.partial)
        if blocker is not None:
            raise StorageError(f"{self.partial}: cannot write: {blocker} is a file, not a folder")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle: IO[bytes] = open(self.partial, "wb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise StorageError(f"{self.partial}: cannot write: {exc.strerror or exc}") from exc
        self._last_flush = time.monotonic()

    def write(self, stream: str, segment: bytes) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self._handle.write(f"{stamp} {stream} ".encode() + segment + b"\n")
        now = time.monotonic()
        if now - self._last_flush > LOG_FLUSH_SECONDS:
            self._handle.flush()
            self._last_flush = now

    def tick(self) -> None:
        """Flush what is buffered once OneTrainer has been quiet for a moment (for ``tail -f``)."""
        if time.monotonic() - self._last_flush > LOG_FLUSH_SECONDS:
            self._handle.flush()
            self._last_flush = time.monotonic()

    def note(self, text: str) -> None:
        """A line from the launcher itself (what it started, signals it sent)."""
        self.write("onelazy", text.encode("utf-8"))

    def _keep_previous(self) -> None:
        """Earlier runs' logs (a resumed run follows an interrupted one) become launch.log.1 … .5."""
        if not self.path.exists():
            return
        for number in range(KEEP_LOGS - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{number}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{number + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def close(self) -> None:
        if self._handle.closed:
            return
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._keep_previous()
            os.replace(self.partial, self.path)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot write: {exc.strerror or exc}") from exc


class TrainingRun:
    """One run of OneTrainer; iterate it for events (the last one is :class:`Ended`).

    Made by :func:`onelazy.training.run_events` after preflight passed. Iterating starts the
    process; a later loop continues the same events. Use it as a context manager (or call
    :meth:`close`) so that an exception in the loop stops OneTrainer and its group.
    :meth:`interrupt` is Ctrl+C from code (first: save and stop; second: stop now).
    """

    def __init__(
        self,
        report: PreflightReport,
        *,
        run_dir: Path,
        allow_config_warnings: bool = False,
        handle_signals: bool = True,
    ) -> None:
        self.report = report
        self.command = report.command
        self.run_dir = run_dir
        self.log_path = RunFolder(run_dir).launch_log
        self.allow_config_warnings = allow_config_warnings
        self.handle_signals = handle_signals
        self.result: LaunchResult | None = None
        self._requests: list[str] = []
        self._console_interrupt = False
        self._sent_save = False
        self._sent_now = False
        self._config_stop: str | None = None
        self._events: Generator[Event, None, None] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ control

    def interrupt(self) -> None:
        """Like Ctrl+C: the first asks OneTrainer to save and stop, the next to stop now."""
        self._requests.append("now" if self._requests or self._sent_save else "save")

    def terminate(self) -> None:
        """Stop now (SIGTERM to the group), without the save."""
        self._requests.append("now")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            # On Windows OneTrainer shares the console, so a console Ctrl+C reached it already.
            self._console_interrupt = sys.platform == "win32"
            self.interrupt()
        else:
            self.terminate()

    # ------------------------------------------------------------------ running

    def __iter__(self) -> Iterator[Event]:
        # one run, one stream of events: a second loop continues where the first stopped
        if self._events is None:
            self._events = self._run()
        return self._events

    def close(self) -> None:
        """Stop the run (if it is going) and everything it started."""
        if self._events is not None:
            self._events.close()

    def __enter__(self) -> TrainingRun:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self) -> Generator[Event, None, None]:
        facts = self.report.facts
        install = self.report.install
        root = install.root
        workspace = resolve(facts.workspace_dir, root) if facts else None
        destination = resolve(facts.output_model_destination, root) if facts else None
        lock = WorkspaceLock(workspace) if workspace is not None else None
        if lock is not None:
            lock.acquire()
        log: LaunchLog | None = None
        restore: list[tuple[int, Any]] = []
        start = time.monotonic()
        parser = OutputParser(root=root, workspace_dir=workspace, output_model_destination=destination)
        try:
            log = LaunchLog(self.log_path)
            for check in self.report.warnings:
                log.note(f"warning {check.name}: {check.detail}")
                yield TrainingWarning(check.detail, "launcher")
            restore = self._install_handlers()
            process = self._spawn(root, log)
            yield Started(process.pid, self.command, self.log_path)
            yield Phase("loading")
            yield from self._watch(process, parser, log, start)
            status = process.wait()
            log.note(f"exit status {status}")
            yield from parser.finish()
            result = self._outcome(status, parser, start)
            if result.outcome == "failed":
                yield Failed(result.error or "failed", status, result.last_lines)
            self.result = result
            log.note(f"outcome {result.outcome}")
        finally:
            self._stop_group(log)
            for signum, previous in restore:
                signal.signal(signum, previous)
            try:
                if log is not None:
                    log.close()
            finally:
                if lock is not None:
                    lock.release()
        yield Ended(result)

    def _install_handlers(self) -> list[tuple[int, Any]]:
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return []
        restore: list[tuple[int, Any]] = []
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is None:
                continue
            restore.append((signum, signal.getsignal(signum)))
            signal.signal(signum, self._on_signal)
        return restore

    def _spawn(self, root: Path, log: LaunchLog) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        log.note("command " + " ".join(self.command))
        log.note(f"cwd {root}")
        kwargs: dict[str, Any] = {}
        if sys.platform != "win32":
            kwargs["start_new_session"] = True
            # A handler we installed is reset to default by exec; an inherited "ignore" is not,
            # and would make OneTrainer deaf to Ctrl+C: reset it in the child.
            if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
                kwargs["preexec_fn"] = _default_sigint
        try:
            process = subprocess.Popen(
                list(self.command),
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                **kwargs,
            )
        except OSError as exc:
            raise LaunchError(f"cannot start {self.command[0]}: {exc.strerror or exc}") from exc
        self._process = process
        log.note(f"pid {process.pid}")
        return process

    def _watch(
        self, process: subprocess.Popen[bytes], parser: OutputParser, log: LaunchLog, start: float
    ) -> Iterator[Event]:
        assert process.stdout is not None and process.stderr is not None
        pipes: dict[StreamName, IO[bytes]] = {"stdout": process.stdout, "stderr": process.stderr}
        reader: PipeReader = ThreadReader(pipes) if sys.platform == "win32" else SelectorReader(pipes)
        splitters: dict[StreamName, LineSplitter] = {"stdout": LineSplitter(), "stderr": LineSplitter()}
        exited_at: float | None = None
        try:
            while True:
                yield from self._act_on_requests(log, parser)
                log.tick()
                if reader.open:
                    for stream, data in reader.read(POLL_SECONDS):
                        splitter = splitters[stream]
                        if not data:
                            del splitters[stream]
                            yield from self._segments(stream, splitter.flush(), parser, log, start)
                        else:
                            yield from self._segments(stream, splitter.feed(data), parser, log, start)
                else:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=POLL_SECONDS)
                if process.poll() is not None:
                    now = time.monotonic()
                    exited_at = exited_at if exited_at is not None else now
                    # A grandchild (TensorBoard) may hold the pipes open: read briefly, then stop.
                    if not reader.open or now - exited_at > DRAIN_SECONDS:
                        break
            for stream, splitter in splitters.items():
                yield from self._segments(stream, splitter.flush(), parser, log, start)
        finally:
            reader.close()
            process.stdout.close()
            process.stderr.close()

    def _segments(
        self, stream: StreamName, segments: list[bytes], parser: OutputParser, log: LaunchLog, start: float
    ) -> Iterator[Event]:
        for segment in segments:
            log.write(stream, segment)
            text = strip_ansi(segment).decode("utf-8", errors="replace")
            if not text.strip():
                continue
            yield Output(stream, text)
            for event in parser.feed(stream, text, time.monotonic() - start):
                yield event
                if isinstance(event, TrainingWarning) and event.category == "config":
                    yield from self._stop_for_config(event, log)

    def _stop_for_config(self, warning: TrainingWarning, log: LaunchLog) -> Iterator[Event]:
        if self.allow_config_warnings or self._config_stop is not None:
            return
        self._config_stop = warning.message
        self._signal_group(signal.SIGTERM, log)
        self._sent_now = True
        yield Stopping(
            "config",
            f"Stopping: OneTrainer did not take a config value ({warning.message}) and would train with its "
            "default instead. Fix the config, or allow it to train anyway (`onelazy launch "
            "--allow-config-warnings`; in onelazy.yaml, train.allow_config_warnings: true).",
        )

    def _act_on_requests(self, log: LaunchLog, parser: OutputParser) -> Iterator[Event]:
        while self._requests:
            request = self._requests.pop(0)
            if request == "save" and not self._sent_save and not self._sent_now:
                self._sent_save = True
                self._signal_group(signal.SIGINT, log)
                yield Phase("stopping")
                yield Stopping("save", self._what_sigint_does(parser))
            elif not self._sent_now:
                self._sent_now = True
                self._signal_group(signal.SIGTERM, log)
                yield Stopping("now", NOW_MESSAGE)
            else:
                self._signal_group(getattr(signal, "SIGKILL", signal.SIGTERM), log)

    def _what_sigint_does(self, parser: OutputParser) -> str:
        """What OneTrainer does on SIGINT now. train.py catches the KeyboardInterrupt and calls
        end() only with backup_before_save; end() backs up and saves only once this process has
        finished an optimizer step, which is when the step bar first shows a loss."""
        facts = self.report.facts
        if facts is not None and not facts.backup_before_save:
            return NO_BACKUP_MESSAGE
        if parser.loss is None:
            return NOTHING_TRAINED_MESSAGE
        return SAVE_MESSAGE

    def _signal_group(self, signum: int, log: LaunchLog | None) -> None:
        process = self._process
        if process is None:
            return
        if log is not None:
            log.note(f"sending {signal.Signals(signum).name} to process group {process.pid}")
        if sys.platform == "win32":
            # No process groups to signal: Ctrl+C reaches OneTrainer through the shared console
            # (see _on_signal); anything else stops it.
            if signum != signal.SIGINT or not self._console_interrupt:
                with contextlib.suppress(OSError):
                    process.kill()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)

    def _stop_group(self, log: LaunchLog | None) -> None:
        """Leave nothing behind: the child (if still running) and everything in its group."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self._signal_group(signal.SIGTERM, log)
            try:
                process.wait(timeout=GROUP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal_group(getattr(signal, "SIGKILL", signal.SIGTERM), log)
                process.wait()
        if sys.platform == "win32" or not _group_alive(process.pid):
            return
        if log is not None:
            log.note("stopping what OneTrainer left running in its process group")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GROUP_GRACE_SECONDS
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

    # ------------------------------------------------------------------ outcome

    def _outcome(self, status: int, parser: OutputParser, start: float) -> LaunchResult:
        saved = tuple(SavedFile(s.path, s.kind, s.global_step, s.epoch, s.epoch_step) for s in parser.saved)
        final_saved = any(s.kind == "final" for s in saved)
        all_epochs = parser.epochs > 0 and parser.epoch >= parser.epochs
        outcome: Outcome
        error: str | None = None
        if self._config_stop is not None:
            outcome = "failed"
            error = f"stopped because OneTrainer did not take a config value: {self._config_stop}"
        elif self._sent_save or self._sent_now:
            outcome = "interrupted"
        elif status == 0 and final_saved and (all_epochs or parser.epochs == 0):
            outcome = "finished"
        elif status == 0 and final_saved:
            outcome = "interrupted"  # stopped from outside (e.g. a SIGINT sent to OneTrainer directly)
        elif status == 0:
            outcome = "failed"
            error = "OneTrainer exited without saving the final model"
        else:
            outcome = "failed"
            error = parser.error_line or _describe_status(status)
        if outcome == "failed" and error is not None and parser.error_line is None and status != 0:
            error = f"{error} ({_describe_status(status)})"
        warnings = tuple(w.message for w in parser.warnings)
        warnings += tuple(f"OneTrainer announced {p} but it is not on disk" for p in parser.missing)
        return LaunchResult(
            outcome=outcome,
            exit_status=status,
            command=self.command,
            log_path=self.log_path,
            epochs_done=parser.epoch,
            epochs=parser.epochs,
            global_step=parser.global_step,
            duration=time.monotonic() - start,
            saved=saved,
            error=error,
            last_lines=tuple(parser.last_lines) if outcome != "finished" else (),
            warnings=warnings,
        )


def _describe_status(status: int) -> str:
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"OneTrainer was killed by {name}"
    return f"OneTrainer exited with status {status}"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _group_has_live_member(pgid)


def _group_has_live_member(pgid: int) -> bool:
    """False when only zombies are left (reaped by their new parent in time, not by us)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def collect(run: TrainingRun, on_event: Callable[[Event], None] | None) -> LaunchResult:
    """Drive ``run`` to the end, handing each event to ``on_event``; the result."""
    with run:
        for event in run:
            if on_event is not None:
                on_event(event)
    assert run.result is not None
    return run.result


__all__ = ["LaunchLog", "TrainingRun", "collect"]
