"""What OneTrainer logged about a run, per checkpoint: the evidence for picking one.

OneTrainer always writes TensorBoard event files to ``<workspace>/tensorboard/<prefix><time>/``
(one folder per training start, so a run continued after Ctrl+C has several): ``loss/train_step``,
``smooth_loss/train_step``, ``lr/<parameter group>`` at every optimizer step, and
``loss/validation_step/<concept>`` (plus ``loss/validation_step/total_average`` with more than one
validation concept) whenever it validates. They are read with the ``tensorboard`` package's own
event reader (the optional extra ``onelazy[evidence]``; OneTrainer's environment always has it).

:func:`checkpoint_evidence` is the one public entry: per checkpoint its validation loss, the train
loss around it and OneTrainer's own training samples at its step, and a suggestion with its rule.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onelazy.errors import EvidenceError
from onelazy.onetrainer.outputs import CUSTOM_SAMPLES_DIR, SAMPLES_DIR, TENSORBOARD_DIR, sample_position

if TYPE_CHECKING:
    from onelazy.comparison.checkpoints import Checkpoint
    from onelazy.run_folder import RunSource

TRAIN_LOSS = "loss/train_step"
SMOOTH_LOSS = "smooth_loss/train_step"
LEARNING_RATE_PREFIX = "lr/"
VALIDATION_PREFIX = "loss/validation_step/"
VALIDATION_AVERAGE = VALIDATION_PREFIX + "total_average"
#: The train loss "around" a checkpoint: the steps within this share of its step on either side
#: (at least :data:`MIN_TRAIN_WINDOW` steps), since one step's loss is mostly the dice's.
TRAIN_WINDOW_SHARE = 0.05
MIN_TRAIN_WINDOW = 2
#: How the suggestion is made, in words for the person.
PICK_RULE = (
    "the checkpoint with the lowest validation loss, when it is lower than the next lowest by more "
    "than the noise; noise = the median distance of a validation loss from the straight line "
    "through the validations before and after it: the wobble the trend does not explain "
    "(validation is deterministic, so the wobble is the model's, not the dice's)"
)
#: What the numbers cannot say, shown beside them.
LIMITS = (
    "The validation loss says how well a checkpoint predicts the noise on images it never trained "
    "on; it is one measure, on a handful of images, and a lower loss is not always the better "
    "likeness or style: look at the grid too. The final model is saved after the last validation, "
    "so it has a train loss but no validation loss of its own."
)


@dataclass(frozen=True)
class Scalar:
    """One logged value at one ``global_step``."""

    step: int
    value: float


@dataclass(frozen=True)
class TrainingLog:
    """Every series OneTrainer logged for a run, joined over its event folders in step order."""

    folders: tuple[Path, ...]
    train_loss: tuple[Scalar, ...] = ()
    smooth_loss: tuple[Scalar, ...] = ()
    learning_rates: Mapping[str, tuple[Scalar, ...]] = field(default_factory=dict)
    """Parameter group (``unet``, ``text_encoder``...) → its learning rate."""
    validation_losses: Mapping[str, tuple[Scalar, ...]] = field(default_factory=dict)
    """Validation concept label (or ``total_average``) → its validation loss."""

    @property
    def validation(self) -> tuple[Scalar, ...]:
        """The validation loss over all held-out images: ``total_average`` when OneTrainer logged it
        (more than one validation concept), else the one concept's."""
        if "total_average" in self.validation_losses:
            return self.validation_losses["total_average"]
        if len(self.validation_losses) == 1:
            return next(iter(self.validation_losses.values()))
        return ()


@dataclass(frozen=True)
class TrainingSample:
    """One image OneTrainer rendered during training (``<workspace>/samples/<i> - <prompt>/``)."""

    prompt_folder: str
    step: int
    path: Path


@dataclass(frozen=True)
class CheckpointEvidence:
    """What the logs say about one checkpoint."""

    label: str
    kind: str
    """``save`` or ``final``."""
    step: int
    path: Path
    validation_loss: float | None
    """The validation that stands for the checkpoint (None: none was logged within a step of it)."""
    validation_step: int | None
    train_loss: float | None
    """Mean ``loss/train_step`` of the steps around the checkpoint (:data:`TRAIN_WINDOW_SHARE`)."""
    train_loss_steps: tuple[int, int] | None
    """First and last step of that mean."""
    smooth_loss: float | None
    """OneTrainer's smoothed loss at the last step the checkpoint holds."""
    learning_rate: float | None
    samples: tuple[TrainingSample, ...] = ()


@dataclass(frozen=True)
class Suggestion:
    """Which checkpoint the evidence points to, or why it points to none."""

    step: int | None
    """The suggested checkpoint's step, None when the evidence does not separate them."""
    label: str | None
    reason: str
    noise: float | None
    rule: str = PICK_RULE

    def describe(self) -> list[str]:
        return [f"Rule: {self.rule}.", self.reason]


@dataclass(frozen=True)
class RunEvidence:
    """The evidence of every checkpoint of a run, and the suggestion made from it."""

    checkpoints: tuple[CheckpointEvidence, ...]
    log: TrainingLog
    suggestion: Suggestion

    def for_step(self, step: int | None) -> CheckpointEvidence | None:
        return next((c for c in self.checkpoints if c.step == step), None)

    def describe(self) -> list[str]:
        lines = []
        for item in self.checkpoints:
            validation = "—" if item.validation_loss is None else f"{item.validation_loss:.4f}"
            train = "—" if item.train_loss is None else f"{item.train_loss:.4f}"
            lines.append(f"  {item.label:<28} validation loss {validation:>8}   train loss {train:>8}")
        return [*lines, *self.suggestion.describe()]


# =============================================================================== reading the logs


def read_training_log(workspace: str | os.PathLike[str]) -> TrainingLog:
    """Every scalar OneTrainer logged in ``<workspace>/tensorboard/``, its event files joined in the
    order they were started; a step logged twice (a run continued from a backup trains its steps
    again) keeps the later value.

    No folder yet is an empty log; the reader missing is an :class:`EvidenceError` naming the extra.
    """
    root = Path(workspace) / TENSORBOARD_DIR
    files = sorted(root.glob("*/events.out.tfevents.*")) if root.is_dir() else []
    if not files:
        return TrainingLog(())
    reader = _event_accumulator()
    loaded = []
    for path in files:
        try:
            accumulator = reader(str(path), size_guidance={"scalars": 0})
            accumulator.Reload()
            events = {tag: accumulator.Scalars(tag) for tag in accumulator.Tags().get("scalars", [])}
        except Exception as exc:  # the reader raises many kinds on a damaged file
            raise EvidenceError(f"{path}: cannot read OneTrainer's TensorBoard file: {exc}") from None
        start = min((e.wall_time for values in events.values() for e in values), default=float("inf"))
        loaded.append((start, path, events))
    loaded.sort(key=lambda item: (item[0], str(item[1])))
    series: dict[str, dict[int, float]] = {}
    for _start, _path, events in loaded:
        for tag, values in events.items():
            by_step = series.setdefault(tag, {})
            for event in values:
                by_step[int(event.step)] = float(event.value)

    def ordered(tag: str) -> tuple[Scalar, ...]:
        return tuple(Scalar(step, value) for step, value in sorted(series.get(tag, {}).items()))

    def named(prefix: str) -> dict[str, tuple[Scalar, ...]]:
        return {tag[len(prefix) :]: ordered(tag) for tag in sorted(series) if tag.startswith(prefix)}

    return TrainingLog(
        folders=tuple(dict.fromkeys(path.parent for _start, path, _events in loaded)),
        train_loss=ordered(TRAIN_LOSS),
        smooth_loss=ordered(SMOOTH_LOSS),
        learning_rates=named(LEARNING_RATE_PREFIX),
        validation_losses=named(VALIDATION_PREFIX),
    )


def evidence_available() -> bool:
    """Is the optional event reader installed (``pip install 'onelazy[evidence]'``)?"""
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def _event_accumulator() -> Any:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise EvidenceError(
            "reading OneTrainer's TensorBoard files needs the tensorboard package: "
            "pip install 'onelazy[evidence]'"
        ) from None
    return EventAccumulator


def training_samples(workspace: str | os.PathLike[str]) -> tuple[TrainingSample, ...]:
    """OneTrainer's own training samples, by step then prompt folder (custom samples left out)."""
    root = Path(workspace) / SAMPLES_DIR
    found = []
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != CUSTOM_SAMPLES_DIR):
            for path in folder.iterdir():
                position = sample_position(path.name)
                if position is not None and path.is_file():
                    found.append(TrainingSample(folder.name, position.step, path))
    return tuple(sorted(found, key=lambda s: (s.step, s.prompt_folder, s.path.name)))


# =============================================================================== per checkpoint


def checkpoint_evidence(
    run_dir: RunSource, *, checkpoints: Sequence[Checkpoint] | None = None
) -> RunEvidence:
    """The evidence for each checkpoint of the run in ``run_dir`` (its saves and final model) and
    the suggestion made from it by :data:`PICK_RULE`. ``checkpoints``: the run's, when the caller
    has found them already (finding them hashes every file).

    Raises :class:`EvidenceError` when the optional reader is not installed or a log is damaged.
    """
    from onelazy.comparison.checkpoints import find_checkpoints_of
    from onelazy.plan import validation_tolerance
    from onelazy.run_folder import read_run

    facts = read_run(run_dir)
    found = list(checkpoints) if checkpoints is not None else find_checkpoints_of(facts)[0]
    log = read_training_log(facts.workspace)
    samples = training_samples(facts.workspace)
    tolerance = validation_tolerance(max(1, int(facts.config.gradient_accumulation_steps)))
    evidence = tuple(
        measure(c.label, c.kind, c.step, c.path, log, samples, tolerance)
        for c in found
        if c.kind in ("save", "final") and c.step is not None
    )
    return RunEvidence(evidence, log, suggest(evidence, log))


def measure(
    label: str,
    kind: str,
    step: int,
    path: Path,
    log: TrainingLog,
    samples: Sequence[TrainingSample] = (),
    tolerance: int = 1,
) -> CheckpointEvidence:
    """The evidence of one checkpoint that holds ``step`` steps of training."""
    from onelazy.plan import nearest_validation

    validation = {s.step: s.value for s in log.validation}
    validation_step = nearest_validation(step, sorted(validation), tolerance) if kind != "final" else None
    if kind == "final" and step - 1 in validation:
        validation_step = step - 1  # validated after the very last step: exactly the final weights
    half = max(MIN_TRAIN_WINDOW, round(step * TRAIN_WINDOW_SHARE))
    window = [s for s in log.train_loss if step - half <= s.step <= step + half]
    before = [s for s in log.smooth_loss if s.step < step]
    rates = next(iter(log.learning_rates.values()), ())
    rate = [s for s in rates if s.step < step]
    sampled = {s.step for s in samples}
    sample_step = step if step in sampled else nearest_validation(step, sorted(sampled), tolerance)
    return CheckpointEvidence(
        label=label,
        kind=kind,
        step=step,
        path=path,
        validation_loss=validation.get(validation_step) if validation_step is not None else None,
        validation_step=validation_step,
        train_loss=statistics.fmean(s.value for s in window) if window else None,
        train_loss_steps=(window[0].step, window[-1].step) if window else None,
        smooth_loss=before[-1].value if before else None,
        learning_rate=rate[-1].value if rate else None,
        samples=tuple(s for s in samples if s.step == sample_step) if sample_step is not None else (),
    )


def validation_noise(log: TrainingLog) -> float | None:
    """The noise of :data:`PICK_RULE`: the median distance of each validation loss from the line
    through its two neighbours (by step); None with fewer than three validations."""
    points = log.validation
    wobble = []
    for before, here, after in zip(points, points[1:], points[2:], strict=False):
        share = (here.step - before.step) / (after.step - before.step)
        line = before.value + share * (after.value - before.value)
        wobble.append(abs(here.value - line))
    return statistics.median(wobble) if wobble else None


def suggest(checkpoints: Sequence[CheckpointEvidence], log: TrainingLog) -> Suggestion:
    """Apply :data:`PICK_RULE` to the checkpoints' validation losses."""
    measured = sorted(
        (c for c in checkpoints if c.validation_loss is not None),
        key=lambda c: (c.validation_loss or 0.0, c.step),
    )
    noise = validation_noise(log)
    if not measured:
        return Suggestion(
            None, None, "No checkpoint has a validation loss (validation off, or no save validated yet): "
            "the choice is yours.", noise,
        )  # fmt: skip
    best = measured[0]
    if len(measured) == 1:
        return Suggestion(
            None, None, f"Only {best.label} has a validation loss; nothing to weigh it against: the "
            "choice is yours.", noise,
        )  # fmt: skip
    runner_up = measured[1]
    assert best.validation_loss is not None and runner_up.validation_loss is not None
    gap = runner_up.validation_loss - best.validation_loss
    if noise is None:
        return Suggestion(None, None, "Too few validations to measure the noise: the choice is yours.", noise)
    numbers = (
        f"{best.label} {best.validation_loss:.4f}, next {runner_up.label} {runner_up.validation_loss:.4f}: "
        f"a difference of {gap:.4f} against a noise of {noise:.4f} ({len(log.validation)} validations)"
    )
    if gap <= noise:
        return Suggestion(
            None, None, f"The evidence does not separate them ({numbers}); the choice is yours: look at "
            "the grid.", noise,
        )  # fmt: skip
    return Suggestion(best.step, best.label, f"Suggested: {best.label} ({numbers}).", noise)
