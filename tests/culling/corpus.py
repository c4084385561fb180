"""A reproducible corpus of generated-looking images with planted problems, for tests and the benchmark.

Each image is a smooth colour field with soft and hard-edged shapes, mid-frequency texture and fine
noise, at a detail level that varies from image to image (like diffusion output: some busy, some with
large soft areas). Into that go planted near-duplicates (re-encoded, resized, cropped by up to 5 %,
brightness-shifted), exact duplicates (the same pixels in another file), broken files (zero bytes,
truncated, not an image, a wrong extension), images too small, blurry and flat images. The truth
about every planted file is returned, so quality can be scored.
"""

from __future__ import annotations

import io
import json
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter


@dataclass
class Truth:
    """What was planted: near-duplicate groups (original first), and files per planted problem."""

    groups: list[list[str]] = field(default_factory=list)
    exact: list[list[str]] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    tiny: list[str] = field(default_factory=list)
    blurry: list[str] = field(default_factory=list)
    flat: list[str] = field(default_factory=list)
    clean: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Truth:
        return cls(**json.loads(text))


def generated_looking(seed: int, size: int) -> Image.Image:
    """One synthetic 'generated' RGB image of ``size`` x ``size``."""
    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    cells = int(rng.integers(3, 8))
    field_small = rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
    base = Image.fromarray(field_small, "RGB").resize((size, size), Image.Resampling.BICUBIC)
    shapes = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    for _ in range(int(rng.integers(4, 14))):
        x0, y0 = pyrng.uniform(-0.2, 1.0) * size, pyrng.uniform(-0.2, 1.0) * size
        w, h = pyrng.uniform(0.05, 0.6) * size, pyrng.uniform(0.05, 0.6) * size
        colour = (*(pyrng.randrange(256) for _ in range(3)), pyrng.randrange(120, 256))
        kind = pyrng.randrange(3)
        if kind == 0:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            points = [(x0 + pyrng.uniform(0, w), y0 + pyrng.uniform(0, h)) for _ in range(5)]
            draw.polygon(points, fill=colour)
    softness = pyrng.uniform(0.0, 2.0) * size / 1024
    if softness > 0.3:
        shapes = shapes.filter(ImageFilter.GaussianBlur(softness))
    base.paste(shapes, (0, 0), shapes)
    detail = pyrng.uniform(0.3, 1.0)
    texture_cells = max(8, size // int(rng.integers(6, 24)))
    texture = rng.normal(0.0, 18.0 * detail, size=(texture_cells, texture_cells)).astype(np.float32)
    texture_img = Image.fromarray(texture, "F").resize((size, size), Image.Resampling.BILINEAR)
    pixels = np.asarray(base, dtype=np.float32) + np.asarray(texture_img)[:, :, None]
    pixels += rng.normal(0.0, 3.0 * detail, size=pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _encode(image: Image.Image, fmt: str, rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, "PNG", compress_level=4)
    elif fmt == "jpg":
        image.save(buffer, "JPEG", quality=rng.randint(90, 95))
    else:
        image.save(buffer, "WEBP", quality=90, method=0)
    return buffer.getvalue()


def _near_copy(image: Image.Image, kind: str, rng: random.Random) -> Image.Image:
    w, h = image.size
    if kind == "resize":
        scale = rng.uniform(0.5, 0.9)
        return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    if kind == "crop":
        total_x, total_y = rng.uniform(0.01, 0.05), rng.uniform(0.01, 0.05)
        left, top = rng.uniform(0, total_x), rng.uniform(0, total_y)
        box = (
            round(left * w),
            round(top * h),
            round(w - (total_x - left) * w),
            round(h - (total_y - top) * h),
        )
        return image.crop(box)
    if kind == "brightness":
        factor = rng.choice([rng.uniform(0.88, 0.95), rng.uniform(1.05, 1.12)])
        return ImageEnhance.Brightness(image).enhance(factor)
    return image  # "reencode": same pixels, written below as a JPEG of another quality


def _flat(seed: int, size: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    kind = seed % 3
    if kind == 0:
        return Image.new("RGB", (size, size), (0, 0, 0))
    colour = rng.integers(0, 256, size=3).astype(np.float32)
    pixels = np.broadcast_to(colour, (size, size, 3)).copy()
    if kind == 1:
        pixels += rng.normal(0.0, 1.0, size=pixels.shape).astype(np.float32)
    else:
        ramp = np.linspace(-3.0, 3.0, size, dtype=np.float32)
        pixels += ramp[None, :, None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _make_one(task: tuple[str, str, int, int, dict[str, object]]) -> None:
    """Write one planted file (runs in a worker; everything it needs is in ``task``)."""
    folder, name, seed, size, spec = task
    rng = random.Random(seed * 7919 + 17)
    path = Path(folder) / name
    kind = str(spec["kind"])
    fmt = str(spec.get("format", "png"))
    if kind == "clean":
        path.write_bytes(_encode(generated_looking(seed, size), fmt, rng))
    elif kind == "copy":
        original = generated_looking(int(str(spec["base"])), size)
        how = str(spec["how"])
        copy = _near_copy(original, how, rng)
        if how == "reencode":
            buffer = io.BytesIO()
            copy.save(buffer, "JPEG", quality=rng.randint(70, 85))
            path.write_bytes(buffer.getvalue())
        else:
            path.write_bytes(_encode(copy, fmt, rng))
    elif kind == "exact":
        original = generated_looking(int(str(spec["base"])), size)
        buffer = io.BytesIO()
        original.save(buffer, "PNG", compress_level=9)  # other bytes, same pixels
        path.write_bytes(buffer.getvalue())
    elif kind == "blurry":
        radius = rng.uniform(4.0, 10.0) * size / 1024
        image = generated_looking(seed, size).filter(ImageFilter.GaussianBlur(max(radius, 1.2)))
        path.write_bytes(_encode(image, fmt, rng))
    elif kind == "flat":
        path.write_bytes(_encode(_flat(seed, size), fmt, rng))
    elif kind == "tiny":
        path.write_bytes(_encode(generated_looking(seed, max(16, size // 4)), fmt, rng))
    elif kind == "zero":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = _encode(generated_looking(seed, size), fmt, rng)
        path.write_bytes(data[: int(len(data) * rng.uniform(0.5, 0.95))])
    elif kind == "text":
        path.write_text("this is not an image\n" * 20)
    elif kind == "wrong-extension":
        buffer = io.BytesIO()
        generated_looking(seed, size).save(buffer, "JPEG", quality=92)
        path.write_bytes(buffer.getvalue())  # JPEG bytes in a file named .png
    else:
        raise ValueError(kind)


def plan(n: int, seed: int = 1) -> list[tuple[str, int, dict[str, object]]]:
    """(name, seed, spec) for ``n`` files: ~70 % clean, the rest planted problems."""
    rng = random.Random(seed)
    formats = ["png"] * 45 + ["jpg"] * 45 + ["webp"] * 10
    specs: list[tuple[str, int, dict[str, object]]] = []
    counts = {
        "groups": max(2, n * 6 // 100),
        "exact": max(1, n // 100),
        "blurry": max(2, n * 4 // 100),
        "flat": max(3, n * 3 // 100),
        "tiny": max(1, n // 100),
        "zero": 1,
        "truncated": max(2, n // 100),
        "text": 1,
        "wrong-extension": 1,
    }
    index = 0

    def next_name(fmt: str) -> str:
        nonlocal index
        index += 1
        return f"{index:05d}.{fmt}"

    hows = ["reencode", "resize", "crop", "brightness"]
    for g in range(counts["groups"]):
        base_seed = seed * 100_000 + index + 1
        fmt = rng.choice(formats)
        specs.append((next_name(fmt), base_seed, {"kind": "clean", "format": fmt, "group": g}))
        for c in range(rng.choice([1, 1, 2])):
            how = hows[(g + c) % len(hows)]
            cfmt = "jpg" if how == "reencode" else rng.choice(formats)
            specs.append(
                (
                    next_name(cfmt),
                    base_seed,
                    {"kind": "copy", "base": base_seed, "how": how, "format": cfmt, "group": g},
                )
            )
    for e in range(counts["exact"]):
        base_seed = seed * 100_000 + index + 1
        specs.append((next_name("png"), base_seed, {"kind": "clean", "format": "png", "exact": e}))
        specs.append((next_name("png"), base_seed, {"kind": "exact", "base": base_seed, "exact": e}))
    for kind in ("blurry", "flat", "tiny", "zero", "truncated", "text", "wrong-extension"):
        for _ in range(counts[kind]):
            fmt = "png" if kind in ("zero", "text", "wrong-extension") else rng.choice(formats)
            specs.append((next_name(fmt), seed * 100_000 + index + 1, {"kind": kind, "format": fmt}))
    while len(specs) < n:
        fmt = rng.choice(formats)
        specs.append((next_name(fmt), seed * 100_000 + index + 1, {"kind": "clean", "format": fmt}))
    return specs


def build(folder: Path, n: int, size: int, *, seed: int = 1, workers: int = 1) -> Truth:
    """Write the corpus into ``folder`` and return what was planted."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = plan(n, seed)
    tasks = [(str(folder), name, s, size, spec) for name, s, spec in specs]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_make_one, tasks, chunksize=8))
    else:
        for task in tasks:
            _make_one(task)
    truth = Truth()
    groups: dict[int, list[str]] = {}
    exact: dict[int, list[str]] = {}
    for name, _, spec in specs:
        kind = spec["kind"]
        if "group" in spec:
            groups.setdefault(int(str(spec["group"])), []).append(name)
        elif "exact" in spec:
            exact.setdefault(int(str(spec["exact"])), []).append(name)
        elif kind in ("zero", "truncated", "text", "wrong-extension"):
            truth.broken.append(name)
        elif kind == "tiny":
            truth.tiny.append(name)
        elif kind == "blurry":
            truth.blurry.append(name)
        elif kind == "flat":
            truth.flat.append(name)
        else:
            truth.clean.append(name)
    truth.groups = list(groups.values())
    truth.exact = list(exact.values())
    return truth
