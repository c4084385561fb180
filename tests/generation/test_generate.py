"""``generate()`` and ``onelazy generate`` end to end against the stand-ins: the dataset layout,
the manifest, resume after a crash at every step, several URLs, Ctrl+C and bad input."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from onelazy.cli import cli
from onelazy.errors import BackendRejected, DatasetError, ProjectFileError
from onelazy.generation import GenerateProgress, generate, load_generate_config
from tests.generation.conftest import FAST_RETRY
from tests.generation.standins import ComfyStandin, SwarmStandin

ROOT = Path(__file__).resolve().parents[2]

TWO_SETS = """\
generate:
  backend: {backend}
  urls: [{urls}]
  model: {model}
  seed: 1000
  captions: {captions}
  sets:
    - name: front
      prompt: photo of a faery, front view
      caption: a faery
      count: {front}
    - name: side
      prompt: photo of a faery, side view
      negative: blurry
      count: {side}
      steps: 30
"""


def write_config(
    tmp_path: Path,
    urls: list[str],
    *,
    backend: str = "comfyui",
    front: int = 4,
    side: int = 3,
    captions: str = "image",
    model: str = "tiny_sd15.safetensors",
) -> Path:
    path = tmp_path / "onelazy.yaml"
    path.write_text(
        TWO_SETS.format(
            backend=backend, urls=", ".join(urls), model=model, front=front, side=side, captions=captions
        )
    )
    return path


def manifest(dataset: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (dataset / "manifest.jsonl").read_text().splitlines()]


def assert_complete(dataset: Path, counts: dict[str, int], *, captions: bool = True) -> list[dict[str, Any]]:
    """Exactly one file, caption and manifest line per image; hashes match; no temporary files."""
    entries = manifest(dataset)
    keys = [(e["set"], e["index"]) for e in entries]
    assert len(keys) == len(set(keys)), "a duplicate manifest line"
    assert sorted(keys) == sorted((name, i) for name, count in counts.items() for i in range(count))
    for entry in entries:
        data = (dataset / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["file"] == f"{entry['set']}/{entry['index']:04d}.png"
    for name, count in counts.items():
        files = sorted(p.name for p in (dataset / name).iterdir())
        expected = [f"{i:04d}.png" for i in range(count)]
        if captions:
            expected += [f"{i:04d}.txt" for i in range(count)]
        assert files == sorted(expected), files
    return entries


def test_two_sets_make_images_captions_and_a_manifest(comfy: ComfyStandin, tmp_path: Path) -> None:
    config = write_config(tmp_path, [comfy.url])
    dataset = tmp_path / "dataset"
    updates: list[GenerateProgress] = []
    summary = generate(config, dataset, on_progress=updates.append, retry=FAST_RETRY)
    assert (summary.made, summary.skipped, summary.failures) == (7, 0, 0)
    entries = assert_complete(dataset, {"front": 4, "side": 3})
    front0 = next(e for e in entries if e["set"] == "front" and e["index"] == 0)
    assert (
        front0["seed"] == 1000
        and front0["caption"] == "a faery"
        and front0["prompt"] == "photo of a faery, front view"
    )
    assert (front0["model"], front0["width"], front0["height"], front0["backend"]) == (
        "tiny_sd15.safetensors",
        512,
        512,
        "comfyui",
    )
    side2 = next(e for e in entries if e["set"] == "side" and e["index"] == 2)
    assert (side2["seed"], side2["steps"], side2["negative"], side2["batch"]) == (1002, 30, "blurry", None)
    assert (dataset / "front" / "0003.txt").read_text() == "a faery\n"
    assert (dataset / "side" / "0000.txt").read_text() == "photo of a faery, side view\n"
    seeds = sorted(g["3"]["inputs"]["seed"] for g in comfy.graphs)
    assert seeds == [1000, 1000, 1001, 1001, 1002, 1002, 1003]
    assert updates[-1].done == updates[-1].total == 7 and updates[-1].per_minute > 0


def test_a_rerun_skips_everything_and_a_higher_count_adds_only_the_new_images(
    comfy: ComfyStandin, tmp_path: Path
) -> None:
    dataset = tmp_path / "dataset"
    generate(write_config(tmp_path, [comfy.url]), dataset, retry=FAST_RETRY)
    before = {p: p.stat().st_mtime_ns for p in dataset.rglob("*.png")}
    posted = len(comfy.graphs)
    again = generate(write_config(tmp_path, [comfy.url]), dataset, retry=FAST_RETRY)
    assert (again.made, again.skipped) == (0, 7) and len(comfy.graphs) == posted
    more = generate(write_config(tmp_path, [comfy.url]), dataset, overrides={"count": 6}, retry=FAST_RETRY)
    assert (more.made, more.skipped) == (5, 7)
    assert_complete(dataset, {"front": 6, "side": 6})
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in before.items())
    assert sorted(g["3"]["inputs"]["seed"] for g in comfy.graphs[posted:]) == [1003, 1004, 1004, 1005, 1005]


def test_a_missing_or_changed_image_is_made_again(comfy: ComfyStandin, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    config = write_config(tmp_path, [comfy.url])
    generate(config, dataset, retry=FAST_RETRY)
    original = (dataset / "front" / "0001.png").read_bytes()
    (dataset / "front" / "0001.png").write_bytes(b"edited")
    (dataset / "side" / "0002.png").unlink()
    summary = generate(config, dataset, retry=FAST_RETRY)
    assert (summary.made, summary.skipped) == (2, 5)
    assert_complete(dataset, {"front": 4, "side": 3})
    assert (dataset / "front" / "0001.png").read_bytes()[:100] == original[:100]


def test_per_set_prompt_files_instead_of_captions(comfy: ComfyStandin, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    generate(write_config(tmp_path, [comfy.url], captions="set", front=2, side=1), dataset, retry=FAST_RETRY)
    assert_complete(dataset, {"front": 2, "side": 1}, captions=False)
    assert (dataset / "front.prompt.txt").read_text() == "a faery\n"
    assert (dataset / "side.prompt.txt").read_text() == "photo of a faery, side view\n"


def test_batches_are_recorded(comfy: ComfyStandin, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    generate(
        write_config(tmp_path, [comfy.url], front=5, side=1),
        dataset,
        overrides={"batch": 2},
        retry=FAST_RETRY,
    )
    entries = {(e["set"], e["index"]): e for e in assert_complete(dataset, {"front": 5, "side": 1})}
    assert [(entries["front", i]["seed"], entries["front", i]["batch"]) for i in range(5)] == [
        (1000, {"size": 2, "index": 0}),
        (1000, {"size": 2, "index": 1}),
        (1002, {"size": 2, "index": 0}),
        (1002, {"size": 2, "index": 1}),
        (1004, {"size": 1, "index": 0}),
    ]


def test_two_urls_share_the_work(tmp_path: Path) -> None:
    with ComfyStandin(render_seconds=0.03) as first, ComfyStandin(render_seconds=0.03) as second:
        dataset = tmp_path / "dataset"
        summary = generate(
            write_config(tmp_path, [first.url, second.url], front=12, side=12), dataset, retry=FAST_RETRY
        )
        entries = assert_complete(dataset, {"front": 12, "side": 12})
        assert first.renders >= 6 and second.renders >= 6
        assert {e["url"] for e in entries} == {first.url, second.url}
        assert summary.per_backend == {first.url: first.renders, second.url: second.renders}


class DyingComfyStandin(ComfyStandin):
    """A ComfyUI that goes away in the middle of its fourth render, so at least one prompt it
    accepted is lost, however far behind the client's result thread runs on a loaded machine
    (stopping it from the progress callback could come after both servers had finished)."""

    def render(self, *args: Any, **kwargs: Any) -> bytes | None:
        if self.renders >= 3:
            with self.lock:
                self.generation += 1  # killed: the prompt it was rendering is forgotten, nothing more is sent
            self.stop()
            return None
        return super().render(*args, **kwargs)


def test_a_backend_that_dies_leaves_its_work_to_the_other(tmp_path: Path) -> None:
    with ComfyStandin(render_seconds=0.02) as healthy, DyingComfyStandin(render_seconds=0.02) as dying:
        dataset = tmp_path / "dataset"
        updates: list[GenerateProgress] = []
        generate(
            write_config(tmp_path, [healthy.url, dying.url], front=10, side=10),
            dataset,
            on_progress=updates.append,
            retry=FAST_RETRY,
        )
        assert dying.renders == 3
        assert_complete(dataset, {"front": 10, "side": 10})
        assert updates[-1].failures >= 1


def test_swarmui_backend_end_to_end(swarm: SwarmStandin, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    swarm.fail("http500", "invalid_session")
    generate(
        write_config(tmp_path, [swarm.url], backend="swarmui", model="SD15/tiny_sd15"),
        dataset,
        retry=FAST_RETRY,
    )
    entries = assert_complete(dataset, {"front": 4, "side": 3})
    assert {e["model"] for e in entries} == {"SD15/tiny_sd15.safetensors"}  # as SwarmUI lists it
    assert sorted(b["seed"] for b in swarm.generate_bodies) == [1000, 1000, 1001, 1001, 1002, 1002, 1003]


def test_transient_failures_are_retried_without_gaps(comfy: ComfyStandin, tmp_path: Path) -> None:
    comfy.fail("restart")
    dataset = tmp_path / "dataset"
    updates: list[Any] = []
    config = write_config(tmp_path, [comfy.url])
    summary = generate(config, dataset, retry=FAST_RETRY, on_progress=updates.append)
    assert summary.made == 7
    assert_complete(dataset, {"front": 4, "side": 3})
    assert comfy.generation == 1
    # the renders the restart lost were made again: said as it happened and in the summary
    why = f"{comfy.url}: queued again: the server forgot the job (it restarted)"
    assert sum(summary.retried.values()) >= 1 and set(summary.retried) == {why}
    told = [u.retry for u in updates if u.retry]
    assert len(told) == sum(summary.retried.values()) and all(why in line for line in told)
    assert updates[-1].retried == len(told)
    [note] = [line for line in summary.notes() if "again" in line]
    assert note == (
        f"Rendered {len(told)} image{'' if len(told) == 1 else 's'} again that the backend lost ({why}); "
        "they are in the dataset, none is missing."
    )


def test_a_dropped_swarmui_render_is_said_to_be_rendered_again(swarm: SwarmStandin, tmp_path: Path) -> None:
    swarm.fail("drop")
    args = ["--backend", "swarmui", "--url", swarm.url, "--model", "SD15/tiny_sd15", "--prompt", "a faery"]
    result = CliRunner().invoke(cli, ["generate", *args, "--count", "2", "-o", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    assert "was rendered again" in result.output and "asked again: " in result.output
    assert "Rendered 1 image again that the backend lost" in result.output


def test_a_refusal_stops_the_run_with_one_line(comfy: ComfyStandin, tmp_path: Path) -> None:
    with pytest.raises(BackendRejected, match=r"checkpoint 'tiny_sd16\.safetensors' not found"):
        generate(
            write_config(tmp_path, [comfy.url], model="tiny_sd16.safetensors"),
            tmp_path / "ds",
            retry=FAST_RETRY,
        )
    assert not list((tmp_path / "ds").rglob("*.png"))


def test_a_view_name_with_dotdot_is_refused_and_the_image_made_again(
    comfy: ComfyStandin, tmp_path: Path
) -> None:
    comfy.fail("view_traversal")
    summary = generate(
        write_config(tmp_path, [comfy.url], front=2, side=1), tmp_path / "ds", retry=FAST_RETRY
    )
    assert summary.failures == 1 and summary.made == 3
    assert_complete(tmp_path / "ds", {"front": 2, "side": 1})


@pytest.mark.parametrize(
    "point", ["after_caption", "image_temp", "after_image", "torn_manifest", "after_manifest"]
)
def test_resume_after_a_crash_at_every_step_of_the_write_sequence(
    comfy: ComfyStandin, tmp_path: Path, point: str
) -> None:
    config = write_config(tmp_path, [comfy.url], front=4, side=2)
    dataset = tmp_path / "dataset"
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.generation.crash_driver", str(config), str(dataset), point, "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == 9, crashed.stderr
    raw = (dataset / "manifest.jsonl").read_text() if (dataset / "manifest.jsonl").exists() else ""
    written = raw.count("\n")  # whole lines; a torn one has no newline
    summary = generate(config, dataset, retry=FAST_RETRY)
    assert_complete(dataset, {"front": 4, "side": 2})
    complete_before = 3 if point == "after_manifest" else 2
    assert summary.skipped == complete_before
    assert summary.made == 6 - complete_before
    assert written == complete_before


def test_ctrl_c_cancels_queued_work_and_a_rerun_completes(tmp_path: Path) -> None:
    with ComfyStandin(render_seconds=0.15) as server:
        config = write_config(tmp_path, [server.url], front=20, side=0 + 1)
        dataset = tmp_path / "dataset"
        process = subprocess.Popen(
            [sys.executable, "-m", "onelazy", "generate", str(config), "-o", str(dataset)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            path = dataset / "manifest.jsonl"
            if path.exists() and len(path.read_text().splitlines()) >= 3:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 130, stderr
        assert "Traceback" not in stderr
        time.sleep(0.2)
        assert server.queue == [] and server.running is None  # nothing left rendering for nobody
        renders = server.renders
        done = len(manifest(dataset))
        # how many this run made (all kept), and that a rerun continues
        assert stderr.strip().splitlines()[-1] == (
            f"Interrupted: {done} images made in this run and kept ({21 - done} still to make); "
            "rerun the same command to continue."
        )
        assert 3 <= done < 21
        summary = generate(config, dataset, retry=FAST_RETRY)
        assert summary.skipped == done and summary.made == 21 - done
        assert_complete(dataset, {"front": 20, "side": 1})
        assert server.renders - renders == 21 - done


def test_cli_one_set_from_flags(comfy: ComfyStandin, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            "--backend",
            "comfyui",
            "--url",
            comfy.url,
            "--model",
            "tiny_sd15.safetensors",
            "--prompt",
            "photo of a faery",
            "--caption",
            "a faery",
            "--count",
            "3",
            "--seed",
            "5",
            "--name",
            "faery",
            "-o",
            str(tmp_path / "ds"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Made 3 images (0 already there)" in result.output
    entries = assert_complete(tmp_path / "ds", {"faery": 3})
    assert sorted(e["seed"] for e in entries) == [5, 6, 7]


def test_cli_help_shows_a_two_set_example() -> None:
    result = CliRunner().invoke(cli, ["generate", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and result.output.count("- name:") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "comfyui", "--prompt", "x"], "without a CONFIG file, give --url, --model, --count"),
        (
            ["--backend", "comfyui", "--url", "ftp://x", "--model", "m", "--prompt", "p", "--count", "1"],
            "Error: --url: 'ftp://x' is not a backend URL",
        ),
        (
            [
                "--backend",
                "comfyui",
                "--url",
                "http://127.0.0.1:1",
                "--model",
                "m",
                "--prompt",
                "p",
                "--count",
                "1",
                "--name",
                "../up",
            ],
            "Error: --name: use letters, digits, '.', '_' and '-' (at most 64, starting with a letter "
            "or digit) (got '../up')",
        ),
        (
            [
                "--backend",
                "comfyui",
                "--url",
                "http://127.0.0.1:1",
                "--model",
                "m",
                "--prompt",
                "p",
                "--count",
                "1",
                "--width",
                "500",
            ],
            "Error: --width: Input should be a multiple of 8 (got 500)",
        ),
    ],
)
def test_cli_bad_flags_are_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate", *args, "-o", str(tmp_path / "ds")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("count: 4", "count: 0"),
            r"onelazy.yaml:11:14: generate.sets.0.count: Input should be greater than or equal to 1",
        ),
        (("steps: 30", "stepz: 30"), r"onelazy.yaml:16:7: generate.sets.1.stepz: unknown key"),
        (
            ("backend: comfyui", "backend: automatic1111"),
            r"onelazy.yaml:2:12: generate.backend: Input should be "
            r"'swarmui' or 'comfyui' \(got 'automatic1111'\)",
        ),
        (
            ("name: side", "name: front"),
            r"onelazy.yaml:8:5: generate.sets: set names must be unique \(ignoring case\): front",
        ),
        (("  seed: 1000", "  seed: [1000"), r"onelazy.yaml:\d+:\d+: not valid YAML"),
        (("generate:", "generation:"), r"onelazy.yaml: has no 'generate:' section"),
    ],
)
def test_yaml_errors_name_file_line_and_column(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = write_config(tmp_path, ["http://127.0.0.1:8188"])
    path.write_text(path.read_text().replace(*edit, 1))
    with pytest.raises(ProjectFileError, match=message):
        load_generate_config(path)
    result = CliRunner().invoke(cli, ["generate", str(path)])
    assert (
        result.exit_code == 2 and result.output.startswith("Error: ") and len(result.output.splitlines()) == 1
    )


def test_backends_check_lists_what_the_server_has(comfy: ComfyStandin, swarm: SwarmStandin) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["backends", "check", comfy.url])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"{comfy.url}: ComfyUI 0.8.0, ready on cpu"
    assert "models (2): tiny_sd15.safetensors, sub/juggernaut_xl.safetensors" in result.output
    # the files the newer families' recipes name, from their own folders
    listed = {line.split(" (")[0]: line.split(": ", 1)[1] for line in result.output.splitlines()[1:]}
    assert listed["diffusion models"] == ", ".join(comfy.diffusion_models)
    assert listed["text encoders"] == ", ".join(comfy.text_encoders)
    assert listed["VAEs"] == ", ".join(comfy.vaes)
    # an older ComfyUI without a folder (text_encoders was called clip): the rest is still listed
    with pytest.MonkeyPatch.context() as older:
        files = comfy.model_files()
        del files["text_encoders"]
        older.setattr(comfy, "model_files", lambda: files)
        result = runner.invoke(cli, ["backends", "check", comfy.url])
    assert result.exit_code == 0 and "text encoders" not in result.output and "VAEs (3)" in result.output
    result = runner.invoke(cli, ["backends", "check", swarm.url, "--backend", "swarmui"])
    assert (
        result.exit_code == 0
        and "SwarmUI" in result.output
        and "schedulers (3): normal, karras, simple" in result.output
    )
    wrong = runner.invoke(cli, ["backends", "check", swarm.url, "--kind", "comfyui"])
    assert wrong.exit_code == 1 and "not a ComfyUI server" in wrong.output
    swarm.stop()
    down = runner.invoke(cli, ["backends", "check", swarm.url])
    assert down.exit_code == 1
    assert (
        down.output.strip()
        == f"Error: {swarm.url}: server not usable after 2 attempts: connection refused or host not found"
    )


def test_no_files_written_outside_the_dataset(comfy: ComfyStandin, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    generate(write_config(tmp_path, [comfy.url], front=1, side=1), dataset, retry=FAST_RETRY)
    outside = {p for p in tmp_path.rglob("*") if dataset not in p.parents and p != dataset}
    assert outside == {tmp_path / "onelazy.yaml"}
    assert not os.listdir(tmp_path / "dataset" / "front")[0].startswith(".")


def test_a_culled_image_whose_line_follows_it_is_not_made_again(comfy: ComfyStandin, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    config = write_config(tmp_path, [comfy.url], front=3, side=1)
    generate(config, dataset, retry=FAST_RETRY)
    # what cull does: move the file under .rejected/ and point its manifest line there
    moved = dataset / ".rejected" / "blurry" / "front" / "0001.png"
    moved.parent.mkdir(parents=True)
    (dataset / "front" / "0001.png").rename(moved)
    lines = []
    for entry in manifest(dataset):
        if entry["file"] == "front/0001.png":
            entry.update(
                file=".rejected/blurry/front/0001.png", original_file="front/0001.png", rejected="blurry"
            )
        lines.append(json.dumps(entry) + "\n")
    # and a line pointing outside the dataset (at a copy with the same hash): not trusted, made again
    outside = tmp_path / "outside.png"
    (dataset / "side" / "0000.png").rename(outside)
    lines = [line.replace('"side/0000.png"', json.dumps(str(outside))) for line in lines]
    (dataset / "manifest.jsonl").write_text("".join(lines))
    summary = generate(config, dataset, retry=FAST_RETRY)
    assert (summary.made, summary.skipped) == (1, 3)
    assert not (dataset / "front" / "0001.png").exists()
    assert [e["file"] for e in manifest(dataset) if e["set"] == "side"] == ["side/0000.png"]


def test_a_wrong_url_fails_fast_with_one_line(tmp_path: Path) -> None:
    server = ComfyStandin().start()
    url = server.url
    server.stop()
    result = CliRunner().invoke(
        cli, ["generate", str(write_config(tmp_path, [url])), "-o", str(tmp_path / "ds")]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {url}: ComfyUI not usable after 2 attempts: connection refused or host not found"
    )  # 2 quick attempts, not the run's patient 8: the count, not a clock, proves it fails fast


def test_two_runs_on_one_dataset_are_refused(comfy: ComfyStandin, tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl", reason="advisory locks are POSIX-only")
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    with (dataset / ".generate.lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242")
        held.flush()
        with pytest.raises(
            DatasetError, match=r"another onelazy generate \(pid 4242\) is writing to this dataset"
        ):
            generate(write_config(tmp_path, [comfy.url]), dataset, retry=FAST_RETRY)
    assert comfy.graphs == []
    assert generate(write_config(tmp_path, [comfy.url], front=1, side=1), dataset, retry=FAST_RETRY).made == 2


def test_images_made_with_other_settings_are_kept_and_counted(comfy: ComfyStandin, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    config = write_config(tmp_path, [comfy.url])
    generate(config, dataset, retry=FAST_RETRY)
    assert generate(config, dataset, retry=FAST_RETRY).stale == 0
    config.write_text(config.read_text().replace("front view", "back view").replace("seed: 1000", "seed: 1"))
    result = CliRunner().invoke(cli, ["generate", str(config), "-o", str(dataset)])
    assert result.exit_code == 0, result.output
    assert "Made 0 images (7 already there)" in result.output
    assert "Note: 7 of the images already there were made with other settings" in result.output


@pytest.mark.parametrize(
    ("backend", "flags", "message"),
    [
        (
            "comfyui",
            ["--model", "tiny_sd16.safetensors"],
            r"checkpoint 'tiny_sd16\.safetensors' not found; did you mean: tiny_sd15\.safetensors",
        ),
        (
            "comfyui",
            ["--model", "tiny_sd15.safetensors", "--sampler", "eulr"],
            r"sampler 'eulr' is not one this server accepts; allowed: ",
        ),
        ("swarmui", ["--model", "juggernaut"], r"'juggernaut' is not an exact name .* did you mean: "),
        (
            "swarmui",
            ["--model", "SD15/tiny_sd15", "--scheduler", "karas"],
            r"scheduler 'karas' is not one this server accepts",
        ),
    ],
)
def test_a_misspelled_name_is_the_persons_input_exit_2(
    backend: str, flags: list[str], message: str, comfy: ComfyStandin, swarm: SwarmStandin, tmp_path: Path
) -> None:
    """A name the server lacks is fixed by fixing the command, so it exits 2 like other bad input."""
    url = comfy.url if backend == "comfyui" else swarm.url
    args = ["generate", "--backend", backend, "--url", url, "--prompt", "a faery", "--count", "1", *flags]
    result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "ds")])
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()[-1:]
    assert line.startswith(f"Error: {url}: ")
    assert re.search(message, line), line
    assert not list((tmp_path / "ds").rglob("*.png"))
