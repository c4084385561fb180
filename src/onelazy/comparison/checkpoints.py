"""A run's checkpoints: where its config.json says they are, and which training step each one is.

A run's checkpoints are its intermediate saves
(``<workspace>/save/<prefix><time>-save-<step>-<epoch>-<epoch_step>.safetensors``) and the final
model (``output_model_destination``); a pick keeps the trained final model beside the output as
``<stem>.final-<step>.safetensors``. :func:`set_aside_earlier_training` moves an earlier
training's files to ``<workspace>/earlier/<time>/`` before a fresh one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from onelazy._files import atomic_copy, sha256_file
from onelazy.errors import StorageError, UsageError

#: After ``save_filename_prefix``: OneTrainer's timestamp, then the train position.
_SAVE_NAME = (
    r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-save-(?P<step>\d+)-(?P<epoch>\d+)-(?P<epoch_step>\d+)\.safetensors"
)
_BACKUP_NAME = re.compile(r"-backup-(?P<step>\d+)-(?P<epoch>\d+)-(?P<epoch_step>\d+)$")
#: A save of any format (a file, or a folder for diffusers), after the prefix: what a retrain sets aside.
_ANY_SAVE_NAME = r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-save-\d+-\d+-\d+(?:\.\w+)?"
_ANY_BACKUP_NAME = r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-backup-\d+-\d+-\d+"
#: Where a fresh training moves the files of the training before it: ``<workspace>/earlier/<time>/``.
EARLIER_DIR = "earlier"
#: Longest side of one grid cell, in pixels (the page links the full-size images).


# =============================================================================== checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """One LoRA file of a run, with the training position its file name (or backup) tells."""

    path: Path
    kind: Literal["save", "final", "previous", "output"]
    step: int | None
    epoch: int | None
    epoch_step: int | None
    sha256: str

    @property
    def label(self) -> str:
        where = f"step {self.step}" if self.step is not None else "step ?"
        if self.epoch is not None:
            where += f", epoch {self.epoch}"
        if self.kind == "final":
            return f"final ({where})"
        if self.kind == "previous":
            # a final model a pick kept in an earlier training, or an old-style .bak
            return (
                f"earlier final ({where})"
                if _tagged_step(self.path) is not None
                else f"before pick ({where})"
            )
        if self.kind == "output":
            return "output file (no checkpoint of this run)"
        return where


@dataclass(frozen=True)
class RunFacts:
    config_path: Path
    workspace: Path
    output: Path
    prefix: str


def run_paths(run_dir: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """``(config.json, workspace folder, output file)`` of the run in ``run_dir``, as absolute paths."""
    facts = read_run(run_dir)
    return facts.config_path, facts.workspace, facts.output


def read_run(run_dir: str | os.PathLike[str]) -> RunFacts:
    """Where a run's checkpoints are, from its ``config.json`` (``run_dir`` or the file itself)."""
    from onelazy.onetrainer import read_train_config_lenient

    given = Path(run_dir).expanduser()
    config_path = given if given.is_file() else given / "config.json"
    if not config_path.is_file():
        raise UsageError(f"{given}: no config.json here; give the run folder `onelazy build-config` wrote")
    config, _problems = read_train_config_lenient(config_path)
    base = config_path.parent.resolve()

    def absolute(value: str) -> Path:
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    return RunFacts(
        config_path=config_path.resolve(),
        workspace=absolute(str(config.workspace_dir)),
        output=absolute(str(config.output_model_destination)),
        prefix=str(config.save_filename_prefix or ""),
    )


def _final_position(workspace: Path) -> tuple[int | None, int | None, int | None]:
    """The position of the final model: the newest backup (made right before the final save)."""
    folder = workspace / "backup"
    if not folder.is_dir():
        return None, None, None
    matches = sorted(
        (entry.name, m)
        for entry in folder.iterdir()
        if entry.is_dir() and (m := _BACKUP_NAME.search(entry.name))
    )
    if not matches:
        return None, None, None
    found = matches[-1][1]
    return int(found["step"]), int(found["epoch"]), int(found["epoch_step"])


def find_checkpoints(run_dir: str | os.PathLike[str]) -> list[Checkpoint]:
    """Every checkpoint of the run in ``run_dir``, by step: the intermediate saves, then the final model.

    A save is ``<save_filename_prefix><time>-save-<step>-<epoch>-<epoch_step>.safetensors``, as OneTrainer
    names it; files another run left in a shared workspace under another prefix are not this run's.
    A step saved twice (a resumed training saves again the step of the backup it continues from)
    counts once, the newest file. Saves of an earlier training are not here when the training was
    started by ``onelazy run``: :func:`set_aside_earlier_training` moved them to ``earlier/``.
    After :func:`pick_checkpoint`, the output file equals one of the saves and is shown as that
    save; the trained final model is the one the pick kept (``<stem>.final-<step>``), and an output
    that is none of these is listed as ``output``.
    """
    return find_checkpoints_of(read_run(run_dir))[0]


def find_checkpoints_of(facts: RunFacts) -> tuple[list[Checkpoint], dict[Path, str]]:
    """:func:`find_checkpoints` for a run already read, with the SHA-256 of every file it hashed
    (the output among them, when it is a file), so no caller hashes a LoRA file twice."""
    saves: dict[int, tuple[str, Path, re.Match[str]]] = {}
    folder = facts.workspace / "save"
    save_name = re.compile(re.escape(facts.prefix) + _SAVE_NAME)
    if folder.is_dir():
        for entry in folder.iterdir():
            found = save_name.fullmatch(entry.name)
            if found is None or not entry.is_file() or entry.name.startswith("."):
                continue
            step = int(found["step"])
            if step not in saves or entry.name > saves[step][0]:
                saves[step] = (entry.name, entry, found)
    checkpoints = [
        Checkpoint(path, "save", step, int(m["epoch"]), int(m["epoch_step"]), sha256_file(path))
        for step, (_, path, m) in sorted(saves.items())
    ]
    known = {c.sha256 for c in checkpoints}
    digests = {c.path: c.sha256 for c in checkpoints}
    final_step, final_epoch, final_epoch_step = _final_position(facts.workspace)
    final_at = (final_step, final_epoch, final_epoch_step)
    kept = _kept_final_model(facts.output)
    if kept is not None and final_step is not None and _tagged_step(kept) not in (None, final_step):
        # a pick's copy of an earlier training's final model (retrained without `onelazy run`,
        # which would have set it aside): the output is this training's final model
        kept = None
    earlier = [path for path in _kept_final_models(facts.output) if path != kept]
    candidates: list[tuple[Path | None, Literal["final", "previous", "output"], tuple[int | None, ...]]] = [
        (kept, "final", final_at),
        (facts.output, "output" if kept is not None else "final", final_at),
        *((path, "previous", (_tagged_step(path), None, None)) for path in earlier),
        # what picks of earlier versions kept
        (facts.output.with_name(facts.output.name + ".bak"), "previous", final_at),
    ]
    for path, kind, position in candidates:
        if path is not None and path.is_file():
            digest = digests[path] = sha256_file(path)
            if digest not in known:
                at_step, at_epoch, at_epoch_step = (None, None, None) if kind == "output" else position
                checkpoints.append(Checkpoint(path, kind, at_step, at_epoch, at_epoch_step, digest))
                known.add(digest)
    return sorted(checkpoints, key=lambda c: (c.step is None, c.step or 0, c.kind != "save")), digests


def kept_final_name(output: Path, step: int | None) -> Path:
    """Where a pick keeps the trained final model: ``<stem>.final-<step><suffix>`` beside the output."""
    tag = f"final-{step}" if step is not None else "final"
    return output.with_name(f"{output.stem}.{tag}{output.suffix}")


def _tagged_step(kept: Path) -> int | None:
    """The step in a kept final model's name (``<stem>.final-<step><suffix>``), or None."""
    found = re.search(r"\.final-(\d+)(?:\.\d+)?\.[^.]*$", kept.name)
    return int(found[1]) if found else None


def _kept_final_models(output: Path) -> list[Path]:
    """Every ``<stem>.final[-<step>]<suffix>`` beside ``output``: trained final models picks kept."""
    pattern = re.compile(re.escape(output.stem) + r"\.final(?:-\d+)?(?:\.\d+)?" + re.escape(output.suffix))
    if not output.parent.is_dir():
        return []
    return sorted(
        entry
        for entry in output.parent.iterdir()
        if pattern.fullmatch(entry.name) and entry.is_file() and not entry.name.startswith(".")
    )


def _kept_final_model(output: Path) -> Path | None:
    """The trained final model a pick kept beside ``output`` (the newest, if several), or None."""
    found = _kept_final_models(output)
    return max(found, key=lambda entry: (entry.stat().st_mtime_ns, entry.name)) if found else None


def _backups(output: Path) -> list[Path]:
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


def set_aside_earlier_training(run_dir: str | os.PathLike[str]) -> SetAside:
    """Before a fresh (not continued) training: move the training before it out of the way, deleting nothing.

    OneTrainer would write its saves beside the earlier training's (same prefix, so :func:`compare`
    could not tell them apart), continue from the earlier backups, and overwrite the LoRA at the output
    path (perhaps a picked checkpoint, with no copy but this one). So the earlier saves (this run's
    prefix) and backups, the output file (named for what it was: ``<stem>.picked-<step>`` when a pick
    made it) and the final model a pick kept (``<stem>.final-<step>``, ``.bak``) move into
    ``<workspace>/earlier/<UTC time>/``. Call it only while no training runs in the workspace.
    """
    facts = read_run(run_dir)
    checkpoints, digests = find_checkpoints_of(facts)
    save_name = re.compile(re.escape(facts.prefix) + _ANY_SAVE_NAME)
    moves: list[tuple[Path, str]] = []  # (source, path below the dated folder)
    for sub, wanted in (("save", save_name), ("backup", re.compile(_ANY_BACKUP_NAME))):
        folder = facts.workspace / sub
        if folder.is_dir():
            moves += [(e, f"{sub}/{e.name}") for e in sorted(folder.iterdir()) if wanted.fullmatch(e.name)]
    output = facts.output
    moves += [(path, path.name) for path in [*_kept_final_models(output), *_backups(output)]]
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
    target = free_name(facts.workspace / EARLIER_DIR / stamp)
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
