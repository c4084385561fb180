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
weight, seed, model, size, sampling), so a rerun renders only what is missing.
``pick_checkpoint()`` then copies the chosen checkpoint to the output path. Picks are reversible:
before the first pick replaces the trained final model, it is kept beside the output as
``<stem>.final-<step>.safetensors`` and stays in the comparison as the final row, so
``--pick <final step>`` (or ``final``) brings it back; an output that is no checkpoint at all is
kept as ``.bak`` under a name no earlier backup has.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from onelazy._files import (
    atomic_copy,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    sha256_file,
)
from onelazy.errors import BackendError, ConfigError, StorageError, UsageError

if TYPE_CHECKING:
    from onelazy.backends import Backend

__all__ = [
    "COMPARE_DIR",
    "Checkpoint",
    "CompareProgress",
    "CompareResult",
    "PickResult",
    "SetAside",
    "compare",
    "find_checkpoints",
    "lora_weight_problem",
    "pick_checkpoint",
    "run_paths",
    "set_aside_earlier_training",
]

COMPARE_DIR = "compare"
#: The name stem of the copies put into the backend's LoRA folder.
LORA_PREFIX = "onelazy-"
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
CELL_SIZE = 256
#: A comparison weight lies within -LIMIT..LIMIT: beyond that a LoRA only burns the image, so a
#: larger number is a typo (50 for 0.5). Flags, ``onelazy.yaml`` and Python callers share this rule.
LORA_WEIGHT_LIMIT = 10.0


def lora_weight_problem(weight: float) -> str | None:
    """Why ``weight`` cannot be a comparison weight (``"weight 50 is outside -10..10"``), or None."""
    if not -LORA_WEIGHT_LIMIT <= weight <= LORA_WEIGHT_LIMIT:  # NaN fails too
        return f"weight {weight:g} is outside {-LORA_WEIGHT_LIMIT:g}..{LORA_WEIGHT_LIMIT:g}"
    return None


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
class _RunFacts:
    config_path: Path
    workspace: Path
    output: Path
    prefix: str


def run_paths(run_dir: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """``(config.json, workspace folder, output file)`` of the run in ``run_dir``, as absolute paths."""
    facts = _run_facts(run_dir)
    return facts.config_path, facts.workspace, facts.output


def _run_facts(run_dir: str | os.PathLike[str]) -> _RunFacts:
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

    return _RunFacts(
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
    return _find_checkpoints(_run_facts(run_dir))[0]


def _find_checkpoints(facts: _RunFacts) -> tuple[list[Checkpoint], dict[Path, str]]:
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


def _kept_final_name(output: Path, step: int | None) -> Path:
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


def _free_name(path: Path) -> Path:
    """``path``, or ``<name>.2``, ``.3``, ... before its suffix: a name no file has yet."""
    if not path.exists():
        return path
    number = 2
    while True:
        candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")
        if not candidate.exists():
            return candidate
        number += 1


# =============================================================================== rendering


@dataclass(frozen=True)
class CompareProgress:
    """Images rendered so far in this run, of those missing."""

    done: int
    total: int
    reused: int
    current: str = ""


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

    def describe(self) -> list[str]:
        def count(n: int, word: str) -> str:
            return f"{n} {word}" if n == 1 else f"{n} {word}s"

        return [
            f"{count(len(self.checkpoints), 'checkpoint')} x {count(len(self.prompts), 'prompt')} x "
            f"{count(len(self.weights), 'weight')} (+ no LoRA): "
            f"{self.rendered} rendered, {self.reused} already there.",
            f"Grid: {self.grid}",
            f"Page: {self.page}",
        ]


@dataclass(frozen=True)
class _Settings:
    model: str
    negative: str
    seed: int
    width: int
    height: int
    steps: int
    cfg: float
    sampler: str | None
    scheduler: str | None


def _cell_key(settings: _Settings, sha: str | None, prompt: str, weight: float | None) -> str:
    """A name for one image from everything that decides its pixels."""
    decided = [
        sha or "no-lora",
        prompt,
        weight,
        settings.negative,
        settings.seed,
        settings.model,
        settings.width,
        settings.height,
        settings.steps,
        settings.cfg,
        settings.sampler,
        settings.scheduler,
    ]
    return hashlib.sha256(json.dumps(decided).encode()).hexdigest()[:20]


def _existing(images: Path, key: str) -> Path | None:
    for candidate in images.glob(f"{key}.*"):
        if candidate.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") and candidate.is_file():
            return candidate
    return None


def compare(
    run_dir: str | os.PathLike[str],
    *,
    backend: Backend | None = None,
    kind: str | None = None,
    url: str | None = None,
    model: str,
    lora_dir: str | os.PathLike[str],
    prompts: Sequence[str],
    negative: str = "",
    weights: Sequence[float] = (0.7, 1.0),
    seed: int = 1234,
    width: int = 512,
    height: int = 512,
    steps: int = 20,
    cfg: float = 7.0,
    sampler: str | None = None,
    scheduler: str | None = None,
    keep: bool = False,
    output_dir: str | os.PathLike[str] | None = None,
    on_progress: Callable[[CompareProgress], None] | None = None,
    timeout: float = 600.0,
) -> CompareResult:
    """Render every checkpoint of the run in ``run_dir`` and write ``compare/grid.png`` and ``index.html``.

    The backend is ``backend``, or one opened from ``kind`` and ``url``; ``model`` is the
    checkpoint it renders with, ``lora_dir`` the folder it loads LoRAs from. Only images not
    rendered before are rendered. Raises :class:`UsageError` when the run has no checkpoint yet.
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
    facts = _run_facts(run_dir)
    checkpoints, _digests = _find_checkpoints(facts)
    if not checkpoints:
        raise UsageError(
            f"{facts.config_path.parent}: no checkpoints yet (no saves in {facts.workspace / 'save'}, "
            f"no final model at {facts.output}); train first with `onelazy launch`"
        )
    lora_folder = Path(lora_dir).expanduser()
    if not lora_folder.is_dir():
        raise UsageError(
            f"lora_dir: {lora_folder} is not a folder; give the folder the backend loads LoRAs from"
        )
    out = Path(output_dir).expanduser() if output_dir is not None else facts.config_path.parent / COMPARE_DIR
    images = out / "images"
    settings = _Settings(model, negative, seed, width, height, steps, cfg, sampler, scheduler)

    rows: list[tuple[str, Checkpoint | None]] = [("no LoRA", None)] + [(c.label, c) for c in checkpoints]
    cells: dict[tuple[int, int, int], str] = {}
    wanted: dict[str, tuple[Checkpoint | None, str, float | None]] = {}
    for r, (_, checkpoint) in enumerate(rows):
        for p, prompt in enumerate(prompt_list):
            for w, weight in enumerate(weight_list):
                lora_weight = None if checkpoint is None else weight
                key = _cell_key(settings, checkpoint.sha256 if checkpoint else None, prompt, lora_weight)
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
                    backend, missing, wanted, settings, lora_folder, images, keep, reused, on_progress
                )
            )
        finally:
            if owned:
                backend.close()

    grid = out / "grid.png"
    page = out / "index.html"
    labels = [label for label, _ in rows]
    layout = {f"{r},{p},{w}": key for (r, p, w), key in cells.items()}
    atomic_write_json(
        out / "cells.json",
        {
            "rows": labels,
            "prompts": prompt_list,
            "weights": weight_list,
            "cells": layout,
            "files": {key: found[key].name for key in sorted(found)},
        },
    )
    atomic_write_bytes(grid, _grid_png(labels, prompt_list, weight_list, cells, found))
    atomic_write_text(page, _page_html(labels, prompt_list, weight_list, cells, found, out))
    return CompareResult(
        grid=grid,
        page=page,
        checkpoints=tuple(checkpoints),
        prompts=tuple(prompt_list),
        weights=tuple(weight_list),
        rendered=len(missing),
        reused=reused,
        cells={key: found[key] for key in wanted},
    )


def _render_missing(
    backend: Backend,
    missing: list[str],
    wanted: dict[str, tuple[Checkpoint | None, str, float | None]],
    settings: _Settings,
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
                request = GenerationRequest(
                    prompt=prompt,
                    negative_prompt=settings.negative,
                    model=settings.model,
                    width=settings.width,
                    height=settings.height,
                    steps=settings.steps,
                    cfg=settings.cfg,
                    sampler=settings.sampler,
                    scheduler=settings.scheduler,
                    seed=settings.seed,
                    loras=((lora_name, weight),) if weight is not None else (),
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


# =============================================================================== grid and page


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow older than 10.1: the fixed bitmap font
        return ImageFont.load_default()


def _wrap(draw: Any, text: str, font: Any, width: int, max_lines: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if draw.textlength(trial, font=font) <= width or not current:
            current = trial
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(".") + "…"
    return lines


def _one_image(cells: dict[tuple[int, int, int], str], row: int, prompt: int, weights: int) -> bool:
    """Is every weight of this row and prompt the same image (the no-LoRA row)? Then it is shown
    once, in the first column of the prompt's group, not repeated as if the weights differed."""
    return weights > 1 and len({cells[(row, prompt, w)] for w in range(weights)}) == 1


def _grid_png(
    labels: list[str],
    prompts: list[str],
    weights: list[float],
    cells: dict[tuple[int, int, int], str],
    files: dict[str, Path],
) -> bytes:
    """The grid: a header per column (prompt and weight), a label per row, one thumbnail per cell
    (the no-LoRA row: one per prompt, since the weight does not apply)."""
    import io

    from PIL import Image, ImageDraw

    thumbs: dict[str, Image.Image] = {}
    cell_w = cell_h = 0
    for key, path in files.items():
        with Image.open(path) as opened:
            image = opened.convert("RGB")
        scale = CELL_SIZE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        thumbs[key] = image.resize(size, Image.Resampling.LANCZOS)
        cell_w, cell_h = max(cell_w, size[0]), max(cell_h, size[1])
    cell_w, cell_h = cell_w or CELL_SIZE, cell_h or CELL_SIZE
    pad, label_w = 8, 200
    font, small = _font(15), _font(13)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    header_lines = [
        _wrap(probe, f"{p + 1}. {prompt}", small, cell_w * len(weights) - pad, 3)
        for p, prompt in enumerate(prompts)
    ]
    header_h = pad + 18 * max(len(lines) for lines in header_lines) + 22 + pad
    columns = len(prompts) * len(weights)
    width = label_w + columns * (cell_w + pad) + pad
    height = header_h + len(labels) * (cell_h + pad) + pad
    canvas = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(canvas)
    for p, lines in enumerate(header_lines):
        x0 = label_w + p * len(weights) * (cell_w + pad)
        for n, line in enumerate(lines):
            draw.text((x0, pad + 18 * n), line, fill=(20, 20, 20), font=small)
        for w, weight in enumerate(weights):
            x = x0 + w * (cell_w + pad)
            draw.text((x, header_h - pad - 20), f"weight {weight:g}", fill=(90, 90, 90), font=font)
        if p:
            draw.line([(x0 - pad // 2, 0), (x0 - pad // 2, height)], fill=(200, 200, 200), width=1)
    for r, label in enumerate(labels):
        y = header_h + r * (cell_h + pad)
        for n, line in enumerate(_wrap(probe, label, font, label_w - 2 * pad, 4)):
            draw.text((pad, y + pad + 20 * n), line, fill=(20, 20, 20), font=font)
        for p in range(len(prompts)):
            once = _one_image(cells, r, p, len(weights))
            for w in range(len(weights)):
                x = label_w + (p * len(weights) + w) * (cell_w + pad)
                if once and w:
                    if w == 1:
                        for n, line in enumerate(_wrap(probe, "the same at every weight", small, cell_w, 2)):
                            draw.text((x, y + pad + 18 * n), line, fill=(120, 120, 120), font=small)
                    continue
                thumb = thumbs.get(cells[(r, p, w)])
                if thumb is None:
                    draw.rectangle([x, y, x + cell_w, y + cell_h], outline=(200, 60, 60))
                    draw.text((x + pad, y + pad), "missing", fill=(200, 60, 60), font=font)
                    continue
                canvas.paste(thumb, (x + (cell_w - thumb.width) // 2, y + (cell_h - thumb.height) // 2))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _page_html(
    labels: list[str],
    prompts: list[str],
    weights: list[float],
    cells: dict[tuple[int, int, int], str],
    files: dict[str, Path],
    out: Path,
) -> str:
    """A static page: the same table as the grid, each image linking to its full-size file."""
    esc = html.escape
    head = "".join(
        f'<th colspan="{len(weights)}">{p + 1}. {esc(prompt)}</th>' for p, prompt in enumerate(prompts)
    )
    sub = "".join(f"<th>weight {weight:g}</th>" for _ in prompts for weight in weights)
    body = []
    for r, label in enumerate(labels):
        tds = []
        for p in range(len(prompts)):
            once = _one_image(cells, r, p, len(weights))
            for w in range(1 if once else len(weights)):
                span = f' colspan="{len(weights)}"' if once and len(weights) > 1 else ""
                path = files.get(cells[(r, p, w)])
                if path is None:
                    tds.append(f'<td class="missing"{span}>missing</td>')
                    continue
                src = esc(path.relative_to(out).as_posix())
                tds.append(
                    f'<td{span}><a href="{src}"><img src="{src}" alt="{esc(label)}" loading="lazy"></a></td>'
                )
        body.append(f"<tr><th class=row>{esc(label)}</th>{''.join(tds)}</tr>")
    return (
        "<!doctype html>\n<html lang=en><meta charset=utf-8><title>onelazy compare</title>\n"
        "<style>body{font-family:sans-serif;background:#fafafa}table{border-collapse:collapse}"
        "th,td{padding:4px;vertical-align:top}th.row{text-align:left;white-space:nowrap}"
        "img{max-width:256px;max-height:256px;display:block}td.missing{color:#c33}</style>\n"
        "<h1>Checkpoints compared</h1><p>Each image links to its full size. Seeds are fixed, so "
        "differences come from the checkpoint and the weight. The first row has no LoRA (one image per "
        "prompt: the same at every weight).</p>\n"
        f"<table><tr><th></th>{head}</tr><tr><th></th>{sub}</tr>\n" + "\n".join(body) + "\n</table>\n"
    )


# =============================================================================== pick


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


def pick_checkpoint(run_dir: str | os.PathLike[str], step: int | Literal["final"]) -> PickResult:
    """Copy the checkpoint of ``step`` (a save's step, the final model's step, or ``"final"``) to the
    run's output path.

    Nothing is lost: the trained final model is kept as ``<stem>.final-<step>.safetensors`` before
    the first pick replaces it, and an output that is no checkpoint of the run is kept as ``.bak``
    under a name no earlier backup has. An output equal to a save is replaced without a copy (the
    save is still in the workspace). Every copy is atomic: a crash leaves the old or the new file.
    """
    facts = _run_facts(run_dir)
    checkpoints, digests = _find_checkpoints(facts)
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
    if current == checkpoint.sha256:
        return PickResult(checkpoint, output, None, changed=False)
    backup: Path | None = None
    if current is not None and current not in {c.sha256 for c in pickable if c.path != output}:
        # the output is the only copy of what it holds: keep it under a name saying what it is
        here = next((c for c in checkpoints if c.path == output), None)
        if here is not None and here.kind == "final":
            backup = atomic_copy(output, _free_name(_kept_final_name(output, here.step)))
        else:
            backup = atomic_copy(output, _free_name(output.with_name(output.name + ".bak")))
    atomic_copy(checkpoint.path, output)
    return PickResult(checkpoint, output, backup, changed=True)


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
    facts = _run_facts(run_dir)
    checkpoints, digests = _find_checkpoints(facts)
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
            what, name = f"its final model, step {here.step}", _kept_final_name(output, here.step).name
        else:
            what, name = "no checkpoint of that training", output.name
        output_move = (output, name, what)
        moves.append((output, name))
    if not moves:
        return SetAside(None)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d_%H-%M-%S")
    target = _free_name(facts.workspace / EARLIER_DIR / stamp)
    moved: list[tuple[Path, Path]] = []
    for source, relative in moves:
        destination = _free_name(target / relative)
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
