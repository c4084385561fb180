"""``onelazy launch`` against the stand-in OneTrainer: outcomes, signals, saves, no orphans."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from onelazy.errors import ConfigError, DatasetError, OneTrainerVersionMismatch, UsageError, WorkspaceLocked
from onelazy.training import (
    Event,
    Output,
    Phase,
    Progress,
    Saved,
    Started,
    Stopping,
    TrainingWarning,
    check_launch,
    launch,
    run_events,
)
from onelazy.training.preflight import WorkspaceLock

Tree = Callable[..., Path]


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def tensorboard_pid(config: Path) -> int:
    """The pid the stand-in's TensorBoard wrote (waiting for it to have started)."""
    pid_file = Path(json.loads(config.read_text())["workspace_dir"]) / "tensorboard.pid"
    deadline = time.monotonic() + 10
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "TensorBoard stand-in did not start"
        time.sleep(0.02)
    return int(pid_file.read_text())


class Cli:
    """``onelazy launch --json`` in a child process, its events read line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "onelazy", "launch", "--json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.events: list[dict[str, Any]] = []

    def until(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            event = json.loads(line)
            self.events.append(event)
            if predicate(event):
                return event
        raise AssertionError(f"launcher ended before the expected event; events: {self.events[-5:]}")

    def finish(self) -> tuple[int, dict[str, Any], str]:
        out, err = self.process.communicate(timeout=30)
        self.events.extend(json.loads(line) for line in out.splitlines())
        return self.process.returncode, self.events[-1], err


def kinds(events: list[Event]) -> Iterator[str]:
    return (type(e).__name__ for e in events)


# --------------------------------------------------------------------------- finished


def test_finished_run_reports_every_file(fake_onetrainer: Tree, train_config: Callable[..., Path]) -> None:
    root = fake_onetrainer()
    config = train_config()
    events: list[Event] = []
    result = launch(config, onetrainer=root, on_event=events.append)

    assert result.outcome == "finished" and result.exit_code == 0 and result.exit_status == 0
    assert (result.epochs_done, result.epochs, result.global_step) == (2, 2, 8)
    positions = [(s.kind, s.global_step, s.epoch, s.epoch_step) for s in result.saved]
    assert positions == [("save", 2, 0, 2), ("save", 5, 1, 1), ("backup", 8, 2, 0), ("final", 8, 2, 0)]
    assert all(s.path.exists() for s in result.saved)
    assert result.final_model == Path(json.loads(config.read_text())["output_model_destination"])
    assert isinstance(events[0], Started) and events[0].command[2:] == ("--config-path", str(config))
    phases = [e.name for e in events if isinstance(e, Phase)]
    assert phases[:4] == ["loading", "caching", "training", "saving"]
    steps = [e.global_step for e in events if isinstance(e, Progress)]
    assert steps == sorted(steps) and steps[-1] == 8
    assert [e.kind for e in events if isinstance(e, Saved)] == ["save", "save", "backup", "final"]
    log = result.log_path.read_text(encoding="utf-8")
    assert result.log_path == config.parent / "launch.log"
    assert "stderr step: 100%|" in log and "stdout Saving " in log
    assert log.splitlines()[0].startswith("20") and " onelazy command " in log.splitlines()[0]
    assert not (config.parent / "launch.log.part").exists()


def test_cli_plain_output_when_not_a_terminal(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer()
    config = train_config()
    done = subprocess.run(
        [sys.executable, "-m", "onelazy", "launch", str(config), "--onetrainer", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout
    assert "Finished: epoch 2/2, step 8" in done.stdout
    assert "Saved final model:" in done.stdout
    assert (
        f"  final  {json.loads(config.read_text())['output_model_destination']}  (step 8, epoch 2)"
        in done.stdout
    )


# --------------------------------------------------------------------------- Ctrl+C


def test_ctrl_c_once_saves_and_exits_130(fake_onetrainer: Tree, train_config: Callable[..., Path]) -> None:
    root = fake_onetrainer(time_scale=0.05)
    config = train_config(recorded="interrupted", epochs=1000, tensorboard=True)
    cli = Cli(str(config), "--onetrainer", str(root))
    cli.until(lambda e: e["event"] == "progress" and e["global_step"] >= 5)
    tensorboard = tensorboard_pid(config)
    cli.process.send_signal(signal.SIGINT)
    code, ended, _ = cli.finish()

    assert code == 130
    assert ended["event"] == "ended" and ended["outcome"] == "interrupted"
    stops = [e for e in cli.events if e["event"] == "stopping"]
    assert [s["reason"] for s in stops] == ["save"] and "wait" in stops[0]["message"]
    saved = {s["kind"]: s for s in ended["saved"]}
    assert set(saved) == {"backup", "final"}
    assert saved["backup"]["global_step"] == ended["global_step"] >= 5
    assert Path(saved["final"]["path"]).is_file() and Path(saved["backup"]["path"]).is_dir()
    assert ended["exit_status"] == 0  # OneTrainer itself says 0; the launcher knows better
    assert not alive(tensorboard)


def test_ctrl_c_before_the_first_step_says_nothing_will_be_saved(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    """OneTrainer's end() saves only once a step was trained: Ctrl+C while it caches the images
    (inside train(), so it exits 0) leaves nothing, and the launcher says so instead of 'wait for
    the save'. The stand-in ends as the real train.py does."""
    root = fake_onetrainer(time_scale=0.05, timing={"cache_item_seconds": 5})
    config = train_config(recorded="interrupted", epochs=1000)
    cli = Cli(str(config), "--onetrainer", str(root))
    cli.until(lambda e: e["event"] == "phase" and e["name"] == "caching")
    cli.process.send_signal(signal.SIGINT)
    code, ended, _ = cli.finish()

    assert code == 130 and ended["outcome"] == "interrupted"
    [stop] = [e for e in cli.events if e["event"] == "stopping"]
    assert stop["reason"] == "save" and "has not trained a step yet, so it saves nothing" in stop["message"]
    assert "wait for it" not in stop["message"]
    assert ended["saved"] == [] and ended["exit_status"] == 0
    workspace = Path(json.loads(config.read_text())["workspace_dir"])
    assert not (workspace / "backup").exists() and not Path(json.loads(config.read_text())[
        "output_model_destination"
    ]).exists()


def test_ctrl_c_without_backup_before_save_says_nothing_will_be_saved(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    """train.py calls end() after Ctrl+C only with backup_before_save: off, a trained run saves nothing."""
    root = fake_onetrainer(time_scale=0.05)
    config = train_config(recorded="interrupted", epochs=1000, backup_before_save=False)
    cli = Cli(str(config), "--onetrainer", str(root))
    cli.until(lambda e: e["event"] == "progress" and e["global_step"] >= 3)
    cli.process.send_signal(signal.SIGINT)
    code, ended, _ = cli.finish()

    assert code == 130 and ended["outcome"] == "interrupted"
    [stop] = [e for e in cli.events if e["event"] == "stopping"]
    assert "with backup_before_save off it saves nothing" in stop["message"]
    assert [s for s in ended["saved"] if s["kind"] != "save"] == []


def test_ctrl_c_twice_stops_now(fake_onetrainer: Tree, train_config: Callable[..., Path]) -> None:
    root = fake_onetrainer(time_scale=0.05, timing={"backup_seconds": 600})
    config = train_config(recorded="interrupted", epochs=1000)
    cli = Cli(str(config), "--onetrainer", str(root))
    cli.until(lambda e: e["event"] == "progress" and e["global_step"] >= 2)
    cli.process.send_signal(signal.SIGINT)
    cli.until(lambda e: e["event"] == "phase" and e["name"] == "saving")  # "Creating Backup ..." printed
    started = time.monotonic()
    cli.process.send_signal(signal.SIGINT)
    code, ended, _ = cli.finish()

    assert time.monotonic() - started < 20  # not the 30 s the backup would take
    assert code == 130 and ended["outcome"] == "interrupted"
    assert [e["reason"] for e in cli.events if e["event"] == "stopping"] == ["save", "now"]
    assert ended["exit_status"] == -signal.SIGTERM
    assert ended["saved"] == []
    pid = next(e["pid"] for e in cli.events if e["event"] == "started")
    assert not alive(pid)


def test_ignored_sigint_is_not_passed_on(fake_onetrainer: Tree, train_config: Callable[..., Path]) -> None:
    """A launcher started with SIGINT ignored must still be able to make OneTrainer save."""
    root = fake_onetrainer(time_scale=0.05)
    config = train_config(recorded="interrupted", epochs=1000)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run = run_events(config, onetrainer=root, handle_signals=False)
        for event in run:
            if isinstance(event, Progress) and event.global_step >= 3 and not isinstance(event, Stopping):
                run.interrupt()
                break
        for _ in run:
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
    assert run.result is not None
    assert run.result.outcome == "interrupted" and run.result.final_model is not None


# --------------------------------------------------------------------------- failures


def test_could_not_set_stops_the_run(fake_onetrainer: Tree, train_config: Callable[..., Path]) -> None:
    # an older OneTrainer that does not know an optimizer onelazy accepts
    root = fake_onetrainer(drop_optimizers=("ADAMW",))
    config = train_config()
    events: list[Event] = []
    result = launch(config, onetrainer=root, on_event=events.append)

    assert result.outcome == "failed" and result.exit_code == 1
    assert result.error is not None and "Could not set optimizer as ADAMW" in result.error
    assert [e.reason for e in events if isinstance(e, Stopping)] == ["config"]
    assert result.exit_status == -signal.SIGTERM
    assert result.saved == () and result.final_model is None

    allowed = launch(config, onetrainer=root, allow_config_warnings=True)
    assert allowed.outcome == "finished"
    assert "Could not set optimizer as ADAMW" in allowed.warnings


def test_crash_reports_the_traceback_and_leaves_no_tensorboard(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer()
    config = train_config(tensorboard=True)
    dataset = Path(json.loads(config.read_text())["concepts"][0]["path"])

    def remove_dataset_once_started(event: Event) -> None:
        if isinstance(event, Started):
            shutil.rmtree(dataset)  # the data set disappears while OneTrainer loads

    result = launch(config, onetrainer=root, on_event=remove_dataset_once_started)
    tensorboard = tensorboard_pid(config)

    assert result.outcome == "failed" and result.exit_code == 1 and result.exit_status == 1
    assert result.error == f"FileNotFoundError: [Errno 2] No such file or directory: '{dataset}'"
    assert "Traceback (most recent call last):" in result.last_lines
    assert len(result.last_lines) == 20
    assert result.saved == ()
    # OneTrainer does not stop TensorBoard when it crashes; the launcher does
    assert not alive(tensorboard)


def test_a_run_dir_under_a_file_is_named_and_nothing_starts(
    fake_onetrainer: Tree, train_config: Callable[..., Path], tmp_path: Path
) -> None:
    from onelazy.errors import StorageError

    root = fake_onetrainer()
    config = train_config()
    blocker = tmp_path / "notes.txt"
    blocker.write_text("")
    with pytest.raises(StorageError, match=f"{blocker} is a file, not a folder"):
        launch(config, onetrainer=root, run_dir=blocker / "run")
    workspace = Path(json.loads(config.read_text())["workspace_dir"])
    assert not (workspace / "tensorboard.pid").exists()  # OneTrainer (and its TensorBoard) never ran


def test_missing_onetrainer_is_one_line(train_config: Callable[..., Path], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ONETRAINER_DIR"}
    done = subprocess.run(
        [sys.executable, "-m", "onelazy", "launch", str(train_config())],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: no OneTrainer given") and "ONETRAINER_DIR" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_older_onetrainer_starts_nothing(fake_onetrainer: Tree, train_config: Callable[..., Path]) -> None:
    root = fake_onetrainer(config_version=10)
    config = train_config()
    with pytest.raises(OneTrainerVersionMismatch, match=r"version 10.*version 11"):
        launch(config, onetrainer=root)
    assert not (config.parent / "launch.log").exists()
    assert not (config.parent / "workspace").exists()
    done = subprocess.run(
        [sys.executable, "-m", "onelazy", "launch", str(config), "--onetrainer", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "expects TrainConfig version 10, older than version 11" in done.stderr


def test_newer_onetrainer_trains_with_a_warning_naming_both_versions(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer(config_version=12)
    config = train_config()
    events: list[Event] = []
    result = launch(config, onetrainer=root, on_event=events.append)
    assert result.outcome == "finished"
    warnings = [e for e in events if isinstance(e, TrainingWarning) and e.category == "launcher"]
    assert len(warnings) == 1 and "version 12, newer than version 11" in warnings[0].message
    assert "migrates the config" in warnings[0].message
    assert "warning onetrainer: " in result.log_path.read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "onelazy", "launch", str(config), "--onetrainer", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning: the OneTrainer at" in done.stdout and "version 12, newer than version 11" in done.stdout
    dry = subprocess.run(
        [sys.executable, "-m", "onelazy", "launch", str(config), "--onetrainer", str(root), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0 and "warn onetrainer: " in dry.stdout


# --------------------------------------------------------------------------- awkward children


TEN_MB_WITHOUT_NEWLINES = """
import os, sys
chunk = b"x" * 65536
for _ in range(160):
    os.write(1, chunk)  # the launcher must read stdout while nothing comes on stderr...
for _ in range(160):
    os.write(2, chunk)  # ...and the other way round
"""

NEVER_PRINTS = """
import time
time.sleep(600)
"""


def test_child_printing_10mb_without_newlines(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer(train_script=TEN_MB_WITHOUT_NEWLINES)
    result = launch(train_config(), onetrainer=root)
    assert result.outcome == "failed" and result.error == "OneTrainer exited without saving the final model"
    assert result.log_path.stat().st_size > 2 * 160 * 65536
    assert all(len(line) < 70_000 for line in result.last_lines)


def test_child_that_never_prints_still_stops_on_ctrl_c(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer(train_script=NEVER_PRINTS)
    cli = Cli(str(train_config()), "--onetrainer", str(root))
    started = cli.until(lambda e: e["event"] == "started")
    time.sleep(0.5)
    sent = time.monotonic()
    cli.process.send_signal(signal.SIGINT)
    code, ended, _ = cli.finish()
    assert time.monotonic() - sent < 10
    assert code == 130 and ended["outcome"] == "interrupted"
    assert ended["exit_status"] == -signal.SIGINT  # interrupted while "loading": killed by SIGINT
    assert not alive(started["pid"])


def test_sigterm_to_the_launcher_leaves_no_process(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer(time_scale=0.05)
    config = train_config(recorded="interrupted", epochs=1000, tensorboard=True)
    cli = Cli(str(config), "--onetrainer", str(root))
    started = cli.until(lambda e: e["event"] == "started")
    cli.until(lambda e: e["event"] == "progress")
    tensorboard = tensorboard_pid(config)
    assert alive(tensorboard)
    cli.process.send_signal(signal.SIGTERM)
    code, ended, _ = cli.finish()
    assert code == 130 and ended["outcome"] == "interrupted"
    assert not alive(started["pid"]) and not alive(tensorboard)


# --------------------------------------------------------------------------- preflight


def test_dry_run_prints_the_command_and_starts_nothing(
    fake_onetrainer: Tree, train_config: Callable[..., Path], tmp_path: Path
) -> None:
    root = fake_onetrainer()
    config = train_config()
    secrets = tmp_path / "secrets.json"
    secrets.write_text("{}")
    args = ["launch", str(config), "--onetrainer", str(root), "--dry-run", "--secrets", str(secrets)]
    done = subprocess.run(
        [sys.executable, "-m", "onelazy", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    python = root.resolve() / "venv" / "bin" / "python"
    script = root.resolve() / "scripts" / "train.py"
    expected = f"command: {python} {script} --config-path {config} --secrets-path {secrets}"
    assert expected in done.stdout.splitlines()
    assert "FAIL" not in done.stdout
    assert not (config.parent / "launch.log").exists() and not (config.parent / "workspace").exists()


def test_preflight_failures(fake_onetrainer: Tree, train_config: Callable[..., Path], tmp_path: Path) -> None:
    root = fake_onetrainer()
    missing = train_config(recorded="missing-concept-dir")
    with pytest.raises(UsageError, match=r"does-not-exist.* not an? (existing )?folder"):
        launch(missing, onetrainer=root)

    empty = train_config(images=0)
    for image in Path(json.loads(empty.read_text())["concepts"][0]["path"]).iterdir():
        image.unlink()
    with pytest.raises(DatasetError, match="has no images"):
        launch(empty, onetrainer=root)

    no_model = train_config(base_model_name=str(tmp_path / "nowhere" / "model.safetensors"))
    with pytest.raises(ConfigError, match=r"base_model_name .*no such file"):
        launch(no_model, onetrainer=root)
    hub = train_config(base_model_name="stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert check_launch(hub, onetrainer=root).ok

    zero_batch = train_config(batch_size=0)  # OneTrainer would load it and divide by it
    with pytest.raises(ConfigError, match=r"batch_size: 0 is out of range; expected at least 1"):
        launch(zero_batch, onetrainer=root)
    assert not (zero_batch.parent / "launch.log").exists()

    huge = train_config(lora_rank=10_000_000)  # a LoRA of ~76 TiB cannot fit
    disk = [c for c in check_launch(huge, onetrainer=root).failures if c.name == "disk"]
    assert len(disk) == 1 and "free at" in disk[0].detail and "TiB" not in disk[0].detail

    unversioned = train_config()
    data = json.loads(unversioned.read_text())
    del data["__version"]
    unversioned.write_text(json.dumps(data))
    report = check_launch(unversioned, onetrainer=root)
    assert not report.ok and "__version" in report.failures[0].detail


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"huggingface_token": ', "not valid JSON"),
        ('["hf_abcdefSECRET"]', "got a list (not shown)"),
        ('"hf_abcdefSECRET"', "got a string (not shown)"),
        ('{"huggingface_token": 12345}', "huggingface_token: expected a string"),
        ('{"hugingface_token": "hf_abcdefSECRET"}', "hugingface_token: not a secrets key"),
    ],
)
def test_a_broken_secrets_file_fails_preflight_without_showing_the_token(
    fake_onetrainer: Tree, train_config: Callable[..., Path], tmp_path: Path, content: str, expected: str
) -> None:
    root = fake_onetrainer()
    config = train_config()
    secrets = tmp_path / "secrets.json"
    secrets.write_text(content)
    report = check_launch(config, onetrainer=root, secrets_path=secrets)
    failed = [check for check in report.failures if check.name == "secrets"]
    assert len(failed) == 1 and expected in failed[0].detail
    assert "SECRET" not in failed[0].detail and "12345" not in failed[0].detail
    with pytest.raises(ConfigError):
        report.raise_for_failures()

    secrets.write_text('{"huggingface_token": "hf_abcdefSECRET"}')
    assert check_launch(config, onetrainer=root, secrets_path=secrets).ok


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[1, 2]", "[0]: expected a JSON object, got 1"),
        (b"\xff\xfe[]", "not UTF-8 text (byte 0)"),
        (b'[{"path": "x", "nmae": "dog"}]', "[0].nmae: not a ConceptConfig key"),
    ],
)
def test_a_broken_concept_file_is_named_not_taken_for_no_concepts(
    fake_onetrainer: Tree, train_config: Callable[..., Path], tmp_path: Path, content: bytes, expected: str
) -> None:
    root = fake_onetrainer()
    concepts = tmp_path / "concepts.json"
    concepts.write_bytes(content)
    config = train_config(concepts=None, concept_file_name=str(concepts))
    report = check_launch(config, onetrainer=root)
    failed = [check.detail for check in report.failures if check.name == "concepts"]
    assert len(failed) == 1 and failed[0].startswith(f"concept file {concepts}: ") and expected in failed[0]


def test_workspace_in_use_by_another_launch(fake_onetrainer: Tree, train_config: Callable[..., Path]) -> None:
    root = fake_onetrainer()
    config = train_config()
    lock = WorkspaceLock(Path(json.loads(config.read_text())["workspace_dir"]))
    lock.acquire()
    try:
        with pytest.raises(WorkspaceLocked, match=f"another onelazy launch \\(pid {os.getpid()}\\)"):
            launch(config, onetrainer=root)
    finally:
        lock.release()
    assert launch(config, onetrainer=root).outcome == "finished"
    # a second run keeps the first run's log beside its own
    first_log = (config.parent / "launch.log").read_text()
    assert launch(config, onetrainer=root).outcome == "finished"
    assert (config.parent / "launch.log.1").read_text() == first_log
    assert (config.parent / "launch.log").read_text() != first_log


REPORTS_HOW_IT_WAS_STARTED = """
import json, os, signal, sys
print(json.dumps({
    "unbuffered": os.environ.get("PYTHONUNBUFFERED"),
    "cwd": os.getcwd(),
    "argv": sys.argv[1:],
    "own_group": os.getpgrp() == os.getpid(),
    "sigint_default": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
}))
"""


def test_how_onetrainer_is_started(
    fake_onetrainer: Tree, train_config: Callable[..., Path], tmp_path: Path
) -> None:
    root = fake_onetrainer(train_script=REPORTS_HOW_IT_WAS_STARTED)
    config = train_config()
    secrets = tmp_path / "secrets.json"
    secrets.write_text("{}")
    lines: list[str] = []
    launch(
        config,
        onetrainer=root,
        secrets_path=secrets,
        on_event=lambda e: lines.append(e.text) if isinstance(e, Output) else None,
    )
    seen = json.loads(lines[0])
    assert seen == {
        "unbuffered": "1",
        "cwd": str(root.resolve()),
        "argv": ["--config-path", str(config), "--secrets-path", str(secrets)],
        "own_group": True,
        "sigint_default": True,
    }


def test_a_failing_event_handler_leaves_no_process(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer(time_scale=0.05)
    config = train_config(recorded="interrupted", epochs=1000, tensorboard=True)
    pids: list[int] = []

    def handler(event: Event) -> None:
        if isinstance(event, Started):
            pids.append(event.pid)
        if isinstance(event, Progress) and event.global_step >= 2:
            pids.append(tensorboard_pid(config))
            raise RuntimeError("the caller's code broke")

    with pytest.raises(RuntimeError, match="caller's code broke"):
        launch(config, onetrainer=root, on_event=handler)
    assert len(pids) == 2 and not any(alive(pid) for pid in pids)
    assert (config.parent / "launch.log").exists()  # the log is kept even then


def test_resumed_run_counts_on_from_the_backup(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer(time_scale=0.05)
    config = train_config(epochs=6, save_every_unit="NEVER")
    with run_events(config, onetrainer=root, handle_signals=False) as first:
        for event in first:
            if isinstance(event, Progress) and event.global_step >= 6:
                first.interrupt()
                break
        for _event in first:  # the same run goes on: backup and final save
            pass
    assert first.result is not None and first.result.outcome == "interrupted"
    backup = next(s for s in first.result.saved if s.kind == "backup")

    data = json.loads(config.read_text())
    data["continue_last_backup"] = True
    config.write_text(json.dumps(data))
    events: list[Event] = []
    result = launch(config, onetrainer=root, on_event=events.append)

    assert result.outcome == "finished" and (result.epochs_done, result.global_step) == (6, 24)
    steps = [e.global_step for e in events if isinstance(e, Progress)]
    assert steps[0] == backup.global_step and steps == sorted(steps)
    assert [(s.kind, s.global_step, s.epoch) for s in result.saved] == [
        ("backup", 24, 6, 0)[:3],
        ("final", 24, 6),
    ]


def test_what_check_warns_about_is_shown_at_launch_but_does_not_stop_it(
    fake_onetrainer: Tree, train_config: Callable[..., Path]
) -> None:
    root = fake_onetrainer()
    config = train_config(cache_dir="cache/run")  # relative: OneTrainer's folder, where launch runs it
    report = check_launch(config, onetrainer=root)
    assert report.ok, report.failures
    (warning,) = [check for check in report.warnings if check.name == "config"]
    assert "cache_dir: 'cache/run' is a relative path" in warning.detail
    assert str(root / "cache" / "run") in warning.detail
