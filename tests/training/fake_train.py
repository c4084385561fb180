"""Stand-in for OneTrainer's ``scripts/train.py`` (copied into a fake OneTrainer tree by the tests).

It takes the same arguments, and replays what the real trainer printed in the recorded runs: the
output fragments come from ``replay.json`` (generated from the recorded logs at test time, beside
this file), bars are drawn in tqdm's format, timing is the real one multiplied by ``time_scale``
(``standin.json``). It writes the same files (workspace config, intermediate saves, backup, final
model) at the configured paths and ends the way OneTrainer does: SIGINT while training = backup +
final save + exit 0; SIGINT while loading = killed by SIGINT; SIGTERM = immediate death; an
exception = traceback, exit 1, TensorBoard left running; bad values = ``Could not set ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPLAY = json.loads((HERE / "replay.json").read_text(encoding="utf-8"))
SETTINGS = json.loads((HERE / "standin.json").read_text(encoding="utf-8"))
SCALE = float(SETTINGS.get("time_scale", 1.0))
REPLAY["timing"].update(SETTINGS.get("timing", {}))
IMAGE_EXTENSIONS = {".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".avif"}
PARTIAL = " ▏▎▍▌▋▊▉"
ESC_UP = "\x1b[A"


def sleep(seconds: float) -> None:
    time.sleep(seconds * SCALE)


def out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def fmt_time(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


class Bar:
    """A tqdm bar as OneTrainer's show it: ``desc: pct%|bar| n/total [elapsed<remaining, rate, postfix]``."""

    def __init__(self, desc: str, total: int, initial: int = 0) -> None:
        self.desc, self.total, self.n = desc, total, initial
        self.start = time.monotonic()
        self.postfix = ""
        self.width = 0  # of the last drawing, which tqdm.write blanks out

    def render(self) -> str:
        frac = self.n / self.total if self.total else 0.0
        cells = frac * 10
        full = int(cells)
        bar = "█" * full
        if full < 10:
            bar += PARTIAL[int((cells - full) * 8)]
        bar = bar.ljust(10)
        elapsed = time.monotonic() - self.start
        if self.n > 0 and elapsed > 0:
            per_second = self.n / elapsed
            rate = f"{per_second:5.2f}it/s" if per_second >= 1 else f"{1 / per_second:5.2f}s/it"
            remaining = fmt_time((self.total - self.n) / per_second)
        else:
            rate, remaining = "?it/s", "?"
        postfix = f", {self.postfix}" if self.postfix else ""
        self.width = len(f"{self.desc}: {int(frac * 100):3d}%|{bar}| {self.n}/{self.total} ") + len(
            f"[{fmt_time(elapsed)}<{remaining}, {rate}{postfix}]"
        )
        return (
            f"{self.desc}: {int(frac * 100):3d}%|{bar}| {self.n}/{self.total} "
            f"[{fmt_time(elapsed)}<{remaining}, {rate}{postfix}]"
        )


def read_config(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def known_optimizers() -> set[str]:
    source = (ROOT / "modules" / "util" / "enum" / "Optimizer.py").read_text(encoding="utf-8")
    return set(re.findall(r"^\s+(\w+) = ", source, flags=re.MULTILINE))


def could_not_set(config: dict) -> list[str]:
    messages = []
    if "learning_rate" in config:
        try:
            float(config["learning_rate"])
        except (TypeError, ValueError):
            messages.append(f"Could not set learning_rate as {config['learning_rate']}")
    optimizer = (config.get("optimizer") or {}).get("optimizer")
    if optimizer is not None and optimizer not in known_optimizers():
        messages.append(f"Could not set optimizer as {optimizer}")
    return messages


def count_images(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def timestamp() -> str:
    return datetime.now().strftime("%Y-%m-%d_%H-%M-%S")


def write_model(path: Path) -> None:
    """A minimal safetensors file (8-byte header length, JSON header, no tensors)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = json.dumps({"__metadata__": {"ot_branch": "master", "ot_revision": "stand-in"}}).encode()
    sleep(REPLAY["timing"]["save_seconds"])
    path.write_bytes(len(header).to_bytes(8, "little") + header)


class Trainer:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.workspace = Path(config.get("workspace_dir", "workspace/run"))
        self.destination = Path(config.get("output_model_destination", "models/model.safetensors"))
        self.epochs = int(config.get("epochs", 100))
        self.batch_size = int(config.get("batch_size", 1))
        self.save_every = int(config.get("save_every", 0))
        self.save_unit = config.get("save_every_unit", "NEVER")
        self.global_step = 0
        self.epoch = 0
        self.epoch_step = 0
        self.loss_index = 0
        self.tensorboard: subprocess.Popen | None = None
        self.epoch_bar = Bar("epoch", self.epochs)

    def start(self) -> None:
        if self.config.get("continue_last_backup", False):
            self.resume()
        (self.workspace / "config").mkdir(parents=True, exist_ok=True)
        (self.workspace / "config" / f"{timestamp()}.json").write_text(json.dumps(self.config))
        if self.config.get("tensorboard", True):
            # like OneTrainer: <dirname(sys.executable)>/tensorboard, same process group, inherited pipes
            tensorboard = Path(sys.executable).parent / "tensorboard"
            logdir = str(self.workspace / "tensorboard")
            self.tensorboard = subprocess.Popen([str(tensorboard), "--logdir", logdir])

    def resume(self) -> None:
        """continue_last_backup: the lexicographically last backup's train progress."""
        folder = self.workspace / "backup"
        backups = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        if not backups:
            out("No backup found, continuing without backup...")
            return
        out(f"Continuing training from backup '{backups[-1]}'...")
        progress = json.loads((backups[-1] / "meta.json").read_text())["train_progress"]
        self.global_step, self.epoch = progress["global_step"], progress["epoch"]
        self.epoch_step = progress["epoch_step"]
        self.epoch_bar.n = self.epoch

    def concept_folders(self) -> list[Path]:
        concepts = self.config.get("concepts") or []
        return [Path(c["path"]) for c in concepts if c.get("enabled", True)]

    # tqdm's bytes, as in the recorded runs: the top bar (epoch) is drawn with "\r"; a nested bar
    # (position 1) moves down, draws and moves back up; closing draws once more and ends the line.
    @staticmethod
    def top(bar: Bar) -> None:
        err("\r" + bar.render())

    @staticmethod
    def nested(bar: Bar) -> None:
        err("\n\r" + bar.render() + ESC_UP)

    @staticmethod
    def close(bar: Bar) -> None:
        err("\r" + bar.render() + "\n")

    def tqdm_write(self, message: str, step_bar: Bar) -> None:
        """tqdm.write: clear both bars on stderr, print on stdout, draw both bars again."""
        err(f"\r{' ' * self.epoch_bar.width}\r\n\r{' ' * step_bar.width}\r{ESC_UP}")
        out(message)
        self.top(self.epoch_bar)
        self.nested(step_bar)

    def next_loss(self) -> str:
        losses = REPLAY["losses"]
        loss, smooth = losses[self.loss_index % len(losses)]
        self.loss_index += 1
        return f"loss={loss}, smooth loss={smooth}"

    def train(self) -> None:
        step_bar: Bar | None = None
        try:
            self.top(self.epoch_bar)
            folders = self.concept_folders()
            enumerating = Bar("enumerating sample paths", 1)
            self.nested(enumerating)
            for folder in folders:
                if not folder.is_dir():
                    self.close(enumerating)
                    raise_missing_concept(folder)
            err(REPLAY["enumerated"])
            images = sum(count_images(f) for f in folders)
            caching = Bar("caching", images)
            self.nested(caching)
            for _ in range(images):
                sleep(REPLAY["timing"]["cache_item_seconds"])
                caching.n += 1
                self.nested(caching)
            self.close(caching)
            steps = max(1, images // self.batch_size)
            every = self.save_every if self.save_unit == "STEP" else 0
            first_step = self.epoch_step  # a resumed run starts inside an epoch
            for epoch in range(self.epoch, self.epochs):
                self.epoch = epoch
                step_bar = Bar("step", steps, initial=first_step)
                self.nested(step_bar)
                for index in range(first_step + 1, steps + 1):
                    self.epoch_step = index - 1
                    if every > 0 and (self.global_step + 1) % every == 0:
                        position = f"{self.global_step}-{self.epoch}-{self.epoch_step}"
                        path = self.workspace / "save" / f"{timestamp()}-save-{position}.safetensors"
                        self.tqdm_write(f"Saving {path}", step_bar)
                        write_model(path)
                    sleep(REPLAY["timing"]["step_seconds"])
                    step_bar.postfix = self.next_loss()
                    self.nested(step_bar)  # set_postfix redraws with the count tqdm last showed
                    self.global_step += 1
                    if index % 2 == 0 or index == steps:  # tqdm's miniters: the count every 2 steps
                        step_bar.n = index
                        self.nested(step_bar)
                self.close(step_bar)
                step_bar = None
                first_step = self.epoch_step = 0
                self.epoch_bar.n = epoch + 1
                self.top(self.epoch_bar)
            self.epoch = self.epochs
        finally:
            # on the way out (done, Ctrl+C or an error) tqdm closes the open bars
            if step_bar is not None:
                self.close(step_bar)
            self.close(self.epoch_bar)

    def end(self) -> None:
        if self.global_step == 0:
            return
        if self.config.get("backup_before_save", True):
            name = f"{timestamp()}-backup-{self.global_step}-{self.epoch}-{self.epoch_step}"
            backup = self.workspace / "backup" / name
            out(f"Creating Backup {backup}")
            sleep(REPLAY["timing"]["backup_seconds"])
            (backup / "optimizer").mkdir(parents=True, exist_ok=True)
            (backup / "optimizer" / "optimizer.pt").write_bytes(b"\0" * 64)
            (backup / "onetrainer_config").mkdir(exist_ok=True)
            (backup / "onetrainer_config" / "args.json").write_text(json.dumps(self.config))
            progress = {"epoch": self.epoch, "epoch_step": self.epoch_step, "global_step": self.global_step}
            (backup / "meta.json").write_text(json.dumps({"train_progress": progress}))
            write_model(backup / "lora" / "lora.safetensors")
        out(f"Saving {self.destination}")
        write_model(self.destination)
        if self.tensorboard is not None:
            self.tensorboard.terminate()
            self.tensorboard.wait()


def raise_missing_concept(folder: Path) -> None:
    os.listdir(folder)  # FileNotFoundError with the real message, as mgds's CollectPaths does


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-path", required=True)
    parser.add_argument("--preset-path")
    parser.add_argument("--config-value", action="append", default=[])
    parser.add_argument("--secrets-path")
    parser.add_argument("--callback-path")
    parser.add_argument("--command-path")
    args = parser.parse_args()

    sleep(REPLAY["timing"]["import_seconds"])
    err(REPLAY["stderr_imports"])
    out(REPLAY["stdout_imports"])
    config = read_config(args.config_path)
    if args.secrets_path is not None:
        open(args.secrets_path).close()
    for message in could_not_set(config):
        out(message)
    cache_dir = config.get("cache_dir", "workspace-cache/run")
    for line in REPLAY["stdout_setup"]:
        out(line.replace("{cache_dir}", cache_dir))
        sleep(REPLAY["timing"]["setup_line_seconds"])
    trainer = Trainer(config)
    trainer.start()
    with contextlib.suppress(KeyboardInterrupt):
        trainer.train()
    # any other exception propagates: traceback, exit 1, no save, TensorBoard left running
    trainer.end()


if __name__ == "__main__":
    main()
