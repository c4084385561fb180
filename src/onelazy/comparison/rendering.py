"""``compare()``: render every checkpoint of a run with fixed seeds, to pick the best one.

The best checkpoint is often not the last. A run's checkpoints are its intermediate saves
(``<workspace>/save/<prefix><time>-save-<step>-<epoch>-<epoch_step>.safetensors``) and the final
model (``output_model_destination``). Each is copied into the backend's LoRA folder under a name
made from its content hash (removed afterwards unless ``keep``), and each comparison prompt is
rendered with one fixed seed per LoRA weight; the same prompts are rendered without any LoRA
first, to show what the prompt does on its own. The result is a labelled grid PNG (rows:
checkpoints by step, the no-LoRA row first, with one image per prompt since no weight applies;
columns: prompts x weights) and an HTML page with the full-size images, in ``RUN_DIR/compare/``.

Every image is stored under a key made of everything that decides it (checkpoint content, prompt,
weight, seed, model, size, sampling), so a rerun renders only what is missing. With an image model
(``image_score=``), each row also gets the two numbers of :mod:`onelazy.comparison.image_score`,
shown beside the losses, never mixed into them.
``pick_checkpoint()`` then copies the chosen checkpoint to the output path. Picks are reversible:
before the first pick replaces the trained final model, it is kept beside the output as
``<stem>.final-<step>.safetensors`` and stays in the comparison as the final row, so
``--pick <final step>`` (or ``final``) brings it back; an output that is no checkpoint at all is
kept as ``.bak`` under a name no earlier backup has.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from onelazy._files import (
    atomic_copy,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)
from onelazy.comparison.checkpoints import Checkpoint, find_checkpoints_of
from onelazy.comparison.grid import RowEvidence, grid_png, page_html
from onelazy.dataset import is_image_name
from onelazy.errors import BackendError, EvidenceError, ImageScoreError, UsageError
from onelazy.run_folder import COMPARE_DIR, Run, RunSource, read_run

if TYPE_CHECKING:
    from onelazy.backends import Backend
    from onelazy.comparison.image_score import ImageEmbedder, ImageScores
    from onelazy.evidence import RunEvidence
    from onelazy.render import RenderSettings

#: The one seed every comparison image is rendered with, unless one is given.
COMPARE_SEED = 1234
#: The name stem of the copies put into the backend's LoRA folder.
LORA_PREFIX = "onelazy-"
#: A comparison weight lies within -LIMIT..LIMIT: beyond that a LoRA only burns the image, so a
#: larger number is a typo (50 for 0.5). Flags, ``onelazy.yaml`` and Python callers share this rule.
LORA_WEIGHT_LIMIT = 10.0


def lora_weight_problem(weight: float) -> str | None:
    """Why ``weight`` cannot be a comparison weight (``"weight 50 is outside -10..10"``), or None."""
    if not -LORA_WEIGHT_LIMIT <= weight <= LORA_WEIGHT_LIMIT:  # NaN fails too
        return f"weight {weight:g} is outside {-LORA_WEIGHT_LIMIT:g}..{LORA_WEIGHT_LIMIT:g}"
    return None


@dataclass(frozen=True)
class CompareProgress:
    """Images rendered (or, with an image score, embedded) so far in this run, of those missing."""

    done: int
    total: int
    reused: int
    current: str = ""
    stage: Literal["load", "render", "score"] = "render"
    """``load``: the image model named in ``current`` is being loaded (downloaded on first use)."""


@dataclass(frozen=True)
class CompareResult:
    """What ``compare`` made: the grid, the page, and where every cell's image is."""

    grid: Path
    page: Path
    checkpoints: tuple[Checkpoint, ...]
    prompts: tuple[str, ...]
    weights: tuple[float, ...]
    rendered: int
    reused: int
    cells: dict[str, Path] = field(default_factory=dict)
    """Cell key → image file (keys as in ``compare/cells.json``)."""
    evidence: RunEvidence | None = None
    """What OneTrainer's logs say per checkpoint (None: they could not be read, see ``notes``)."""
    chart: Path | None = None
    """``compare/loss.png``: the losses over the steps with the saves marked."""
    scores: ImageScores | None = None
    """What the image model says per row, when one was given (never part of the suggestion)."""
    notes: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        def count(n: int, word: str) -> str:
            return f"{n} {word}" if n == 1 else f"{n} {word}s"

        lines = [
            f"{count(len(self.checkpoints), 'checkpoint')} x {count(len(self.prompts), 'prompt')} x "
            f"{count(len(self.weights), 'weight')} (+ no LoRA): "
            f"{self.rendered} rendered, {self.reused} already there.",
        ]
        if self.evidence is not None:
            lines += ["What OneTrainer logged:", *self.evidence.describe()]
        if self.scores is not None:
            lines += self.scores.describe()
        lines += list(self.notes)
        lines += [f"Grid: {self.grid}", f"Page: {self.page}"]
        if self.chart is not None:
            lines.append(f"Loss chart: {self.chart}")
        return lines


def _cell_key(
    render: RenderSettings, negative: str, sha: str | None, prompt: str, weight: float | None
) -> str:
    """A name for one image from everything that decides its pixels."""
    decided: list[object] = [
        sha or "no-lora",
        prompt,
        weight,
        negative,
        render.seed,
        render.model,
        render.width,
        render.height,
        render.steps,
        render.cfg,
        render.sampler,
        render.scheduler,
    ]
    if render.loras:  # LoRAs under the one compared (none from a project: keys stay as they were)
        decided.append([list(lora) for lora in render.loras])
    return hashlib.sha256(json.dumps(decided).encode()).hexdigest()[:20]


def _existing(images: Path, key: str) -> Path | None:
    for candidate in images.glob(f"{key}.*"):
        if is_image_name(candidate.name) and candidate.is_file():
            return candidate
    return None


def compare(
    run_dir: RunSource,
    *,
    backend: Backend | None = None,
    kind: str | None = None,
    url: str | None = None,
    render: RenderSettings,
    lora_dir: str | os.PathLike[str],
    prompts: Sequence[str],
    negative: str = "",
    weights: Sequence[float] = (0.7, 1.0),
    keep: bool = False,
    output_dir: str | os.PathLike[str] | None = None,
    on_progress: Callable[[CompareProgress], None] | None = None,
    timeout: float = 600.0,
    image_score: str | ImageEmbedder | None = None,
) -> CompareResult:
    """Render every checkpoint of the run in ``run_dir`` and write ``compare/grid.png`` and ``index.html``.

    The backend is ``backend``, or one opened from ``kind`` and ``url``; ``render`` says how it
    renders (the checkpoint, size, sampling and the one seed; its LoRAs are applied under the
    checkpoint compared), ``lora_dir`` is the folder it loads LoRAs from. Only images not rendered
    before are rendered. ``image_score`` (a model name such as ``openai/clip-vit-base-patch32``, a
    local model folder, or an :class:`~onelazy.comparison.image_score.ImageEmbedder`) adds the image
    model's likeness and pull per row; it is loaded first, so a wrong name fails before rendering.
    Raises :class:`UsageError` when the run has no checkpoint yet.
    """
    prompt_list = [p.strip() for p in prompts if p.strip()]
    if not prompt_list:
        raise UsageError("compare: give at least one prompt")
    weight_list = [float(w) for w in weights]
    if not weight_list:
        raise UsageError("compare: give at least one LoRA weight")
    if len(set(weight_list)) != len(weight_list):
        raise UsageError("compare: a LoRA weight is listed twice")
    for weight in weight_list:
        problem = lora_weight_problem(weight)
        if problem:
            raise UsageError(f"compare: {problem}")
    facts = read_run(run_dir)
    checkpoints, _digests = find_checkpoints_of(facts)
    if not checkpoints:
        raise UsageError(
            f"{facts.config_path.parent}: no checkpoints yet (no saves in {facts.saves}, "
            f"no final model at {facts.output}); train first with `onelazy launch`"
        )
    lora_folder = Path(lora_dir).expanduser()
    if not lora_folder.is_dir():
        raise UsageError(
            f"lora_dir: {lora_folder} is not a folder; give the folder the backend loads LoRAs from"
        )
    out = Path(output_dir).expanduser() if output_dir is not None else facts.config_path.parent / COMPARE_DIR
    images = out / "images"
    embedder = None
    if image_score is not None:
        from onelazy.comparison.image_score import open_embedder

        if on_progress and isinstance(image_score, str):
            on_progress(CompareProgress(0, 0, 0, image_score, stage="load"))
        embedder = open_embedder(image_score)

    rows: list[tuple[str, Checkpoint | None]] = [("no LoRA", None)] + [(c.label, c) for c in checkpoints]
    cells: dict[tuple[int, int, int], str] = {}
    wanted: dict[str, tuple[Checkpoint | None, str, float | None]] = {}
    for r, (_, checkpoint) in enumerate(rows):
        for p, prompt in enumerate(prompt_list):
            for w, weight in enumerate(weight_list):
                lora_weight = None if checkpoint is None else weight
                sha = checkpoint.sha256 if checkpoint else None
                key = _cell_key(render, negative, sha, prompt, lora_weight)
                cells[(r, p, w)] = key
                wanted.setdefault(key, (checkpoint, prompt, lora_weight))
    found = {key: path for key in wanted if (path := _existing(images, key)) is not None}
    missing = [key for key in wanted if key not in found]
    reused = len(found)

    if missing:
        owned = backend is None
        if backend is None:
            if not kind or not url:
                raise UsageError("compare: give the backend (kind and URL)")
            from onelazy.backends import open_backend, require_ready

            # short retries first, as generate does: a wrong or dead URL fails in a second, not after
            # the patient retries the renders themselves get (about half a minute)
            require_ready(kind, url)
            backend = open_backend(kind, url, timeout=timeout)
        try:
            found.update(
                _render_missing(
                    backend, missing, wanted, render, negative, lora_folder, images, keep, reused, on_progress
                )
            )
        finally:
            if owned:
                backend.close()

    grid = out / "grid.png"
    page = out / "index.html"
    labels = [label for label, _ in rows]
    layout = {f"{r},{p},{w}": key for (r, p, w), key in cells.items()}
    evidence, notes = _read_evidence(run_dir, checkpoints)
    scores = None
    if embedder is not None:
        try:
            scores = _score_rows(
                facts, embedder, rows, cells, found, len(prompt_list), len(weight_list), out, on_progress
            )
        except ImageScoreError as exc:  # the renders are made: the page is written without the score
            notes.append(f"No image score: {exc}")
    row_evidence, sample_columns = _row_evidence(rows, evidence, scores)
    chart = None
    summary: list[str] = []
    if evidence is not None:
        from onelazy.comparison.chart import loss_chart_png
        from onelazy.evidence import LIMITS

        summary = [*evidence.suggestion.describe(), LIMITS]
        try:
            chart = atomic_write_bytes(out / "loss.png", loss_chart_png(evidence))
        except EvidenceError as exc:
            notes.append(str(exc))
    score_summary: list[str] = []
    if scores is not None:
        from onelazy.comparison.image_score import SCORE_MEANING

        unfound = [f"Not found, so not measured against: {', '.join(scores.missing)}."]
        unfound = unfound if scores.missing else []
        score_summary = [
            f"Image model: {scores.model}, against {scores.references} training images.",
            *unfound,
            SCORE_MEANING,
        ]
    atomic_write_json(
        out / "cells.json",
        {
            "rows": labels,
            "prompts": prompt_list,
            "weights": weight_list,
            "cells": layout,
            "files": {key: found[key].name for key in sorted(found)},
            "evidence": {labels[r]: list(row.lines) for r, row in sorted(row_evidence.items()) if row.lines},
            "suggested": next((labels[r] for r, row in row_evidence.items() if row.suggested), None),
            **({"image_score": scores.to_json()} if scores is not None else {}),
        },
    )
    atomic_write_bytes(
        grid, grid_png(labels, prompt_list, weight_list, cells, found, row_evidence, sample_columns)
    )
    page_text = page_html(
        labels, prompt_list, weight_list, cells, found, out, row_evidence, sample_columns,
        [*summary, *notes], chart, score_summary,
    )  # fmt: skip
    atomic_write_text(page, page_text)
    return CompareResult(
        grid=grid,
        page=page,
        checkpoints=tuple(checkpoints),
        prompts=tuple(prompt_list),
        weights=tuple(weight_list),
        rendered=len(missing),
        reused=reused,
        cells={key: found[key] for key in wanted},
        evidence=evidence,
        chart=chart,
        scores=scores,
        notes=tuple(notes),
    )


def _read_evidence(
    run_dir: RunSource, checkpoints: Sequence[Checkpoint]
) -> tuple[RunEvidence | None, list[str]]:
    """The run's evidence, or None and why: the page and grid work without it."""
    from onelazy.evidence import checkpoint_evidence

    try:
        return checkpoint_evidence(run_dir, checkpoints=checkpoints), []
    except EvidenceError as exc:
        return None, [f"No losses shown: {exc}"]


def evidence_lines(validation: float | None, train: float | None) -> tuple[str, ...]:
    """A checkpoint's losses as the grid and the page show them under its label."""
    first = f"validation loss {validation:.4f}" if validation is not None else "validation loss: none"
    return (first, f"train loss {train:.4f}" if train is not None else "train loss: none")


def _score_rows(
    facts: Run,
    embedder: ImageEmbedder,
    rows: Sequence[tuple[str, Checkpoint | None]],
    cells: dict[tuple[int, int, int], str],
    found: dict[str, Path],
    prompts: int,
    weights: int,
    out: Path,
    on_progress: Callable[[CompareProgress], None] | None,
) -> ImageScores:
    """The image model's numbers per row: each render beside the no-LoRA render of its prompt."""
    from onelazy.comparison.image_score import EMBEDDINGS_DIR, ScoreProgress, score_rows

    def report(state: ScoreProgress) -> None:
        if on_progress:
            on_progress(
                CompareProgress(state.done, state.total, 0, "embedded for the image score", stage="score")
            )

    scored: list[tuple[str, list[tuple[Path, Path | None]]]] = []
    for r, (label, checkpoint) in enumerate(rows):
        pairs: dict[str, tuple[Path, Path | None]] = {}
        for p in range(prompts):
            for w in range(weights):
                render = found.get(cells[(r, p, w)])
                if render is not None:
                    baseline = found.get(cells[(0, p, w)]) if checkpoint is not None else None
                    pairs.setdefault(cells[(r, p, w)], (render, baseline))
        scored.append((label, list(pairs.values())))
    references, missing = facts.training_images()
    return score_rows(
        scored, references, embedder, cache_dir=out / EMBEDDINGS_DIR, on_progress=report, missing=missing
    )


def _row_evidence(
    rows: Sequence[tuple[str, Checkpoint | None]],
    evidence: RunEvidence | None,
    scores: ImageScores | None = None,
) -> tuple[dict[int, RowEvidence], list[str]]:
    """Per grid row with a checkpoint the logs know: its lines, whether it is suggested, its
    OneTrainer samples (one column per sample prompt); and, with ``scores``, every row's image
    model numbers (the no-LoRA row's too, as the baseline)."""
    found: dict[int, RowEvidence] = {}
    if scores is not None:  # one score per row, in the rows' order (labels may repeat)
        for r, score in enumerate(scores.rows):
            found[r] = RowEvidence(lines=(), scores=score.lines())
    if evidence is None:
        return found, []
    columns = sorted(
        {s.prompt_folder for item in evidence.checkpoints for s in item.samples},
        key=lambda name: (int(name.split(" ", 1)[0]) if name.split(" ", 1)[0].isdigit() else 0, name),
    )
    for r, (_label, checkpoint) in enumerate(rows):
        if checkpoint is None:
            continue
        item = next(
            (e for e in evidence.checkpoints if e.path == checkpoint.path and e.step == checkpoint.step), None
        )
        if item is None:
            continue
        by_column = {s.prompt_folder: s.path for s in item.samples}
        found[r] = RowEvidence(
            lines=evidence_lines(item.validation_loss, item.train_loss),
            suggested=evidence.suggestion.step == item.step and evidence.suggestion.step is not None,
            samples=tuple(by_column.get(name) for name in columns),
            scores=found[r].scores if r in found else (),
        )
    return found, columns


def _render_missing(
    backend: Backend,
    missing: list[str],
    wanted: dict[str, tuple[Checkpoint | None, str, float | None]],
    render: RenderSettings,
    negative: str,
    lora_folder: Path,
    images: Path,
    keep: bool,
    reused: int,
    on_progress: Callable[[CompareProgress], None] | None,
) -> dict[str, Path]:
    """Render the missing cells, one checkpoint at a time (each copied in only while it is needed)."""
    from onelazy.backends import GenerationRequest

    by_checkpoint: dict[str | None, list[str]] = {}
    for key in missing:
        checkpoint = wanted[key][0]
        by_checkpoint.setdefault(checkpoint.sha256 if checkpoint else None, []).append(key)
    made: dict[str, Path] = {}
    done = 0
    total = len(missing)
    if on_progress:
        on_progress(CompareProgress(0, total, reused))
    for sha, keys in by_checkpoint.items():
        checkpoint = wanted[keys[0]][0]
        copy: Path | None = None
        lora_name = ""
        if checkpoint is not None and sha is not None:
            lora_name = f"{LORA_PREFIX}{sha[:16]}.safetensors"
            copy = lora_folder / lora_name
            if not copy.exists():
                atomic_copy(checkpoint.path, copy)
            # a new file: the clients rescan the server's list for a name they do not know yet
        try:
            for key in keys:
                _, prompt, weight = wanted[key]
                checkpoint_lora = ((lora_name, weight),) if weight is not None else ()
                request = GenerationRequest.rendering(
                    render.with_values(loras=(*render.loras, *checkpoint_lora)),
                    prompt=prompt,
                    negative_prompt=negative,
                )
                result = backend.generate(request)
                if not result:
                    raise BackendError("returned no image for a comparison render", url=backend.url)
                image = result[0]
                made[key] = atomic_write_bytes(images / f"{key}.{image.extension}", image.data)
                done += 1
                if on_progress:
                    label = checkpoint.label if checkpoint else "no LoRA"
                    on_progress(CompareProgress(done, total, reused, f"{label}: {prompt[:40]}"))
        finally:
            if copy is not None and not keep:
                with contextlib.suppress(OSError):
                    copy.unlink()
    return made
