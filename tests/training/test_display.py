"""What the person sees: rich bars on a terminal, the summary, the dry-run printout."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from onelazy.training.display import RichDisplay, summary_lines
from onelazy.training.events import Ended, Saved, Started, Stopping, TrainingWarning
from onelazy.training.result import LaunchResult, SavedFile


def run_in_terminal(args: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run ``args`` with a pseudo-terminal as stdout and stderr; its exit code and output."""
    master, slave = pty.openpty()
    process = subprocess.Popen(args, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal closed
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(master)
    return process.wait(timeout=10), b"".join(chunks).decode("utf-8", errors="replace")


def test_terminal_shows_bars_with_loss_and_time(
    fake_onetrainer: Callable[..., Path], train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer()
    config = train_config()
    code, output = run_in_terminal(
        [sys.executable, "-m", "onelazy", "launch", str(config), "--onetrainer", str(root)]
    )
    assert code == 0, output
    plain = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", output)
    assert "\x1b[" in output  # drawn as a terminal display, not plain lines
    assert re.search(r"epoch\s.*2/2", plain)
    assert re.search(r"step\s.*4/4.*loss 0\.99 \(smooth 1\.13\)", plain)
    assert re.search(r"\d:\d\d:\d\d", plain)  # elapsed / remaining columns
    assert "Saved final model:" in plain
    assert "Finished: epoch 2/2, step 8" in plain


def test_summary_of_an_interrupted_run_names_what_was_saved(tmp_path: Path) -> None:
    result = LaunchResult(
        outcome="interrupted",
        exit_status=0,
        command=("python", "scripts/train.py"),
        log_path=tmp_path / "launch.log",
        epochs_done=3,
        epochs=50,
        global_step=12,
        duration=75.0,
        saved=(
            SavedFile(tmp_path / "backup-12-3-0", "backup", 12, 3, 0),
            SavedFile(tmp_path / "faery.safetensors", "final", 12, 3, 0),
        ),
    )
    lines = summary_lines(result)
    assert lines[0] == "Interrupted at epoch 3/50, step 12 after 1:15."
    assert f"  final  {tmp_path / 'faery.safetensors'}  (step 12, epoch 3)" in lines
    assert lines[-1] == f"Log: {tmp_path / 'launch.log'}"


def test_summary_of_a_failure_shows_the_error_and_the_last_lines(tmp_path: Path) -> None:
    result = LaunchResult(
        outcome="failed",
        exit_status=1,
        command=("python",),
        log_path=tmp_path / "launch.log",
        epochs_done=0,
        epochs=2,
        global_step=0,
        duration=3.0,
        error="RuntimeError: Training loss became NaN.",
        last_lines=("Traceback (most recent call last):", "RuntimeError: Training loss became NaN."),
    )
    lines = summary_lines(result)
    assert (
        lines[0]
        == "Failed (exit status 1, epoch 0/2, step 0) after 0:03: RuntimeError: Training loss became NaN."
    )
    assert "Nothing was saved." in lines
    assert "  | Traceback (most recent call last):" in lines


def test_quiet_prints_only_the_summary(
    fake_onetrainer: Callable[..., Path], train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer()
    config = train_config()
    done = subprocess.run(
        [sys.executable, "-m", "onelazy", "launch", str(config), "--onetrainer", str(root), "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == "Finished: epoch 2/2, step 8 in 0:00." or lines[0].startswith("Finished: epoch 2/2")
    assert lines[1] == "Files written:" and len(lines) == 2 + 4 + 1
    assert done.stderr == ""


def test_terminal_display_shows_brackets_in_paths_and_messages_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "[draft]"
    final = folder / "faery.safetensors"
    sampling = "Error during sampling: cannot open [/samples/a.png]"
    result = LaunchResult(
        outcome="finished",
        exit_status=0,
        command=("python",),
        log_path=folder / "launch.log",
        epochs_done=2,
        epochs=2,
        global_step=8,
        duration=3.0,
        saved=(SavedFile(final, "final", 8, 2, 0),),
    )
    display = RichDisplay()
    display(Started(1234, ("python",), folder / "launch.log"))
    display(Saved(final, "final", 8, 2, 0))
    display(TrainingWarning(sampling, "other"))
    display(Stopping("config", "Stopping: [/x] was not taken"))
    display(Ended(result))
    display.close()
    shown = capsys.readouterr().out
    assert f"{folder / 'launch.log'}.part" in shown
    assert f"Saved final model: {final} (step 8, epoch 2)" in shown
    assert f"OneTrainer: {sampling}" in shown
    assert "Stopping: [/x] was not taken" in shown
