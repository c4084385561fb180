"""The training plan: how long to train, when OneTrainer saves, when it samples.

Pure arithmetic, no I/O. The person gives image counts, a batch size and a target (steps per image,
or total steps); the plan turns that into OneTrainer's ``epochs`` and its interval keys, and says in
plain numbers what will happen.

The best checkpoint is often not the last, so the plan trains *past* the target (to 125 % of the
planned steps by default) and asks OneTrainer for intermediate saves at 75 % and 100 %; the final
model is the 125 % one. OneTrainer can only express "every N units, after the first M", so the save
points are chosen to fit that, and the steps the plan promises are computed by replaying
OneTrainer's own rules (:func:`onetrainer_save_points`), never assumed.

OneTrainer's rules, as its trainer applies them (checked once per step, before the step trains;
``g`` = steps already trained, ``e`` = the epoch the step belongs to, counted from 0):

* ``save_every_unit: EPOCH``: a save when the first step of epoch ``e`` is about to train, if
  ``e % save_every == 0``, ``e > 0`` and ``e + 1 > save_skip_first``. It holds exactly ``e`` epochs
  of training. The end of the last epoch never gets one: that is the final model.
* ``save_every_unit: STEP``: a save when ``(g + 1) % save_every == 0`` and ``g + 1 > save_skip_first``;
  it holds ``g`` trained steps (one fewer than the round number) and is named ``save-<g>-…``.
* With gradient accumulation a save waits for the next step that starts a new accumulation cycle.
* Sampling (``sample_after``) fires at the start: EPOCH at the first step of every epoch divisible
  by N (including epoch 0, before any training), STEP when ``g % N == 0``.
* Validation (``validate_after``) follows the sampling rule but runs *after* the optimizer step of
  step ``g`` and is logged at ``g``: EPOCH after the first step of every epoch divisible by N, STEP
  when ``g % N == 0``. It does not wait for an accumulation cycle. The plan validates on the save
  interval, so every intermediate save has a validation within a step or so of it
  (:attr:`SavePoint.validation_step`); the final model is saved after the last step and has none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from onelazy.errors import ConfigError

#: Steps per image when the person names none: SDXL-family models need more than SD 1.5.
DEFAULT_STEPS_PER_IMAGE_SDXL = 100
DEFAULT_STEPS_PER_IMAGE_SD15 = 40

#: Training runs to this multiple of the planned steps; intermediate saves sit at 75 % and 100 %.
OVERSHOOT = 1.25
#: The save interval, as a fraction of the planned steps (75 %, 100 %, 125 % are multiples of it).
SAVE_FRACTION = 0.25
#: Below this many planned epochs a rounding to a multiple of four would change the target too much,
#: so saves are counted in steps instead of epochs.
MIN_EPOCHS_FOR_EPOCH_SAVES = 20

#: A STEP save interval at least this long may grow by one step to keep a save off the last step.
MIN_STEPS_TO_SHIFT_SAVES = 20

_TIMES = "\N{MULTIPLICATION SIGN}"

EPOCH = "EPOCH"
STEP = "STEP"
NEVER = "NEVER"


@dataclass(frozen=True)
class ConceptCount:
    """How many images one concept has, and how OneTrainer balances it (``balancing``)."""

    name: str
    images: int
    balancing: float = 1.0
    balancing_strategy: str = "REPEATS"

    @property
    def samples_per_epoch(self) -> int:
        """Images OneTrainer draws from this concept per epoch (REPEATS: floor(n * b); SAMPLES: int(b))."""
        if self.balancing_strategy == "SAMPLES":
            return int(self.balancing)
        return math.floor(self.images * self.balancing)


@dataclass(frozen=True)
class SavePoint:
    """One checkpoint OneTrainer will write: how much training it holds and where it sits."""

    steps: int
    """Training steps the checkpoint holds."""
    epoch: int
    """The ``<epoch>`` part of OneTrainer's file name."""
    epoch_step: int
    """The ``<epoch_step>`` part of OneTrainer's file name."""
    fraction: float
    """``steps`` as a fraction of the planned steps (1.0 = the target)."""
    final: bool = False
    """True for the final model (``output_model_destination``), False for a ``save/`` file."""
    validation_step: int | None = None
    """The step at which OneTrainer logs the validation loss that stands for this checkpoint (None:
    no validation measures it; always None for the final model)."""

    @property
    def name_suffix(self) -> str:
        """``<global_step>-<epoch>-<epoch_step>`` as in ``<time>-save-<suffix>.safetensors``."""
        return f"{self.steps}-{self.epoch}-{self.epoch_step}"


@dataclass(frozen=True)
class TrainingPlan:
    """Everything the plan decided, with the OneTrainer values that make it happen."""

    concepts: tuple[ConceptCount, ...]
    batch_size: int
    gradient_accumulation_steps: int
    target: str
    """``"steps_per_image"`` or ``"total_steps"``."""
    target_value: int
    steps_per_epoch: int
    planned_epochs: int
    planned_steps: int
    epochs: int
    """Epochs OneTrainer trains (with the overshoot)."""
    total_steps: int
    save_every: int
    save_every_unit: str
    save_skip_first: int
    sample_after: int
    sample_after_unit: str
    saves: tuple[SavePoint, ...]
    """The intermediate saves, then the final model, in training order."""
    sample_steps: tuple[int, ...]
    """Trained steps at which the sample prompts are rendered."""
    arithmetic: str
    notes: tuple[str, ...] = field(default=())
    validation_images: int = 0
    """Images held out as the validation concept (0: no validation loss)."""
    validate_after: int = 0
    validate_after_unit: str = NEVER
    validation_steps: tuple[int, ...] = ()
    """Steps at which OneTrainer logs a validation loss."""

    @property
    def images(self) -> int:
        return sum(concept.images for concept in self.concepts)

    @property
    def samples_per_epoch(self) -> int:
        return sum(concept.samples_per_epoch for concept in self.concepts)

    def describe(self) -> list[str]:
        """The plan as lines a person reads before training."""
        lines = [self.arithmetic]
        if self.epochs != self.planned_epochs:
            lines.append(
                f"Training runs on to {_pct(self.total_steps / self.planned_steps)}: "
                f"{self.epochs:,} epochs = {self.total_steps:,} steps, because the best checkpoint "
                "is often not the last."
            )
        for point in self.saves:
            what = "final model" if point.final else "save"
            lines.append(
                f"  {what:<11} after {point.steps:>7,} steps (epoch {point.epoch}, "
                f"{_pct(point.fraction)} of plan)"
            )
        if self.sample_steps:
            shown = ", ".join(f"{step:,}" for step in self.sample_steps)
            every = f"every {_plural(self.sample_after, self.sample_after_unit.lower())}"
            lines.append(f"Samples {every}, at steps {shown}.")
        if self.validation_images:
            shown = ", ".join(f"{step:,}" for step in self.validation_steps)
            every = f"every {_plural(self.validate_after, self.validate_after_unit.lower())}"
            lines.append(
                f"Validation: {_plural(self.validation_images, 'image')} held out of training; "
                f"validation loss {every}, at steps {shown}."
            )
        else:
            lines.append("Validation: off (no images held out, no validation loss).")
        lines.extend(self.notes)
        return lines


def default_steps_per_image(sdxl_family: bool) -> int:
    """The recipe's default: 100 steps per image for SDXL-family models, 40 for SD 1.5."""
    return DEFAULT_STEPS_PER_IMAGE_SDXL if sdxl_family else DEFAULT_STEPS_PER_IMAGE_SD15


def make_plan(
    concepts: Sequence[ConceptCount],
    *,
    batch_size: int = 1,
    steps_per_image: int | None = None,
    total_steps: int | None = None,
    gradient_accumulation_steps: int = 1,
    intermediate_saves: bool = True,
    validation_images: int = 0,
) -> TrainingPlan:
    """Plan a run: epochs from image counts and a target, saves around and past it, sample cadence.

    Exactly one of ``steps_per_image`` (how often each image is seen) and ``total_steps`` is given.
    With ``intermediate_saves=False`` training stops at the target and only the final model is saved.
    ``validation_images`` (held out, not in ``concepts``) turns on a validation at every save.
    """
    if (steps_per_image is None) == (total_steps is None):
        raise ConfigError("give exactly one of steps per image and total steps", key="target")
    if not concepts:
        raise ConfigError("no concepts to train on", key="concepts")
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, not {batch_size}", key="batch_size")
    if gradient_accumulation_steps < 1:
        raise ConfigError(
            f"must be at least 1, not {gradient_accumulation_steps}", key="gradient_accumulation_steps"
        )
    for concept in concepts:
        if concept.samples_per_epoch < 1:
            raise ConfigError(
                f"concept {concept.name!r} contributes no images per epoch "
                f"({concept.images} images, balancing {concept.balancing:g} {concept.balancing_strategy})",
                key="balancing",
            )
    samples = sum(concept.samples_per_epoch for concept in concepts)
    images = sum(concept.images for concept in concepts)
    steps_per_epoch = samples // batch_size
    if steps_per_epoch < 1:
        raise ConfigError(
            f"batch size {batch_size} is larger than the {samples} images per epoch; "
            "OneTrainer would train no steps",
            key="batch_size",
        )

    notes: list[str] = []
    if steps_per_image is not None:
        if steps_per_image < 1:
            raise ConfigError(f"must be at least 1, not {steps_per_image}", key="steps_per_image")
        target, target_value = "steps_per_image", steps_per_image
        wanted_steps = images * steps_per_image / batch_size
        # An epoch trains whole batches only (the incomplete last one is dropped), so the epochs come
        # from the steps an epoch really has, not from samples ÷ images: 7 images at batch 4 are one
        # step per epoch, and 70 wanted steps take 70 epochs, not 40.
        exact_epochs = wanted_steps / steps_per_epoch
    else:
        assert total_steps is not None
        if total_steps < 1:
            raise ConfigError(f"must be at least 1, not {total_steps}", key="total_steps")
        target, target_value = "total_steps", total_steps
        wanted_steps = float(total_steps)
        exact_epochs = total_steps / steps_per_epoch
    planned_epochs = max(1, round(exact_epochs))
    arithmetic = _arithmetic(
        concepts,
        batch_size=batch_size,
        steps_per_image=steps_per_image,
        total_steps=total_steps,
        wanted_steps=wanted_steps,
        steps_per_epoch=steps_per_epoch,
        exact_epochs=exact_epochs,
        planned_epochs=planned_epochs,
    )

    if not intermediate_saves:
        mode = NEVER
    elif planned_epochs % 4 == 0:
        mode = EPOCH
    elif planned_epochs >= MIN_EPOCHS_FOR_EPOCH_SAVES:
        mode = EPOCH
        rounded = _round_to_multiple(planned_epochs, 4)
        notes.append(
            f"Planned epochs rounded from {planned_epochs} to {rounded} ({rounded * steps_per_epoch:,} "
            "steps) so that the saves fall on epoch ends."
        )
        planned_epochs = rounded
    else:
        mode = STEP
    planned_steps = planned_epochs * steps_per_epoch

    if mode == EPOCH:
        interval = planned_epochs // 4
        epochs = planned_epochs + interval
        save_every, save_skip_first = interval, 3 * interval
        sample_after = interval
    elif mode == STEP:
        interval = max(1, math.floor(planned_steps * SAVE_FRACTION + 0.5))
        epochs = max(planned_epochs + 1, math.ceil(planned_epochs * OVERSHOOT))
        if (epochs * steps_per_epoch) % interval == 0 and interval >= MIN_STEPS_TO_SHIFT_SAVES:
            # A save due at the last step would come one step before the final model: shift it off
            # (only when one step more per interval is a small change).
            interval += 1
        save_every, save_skip_first = interval, 2 * interval
        sample_after = interval
    else:
        epochs = planned_epochs
        save_every, save_skip_first = 0, 0
        sample_after = max(1, planned_epochs // 4)
    sample_unit = EPOCH if mode in (EPOCH, NEVER) else STEP
    total = epochs * steps_per_epoch

    saves = onetrainer_save_points(
        save_every,
        mode,
        save_skip_first,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        planned_steps=planned_steps,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )
    sample_steps = onetrainer_sample_steps(
        sample_after,
        sample_unit,
        0,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )
    validate_after, validate_unit = (save_every, mode) if mode != NEVER else (sample_after, sample_unit)
    validation_steps: tuple[int, ...] = ()
    if validation_images > 0:
        validation_steps = onetrainer_validation_steps(
            validate_after, validate_unit, steps_per_epoch=steps_per_epoch, epochs=epochs
        )
        saves = _with_validations(saves, validation_steps, gradient_accumulation_steps, total)
    else:
        validate_after, validate_unit = 0, NEVER
    if batch_size > 1:
        notes.append(
            "With mixed aspect ratios OneTrainer also drops each aspect bucket's incomplete batch, so "
            f"an epoch can have fewer than {_plural(steps_per_epoch, 'step')}; images of one aspect "
            "ratio avoid that."
        )

    return TrainingPlan(
        concepts=tuple(concepts),
        batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        target=target,
        target_value=target_value,
        steps_per_epoch=steps_per_epoch,
        planned_epochs=planned_epochs,
        planned_steps=planned_steps,
        epochs=epochs,
        total_steps=total,
        save_every=save_every,
        save_every_unit=mode,
        save_skip_first=save_skip_first,
        sample_after=sample_after,
        sample_after_unit=sample_unit,
        saves=saves,
        sample_steps=sample_steps,
        arithmetic=arithmetic,
        notes=tuple(notes),
        validation_images=validation_images,
        validate_after=validate_after,
        validate_after_unit=validate_unit,
        validation_steps=validation_steps,
    )


def onetrainer_validation_steps(
    validate_after: int, validate_after_unit: str, *, steps_per_epoch: int, epochs: int
) -> tuple[int, ...]:
    """Replay OneTrainer's validation rule: the steps at which a validation loss is logged.

    Checked after every step (not only at the end of an accumulation cycle), from the start: EPOCH
    at the first step of every N-th epoch, STEP when ``g % N == 0``.
    """
    steps: list[int] = []
    for g in _steps(steps_per_epoch, epochs):
        epoch, epoch_step = divmod(g, steps_per_epoch)
        if validate_after <= 0:
            break
        at_epoch = validate_after_unit == EPOCH and epoch_step == 0 and epoch % validate_after == 0
        if at_epoch or (validate_after_unit == STEP and g % validate_after == 0):
            steps.append(g)
    return tuple(steps)


def nearest_validation(step: int, validation_steps: Sequence[int], tolerance: int) -> int | None:
    """The validation step closest to a checkpoint's step, if one is within ``tolerance`` steps
    (ties go to the later one, which has seen the checkpoint's whole training)."""
    close = [v for v in validation_steps if abs(v - step) <= tolerance]
    return min(close, key=lambda v: (abs(v - step), -v)) if close else None


def validation_tolerance(gradient_accumulation_steps: int) -> int:
    """How far a checkpoint's validation may sit from its step: a STEP save holds one step fewer
    than the round number the validation falls on, and a save waits for an accumulation cycle."""
    return max(1, gradient_accumulation_steps)


def _with_validations(
    saves: tuple[SavePoint, ...],
    validation_steps: Sequence[int],
    gradient_accumulation_steps: int,
    total: int,
) -> tuple[SavePoint, ...]:
    """The saves with the validation that stands for each; the plan's promise: every intermediate
    save has one (an error here is a planning bug, not the person's), except a save in the last
    steps, which like the final model comes after the last validation OneTrainer can run."""
    tolerance = validation_tolerance(gradient_accumulation_steps)
    points = []
    for point in saves:
        if point.final:
            points.append(point)
            continue
        step = nearest_validation(point.steps, validation_steps, tolerance)
        if step is None and point.steps + tolerance >= total:
            points.append(point)
            continue
        if step is None:
            raise ConfigError(
                f"no validation within {tolerance} steps of the save at step {point.steps} "
                f"(validations at {list(validation_steps)})",
                key="validate_after",
            )
        points.append(replace(point, validation_step=step))
    return tuple(points)


def onetrainer_save_points(
    save_every: int,
    save_every_unit: str,
    save_skip_first: int,
    *,
    steps_per_epoch: int,
    epochs: int,
    planned_steps: int | None = None,
    gradient_accumulation_steps: int = 1,
) -> tuple[SavePoint, ...]:
    """Replay OneTrainer's save rules over a run: the ``save/`` checkpoints, then the final model.

    ``planned_steps`` only scales :attr:`SavePoint.fraction` (default: the whole run).
    """
    total = steps_per_epoch * epochs
    scale = planned_steps or total
    points: list[SavePoint] = []
    pending = False
    for g in _steps(steps_per_epoch, epochs):
        epoch, epoch_step = divmod(g, steps_per_epoch)
        if _save_due(save_every, save_every_unit, save_skip_first, g, epoch, epoch_step):
            pending = True
        # A requested save runs only when no gradients are pending (start of an accumulation cycle).
        if pending and g % gradient_accumulation_steps == 0:
            points.append(SavePoint(g, epoch, epoch_step, g / scale))
            pending = False
    points.append(SavePoint(total, epochs, 0, total / scale, final=True))
    return tuple(points)


def onetrainer_sample_steps(
    sample_after: int,
    sample_after_unit: str,
    sample_skip_first: int,
    *,
    steps_per_epoch: int,
    epochs: int,
    gradient_accumulation_steps: int = 1,
) -> tuple[int, ...]:
    """Replay OneTrainer's sampling rules: the trained step counts at which samples are rendered.

    Like a save, a requested sample waits for the start of an accumulation cycle.
    """
    steps: list[int] = []
    pending = False
    for g in _steps(steps_per_epoch, epochs):
        epoch, epoch_step = divmod(g, steps_per_epoch)
        if _elapsed(sample_skip_first, sample_after_unit, g, epoch):
            if sample_after_unit == EPOCH:
                pending |= sample_after > 0 and epoch_step == 0 and epoch % sample_after == 0
            elif sample_after_unit == STEP:
                pending |= sample_after > 0 and g % sample_after == 0
        if pending and g % gradient_accumulation_steps == 0:
            steps.append(g)
            pending = False
    return tuple(steps)


def _steps(steps_per_epoch: int, epochs: int) -> Iterable[int]:
    return range(steps_per_epoch * epochs)


def _elapsed(skip_first: int, unit: str, g: int, epoch: int) -> bool:
    if unit == EPOCH:
        return epoch + 1 > skip_first
    if unit == STEP:
        return g + 1 > skip_first
    return False


def _save_due(every: int, unit: str, skip_first: int, g: int, epoch: int, epoch_step: int) -> bool:
    if every <= 0 or not _elapsed(skip_first, unit, g, epoch):
        return False
    if unit == EPOCH:
        return epoch > 0 and epoch_step == 0 and epoch % every == 0
    if unit == STEP:
        return (g + 1) % every == 0
    return False


def _round_to_multiple(value: int, multiple: int) -> int:
    return max(multiple, math.floor(value / multiple + 0.5) * multiple)


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.0f} %"


def _arithmetic(
    concepts: Sequence[ConceptCount],
    *,
    batch_size: int,
    steps_per_image: int | None,
    total_steps: int | None,
    wanted_steps: float,
    steps_per_epoch: int,
    exact_epochs: float,
    planned_epochs: int,
) -> str:
    images = sum(concept.images for concept in concepts)
    samples = sum(concept.samples_per_epoch for concept in concepts)
    left_over = samples - steps_per_epoch * batch_size
    who = f"{images:,} images"
    if samples != images:
        who += f" ({samples:,} per epoch with balancing)"
    per_epoch = f"{_plural(steps_per_epoch, 'step')} per epoch"
    if left_over:
        per_epoch += f" ({_plural(left_over, 'image')} left over each epoch)"
    if steps_per_image is not None:
        result = f"{who} {_TIMES} {steps_per_image:,} steps/image ÷ batch {batch_size}"
        if left_over:
            # samples ÷ batch is not a whole number of steps: say how many an epoch really has.
            result += (
                f" = {_step_count(wanted_steps)} wanted; {who} ÷ batch {batch_size} = {per_epoch}; "
                f"{_step_count(wanted_steps)}"
            )
        else:
            result += f" = {_step_count(wanted_steps)}"
    else:
        assert total_steps is not None
        result = f"{who} ÷ batch {batch_size} = {per_epoch}; {_plural(total_steps, 'step')} wanted"
    planned_steps = planned_epochs * steps_per_epoch
    if math.isclose(exact_epochs, planned_epochs) and math.isclose(wanted_steps, planned_steps):
        return f"{result} = {_plural(planned_epochs, 'epoch')}"
    return (
        f"{result} ≈ {_number(exact_epochs)} epochs → {_plural(planned_epochs, 'epoch')} "
        f"of {_plural(steps_per_epoch, 'step')} = {_plural(planned_steps, 'step')}"
    )


def _step_count(value: float) -> str:
    return f"{_number(value)} step" + ("" if math.isclose(value, 1) else "s")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _number(value: float) -> str:
    if math.isclose(value, round(value)):
        return f"{round(value):,}"
    return f"{value:,.1f}"
