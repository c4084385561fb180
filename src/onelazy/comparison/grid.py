"""The comparison's labelled grid PNG and its HTML page (the same table, linking full-size images)."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Longest side of one grid cell, in pixels (the page links the full-size images).
CELL_SIZE = 256


@dataclass(frozen=True)
class RowEvidence:
    """What OneTrainer's logs (and an image model, if one was asked) say about one row, as the grid
    and the page show it."""

    lines: tuple[str, ...]
    """Short lines under the row's label ("validation loss 0.1234", ...)."""
    suggested: bool = False
    samples: tuple[Path | None, ...] = ()
    """OneTrainer's own training sample per sample column (None: not sampled at this step); empty
    for a row the logs do not know (the no-LoRA row)."""
    scores: tuple[str, ...] = ()
    """The image model's lines ("likeness 0.812", ...), kept apart from the losses."""


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


def grid_png(
    labels: list[str],
    prompts: list[str],
    weights: list[float],
    cells: dict[tuple[int, int, int], str],
    files: dict[str, Path],
    evidence: Mapping[int, RowEvidence] | None = None,
    sample_columns: Sequence[str] = (),
) -> bytes:
    """The grid: a header per column (prompt and weight), a label per row, one thumbnail per cell
    (the no-LoRA row: one per prompt, since the weight does not apply). With ``evidence`` each
    checkpoint's row also shows its losses under the label, the suggested row is framed, and
    OneTrainer's own training samples follow the renders in ``sample_columns``."""
    import io

    from PIL import Image, ImageDraw

    evidence = evidence or {}
    sample_files = {
        f"sample:{path}": path for row in evidence.values() for path in row.samples if path is not None
    }
    thumbs: dict[str, Image.Image] = {}
    cell_w = cell_h = 0
    for key, path in {**files, **sample_files}.items():
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
    columns = len(prompts) * len(weights) + len(sample_columns)
    width = label_w + columns * (cell_w + pad) + pad
    # a row is as tall as its images, or as its label and the lines under it if those are taller
    def text_height(r: int) -> int:
        row = evidence.get(r)
        extra = len(row.lines) + len(row.scores) + row.suggested if row is not None else 0
        return pad + 20 * len(_wrap(probe, labels[r], font, label_w - 2 * pad, 4)) + 4 + 17 * extra + pad

    row_h = max([cell_h, *(text_height(r) for r in range(len(labels)))])
    height = header_h + len(labels) * (row_h + pad) + pad
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
    first_sample_x = label_w + len(prompts) * len(weights) * (cell_w + pad)
    for s, name in enumerate(sample_columns):
        x = first_sample_x + s * (cell_w + pad)
        for n, line in enumerate(_wrap(probe, f"OneTrainer's sample: {name}", small, cell_w - pad, 3)):
            draw.text((x, pad + 18 * n), line, fill=(20, 20, 20), font=small)
    for r, label in enumerate(labels):
        y = header_h + r * (row_h + pad)
        row = evidence.get(r)
        label_lines = _wrap(probe, label, font, label_w - 2 * pad, 4)
        for n, line in enumerate(label_lines):
            draw.text((pad, y + pad + 20 * n), line, fill=(20, 20, 20), font=font)
        if row is not None:
            top = y + pad + 20 * len(label_lines) + 4
            extra = [
                *((line, (70, 70, 70)) for line in row.lines),
                *((line, (30, 90, 160)) for line in row.scores),  # the image model's, in blue
                *([("* suggested", (46, 125, 50))] if row.suggested else []),
            ]
            for n, (line, colour) in enumerate(extra):
                draw.text((pad, top + 17 * n), line, fill=colour, font=small)
            if row.suggested:
                draw.rectangle([2, y - 2, width - 3, y + row_h + 2], outline=(46, 125, 50), width=3)
            for s, sample in enumerate(row.samples):
                thumb = thumbs.get(f"sample:{sample}") if sample is not None else None
                if thumb is not None:
                    x = first_sample_x + s * (cell_w + pad)
                    canvas.paste(thumb, (x + (cell_w - thumb.width) // 2, y + (cell_h - thumb.height) // 2))
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


def page_html(
    labels: list[str],
    prompts: list[str],
    weights: list[float],
    cells: dict[tuple[int, int, int], str],
    files: dict[str, Path],
    out: Path,
    evidence: Mapping[int, RowEvidence] | None = None,
    sample_columns: Sequence[str] = (),
    summary: Sequence[str] = (),
    chart: Path | None = None,
    score_summary: Sequence[str] = (),
) -> str:
    """A static page: the same table as the grid, each image linking to its full-size file; with
    ``evidence``, each checkpoint's losses beside its label, the suggested row marked, the rule and
    ``summary`` lines above the table, the loss ``chart`` and OneTrainer's own samples; with an
    image model's numbers, those in each row and ``score_summary`` under their own heading."""
    esc = html.escape
    evidence = evidence or {}
    head = "".join(
        f'<th colspan="{len(weights)}">{p + 1}. {esc(prompt)}</th>' for p, prompt in enumerate(prompts)
    )
    head += "".join(f"<th rowspan=2>OneTrainer's sample:<br>{esc(name)}</th>" for name in sample_columns)
    sub = "".join(f"<th>weight {weight:g}</th>" for _ in prompts for weight in weights)
    body = []
    for r, label in enumerate(labels):
        row = evidence.get(r)
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
        for s in range(len(sample_columns)):
            sample = row.samples[s] if row is not None and s < len(row.samples) else None
            if sample is None:
                sampled = row is not None and row.samples
                tds.append('<td class="nosample">not sampled at this step</td>' if sampled else "<td></td>")
                continue
            src = esc(Path(os.path.relpath(sample, out)).as_posix())
            image = f'<img src="{src}" alt="OneTrainer sample" loading="lazy">'
            tds.append(f'<td><a href="{src}">{image}</a></td>')
        notes = ""
        if row is not None:
            notes = "".join(f"<br><span class=loss>{esc(line)}</span>" for line in row.lines)
            notes += "".join(f"<br><span class=score>{esc(line)}</span>" for line in row.scores)
            if row.suggested:
                notes += "<br><strong class=suggested>suggested</strong>"
        marked = ' class="suggested"' if row is not None and row.suggested else ""
        body.append(f"<tr{marked}><th class=row>{esc(label)}{notes}</th>{''.join(tds)}</tr>")
    intro = ""
    if summary or chart is not None:
        intro = "<h2>What OneTrainer logged</h2>\n" + "".join(f"<p>{esc(line)}</p>\n" for line in summary)
        if chart is not None:
            src = esc(Path(os.path.relpath(chart, out)).as_posix())
            intro += f'<p><img class=chart src="{src}" alt="loss chart with the saves marked"></p>\n'
    if score_summary:
        intro += "<h2>What an image model sees</h2>\n" + "".join(
            f"<p>{esc(line)}</p>\n" for line in score_summary
        )
    return (
        "<!doctype html>\n<html lang=en><meta charset=utf-8><title>onelazy compare</title>\n"
        "<style>body{font-family:sans-serif;background:#fafafa}table{border-collapse:collapse}"
        "th,td{padding:4px;vertical-align:top}th.row{text-align:left;white-space:nowrap}"
        "img{max-width:256px;max-height:256px;display:block}td.missing{color:#c33}"
        "img.chart{max-width:900px;max-height:none}tr.suggested{outline:3px solid #2e7d32}"
        ".suggested{color:#2e7d32}.loss{font-weight:normal;font-size:90%}td.nosample{color:#888}"
        ".score{font-weight:normal;font-size:90%;color:#1e5aa0}</style>\n"
        "<h1>Checkpoints compared</h1><p>Each image links to its full size. Seeds are fixed, so "
        "differences come from the checkpoint and the weight. The first row has no LoRA (one image per "
        "prompt: the same at every weight).</p>\n"
        + intro
        + f"<table><tr><th></th>{head}</tr><tr><th></th>{sub}</tr>\n"
        + "\n".join(body)
        + "\n</table>\n"
    )
