"""The run folder: one owner for its layout and for what a run's ``config.json`` says.

``build-config`` writes it, ``launch`` trains into it, ``compare`` and ``pick`` read it, ``run``
sets an earlier training aside in it. Every one of them asks here where a file is::

    RUN_DIR/config.json        the TrainConfig (concepts and samples inline, or in the two below)
    RUN_DIR/concepts.json      with separate files
    RUN_DIR/samples.json       with separate files
    RUN_DIR/secrets.json       the Hugging Face token, only when one is given
    RUN_DIR/config.resume.json config.json continuing from the last backup (``run`` after a Ctrl+C)
    RUN_DIR/launch.log         what OneTrainer printed
    RUN_DIR/prompts.txt        the prompts of the ``concept`` prompt source, when build-config writes them
    RUN_DIR/cache/             OneTrainer's cache_dir
    RUN_DIR/train/<set>/       with validation: the images trained on (links to the dataset)
    RUN_DIR/validation/<set>/  the held-out images, OneTrainer's VALIDATION concept
    RUN_DIR/workspace/         OneTrainer's workspace_dir (unless config.json names another)
        save/, backup/         its saves and backups (named as :mod:`onelazy.onetrainer.outputs` says)
        tensorboard/, samples/ its logs (read by :mod:`onelazy.evidence`) and training samples
        earlier/<time>/        an earlier training's files, set aside before a fresh one
    RUN_DIR/compare/           the comparison: grid.png, index.html, images/, picked.json

The output LoRA is wherever ``output_model_destination`` says; a pick keeps the trained final model
beside it as ``<stem>.final-<step><suffix>``. :func:`read_run` reads ``config.json`` once; pass the
:class:`Run` it returns on, instead of the folder, so no command reads it twice.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Union

from onelazy._files import atomic_copy
from onelazy.errors import StorageError, UsageError
from onelazy.onetrainer.outputs import (
    BACKUP_DIR,
    SAMPLES_DIR,
    SAVE_DIR,
    TENSORBOARD_DIR,
    is_backup,
    is_save,
    sample_position,
)

if TYPE_CHECKING:
    from onelazy.onetrainer.models import TrainConfig

CONFIG_FILE = "config.json"
CONCEPTS_FILE = "concepts.json"
SAMPLES_FILE = "samples.json"
SECRETS_FILE = "secrets.json"
LAUNCH_LOG = "launch.log"
#: config.json with ``continue_last_backup`` on: what ``run`` launches to continue an interrupted training.
RESUME_CONFIG_FILE = "config.resume.json"
WORKSPACE_DIR = "workspace"
CACHE_DIR = "cache"
PROMPTS_FILE = "prompts.txt"
TRAIN_DIR = "train"
VALIDATION_DIR = "validation"
COMPARE_DIR = "compare"
#: Where a fresh training moves the files of the training before it: ``<workspace>/earlier/<time>/``.
EARLIER_DIR = "earlier"


@dataclass(frozen=True)
class RunFolder:
    """Where each file of a run folder is, from the folder alone (nothing read)."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def concepts(self) -> Path:
        return self.path / CONCEPTS_FILE

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES_FILE

    @property
    def secrets(self) -> Path:
        return self.path / SECRETS_FILE

    @property
    def resume_config(self) -> Path:
        return self.path / RESUME_CONFIG_FILE

    @property
    def launch_log(self) -> Path:
        return self.path / LAUNCH_LOG

    @property
    def workspace(self) -> Path:
        """The workspace ``build-config`` writes into ``config.json``."""
        return self.path / WORKSPACE_DIR

    @property
    def prompts(self) -> Path:
        """The prompts OneTrainer's ``concept`` prompt source reads, when build-config writes them."""
        return self.path / PROMPTS_FILE

    @property
    def train(self) -> Path:
        """With a validation set: ``train/<set>/``, links to the images trained on."""
        return self.path / TRAIN_DIR

    @property
    def validation(self) -> Path:
        """With a validation set: ``validation/<set>/``, links to the held-out images."""
        return self.path / VALIDATION_DIR

    @property
    def cache(self) -> Path:
        """OneTrainer's ``cache_dir`` as ``build-config`` writes it."""
        return self.path / CACHE_DIR

    @property
    def compare(self) -> Path:
        return self.path / COMPARE_DIR

    @property
    def grid(self) -> Path:
        return self.compare / "grid.png"

    @property
    def picked(self) -> Path:
        """The record of the last pick: which checkpoint the output file is."""
        return self.compare / "picked.json"


@dataclass(frozen=True)
class Run:
    """A run as its ``config.json`` says (read once, leniently, as OneTrainer would): where the
    workspace, the saves and backups and the output are."""

    config_path: Path
    config: TrainConfig
    workspace: Path
    output: Path
    prefix: str
    config_bytes: bytes = b""
    """``config.json`` as it was read (what the launch fingerprint hashes)."""

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.config_path.parent)

    @property
    def saves(self) -> Path:
        return self.workspace / SAVE_DIR

    @property
    def backups(self) -> Path:
        return self.workspace / BACKUP_DIR

    @property
    def earlier(self) -> Path:
        return self.workspace / EARLIER_DIR

    def training_images(self) -> tuple[list[Path], list[str]]:
        """The images the run trains on, and the concept folders (or concepts file) not found.

        They are the images of its enabled STANDARD concepts (inline, or in ``concept_file_name``),
        not the held-out VALIDATION ones. build-config writes absolute paths; a relative one is
        OneTrainer's to resolve from its own folder, so it is looked for in ``$ONETRAINER_DIR``
        when that is set, then beside ``config.json``."""
        from onelazy.dataset import find_images
        from onelazy.errors import ConfigError
        from onelazy.onetrainer.enums import ConceptType
        from onelazy.onetrainer.reading import read_concepts_lenient

        roots = [Path(os.environ["ONETRAINER_DIR"]).expanduser()] if os.environ.get("ONETRAINER_DIR") else []
        roots.append(self.config_path.parent)

        def located(value: str) -> Path | None:
            path = Path(value).expanduser()
            candidates = [path] if path.is_absolute() else [root / path for root in roots]
            return next((c for c in candidates if c.exists()), None)

        concepts = self.config.concepts
        if concepts is None:
            file = located(str(self.config.concept_file_name))
            try:
                if file is None:
                    raise OSError
                concepts, _problems = read_concepts_lenient(file)
            except (ConfigError, OSError):
                return [], [str(self.config.concept_file_name)]
        found: list[Path] = []
        missing: list[str] = []
        for concept in concepts:
            if not concept.enabled or concept.type != ConceptType.STANDARD:
                continue
            folder = located(concept.path)
            if folder is None or not folder.is_dir():
                missing.append(concept.path)
                continue
            depth = None if concept.include_subdirectories else 0
            found += [folder / name for name in find_images(folder, depth=depth)]
        return found, missing


#: A run folder, its ``config.json``, or a :class:`Run` already read.
RunSource = Union[str, "os.PathLike[str]", Run]


#: Runs read lately, by their config.json's identity (device, inode, size, mtime, ctime): a command
#: whose stages each ask for the run reads the file once, and a rewritten file (an atomic write is a
#: new inode; any write changes the ctime) is read again.
_READ: dict[tuple[Path, tuple[int, ...]], Run] = {}
_READ_KEPT = 8


def read_run(run_dir: RunSource) -> Run:
    """The run in ``run_dir`` (the folder or its ``config.json``); a :class:`Run` is returned as it is.

    ``config.json`` is read once while it stays the same file; treat the returned config as read-only
    (``model_copy(deep=True)`` before changing it)."""
    if isinstance(run_dir, Run):
        return run_dir
    from onelazy.onetrainer import load_train_config_lenient, read_train_config_lenient
    from onelazy.onetrainer.reading import parse_json

    given = Path(run_dir).expanduser()
    config_path = given if given.is_file() else given / CONFIG_FILE
    try:
        stat = config_path.stat()
    except OSError:
        stat = None
    if stat is None or not config_path.is_file():
        raise UsageError(f"{given}: no config.json here; give the run folder `onelazy build-config` wrote")
    identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    key = (config_path.resolve(), identity)
    if key in _READ:
        return _READ[key]
    try:
        raw = config_path.read_bytes()
    except OSError:  # reading it the usual way says what is wrong
        read_train_config_lenient(config_path)
        raise
    config, _problems = load_train_config_lenient(parse_json(raw, config_path), source=str(config_path))
    base = config_path.parent.resolve()

    def absolute(value: str) -> Path:
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    run = Run(
        config_path=key[0],
        config=config,
        workspace=absolute(str(config.workspace_dir)),
        output=absolute(str(config.output_model_destination)),
        prefix=str(config.save_filename_prefix or ""),
        config_bytes=raw,
    )
    while len(_READ) >= _READ_KEPT:
        del _READ[next(iter(_READ))]
    _READ[key] = run
    return run


def run_paths(run_dir: RunSource) -> tuple[Path, Path, Path]:
    """``(config.json, workspace folder, output file)`` of the run in ``run_dir``, as absolute paths."""
    run = read_run(run_dir)
    return run.config_path, run.workspace, run.output


# =============================================================================== beside the output


def kept_final_name(output: Path, step: int | None) -> Path:
    """Where a pick keeps the trained final model: ``<stem>.final-<step><suffix>`` beside the output."""
    tag = f"final-{step}" if step is not None else "final"
    return output.with_name(f"{output.stem}.{tag}{output.suffix}")


def kept_final_step(kept: Path) -> int | None:
    """The step in a kept final model's name (``<stem>.final-<step><suffix>``), or None."""
    found = re.search(r"\.final-(\d+)(?:\.\d+)?\.[^.]*$", kept.name)
    return int(found[1]) if found else None


def kept_final_models(output: Path) -> list[Path]:
    """Every ``<stem>.final[-<step>]<suffix>`` beside ``output``: trained final models picks kept."""
    pattern = re.compile(re.escape(output.stem) + r"\.final(?:-\d+)?(?:\.\d+)?" + re.escape(output.suffix))
    if not output.parent.is_dir():
        return []
    return sorted(
        entry
        for entry in output.parent.iterdir()
        if pattern.fullmatch(entry.name) and entry.is_file() and not entry.name.startswith(".")
    )


def kept_final_model(output: Path) -> Path | None:
    """The trained final model a pick kept beside ``output`` (the newest, if several), or None."""
    found = kept_final_models(output)
    return max(found, key=lambda entry: (entry.stat().st_mtime_ns, entry.name)) if found else None


def pick_backups(output: Path) -> list[Path]:
    """The ``.bak`` files picks made of ``output`` (``<name>.bak``, ``<name>.2.bak``, ...)."""
    pattern = re.compile(re.escape(output.name) + r"(?:\.\d+)?\.bak")
    if not output.parent.is_dir():
        return []
    return sorted(e for e in output.parent.iterdir() if pattern.fullmatch(e.name) and e.is_file())


def free_name(path: Path) -> Path:
    """``path``, or ``<name>.2``, ``.3``, ... before its suffix: a name no file has yet."""
    if not path.exists():
        return path
    number = 2
    while True:
        candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")
        if not candidate.exists():
            return candidate
        number += 1


# =============================================================================== a fresh training


@dataclass(frozen=True)
class SetAside:
    """What :func:`set_aside_earlier_training` moved (``(from, to)`` pairs) and into which folder."""

    folder: Path | None
    moved: tuple[tuple[Path, Path], ...] = ()
    output: tuple[Path, Path, str] | None = None
    """The LoRA at the output path: ``(from, to, what it was)``, e.g. ``"picked step 60"``."""

    def describe(self) -> list[str]:
        if not self.moved:
            return []
        lines = [f"The earlier training's saves, backups and LoRA files are kept in {self.folder}."]
        if self.output is not None:
            source, target, what = self.output
            lines.append(f"{source} ({what}) moved to {target}; the new training writes a new one.")
        return lines


def set_aside_earlier_training(run_dir: RunSource) -> SetAside:
    """Before a fresh (not continued) training: move the training before it out of the way, deleting nothing.

    OneTrainer would write its saves beside the earlier training's (same prefix, so :func:`compare`
    could not tell them apart), continue from the earlier backups, and overwrite the LoRA at the output
    path (perhaps a picked checkpoint, with no copy but this one). So the earlier saves (this run's
    prefix) and backups, the output file (named for what it was: ``<stem>.picked-<step>`` when a pick
    made it) and the final model a pick kept (``<stem>.final-<step>``, ``.bak``) move into
    ``<workspace>/earlier/<UTC time>/``, with its TensorBoard logs and training samples (so the losses
    compare shows are the new training's). Call it only while no training runs in the workspace.
    """
    from onelazy.comparison.checkpoints import find_checkpoints_of

    facts = read_run(run_dir)
    checkpoints, digests = find_checkpoints_of(facts)
    moves: list[tuple[Path, str]] = []  # (source, path below the dated folder)
    for sub, folder in ((SAVE_DIR, facts.saves), (BACKUP_DIR, facts.backups)):
        if folder.is_dir():
            moves += [
                (e, f"{sub}/{e.name}")
                for e in sorted(folder.iterdir())
                if (is_save(e.name, facts.prefix) if sub == SAVE_DIR else is_backup(e.name))
            ]
    # its logs and training samples too, so the evidence compare shows is the next training's own
    logs = facts.workspace / TENSORBOARD_DIR
    if logs.is_dir():
        moves += [
            (e, f"{TENSORBOARD_DIR}/{e.name}")
            for e in sorted(logs.iterdir())
            if e.is_dir() and e.name.startswith(facts.prefix)
        ]
    samples = facts.workspace / SAMPLES_DIR
    if samples.is_dir():
        for folder in sorted(p for p in samples.iterdir() if p.is_dir()):
            moves += [
                (e, f"{SAMPLES_DIR}/{folder.name}/{e.name}")
                for e in sorted(folder.iterdir())
                if sample_position(e.name, facts.prefix) is not None
            ]
    output = facts.output
    moves += [(path, path.name) for path in [*kept_final_models(output), *pick_backups(output)]]
    output_move: tuple[Path, str, str] | None = None
    if output.is_file():
        digest = digests[output]
        here = next((c for c in checkpoints if c.sha256 == digest), None)
        if here is not None and here.kind == "save":
            what, name = f"picked step {here.step}", f"{output.stem}.picked-{here.step}{output.suffix}"
        elif here is not None and here.kind == "final":
            what, name = f"its final model, step {here.step}", kept_final_name(output, here.step).name
        else:
            what, name = "no checkpoint of that training", output.name
        output_move = (output, name, what)
        moves.append((output, name))
    if not moves:
        return SetAside(None)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d_%H-%M-%S")
    target = free_name(facts.earlier / stamp)
    moved: list[tuple[Path, Path]] = []
    for source, relative in moves:
        destination = free_name(target / relative)
        _move(source, destination)
        moved.append((source, destination))
    output_moved = None
    if output_move is not None:
        output_moved = (output, dict(moved)[output], output_move[2])
    return SetAside(target, tuple(moved), output_moved)


def _move(source: Path, destination: Path) -> None:
    """A rename; across file systems (the output on another disk) a whole copy first, then the removal."""
    import errno
    import shutil

    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, destination)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise StorageError(f"{source}: cannot move to {destination}: {exc.strerror or exc}") from exc
    try:
        if source.is_dir():
            shutil.copytree(source, destination)
            shutil.rmtree(source)
        else:
            atomic_copy(source, destination)
            source.unlink()
    except OSError as exc:
        raise StorageError(f"{source}: cannot move to {destination}: {exc.strerror or exc}") from exc
