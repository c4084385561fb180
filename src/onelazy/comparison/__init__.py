"""``compare()`` and ``pick_checkpoint()``: render every checkpoint of a run with fixed seeds, pick the best.

- :mod:`onelazy.comparison.checkpoints`: finding a run's checkpoints and the step of each;
- :mod:`onelazy.comparison.rendering`: rendering them through a backend, reusing what was rendered;
- :mod:`onelazy.comparison.grid`: the grid PNG and the HTML page;
- :mod:`onelazy.comparison.pick`: making one checkpoint the LoRA.
"""

from __future__ import annotations

from onelazy.comparison.checkpoints import Checkpoint, find_checkpoints
from onelazy.comparison.pick import PickResult, pick_best, pick_checkpoint, picked_label
from onelazy.comparison.rendering import (
    COMPARE_SEED,
    CompareProgress,
    CompareResult,
    compare,
    lora_weight_problem,
)
from onelazy.run_folder import COMPARE_DIR, SetAside, run_paths, set_aside_earlier_training

__all__ = [
    "COMPARE_DIR",
    "COMPARE_SEED",
    "Checkpoint",
    "CompareProgress",
    "CompareResult",
    "PickResult",
    "SetAside",
    "compare",
    "find_checkpoints",
    "lora_weight_problem",
    "pick_best",
    "pick_checkpoint",
    "picked_label",
    "run_paths",
    "set_aside_earlier_training",
]
