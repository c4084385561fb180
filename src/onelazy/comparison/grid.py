"""The comparison's labelled grid PNG and its HTML page (the same table, linking full-size images)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

#: Longest side of one grid cell, in pixels (the page links the full-size images).
CELL_SIZE = 256


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


def page_html(
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


