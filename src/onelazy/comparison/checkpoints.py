"""A run's checkpoints, and which training step each one is.

A run's checkpoints are its intermediate saves (in ``<workspace>/save/``, named as
:mod:`onelazy.onetrainer.outputs` says) and the final model (``output_model_destination``); a
pick keeps the trained final model beside the output as ``<stem>.final-<step>.safetensors``.
Where those are is :mod:`onelazy.run_folder`'s to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from onelazy._files import sha256_file
from onelazy.onetrainer.outputs import TrainPosition, backup_position, save_position
from onelazy.run_folder import (
    Run,
    RunSource,
    kept_final_model,
    kept_final_models,
    kept_final_step,
    read_run,
)

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
                if kept_final_step(self.path) is not None
                else f"before pick ({where})"
            )
        if self.kind == "output":
            return "output file (no checkpoint of this run)"
        return where


def _final_position(backups: Path) -> tuple[int | None, int | None, int | None]:
    """The position of the final model: the newest backup (made right before the final save)."""
    if not backups.is_dir():
        return None, None, None
    matches = sorted(
        (entry.name, found)
        for entry in backups.iterdir()
        if entry.is_dir() and (found := backup_position(entry.name)) is not None
    )
    if not matches:
        return None, None, None
    position = matches[-1][1]
    return position.step, position.epoch, position.epoch_step


def find_checkpoints(run_dir: RunSource) -> list[Checkpoint]:
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


def find_checkpoints_of(facts: Run) -> tuple[list[Checkpoint], dict[Path, str]]:
    """:func:`find_checkpoints` for a run already read, with the SHA-256 of every file it hashed
    (the output among them, when it is a file), so no caller hashes a LoRA file twice."""
    saves: dict[int, tuple[str, Path, TrainPosition]] = {}
    if facts.saves.is_dir():
        for entry in facts.saves.iterdir():
            found = save_position(entry.name, facts.prefix)
            if found is None or not entry.is_file() or entry.name.startswith("."):
                continue
            if found.step not in saves or entry.name > saves[found.step][0]:
                saves[found.step] = (entry.name, entry, found)
    checkpoints = [
        Checkpoint(path, "save", step, at.epoch, at.epoch_step, sha256_file(path))
        for step, (_, path, at) in sorted(saves.items())
    ]
    known = {c.sha256 for c in checkpoints}
    digests = {c.path: c.sha256 for c in checkpoints}
    final_step, final_epoch, final_epoch_step = _final_position(facts.backups)
    final_at = (final_step, final_epoch, final_epoch_step)
    kept = kept_final_model(facts.output)
    if kept is not None and final_step is not None and kept_final_step(kept) not in (None, final_step):
        # a pick's copy of an earlier training's final model (retrained without `onelazy run`,
        # which would have set it aside): the output is this training's final model
        kept = None
    earlier = [path for path in kept_final_models(facts.output) if path != kept]
    candidates: list[tuple[Path | None, Literal["final", "previous", "output"], tuple[int | None, ...]]] = [
        (kept, "final", final_at),
        (facts.output, "output" if kept is not None else "final", final_at),
        *((path, "previous", (kept_final_step(path), None, None)) for path in earlier),
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


