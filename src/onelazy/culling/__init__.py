"""Culling a generated dataset: throw out the broken, tiny, flat, blurry and duplicated images, lose nothing.

``cull()`` decodes every image once at reduced size in a process pool, measures it, decides, and
moves rejects to ``.rejected/<reason>/`` with their captions; ``undo_cull()`` puts them back. The
review page uses ``reject_by_hand()`` and ``restore_by_hand()`` so its moves land in the same report.
"""

from __future__ import annotations

from onelazy.culling._cull import (
    CHECKS,
    DEFAULT_BLUR_RATIO,
    DEFAULT_FLAT_RATIO,
    DEFAULT_MIN_SIDE,
    DEFAULT_NEAR_DISTANCE,
    OPTION_NAMES,
    CullReport,
    Decision,
    cull,
    reject_by_hand,
    restore_by_hand,
    undo_cull,
)
from onelazy.culling._store import HTML_NAME
from onelazy.dataset.cull_report import REASONS, REJECTED_DIR, REPORT_NAME

__all__ = [
    "CHECKS",
    "DEFAULT_BLUR_RATIO",
    "DEFAULT_FLAT_RATIO",
    "DEFAULT_MIN_SIDE",
    "DEFAULT_NEAR_DISTANCE",
    "HTML_NAME",
    "OPTION_NAMES",
    "REASONS",
    "REJECTED_DIR",
    "REPORT_NAME",
    "CullReport",
    "Decision",
    "cull",
    "reject_by_hand",
    "restore_by_hand",
    "undo_cull",
]
