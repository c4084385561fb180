"""``pick_checkpoint()``: make one checkpoint of a run its LoRA, keeping what it replaces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from onelazy._files import atomic_copy, atomic_write_json
from onelazy.comparison.checkpoints import Checkpoint, find_checkpoints_of
from onelazy.errors import ConfigError, OnelazyError
from onelazy.run_folder import RunSource, free_name, kept_final_name, read_run

if TYPE_CHECKING:
    from onelazy.evidence import RunEvidence

#: What the last pick made the LoRA, so that ``status`` can say it without hashing every file.


@dataclass(frozen=True)
class PickResult:
    """Which checkpoint became the LoRA, where, and where the file it replaced was kept (if it had to be)."""

    checkpoint: Checkpoint
    output: Path
    backup: Path | None
    changed: bool

    def describe(self) -> list[str]:
        if not self.changed:
            return [f"{self.output} already is {self.checkpoint.label}; nothing changed."]
        lines = [f"{self.output} is now {self.checkpoint.label} (from {self.checkpoint.path.name})."]
        if self.backup is not None:
            if self.backup.name.endswith(".bak"):
                lines.append(f"The file it replaced (no checkpoint of this run) is kept as {self.backup}.")
            else:
                lines.append(
                    f"The trained final model is kept as {self.backup}; `--pick final` brings it back."
                )
        return lines


def pick_checkpoint(run_dir: RunSource, step: int | Literal["final"]) -> PickResult:
    """Copy the checkpoint of ``step`` (a save's step, the final model's step, or ``"final"``) to the
    run's output path.

    Nothing is lost: the trained final model is kept as ``<stem>.final-<step>.safetensors`` before
    the first pick replaces it, and an output that is no checkpoint of the run is kept as ``.bak``
    under a name no earlier backup has. An output equal to a save is replaced without a copy (the
    save is still in the workspace). Every copy is atomic: a crash leaves the old or the new file.
    """
    facts = read_run(run_dir)
    checkpoints, digests = find_checkpoints_of(facts)
    pickable = [c for c in checkpoints if c.kind in ("save", "final")]
    if step == "final":
        chosen = [c for c in pickable if c.kind == "final"]
    else:
        chosen = [c for c in pickable if c.step == step]
    if not chosen:
        offered = [f"{c.step} (final)" if c.kind == "final" else str(c.step) for c in pickable]
        wanted = "a final model" if step == "final" else f"checkpoint at step {step}"
        raise ConfigError(f"no {wanted}; the run has: {', '.join(offered) or 'none'}", key="--pick")
    checkpoint = chosen[0]
    output = facts.output
    current = digests.get(output)  # hashed when it is a file
    record = facts.folder.picked
    if current == checkpoint.sha256:
        _record_pick(record, checkpoint, output)
        return PickResult(checkpoint, output, None, changed=False)
    backup: Path | None = None
    if current is not None and current not in {c.sha256 for c in pickable if c.path != output}:
        # the output is the only copy of what it holds: keep it under a name saying what it is
        here = next((c for c in checkpoints if c.path == output), None)
        if here is not None and here.kind == "final":
            backup = atomic_copy(output, free_name(kept_final_name(output, here.step)))
        else:
            backup = atomic_copy(output, free_name(output.with_name(output.name + ".bak")))
    atomic_copy(checkpoint.path, output)
    _record_pick(record, checkpoint, output)
    return PickResult(checkpoint, output, backup, changed=True)


def pick_best(run_dir: RunSource) -> tuple[RunEvidence, PickResult | None]:
    """Pick the checkpoint OneTrainer's validation loss suggests (:func:`onelazy.evidence.suggest`);
    when the evidence does not separate the checkpoints, pick nothing (the result is None) and let
    the person choose from the grid. The evidence comes back either way, with its rule and numbers.
    """
    from onelazy.evidence import checkpoint_evidence

    evidence = checkpoint_evidence(run_dir)
    step = evidence.suggestion.step
    if step is None:
        return evidence, None
    chosen = evidence.for_step(step)
    return evidence, pick_checkpoint(run_dir, "final" if chosen and chosen.kind == "final" else step)


def picked_label(run_dir: RunSource) -> str | None:
    """Which checkpoint the run's LoRA file is, by the record of the last pick (None: never picked,
    or the file changed since, so the record no longer says what it holds)."""
    import json

    try:
        facts = read_run(run_dir)
        record = facts.folder.picked
        data: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
        stat = facts.output.stat()
    except (OSError, ValueError, OnelazyError):
        return None
    if data.get("output") != str(facts.output) or [stat.st_size, stat.st_mtime_ns] != data.get("file"):
        return None
    label = data.get("label")
    return label if isinstance(label, str) else None


def _record_pick(record: Path, checkpoint: Checkpoint, output: Path) -> None:
    stat = output.stat()
    atomic_write_json(
        record,
        {
            "label": checkpoint.label,
            "step": checkpoint.step,
            "kind": checkpoint.kind,
            "output": str(output),
            "file": [stat.st_size, stat.st_mtime_ns],
        },
    )


