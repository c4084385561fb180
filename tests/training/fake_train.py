"""Stand-in for OneTrainer's ``scripts/train.py`` (copied into a fake OneTrainer tree by the tests).

It takes the same arguments, and replays what the real trainer printed in the recorded runs: the
output fragments come from ``replay.json`` (generated from the recorded logs at test time, beside
this file), bars are drawn in tqdm's format, timing is the real one multiplied by ``time_scale``
(``standin.json``). Keys missing from the config take OneTrainer's defaults (also in ``replay.json``).

It writes what OneTrainer writes, where and when OneTrainer writes it:

* intermediate saves, backups and samples follow OneTrainer's interval rules for every time unit
  (``*_after``/``save_every``, ``*_unit``, ``*_skip_first``; checked once per step before it
  trains; the work waits for the end of a gradient accumulation cycle); SECOND/MINUTE/HOUR are
  measured on the stand-in's own clock, which counts the durations it pretends to take (unscaled),
  so a fast stand-in run decides like the real run at full speed;
* names: ``save/<prefix><time>-save-<step>-<epoch>-<epoch_step><ext>`` (ext from
  ``output_model_format``: none for directory formats), ``backup/<time>-backup-<...>/`` (no prefix,
  pruned with ``rolling_backup``), ``samples/<index> - <prompt>/<prefix><time>-training-sample-<...>``,
  ``config/<prefix><time>.json``; the ``Saving``/``Creating Backup`` lines name those files;
* TensorBoard event files, written with the writer torch's ``SummaryWriter`` writes through
  (tensorboard's ``EventFileWriter``, scalars as ``simple_value`` with the tag as given) to
  ``tensorboard/<prefix><time>/`` (one folder per start, so a resumed run has two), with
  OneTrainer's tags at OneTrainer's steps: ``loss/train_step`` and ``smooth_loss/train_step`` (the
  values the step bar shows) and ``lr/unet`` after every optimizer step, and with ``validation`` on,
  ``loss/validation_step/<concept name or folder name>`` (``(1)``... on a collision) for each
  VALIDATION concept plus ``loss/validation_step/total_average`` with more than one, after the step
  by the sampling rule with ``validate_after``. The validation loss is a V over the run's updates
  (``validation_loss`` in ``standin.json``: ``floor + depth * |x - best_at| / best_at``, x = updates
  ÷ the run's updates, plus ``ripple`` alternating in sign). Every scalar is also appended to
  ``scripts/written-scalars.jsonl`` so that tests know what was written without reading it back;
* every model file is a small valid safetensors file whose one tensor holds the number of optimizer
  updates trained so far (so checkpoints of different steps differ, and equal weights give equal
  bytes), a resumed run reads it back from the backup.

It ends the way OneTrainer does: SIGINT while training = backup + final save + exit 0 (nothing
saved when ``backup_before_save`` is off, or before the first optimizer step: caching, the first
steps of an accumulation cycle); SIGINT while loading = killed by SIGINT; SIGTERM =
immediate death; an exception = traceback, exit 1, TensorBoard left running; bad values =
``Could not set ...``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REPLAY = json.loads((HERE / "replay.json").read_text(encoding="utf-8"))
SETTINGS = json.loads((HERE / "standin.json").read_text(encoding="utf-8"))
SCALE = float(SETTINGS.get("time_scale", 1.0))
REPLAY["timing"].update(SETTINGS.get("timing", {}))
TIMING = REPLAY["timing"]
IMAGE_EXTENSIONS = {".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".avif"}
PARTIAL = " ▏▎▍▌▋▊▉"
ESC_UP = "\x1b[A"
SECONDS_PER_UNIT = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600}
DIRECTORY_FORMATS = {"DIFFUSERS", "INTERNAL"}
SAMPLE_EXTENSIONS = {"PNG": ".png", "JPG": ".jpg"}
SAFE_FILENAME_CHARS = " ._-#"

# The stand-in's clock: the seconds it has pretended to spend (unscaled).
CLOCK = [0.0]


def sleep(seconds: float) -> None:
    CLOCK[0] += seconds
    time.sleep(seconds * SCALE)


def now() -> float:
    return CLOCK[0]


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


def count_images(folder: Path, recursive: bool = False) -> int:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sum(1 for p in found if p.suffix.lower() in IMAGE_EXTENSIONS)


class Scalars:
    """OneTrainer's SummaryWriter: event files through a real writer, and a record for the tests."""

    def __init__(self, logdir: Path) -> None:
        # what torch.utils.tensorboard.SummaryWriter (OneTrainer's) writes through, without
        # importing torch: a second or more per start of the stand-in
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        logdir.mkdir(parents=True, exist_ok=True)
        self.writer = EventFileWriter(str(logdir))
        self.record = HERE / "written-scalars.jsonl"

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
        self.writer.add_event(Event(summary=summary, step=step, wall_time=time.time()))
        self.writer.flush()  # a killed run keeps what it logged, as OneTrainer's writer's flushes do
        with self.record.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"tag": tag, "step": step, "value": value}) + "\n")

    def close(self) -> None:
        self.writer.close()


def timestamp() -> str:
    return datetime.now().strftime("%Y-%m-%d_%H-%M-%S")


def safe_filename(text: str) -> str:
    """A prompt as a folder name: letters, digits and `` ._-#`` kept, at most 32 characters."""
    kept = "".join(c for c in text if c.isalnum() or c in SAFE_FILENAME_CHARS).strip()
    return kept[:32].strip()


def model_extension(output_format: str) -> str:
    return "" if output_format in DIRECTORY_FORMATS else ".safetensors"


def safetensors_bytes(updates: int) -> bytes:
    """A valid safetensors file: one F32 tensor, its first value the optimizer updates trained."""
    rng = random.Random(updates)
    data = struct.pack("<4f", float(updates), *(rng.uniform(-1, 1) for _ in range(3)))
    header = {
        "__metadata__": {"ot_branch": "master", "ot_revision": "stand-in"},
        "lora_unet_stand_in.lora_down.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, len(data)]},
    }
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    return len(encoded).to_bytes(8, "little") + encoded + data


def read_updates(path: Path) -> int:
    """The optimizer updates a stand-in model file holds (see :func:`safetensors_bytes`)."""
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    return int(struct.unpack_from("<f", raw, 8 + size)[0])


def write_model(path: Path, updates: int, output_format: str) -> None:
    """The model as ``output_format`` stores it: one file, or a diffusers folder."""
    sleep(TIMING["save_seconds"])
    if output_format in DIRECTORY_FORMATS:
        (path / "unet").mkdir(parents=True, exist_ok=True)
        (path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
        (path / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(safetensors_bytes(updates))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(safetensors_bytes(updates))


def write_sample(path: Path, updates: int, width: int, height: int, image_format: str) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(str(updates).encode()).digest()
    Image.new("RGB", (max(1, width), max(1, height)), tuple(digest[:3])).save(
        path, format="PNG" if image_format == "PNG" else "JPEG"
    )


class Progress:
    """OneTrainer's train progress: ``global_step`` steps trained, in epoch ``epoch`` at ``epoch_step``."""

    def __init__(self) -> None:
        self.epoch = self.epoch_step = self.global_step = 0

    def name(self) -> str:
        return f"{self.global_step}-{self.epoch}-{self.epoch_step}"


class Intervals:
    """When a repeating action is due and when a ``*_skip_first`` delay has passed (REFERENCE §8)."""

    def __init__(self) -> None:
        self.created = now()
        self.last: dict[str, float] = {}

    def due(self, name: str, every: float, unit: str, progress: Progress, *, at_start: bool) -> bool:
        """``at_start``: samples fire on the first check; saves and backups wait one interval."""
        if unit == "EPOCH":
            if int(every) == 0:
                return False
            return (
                progress.epoch % int(every) == 0
                and progress.epoch_step == 0
                and (at_start or progress.epoch > 0)
            )
        if unit == "STEP":
            if int(every) == 0:
                return False
            return (progress.global_step + (0 if at_start else 1)) % int(every) == 0
        if unit in SECONDS_PER_UNIT:
            limit = every * SECONDS_PER_UNIT[unit]
            if name not in self.last:
                if at_start:
                    self.last[name] = now()
                    return True
                self.last[name] = now()
            if limit <= 0 or now() - self.last[name] > limit:
                self.last[name] = now()
                return True
            return False
        return unit == "ALWAYS"

    def elapsed(self, delay: float, unit: str, progress: Progress) -> bool:
        if unit == "EPOCH":
            return progress.epoch + 1 > int(delay)
        if unit == "STEP":
            return progress.global_step + 1 > int(delay)
        if unit in SECONDS_PER_UNIT:
            return now() - self.created > delay * SECONDS_PER_UNIT[unit]
        return unit == "ALWAYS"


class Trainer:
    def __init__(self, config: dict) -> None:
        self.config = {**REPLAY["defaults"], **config}
        self.workspace = Path(self.option("workspace_dir"))
        self.destination = Path(self.option("output_model_destination"))
        self.output_format = str(self.option("output_model_format"))
        self.prefix = str(self.option("save_filename_prefix") or "")
        self.epochs = int(self.option("epochs"))
        self.batch_size = int(self.option("batch_size"))
        self.accumulation = max(1, int(self.option("gradient_accumulation_steps")))
        self.progress = Progress()
        self.intervals = Intervals()
        self.updates = 0  # optimizer updates in the weights (what a saved file holds)
        self.one_step_trained = False
        self.has_gradient = False
        self.samples_queued = 0
        self.backup_requested = self.save_requested = False
        self.loss_index = 0
        self.tensorboard: subprocess.Popen | None = None
        self.epoch_bar = Bar("epoch", self.epochs)
        # like OneTrainer's trainer: the run's TensorBoard folder, and TensorBoard started, on creation
        logdir = self.workspace / "tensorboard" / f"{self.prefix}{timestamp()}"
        logdir.mkdir(parents=True, exist_ok=True)
        self.scalars = Scalars(logdir)
        self.validations = 0
        self.run_updates = 1
        if self.option("tensorboard"):
            # <dirname(sys.executable)>/tensorboard, same process group, inherited pipes
            tensorboard = Path(sys.executable).parent / "tensorboard"
            logdir = str(self.workspace / "tensorboard")
            self.tensorboard = subprocess.Popen([str(tensorboard), "--logdir", logdir])

    def option(self, key: str) -> Any:
        return self.config[key]

    def start(self, setup_lines: list[str]) -> None:
        """Write the workspace config, then "load the model" (the recorded setup lines)."""
        packed = dict(self.config)
        # the workspace config has concepts and samples inlined: their files must exist then
        if packed.get("concepts") is None:
            packed["concepts"] = json.loads(Path(self.option("concept_file_name")).read_text())
        if packed.get("samples") is None:
            packed["samples"] = json.loads(Path(self.option("sample_definition_file_name")).read_text())
        self.config["concepts"] = packed["concepts"]
        (self.workspace / "config").mkdir(parents=True, exist_ok=True)
        (self.workspace / "config" / f"{self.prefix}{timestamp()}.json").write_text(json.dumps(packed))
        lines = list(setup_lines)
        if lines and lines[0].startswith("Clearing cache directory "):
            out(lines.pop(0))
            sleep(TIMING["setup_line_seconds"])
        if self.option("continue_last_backup"):
            self.resume()
        for line in lines:
            out(line)
            sleep(TIMING["setup_line_seconds"])

    def resume(self) -> None:
        """continue_last_backup: the lexicographically last backup's train progress and weights."""
        folder = self.workspace / "backup"
        backups = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        if not backups:
            out("No backup found, continuing without backup...")
            return
        out(f"Continuing training from backup '{backups[-1]}'...")
        progress = json.loads((backups[-1] / "meta.json").read_text())["train_progress"]
        self.progress.global_step, self.progress.epoch = progress["global_step"], progress["epoch"]
        self.progress.epoch_step = progress["epoch_step"]
        self.updates = read_updates(backups[-1] / "lora" / "lora.safetensors")
        self.epoch_bar.n = self.progress.epoch

    def concepts(self) -> list[dict]:
        """The concepts trained on (VALIDATION ones only feed the validation loss)."""
        enabled = [c for c in self.config.get("concepts") or [] if c.get("enabled", True)]
        return [c for c in enabled if c.get("type") != "VALIDATION"]

    def validation_concepts(self) -> list[dict]:
        enabled = [c for c in self.config.get("concepts") or [] if c.get("enabled", True)]
        return [c for c in enabled if c.get("type") == "VALIDATION"]

    @staticmethod
    def samples_per_epoch(concept: dict, images: int) -> int:
        """REPEATS: floor(images x balancing); SAMPLES: int(balancing) (OneTrainer's concept balancing)."""
        balancing = float(concept.get("balancing", 1.0))
        if concept.get("balancing_strategy", "REPEATS") == "SAMPLES":
            return int(balancing)
        return math.floor(images * balancing)

    # tqdm's bytes, as in the recorded runs: the top bar (epoch) is drawn with "\r"; a nested bar
    # (position 1, 2) moves down, draws and moves back up; closing draws once more and ends the line.
    @staticmethod
    def top(bar: Bar) -> None:
        err("\r" + bar.render())

    @staticmethod
    def nested(bar: Bar, position: int = 1) -> None:
        err("\n" * position + "\r" + bar.render() + ESC_UP * position)

    @staticmethod
    def close(bar: Bar) -> None:
        err("\r" + bar.render() + "\n")

    def tqdm_write(self, message: str, step_bar: Bar | None) -> None:
        """tqdm.write: clear the open bars on stderr, print on stdout, draw them again."""
        if step_bar is None:
            out(message)
            return
        err(f"\r{' ' * self.epoch_bar.width}\r\n\r{' ' * step_bar.width}\r{ESC_UP}")
        out(message)
        self.top(self.epoch_bar)
        self.nested(step_bar)

    def next_loss(self) -> str:
        """The step bar's postfix; the same numbers go to TensorBoard at this step."""
        losses = REPLAY["losses"]
        loss, smooth = losses[self.loss_index % len(losses)]
        self.loss_index += 1
        step = self.progress.global_step
        try:
            rate = float(self.option("learning_rate"))
        except (TypeError, ValueError):  # "Could not set": OneTrainer keeps its default
            rate = float(REPLAY["defaults"]["learning_rate"])
        self.scalars.add_scalar("lr/unet", rate, step)
        self.scalars.add_scalar("loss/train_step", float(loss), step)
        self.scalars.add_scalar("smooth_loss/train_step", float(smooth), step)
        return f"loss={loss}, smooth loss={smooth}"

    def needs_validate(self) -> bool:
        if not self.option("validation"):
            return False
        unit = self.option("validate_after_unit")
        every = self.option("validate_after")
        return self.intervals.due("validate", every, unit, self.progress, at_start=True)

    def validation_value(self, offset: float) -> float:
        shape = {"floor": 0.12, "depth": 0.05, "best_at": 0.6, "ripple": 0.0}
        shape.update(SETTINGS.get("validation_loss", {}))
        x = self.updates / self.run_updates
        best = shape["best_at"]
        ripple = shape["ripple"] * (1 if self.validations % 2 == 0 else -1)
        return shape["floor"] + offset + shape["depth"] * abs(x - best) / best + ripple

    def validate(self, step_bar: Bar | None) -> None:
        """After the step: one loss per VALIDATION concept (labels as OneTrainer makes them)."""
        concepts = self.validation_concepts()
        labels: dict[str, int] = {}
        totals = []
        for index, concept in enumerate(concepts):
            label = concept.get("name") or os.path.basename(str(concept["path"]))
            if label in labels:
                suffix = 1
                while f"{label}({suffix})" in labels:
                    suffix += 1
                label = f"{label}({suffix})"
            labels[label] = index
            images = count_images(Path(concept["path"]), bool(concept.get("include_subdirectories")))
            if images == 0:
                continue
            bar = Bar("validation_step", images)
            for _ in range(images):
                sleep(TIMING["step_seconds"] / 3)  # a forward pass, no backward
                bar.n += 1
                self.nested(bar, 2)
            self.close(bar)
            value = self.validation_value(0.01 * index)
            totals.append((value, images))
            self.scalars.add_scalar(f"loss/validation_step/{label}", value, self.progress.global_step)
        if len(totals) > 1:
            average = sum(v * n for v, n in totals) / sum(n for _, n in totals)
            self.scalars.add_scalar("loss/validation_step/total_average", average, self.progress.global_step)
        self.validations += 1

    # ------------------------------------------------------------------ timed actions

    def needs_sample(self) -> bool:
        unit = self.option("sample_after_unit")
        return self.intervals.elapsed(self.option("sample_skip_first"), unit, self.progress) and (
            self.intervals.due("sample", self.option("sample_after"), unit, self.progress, at_start=True)
        )

    def needs_backup(self) -> bool:
        unit = self.option("backup_after_unit")
        return self.intervals.due("backup", self.option("backup_after"), unit, self.progress, at_start=False)

    def needs_save(self) -> bool:
        unit = self.option("save_every_unit")
        return self.intervals.elapsed(self.option("save_skip_first"), unit, self.progress) and (
            self.intervals.due("save", self.option("save_every"), unit, self.progress, at_start=False)
        )

    def sample_configs(self, step_bar: Bar | None) -> list[dict]:
        samples = self.config.get("samples")
        if samples is not None:
            return list(samples)
        try:  # the samples file is read again at every sampling
            with open(self.option("sample_definition_file_name"), encoding="utf-8") as handle:
                return list(json.load(handle))
        except Exception:
            traceback.print_exc()
            message = "Error during loading the sample definition file, proceeding without sampling"
            self.tqdm_write(message, step_bar)
            return []

    def sample(self, step_bar: Bar | None) -> None:
        image_format = str(self.option("sample_image_format"))
        for index, entry in enumerate(self.sample_configs(step_bar)):
            sample = {**REPLAY["sample_defaults"], **entry}
            if not sample["enabled"]:
                continue
            folder = self.workspace / "samples" / f"{index} - {safe_filename(str(sample['prompt']))}"
            name = f"{self.prefix}{timestamp()}-training-sample-{self.progress.name()}"
            bar = Bar("sampling", int(sample["diffusion_steps"]))
            self.nested(bar, 2)
            for _ in range(bar.total):
                sleep(TIMING["sample_step_seconds"])
                bar.n += 1
                self.nested(bar, 2)
            self.close(bar)
            path = folder / (name + SAMPLE_EXTENSIONS.get(image_format, ""))
            write_sample(path, self.updates, int(sample["width"]), int(sample["height"]), image_format)

    def backup(self, step_bar: Bar | None) -> None:
        name = f"{timestamp()}-backup-{self.progress.name()}"
        backup = self.workspace / "backup" / name
        self.tqdm_write(f"Creating Backup {backup}", step_bar)
        try:
            sleep(TIMING["backup_seconds"])
            (backup / "optimizer").mkdir(parents=True, exist_ok=True)
            (backup / "optimizer" / "optimizer.pt").write_bytes(b"\0" * 64)
            (backup / "onetrainer_config").mkdir(exist_ok=True)
            (backup / "onetrainer_config" / "args.json").write_text(json.dumps(self.config))
            # the concept and sample files are copied when they exist, inline lists or not
            for key, copy in (
                ("concept_file_name", "concepts.json"),
                ("sample_definition_file_name", "samples.json"),
            ):
                if Path(self.option(key)).is_file():
                    shutil.copy2(self.option(key), backup / "onetrainer_config" / copy)
            progress = {
                "epoch": self.progress.epoch,
                "epoch_step": self.progress.epoch_step,
                "global_step": self.progress.global_step,
            }
            (backup / "meta.json").write_text(json.dumps({"train_progress": progress}))
            write_model(backup / "lora" / "lora.safetensors", self.updates, "KOHYA_LORA")
        finally:
            if self.option("rolling_backup"):
                self.prune_backups(int(self.option("rolling_backup_count")))

    def prune_backups(self, keep: int) -> None:
        folder = self.workspace / "backup"
        names = sorted((p.name for p in folder.iterdir() if p.is_dir()), reverse=True)
        for name in names[keep:]:
            shutil.rmtree(folder / name)

    def save(self, step_bar: Bar | None) -> None:
        name = f"{self.prefix}{timestamp()}-save-{self.progress.name()}{model_extension(self.output_format)}"
        path = self.workspace / "save" / name
        self.tqdm_write(f"Saving {path}", step_bar)
        write_model(path, self.updates, self.output_format)

    # ------------------------------------------------------------------ training

    def train(self) -> None:
        step_bar: Bar | None = None
        progress = self.progress
        try:
            self.top(self.epoch_bar)
            concepts = self.concepts()
            enumerating = Bar("enumerating sample paths", 1)
            self.nested(enumerating)
            for concept in concepts:
                if not Path(concept["path"]).is_dir():
                    self.close(enumerating)
                    raise_missing_concept(Path(concept["path"]))
            err(REPLAY["enumerated"])
            counts = [
                count_images(Path(concept["path"]), bool(concept.get("include_subdirectories")))
                for concept in concepts
            ]
            images = sum(counts)
            caching = Bar("caching", images)
            self.nested(caching)
            for _ in range(images):
                sleep(TIMING["cache_item_seconds"])
                caching.n += 1
                self.nested(caching)
            self.close(caching)
            samples = sum(self.samples_per_epoch(c, n) for c, n in zip(concepts, counts, strict=True))
            steps = max(1, samples // self.batch_size)
            self.run_updates = max(1, steps * self.epochs // self.accumulation)
            first_step = progress.epoch_step  # a resumed run starts inside an epoch
            for epoch in range(progress.epoch, self.epochs):
                progress.epoch = epoch
                # the data loader starts the epoch before its step bar appears (a SIGINT then stops
                # training between two epochs, as in the recorded interrupted run)
                sleep(TIMING["epoch_start_seconds"])
                step_bar = Bar("step", steps, initial=first_step)
                self.nested(step_bar)
                for index in range(first_step + 1, steps + 1):
                    progress.epoch_step = index - 1
                    # checked before the step trains; done once no gradients are pending
                    if self.needs_sample():
                        self.samples_queued += 1
                    self.backup_requested |= self.needs_backup()
                    self.save_requested |= self.needs_save()
                    if not self.has_gradient:
                        for _ in range(self.samples_queued):
                            self.sample(step_bar)
                        self.samples_queued = 0
                        if self.backup_requested:
                            self.backup_requested = False
                            self.backup(step_bar)
                        if self.save_requested:
                            self.save_requested = False
                            self.save(step_bar)
                    sleep(TIMING["step_seconds"])
                    self.has_gradient = True
                    if (progress.global_step + 1) % self.accumulation == 0:
                        self.has_gradient = False
                        self.updates += 1
                        self.one_step_trained = True
                        step_bar.postfix = self.next_loss()
                        self.nested(step_bar)  # set_postfix redraws with the count tqdm last showed
                    if self.needs_validate():
                        self.validate(step_bar)
                    progress.global_step += 1
                    progress.epoch_step += 1
                    if index % 2 == 0 or index == steps:  # tqdm's miniters: the count every 2 steps
                        step_bar.n = index
                        self.nested(step_bar)
                self.close(step_bar)
                step_bar = None
                first_step = progress.epoch_step = 0
                progress.epoch = epoch + 1
                self.epoch_bar.n = epoch + 1
                self.top(self.epoch_bar)
        finally:
            # on the way out (done, Ctrl+C or an error) tqdm closes the open bars
            if step_bar is not None:
                self.close(step_bar)
            self.close(self.epoch_bar)

    def end(self) -> None:
        if self.one_step_trained:
            if self.option("backup_before_save"):
                self.backup(None)
            destination = self.destination
            if destination.is_dir() and self.output_format not in DIRECTORY_FORMATS:
                destination = destination / f"{self.prefix}{timestamp()}{model_extension(self.output_format)}"
            out(f"Saving {destination}")
            write_model(destination, self.updates, self.output_format)
        self.scalars.close()
        if self.tensorboard is not None and not self.option("tensorboard_always_on"):
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

    sleep(TIMING["import_seconds"])
    err(REPLAY["stderr_imports"])
    out(REPLAY["stdout_imports"])
    config = read_config(args.config_path)
    if args.secrets_path is not None:
        open(args.secrets_path).close()
    for message in could_not_set(config):
        out(message)
    cache_dir = config.get("cache_dir", REPLAY["defaults"]["cache_dir"])
    trainer = Trainer(config)
    trainer.start([line.replace("{cache_dir}", cache_dir) for line in REPLAY["stdout_setup"]])
    canceled = False
    try:
        trainer.train()
    except KeyboardInterrupt:
        canceled = True
    # any other exception propagates: traceback, exit 1, no save, TensorBoard left running
    if not canceled or trainer.option("backup_before_save"):
        trainer.end()


if __name__ == "__main__":
    main()
