"""The compare page's loss chart: OneTrainer's logged losses over the steps, with the saves marked.

Drawn with matplotlib (the optional extra ``onelazy[evidence]``) on its own Agg canvas, so no
display and no global backend switch is involved.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from onelazy.errors import EvidenceError

if TYPE_CHECKING:
    from onelazy.evidence import RunEvidence


def loss_figure(evidence: RunEvidence) -> Any:
    """The chart as a matplotlib Figure: train loss per step, smooth loss, validation loss, one dashed
    line per checkpoint (the suggested one solid). Raises EvidenceError without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise EvidenceError(
            "drawing the loss chart needs matplotlib: pip install 'onelazy[evidence]'"
        ) from None
    log = evidence.log
    figure = Figure(figsize=(9, 4.2), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    if log.train_loss:
        axes.plot(
            [s.step for s in log.train_loss], [s.value for s in log.train_loss],
            color="#b8b8b8", linewidth=0.8, label="train loss (each step)",
        )  # fmt: skip
    if log.smooth_loss:
        axes.plot(
            [s.step for s in log.smooth_loss], [s.value for s in log.smooth_loss],
            color="#4a6fa5", linewidth=1.5, label="smooth loss",
        )  # fmt: skip
    if log.validation:
        axes.plot(
            [s.step for s in log.validation], [s.value for s in log.validation],
            color="#c0392b", marker="o", linewidth=1.5, label="validation loss (held-out images)",
        )  # fmt: skip
    suggested = evidence.suggestion.step
    for checkpoint in evidence.checkpoints:
        chosen = checkpoint.step == suggested
        axes.axvline(
            checkpoint.step, color="#2e7d32" if chosen else "#888888",
            linestyle="-" if chosen else "--", linewidth=2 if chosen else 1,
        )  # fmt: skip
        name = "final" if checkpoint.kind == "final" else f"save {checkpoint.step}"
        axes.annotate(
            name + (" (suggested)" if chosen else ""), (checkpoint.step, 1.0),
            xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right", fontsize=8,
        )  # fmt: skip
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="best", fontsize=8)
    else:
        axes.text(0.5, 0.5, "no losses logged yet", transform=axes.transAxes, ha="center")
    return figure


def loss_chart_png(evidence: RunEvidence) -> bytes:
    """:func:`loss_figure` as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = loss_figure(evidence)
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
