"""Builds a fake OneTrainer tree for the launch tests and the benchmark.

The tree has what the launcher looks at - ``scripts/train.py``, ``venv/bin/python`` (a real virtual
environment that sees this interpreter's packages), ``modules/util/config/TrainConfig.py``
declaring the config version - plus
``venv/bin/tensorboard`` (a process that runs until terminated, as TensorBoard does) and
``modules/util/enum/Optimizer.py`` (the members the stand-in accepts). The stand-in's output
fragments are cut from the recorded real runs when the tree is built (``scripts/replay.json``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# What the recorded runs' README says about timing on CPU.
IMPORT_SECONDS = 7.0
STEP_SECONDS = 0.07
# The recorded epochs of 4 steps took about 0.38 s, their step bars 0.28 s: the rest starts the epoch.
EPOCH_START_SECONDS = 0.1
# Not recorded (the runs did not sample): a guess for one diffusion step of a tiny model on CPU.
SAMPLE_STEP_SECONDS = 0.05

# The TrainConfig keys the stand-in reads; a config without one gets OneTrainer's default.
DEFAULT_KEYS = (
    "workspace_dir",
    "cache_dir",
    "output_model_destination",
    "output_model_format",
    "save_filename_prefix",
    "epochs",
    "batch_size",
    "gradient_accumulation_steps",
    "tensorboard",
    "tensorboard_always_on",
    "continue_last_backup",
    "concepts",
    "concept_file_name",
    "samples",
    "sample_definition_file_name",
    "sample_after",
    "sample_after_unit",
    "sample_skip_first",
    "sample_image_format",
    "backup_after",
    "backup_after_unit",
    "rolling_backup",
    "rolling_backup_count",
    "backup_before_save",
    "save_every",
    "save_every_unit",
    "save_skip_first",
    "validation",
    "validate_after",
    "validate_after_unit",
    "learning_rate",
)
SAMPLE_DEFAULT_KEYS = ("enabled", "prompt", "width", "height", "diffusion_steps")

TENSORBOARD = """#!{python}
import os, sys, time
logdir = sys.argv[sys.argv.index("--logdir") + 1]
os.makedirs(logdir, exist_ok=True)
with open(os.path.join(os.path.dirname(logdir), "tensorboard.pid"), "w") as handle:
    handle.write(str(os.getpid()))
while True:
    time.sleep(1)
"""

TRAIN_CONFIG = """class BaseConfig:
    def __init__(self, data, config_version=0, config_migrations=None):
        self.data = data


class TrainOptimizerConfig(BaseConfig):
    def __init__(self, data):
        super().__init__(data, config_version=1, config_migrations={{}})


class TrainConfig(BaseConfig):
    def __init__(self, data):
        super().__init__(
            data,
            config_version={version},
            config_migrations={{}},
        )
"""


def build_replay(logs: Path) -> dict[str, Any]:
    """The stand-in's output fragments and timing, cut from the recorded runs in ``logs``, and
    OneTrainer's defaults for the keys it reads (from the config defaults beside ``logs``)."""
    defaults = json.loads((logs.parent / "default-train-config.json").read_text(encoding="utf-8"))
    sample_defaults = json.loads((logs.parent / "default-sample.json").read_text(encoding="utf-8"))
    finished_err = (logs / "finished.stderr").read_bytes().decode("utf-8")
    finished_out = (logs / "finished.stdout").read_text(encoding="utf-8").splitlines()
    interrupted_err = (logs / "interrupted.stderr").read_bytes().decode("utf-8")
    config = json.loads((logs / "finished.config.json").read_text(encoding="utf-8"))
    setup: list[str] = []
    for line in finished_out[1:]:
        if line.startswith(("Saving ", "Creating Backup ")):
            break
        setup.append(line.replace(config["cache_dir"], "{cache_dir}"))
    enumerated = re.search(r"\renumerating sample paths: 100%[^\n]*\n", finished_err)
    cache_rate = re.findall(r"caching: 100%[^\n]*?([\d.]+)it/s\]", finished_err)
    assert enumerated and cache_rate, "the recorded logs changed shape"
    losses: list[list[str]] = []
    for loss, smooth in re.findall(r"loss=([^,]+), smooth loss=([^\]]+)\]", interrupted_err):
        if not losses or losses[-1] != [loss, smooth]:
            losses.append([loss, smooth])
    return {
        "stderr_imports": finished_err[: finished_err.index("\r")],
        "stdout_imports": finished_out[0],
        "stdout_setup": setup,
        "enumerated": enumerated.group(0),
        "losses": losses,
        "defaults": {key: defaults[key] for key in DEFAULT_KEYS},
        "sample_defaults": {key: sample_defaults[key] for key in SAMPLE_DEFAULT_KEYS},
        "timing": {
            "import_seconds": IMPORT_SECONDS,
            "setup_line_seconds": 0.3,
            "cache_item_seconds": 1.0 / float(cache_rate[-1]),
            "step_seconds": STEP_SECONDS,
            "epoch_start_seconds": EPOCH_START_SECONDS,
            "save_seconds": 0.3,
            "backup_seconds": 0.5,
            "sample_step_seconds": SAMPLE_STEP_SECONDS,
        },
    }


def optimizer_members(onetrainer_facts: Path) -> list[str]:
    enums = json.loads((onetrainer_facts / "enums.json").read_text(encoding="utf-8"))
    return list(enums["enums"]["Optimizer"]["members"])


def make_onetrainer(
    root: Path,
    onetrainer_facts: Path,
    *,
    time_scale: float = 0.02,
    config_version: int = 11,
    drop_optimizers: tuple[str, ...] = (),
    train_script: str | None = None,
    with_venv: bool = True,
    timing: dict[str, float] | None = None,
    validation_loss: dict[str, float] | None = None,
) -> Path:
    """A fake OneTrainer checkout at ``root``; ``train_script`` replaces the replaying stand-in.

    ``validation_loss`` shapes the validation loss the stand-in logs (see ``fake_train.py``):
    ``floor``, ``depth``, ``best_at`` (a fraction of the run's optimizer updates), ``ripple``.
    """
    scripts = root / "scripts"
    scripts.mkdir(parents=True)
    if train_script is None:
        shutil.copyfile(HERE / "fake_train.py", scripts / "train.py")
    else:
        (scripts / "train.py").write_text(train_script, encoding="utf-8")
    replay = build_replay(onetrainer_facts / "logs")
    (scripts / "replay.json").write_text(json.dumps(replay), encoding="utf-8")
    settings = {"time_scale": time_scale, "timing": timing or {}, "validation_loss": validation_loss or {}}
    (scripts / "standin.json").write_text(json.dumps(settings), encoding="utf-8")
    config_dir = root / "modules" / "util" / "config"
    config_dir.mkdir(parents=True)
    (config_dir / "TrainConfig.py").write_text(TRAIN_CONFIG.format(version=config_version), encoding="utf-8")
    enum_dir = root / "modules" / "util" / "enum"
    enum_dir.mkdir(parents=True)
    members = [m for m in optimizer_members(onetrainer_facts) if m not in drop_optimizers]
    body = "".join(f"    {m} = '{m}'\n" for m in members)
    (enum_dir / "Optimizer.py").write_text(f"from enum import Enum\n\n\nclass Optimizer(Enum):\n{body}")
    if with_venv:
        bin_dir = _make_venv(root / "venv")
        tensorboard = bin_dir / "tensorboard"
        tensorboard.write_text(TENSORBOARD.format(python=sys.executable), encoding="utf-8")
        tensorboard.chmod(tensorboard.stat().st_mode | stat.S_IXUSR)
    return root


def _make_venv(folder: Path) -> Path:
    """A real virtual environment, as OneTrainer's install makes, that sees this test run's packages.

    A bare link to ``sys.executable`` would lose the packages of a virtual environment the tests
    run in (Python finds its packages from ``pyvenv.cfg``, not from the link), so build a real one
    and point a ``.pth`` file at the packages this interpreter uses.
    """
    import site
    import sysconfig
    import venv

    venv.EnvBuilder(symlinks=os.name != "nt", with_pip=False).create(folder)
    purelib = sysconfig.get_path("purelib", vars={"base": str(folder), "platbase": str(folder)})
    visible = [*site.getsitepackages(), *(p for p in sys.path if p and Path(p).is_dir())]
    Path(purelib, "_outer_packages.pth").write_text("\n".join(dict.fromkeys(visible)) + "\n")
    return folder / ("Scripts" if os.name == "nt" else "bin")


def tiny_png() -> bytes:
    """A valid 8x8 PNG."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 100, 50)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_config(
    base: Path,
    onetrainer_facts: Path,
    *,
    recorded: str = "finished",
    images: int = 4,
    **overrides: Any,
) -> Path:
    """A recorded run's config with its paths moved under ``base`` (dataset, model, workspace)."""
    config = json.loads((onetrainer_facts / "logs" / f"{recorded}.config.json").read_text(encoding="utf-8"))
    dataset = base / "dataset"
    dataset.mkdir(parents=True, exist_ok=True)
    png = tiny_png()
    for index in range(images):
        (dataset / f"{index:04d}.png").write_bytes(png)
    (base / "prompts.txt").write_text("a photo of a faery\n", encoding="utf-8")
    model = base / "models" / "tiny-sd15"
    model.mkdir(parents=True, exist_ok=True)
    (model / "model_index.json").write_text("{}", encoding="utf-8")
    config.update(
        base_model_name=str(model),
        workspace_dir=str(base / "run" / "workspace"),
        cache_dir=str(base / "run" / "cache"),
        output_model_destination=str(base / "run" / "out" / "faery.safetensors"),
    )
    # what the UI would have expanded the preset into (train.py ignores layer_filter_preset)
    config["layer_filter"] = "attentions"
    config["layer_filter_preset"] = "attn-only"
    for concept in config["concepts"]:
        if concept["path"].endswith("does-not-exist"):
            concept["path"] = str(base / "does-not-exist")
        else:
            concept["path"] = str(dataset)
        concept["text"]["prompt_path"] = str(base / "prompts.txt")
    config.update(overrides)
    path = base / "run" / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


SAVE_NAME = re.compile(
    r"^(?P<prefix>.*?)(?P<time>\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d)-(?P<kind>save|backup|training-sample)-"
    r"(?P<step>\d+)-(?P<epoch>\d+)-(?P<epoch_step>\d+)(?P<ext>\.\w+)?$"
)


def model_updates(path: Path) -> int:
    """The optimizer updates a model file written by the stand-in holds (its one tensor's first value)."""
    import struct

    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    (name,) = (key for key in header if key != "__metadata__")
    start, _end = header[name]["data_offsets"]
    return int(struct.unpack_from("<f", raw, 8 + size + start)[0])
