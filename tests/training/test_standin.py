"""The stand-in prints what the real OneTrainer printed (timing-dependent numbers aside)."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d")
# "[00:03<01:10,  1.50s/it" -> "[T": elapsed, remaining and rate depend on the machine
_TQDM_TIMES = re.compile(r"\[\d\d:\d\d<[\d:?]+, *[\d.?]+(?:it/s|s/it)")


# tqdm.write blanks a bar with as many spaces as it was wide (which depends on the rate's digits)
_BLANKED = re.compile(r"\r +\r")


def normalise(text: str) -> str:
    return _BLANKED.sub("\r<blank>\r", _TQDM_TIMES.sub("[T", _TIMESTAMP.sub("<time>", text)))


def run_standin(root: Path, config: Path) -> tuple[int, str, str]:
    done = subprocess.run(
        [
            str(root / "venv" / "bin" / "python"),
            str(root / "scripts" / "train.py"),
            "--config-path",
            str(config),
        ],
        cwd=root,
        capture_output=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=60,
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def recorded(logs: Path, run: str, config: Path) -> tuple[str, str]:
    """The recorded run's output with its paths replaced by the ones in ``config``."""
    ours = json.loads(config.read_text())
    theirs = json.loads((logs / f"{run}.config.json").read_text())
    pairs = [(theirs[k], ours[k]) for k in ("workspace_dir", "cache_dir", "output_model_destination")]
    pairs.append((theirs["concepts"][0]["path"], ours["concepts"][0]["path"]))
    out, err = ((logs / f"{run}.{stream}").read_bytes().decode() for stream in ("stdout", "stderr"))
    for old, new in pairs:
        out, err = out.replace(old, new), err.replace(old, new)
    return out, err


def test_finished_run_same_bytes(
    fake_onetrainer: Callable[..., Path], train_config: Callable[..., Path], onetrainer_facts: Path
) -> None:
    root = fake_onetrainer()
    config = train_config()
    code, out, err = run_standin(root, config)
    real_out, real_err = recorded(onetrainer_facts / "logs", "finished", config)
    assert code == 0
    assert normalise(out) == normalise(real_out)
    assert normalise(err) == normalise(real_err)


def test_missing_concept_folder_same_bars_and_error(
    fake_onetrainer: Callable[..., Path], train_config: Callable[..., Path], onetrainer_facts: Path
) -> None:
    root = fake_onetrainer()
    config = train_config(recorded="missing-concept-dir")
    code, out, err = run_standin(root, config)
    real_out, real_err = recorded(onetrainer_facts / "logs", "missing-concept-dir", config)
    assert code == 1
    assert normalise(out) == normalise(real_out)
    # the frames of the traceback are OneTrainer's files there and the stand-in's here
    head, real_head = err.split("Traceback")[0], real_err.split("Traceback")[0]
    assert normalise(head) == normalise(real_head)
    assert err.splitlines()[-1] == real_err.splitlines()[-1]


def test_bad_values_same_bytes(
    fake_onetrainer: Callable[..., Path], train_config: Callable[..., Path], onetrainer_facts: Path
) -> None:
    """Bad values are printed as "Could not set ..." and the run trains with the defaults."""
    root = fake_onetrainer()
    config = train_config(recorded="bad-values")
    code, out, err = run_standin(root, config)
    real_out, real_err = recorded(onetrainer_facts / "logs", "bad-values", config)
    assert code == 0
    assert normalise(out) == normalise(real_out)
    assert normalise(err) == normalise(real_err)


def run_standin_until(root: Path, config: Path, interrupt_after: str) -> tuple[int, str, str]:
    """Run the stand-in and send it SIGINT once its stderr shows ``interrupt_after``."""
    process = subprocess.Popen(
        [
            str(root / "venv" / "bin" / "python"),
            str(root / "scripts" / "train.py"),
            "--config-path",
            str(config),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # a test run started with SIGINT ignored would hand the ignore down to the stand-in
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None and process.stderr is not None
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    sent = False
    deadline = time.monotonic() + 60
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fd)
                    continue
                chunks[key.fd].append(data)
                if not sent and key.fd == err_fd and interrupt_after.encode() in b"".join(chunks[err_fd]):
                    process.send_signal(signal.SIGINT)
                    sent = True
    code = process.wait(timeout=10)
    process.stdout.close()
    process.stderr.close()
    assert sent, "the stand-in never reached the point to interrupt"
    out, err = (b"".join(chunks[fd]).decode() for fd in (out_fd, err_fd))
    return code, out, err


def test_interrupted_run_same_bytes(
    fake_onetrainer: Callable[..., Path], train_config: Callable[..., Path], onetrainer_facts: Path
) -> None:
    """SIGINT while epoch 4 starts: OneTrainer closes its bars, backs up, saves the final model, exits 0."""
    # at this time scale an epoch starts in 0.3 s, time enough to land the signal there
    root = fake_onetrainer(timing={"epoch_start_seconds": 15.0})
    config = train_config(recorded="interrupted")
    # the recorded run was interrupted once the epoch bar showed 3 of 50 epochs done
    code, out, err = run_standin_until(root, config, interrupt_after="| 3/50 [")
    real_out, real_err = recorded(onetrainer_facts / "logs", "interrupted", config)
    assert code == 0
    assert normalise(out) == normalise(real_out)
    assert normalise(err) == normalise(real_err)
