"""Values of the right type that OneTrainer's code or plain arithmetic rules out.

OneTrainer's ``from_dict`` takes any number of the right type: ``lora_rank: 0``, ``batch_size: 0``
or ``learning_rate: -1`` load without a word and fail (or train nothing) later. The bounds here are
the ones OneTrainer itself states, in its UI's own validators (rank at least 1, the learning rate
min factor in 0 to 0.99, EMA decay in 0.5 to 1, the masking weights in 0 to 1, Min-SNR/P2 gamma in
1 to 20, a resolution above 0), and the ones its arithmetic needs: torch refuses a negative
learning rate and a dropout probability outside 0 to 1, a batch of 0 or an accumulation of 0 steps
divides by zero, and fewer than one epoch trains nothing.

:func:`range_problems` is part of reading a TrainConfig (strict reading raises the first one), so
every path that reads a config — ``check``, ``build-config``, ``launch``, ``train.set`` in
onelazy.yaml — refuses them alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from onelazy.onetrainer.enums import LossWeight
from onelazy.onetrainer.model_types import model_type_info
from onelazy.onetrainer.models import TrainConfig
from onelazy.onetrainer.problems import Problem


@dataclass(frozen=True)
class Bound:
    """``low <= value <= high`` (a bound of None is open; ``above`` makes ``low`` exclusive)."""

    low: float | None = None
    high: float | None = None
    above: bool = False
    why: str = ""

    def refuses(self, value: float) -> bool:
        if math.isnan(value):
            return True
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return True
        return self.high is not None and value > self.high

    def expected(self) -> str:
        if self.low is not None and self.high is not None:
            return f"between {self.low:g} and {self.high:g}"
        if self.low is not None:
            return f"above {self.low:g}" if self.above else f"at least {self.low:g}"
        return f"at most {self.high:g}"


#: TrainConfig keys and the values OneTrainer can use (the reason is part of the message).
TRAIN_BOUNDS: dict[str, Bound] = {
    "lora_rank": Bound(1, why="OneTrainer's UI refuses a rank below 1 and alpha / rank divides by it"),
    "batch_size": Bound(1, why="an epoch is images / batch size"),
    "gradient_accumulation_steps": Bound(1, why="the loss is divided by it"),
    "epochs": Bound(1, why="fewer than one epoch trains nothing"),
    "learning_rate": Bound(0, above=True, why="torch refuses a negative one and 0 trains nothing"),
    "learning_rate_warmup_steps": Bound(0, why="a warmup cannot last a negative number of steps"),
    "learning_rate_min_factor": Bound(0, 0.99, why="OneTrainer's UI allows 0 to 0.99"),
    "dropout_probability": Bound(0, 1, why="a probability; torch's Dropout refuses others"),
    "ema_decay": Bound(0.5, 1, why="OneTrainer's UI allows 0.5 to 1"),
    "unmasked_probability": Bound(0, 1, why="it is a probability"),
    "unmasked_weight": Bound(0, 1, why="OneTrainer's UI allows 0 to 1"),
    "masked_prior_preservation_weight": Bound(0, 1, why="OneTrainer's UI allows 0 to 1"),
}

_PART_LEARNING_RATE = Bound(0, why="torch refuses a negative learning rate")
_GAMMA = Bound(1, 20, why="OneTrainer's UI allows 1 to 20 for Min-SNR and P2")


def _out_of_range(source: str | None, key: str, value: float, bound: Bound) -> Problem:
    return Problem(source, key, f"{value:g} is out of range; expected {bound.expected()}", None, bound.why)


def _resolution_problem(source: str | None, key: str, value: str) -> Problem | None:
    """OneTrainer's resolution forms: ``512``, ``1024x768`` or ``512,768,1024``, every size above 0."""
    text = value.strip()
    parts = text.split("x") if "x" in text else text.split(",")
    malformed = ("x" in text and len(parts) != 2) or not all(part.strip().isdigit() for part in parts)
    if malformed:
        return Problem(
            source, key, f"{value!r} is not a resolution", None,
            "write one size (512), WIDTHxHEIGHT (1024x768) or sizes separated by commas (512,768)",
        )  # fmt: skip
    if any(int(part) <= 0 for part in parts):
        return Problem(source, key, f"{value!r}: every size must be above 0")
    return None


def range_problems(cfg: TrainConfig, *, source: str | None = None) -> list[Problem]:
    """Every value of ``cfg`` outside what OneTrainer can train with (empty = all in range)."""
    problems = [
        _out_of_range(source, key, value, bound)
        for key, bound in TRAIN_BOUNDS.items()
        if bound.refuses(value := float(getattr(cfg, key)))
    ]
    if cfg.loss_weight_fn in (LossWeight.MIN_SNR_GAMMA, LossWeight.P2) and _GAMMA.refuses(
        cfg.loss_weight_strength
    ):
        problems.append(_out_of_range(source, "loss_weight_strength", cfg.loss_weight_strength, _GAMMA))
    for part in model_type_info(cfg.model_type).model_parts:
        rate = getattr(cfg, part).learning_rate
        if rate is not None and _PART_LEARNING_RATE.refuses(rate):
            problems.append(_out_of_range(source, f"{part}.learning_rate", rate, _PART_LEARNING_RATE))
    resolution = _resolution_problem(source, "resolution", cfg.resolution)
    if resolution is not None:
        problems.append(resolution)
    return problems
