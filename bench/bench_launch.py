"""How much CPU does the launcher itself use while OneTrainer trains?

A stand-in OneTrainer replays what the real one printed (both streams, tqdm redraws included) at
the real run's rate: about 70 ms per step, as recorded on CPU, which is faster than a GPU run of a
real model prints. The launcher (``run_events``, in this process) reads, splits, logs and parses
it; its CPU time is this process's own (``time.process_time``, all its threads, so rich's refresh
thread too), the child's is not counted. The rich display (epoch and step bars) draws on a
pseudo-terminal whose other side a ``cat`` child reads and discards, as a terminal would.
Baseline, measured in the same run: ``cat`` reading the same output (stdout and stderr merged)
into /dev/null. Target: the launcher under 2 % of one core.

    python bench/bench_launch.py            # ~1 minute
    python bench/bench_launch.py --epochs 5 # shorter
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import json
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.training.standin import make_config, make_onetrainer  # noqa: E402

from onelazy.training import Event, run_events  # noqa: E402
from onelazy.training.display import JsonDisplay, PlainDisplay, RichDisplay  # noqa: E402

SHARED = Path(os.environ.get("ONELAZY_SHARED_DIR", ROOT.parent / "shared")) / "onetrainer"
# real per-step and caching timing from the recorded runs; a shorter import pause so the
# measurement is dominated by training output
TIMING = {"import_seconds": 1.0, "setup_line_seconds": 0.05}


def baseline_cat(onetrainer: Path, config: Path) -> tuple[float, float, int]:
    """Wall time and cat's CPU seconds for the stand-in's output piped through cat (no events: 0)."""
    python = onetrainer / "venv" / "bin" / "python"
    script = onetrainer / "scripts" / "train.py"
    with open(os.devnull, "wb") as sink:
        start = time.monotonic()
        trainer = subprocess.Popen(
            [str(python), str(script), "--config-path", str(config)],
            cwd=onetrainer,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert trainer.stdout is not None
        cat = subprocess.Popen(["cat"], stdin=trainer.stdout, stdout=sink)
        trainer.stdout.close()
        trainer.wait()
        _, _, usage = os.wait4(cat.pid, 0)
        wall = time.monotonic() - start
    return wall, usage.ru_utime + usage.ru_stime, 0


@contextlib.contextmanager
def on_terminal(columns: int = 120, rows: int = 40) -> Iterator[None]:
    """``sys.stdout`` is a pseudo-terminal of that size for the block; a ``cat`` child drains it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    drain = subprocess.Popen(["cat"], stdin=master, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(master)
    terminal = open(slave, "w", encoding="utf-8")  # noqa: SIM115 - closed below, after the block
    environ = {key: os.environ.get(key) for key in ("TERM", "COLUMNS", "LINES")}
    os.environ.update(TERM="xterm-256color", COLUMNS=str(columns), LINES=str(rows))
    try:
        with contextlib.redirect_stdout(terminal):
            yield
    finally:
        terminal.close()
        drain.wait()
        for key, value in environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def rich_launcher(onetrainer: Path, config: Path) -> tuple[float, float, int]:
    """``launcher`` with the rich display drawing on a terminal (as ``auto`` does there)."""
    with on_terminal():
        display = RichDisplay()
        assert display.console.is_terminal, "rich does not see a terminal"
        try:
            return launcher(onetrainer, config, display)
        finally:
            display.close()


def rich_idle(seconds: float = 5.0) -> tuple[float, float, int]:
    """The rich display on a terminal with no events: what its periodic refresh alone costs."""
    with on_terminal():
        display = RichDisplay()
        try:
            cpu_start = time.process_time()
            start = time.monotonic()
            time.sleep(seconds)
            wall = time.monotonic() - start
            cpu = time.process_time() - cpu_start
        finally:
            display.close()
    return wall, cpu, 0


def launcher(
    onetrainer: Path, config: Path, consumer: Callable[[Event], None] | None
) -> tuple[float, float, int]:
    """Wall time, the launcher's CPU seconds and the events it produced."""
    run = run_events(config, onetrainer=onetrainer, handle_signals=False)
    count = 0
    cpu_start = time.process_time()
    start = time.monotonic()
    for event in run:
        count += 1
        if consumer is not None:
            consumer(event)
    wall = time.monotonic() - start
    cpu = time.process_time() - cpu_start
    assert run.result is not None and run.result.outcome == "finished", run.result
    return wall, cpu, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs of 4 steps each (default 30)")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiply the recorded timing (0.1 = 10x faster output)"
    )
    args = parser.parse_args()
    if not SHARED.exists():
        sys.exit(f"{SHARED} is missing: the recorded OneTrainer runs are needed for the stand-in")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        onetrainer = make_onetrainer(base / "OneTrainer", SHARED, time_scale=args.time_scale, timing=TIMING)
        consumers: list[tuple[str, Callable[[Event], None] | None]] = [
            ("launcher, events only", None),
            ("launcher + plain lines", PlainDisplay(io.StringIO(), io.StringIO())),
            ("launcher + --json", JsonDisplay(io.StringIO())),
        ]
        rows: list[tuple[str, float, float, int]] = []
        config = make_config(base / "cat", SHARED, epochs=args.epochs, save_every=20)
        wall, cpu, _ = baseline_cat(onetrainer, config)
        rows.append(("cat (baseline)", wall, cpu, 0))
        for index, (name, consumer) in enumerate(consumers):
            config = make_config(base / f"run{index}", SHARED, epochs=args.epochs, save_every=20)
            wall, cpu, events = launcher(onetrainer, config, consumer)
            rows.append((name, wall, cpu, events))
        config = make_config(base / "rich", SHARED, epochs=args.epochs, save_every=20)
        wall, cpu, events = rich_launcher(onetrainer, config)
        rows.append(("launcher + rich bars (terminal)", wall, cpu, events))
        rows.append(("rich bars alone, idle (refresh only)", *rich_idle()))
        log_bytes = (base / "run0" / "run" / "launch.log").stat().st_size
    baseline = rows[0][2]
    step_ms = 70 * args.time_scale
    print(f"stand-in: {args.epochs} epochs x 4 steps, ~{step_ms:g} ms/step (recorded: 70); log {log_bytes} B")
    print()
    print("| reader | wall s | CPU s | % of one core | events | CPU vs cat |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, wall, cpu, events in rows:
        ratio = f"{cpu / baseline:.1f}x" if baseline > 0 else "n/a"
        print(f"| {name} | {wall:.1f} | {cpu:.3f} | {100 * cpu / wall:.2f} % | {events} | {ratio} |")
    worst = max(100 * cpu / wall for name, wall, cpu, _ in rows[1:] if name.startswith("launcher"))
    print()
    print(f"launcher worst case: {worst:.2f} % of one core (target < 2 %)")
    print(json.dumps({"launcher_worst_percent_of_core": round(worst, 3)}))


if __name__ == "__main__":
    main()
