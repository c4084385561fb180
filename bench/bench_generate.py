"""Benchmark ``onelazy generate`` against the capacity of the backends and a plain loop.

    python bench/bench_generate.py                 # 0.05 s per image, 100 images per backend
    python bench/bench_generate.py --render 0.1 --per-backend 40

The backend is the ComfyUI stand-in from the tests with ComfyUI's shape: one render slot, a fixed
render time per image. The stand-ins run in their own process (as a real server does, so client and
server do not share one interpreter lock). Three measurements per backend count, each against
fresh stand-ins, in the same run:

* capacity: every prompt queued at once, timed until the last one is in history: the most the
  stand-ins can deliver, their own overhead included (the nominal 1 / render time is printed too);

* onelazy: ``generate()`` with the default requests in flight per URL; timed from the call to the
  last image written (and, in the last column, to the call's return, with setup and teardown);
* plain loop: POST /prompt, poll /history every 10 ms until done, GET /view, write the file, next
  image; with several URLs it takes them in turn, as a simple script would.

Ratios are images per second divided by the measured capacity.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the stand-in servers live with the tests

from onelazy.backends import GenerationRequest, RetryPolicy  # noqa: E402
from onelazy.backends.comfyui import build_graph  # noqa: E402
from onelazy.generation import GenerateConfig, GenerateProgress, generate  # noqa: E402

MODEL = "tiny_sd15.safetensors"


def run_onelazy(urls: list[str], count: int, dataset: Path) -> tuple[float, float]:
    """(seconds to the last image written, seconds for the whole call)."""
    config = GenerateConfig.model_validate(
        {
            "backend": "comfyui",
            "urls": urls,
            "model": MODEL,
            "seed": 1,
            "sets": [{"name": "bench", "prompt": "photo of a faery", "count": count}],
        }
    )
    last: list[float] = []

    def progress(state: GenerateProgress) -> None:
        if state.total and state.done == state.total:
            last.append(time.perf_counter())

    started = time.perf_counter()
    generate(config, dataset, on_progress=progress, retry=RetryPolicy(attempts=3, first_delay=0.05))
    ended = time.perf_counter()
    return last[0] - started, ended - started


def run_plain_loop(urls: list[str], count: int, dataset: Path) -> float:
    """A request-wait-download loop: one image at a time."""
    dataset.mkdir(parents=True, exist_ok=True)
    request = GenerationRequest(prompt="photo of a faery", model=MODEL, seed=1)
    clients = [httpx.Client(base_url=url) for url in urls]
    started = time.perf_counter()
    for index in range(count):
        client = clients[index % len(clients)]
        prompt_id = uuid.uuid4().hex
        graph = build_graph(
            request,
            seed=1 + index,
            filename_prefix=f"plain/{prompt_id[:16]}",
            sampler="euler",
            scheduler="normal",
        )
        client.post("/api/prompt", json={"prompt": graph, "prompt_id": prompt_id}).raise_for_status()
        while True:
            entry = client.get(f"/api/history/{prompt_id}").json().get(prompt_id)
            if entry:
                break
            time.sleep(0.01)
        ref = entry["outputs"]["9"]["images"][0]
        data = client.get("/api/view", params=ref).content
        (dataset / f"{index:04d}.png").write_bytes(data)
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return elapsed


def run_saturated(urls: list[str], count: int) -> float:
    """Seconds for the stand-ins to render ``count`` images with their queues never empty."""
    request = GenerationRequest(prompt="photo of a faery", model=MODEL, seed=1)
    clients = [httpx.Client(base_url=url) for url in urls]
    last: dict[int, str] = {}
    started = time.perf_counter()
    for index in range(count):
        number = index % len(clients)
        prompt_id = uuid.uuid4().hex
        graph = build_graph(
            request,
            seed=1 + index,
            filename_prefix=f"sat/{prompt_id[:16]}",
            sampler="euler",
            scheduler="normal",
        )
        clients[number].post("/api/prompt", json={"prompt": graph, "prompt_id": prompt_id}).raise_for_status()
        last[number] = prompt_id
    for number, prompt_id in last.items():
        while not clients[number].get(f"/api/history/{prompt_id}").json():
            time.sleep(0.002)
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return elapsed


class StandinProcess:
    """``number`` ComfyUI stand-ins served by a child process; stopped when stdin closes."""

    def __init__(self, number: int, render: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(number), "--render", str(render)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        self.urls: list[str] = json.loads(self.process.stdout.readline())

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


def serve(number: int, render: float) -> None:
    from tests.generation.standins import ComfyStandin

    servers = [ComfyStandin(render_seconds=render).start() for _ in range(number)]
    print(json.dumps([server.url for server in servers]), flush=True)
    sys.stdin.read()
    for server in servers:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--render", type=float, default=0.05, help="render seconds per image (default 0.05)")
    parser.add_argument("--per-backend", type=int, default=100, help="images per backend (default 100)")
    parser.add_argument(
        "--backends", type=int, nargs="+", default=[1, 3], help="backend counts (default 1 3)"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.render)
        return

    rows = []
    work = Path(tempfile.mkdtemp(prefix="onelazy-bench-"))
    try:
        for number in args.backends:
            count = args.per_backend * number
            timings = []
            for run in (run_saturated, run_onelazy, run_plain_loop):
                servers = StandinProcess(number, args.render)
                try:
                    if run is run_saturated:
                        timings.append(run_saturated(servers.urls, count))
                    elif run is run_onelazy:
                        to_last, whole = run_onelazy(servers.urls, count, work / f"onelazy-{number}")
                        made = len(list((work / f"onelazy-{number}" / "bench").glob("*.png")))
                        assert made == count, made
                        timings += [to_last, whole]
                    else:
                        timings.append(run_plain_loop(servers.urls, count, work / f"plain-{number}"))
                finally:
                    servers.stop()
            saturated, to_last, whole, plain = timings
            rows.append(
                (
                    number,
                    count,
                    number / args.render,
                    count / saturated,
                    count / to_last,
                    count / whole,
                    count / plain,
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"ComfyUI stand-in: 1 render slot, {args.render:.3f} s per image; "
        "ratio = images/s / measured capacity"
    )
    header = (
        "backends",
        "images",
        "nominal/s",
        "capacity/s",
        "onelazy/s",
        "ratio",
        "plain loop/s",
        "ratio",
        "onelazy incl. setup/s",
        "ratio",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for number, count, nominal, capacity, onelazy, onelazy_whole, plain in rows:
        print(
            " | ".join(
                [
                    str(number),
                    str(count),
                    f"{nominal:.1f}",
                    f"{capacity:.2f}",
                    f"{onelazy:.2f}",
                    f"{onelazy / capacity:.3f}",
                    f"{plain:.2f}",
                    f"{plain / capacity:.3f}",
                    f"{onelazy_whole:.2f}",
                    f"{onelazy_whole / capacity:.3f}",
                ]
            )
        )


if __name__ == "__main__":
    main()
