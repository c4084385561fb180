"""Cold start of ``onelazy --help`` against a bare ``python -c pass``, several runs each.

Each command runs in a fresh interpreter, so the figure includes Python's own start-up; the
ratio against the bare interpreter measured in the same run shows what onelazy adds. The target
is ``onelazy --help`` under 0.3 s. The import of the config models (pydantic) is shown for
comparison: it is what ``onelazy check`` pays and ``--help`` must not.

    python bench/bench_cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

TARGET_SECONDS = 0.3


def _onelazy() -> list[str]:
    script = shutil.which("onelazy")
    return [script] if script else [sys.executable, "-m", "onelazy"]


def _time(command: list[str], runs: int) -> list[float]:
    subprocess.run(command, capture_output=True, check=True)  # warm the file cache once
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    args = parser.parse_args()

    python = sys.executable
    cases = [
        ("python -c pass (baseline)", [python, "-c", "pass"]),
        ("onelazy --help", [*_onelazy(), "--help"]),
        ("onelazy check --help", [*_onelazy(), "check", "--help"]),
        ("import onelazy.onetrainer", [python, "-c", "import onelazy.onetrainer"]),
        ("import onelazy.onetrainer.models", [python, "-c", "import onelazy.onetrainer.models"]),
    ]
    results = [(name, _time(command, args.runs)) for name, command in cases]
    baseline = statistics.median(results[0][1])

    print(f"{args.runs} runs each, seconds (median / min / max), ratio = median / baseline median")
    print(f"{'command':<36} {'median':>8} {'min':>8} {'max':>8} {'ratio':>7}")
    for name, times in results:
        median = statistics.median(times)
        print(f"{name:<36} {median:8.3f} {min(times):8.3f} {max(times):8.3f} {median / baseline:6.1f}x")
    help_median = statistics.median(results[1][1])
    verdict = "meets" if help_median < TARGET_SECONDS else "MISSES"
    print(f"\nonelazy --help: {help_median:.3f} s median, {verdict} the {TARGET_SECONDS} s target")
    return 0 if help_median < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
