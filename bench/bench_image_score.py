"""How fast compare's image score embeds, with a CLIP the size of openai/clip-vit-base-patch32.

The weights are random, so the bench downloads nothing; that does not change the time: the
architecture and the image size are the real model's (ViT-B/32, 224 px, 512-d projection). The
images are 1024 x 1024 PNGs, as the renders and training images of an SDXL run are.

Measured in one run:

- baseline: a plain transformers loop, one image per forward pass;
- onelazy: ``score_rows`` (batches of 16, each file hashed, embeddings written to the cache);
- onelazy, again: the same call with the cache from the first one (nothing embedded).

Run from the repository root: ``python bench/bench_image_score.py [--images N]`` (needs
``onelazy[score]``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_model(folder: Path) -> None:
    import torch
    import transformers

    transformers.utils.logging.set_verbosity_error()
    config = transformers.CLIPConfig(
        vision_config={
            "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
            "num_attention_heads": 12, "image_size": 224, "patch_size": 32,
        },
        text_config={"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        projection_dim=512,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.CLIPModel(config).save_pretrained(folder)
    transformers.CLIPImageProcessor().save_pretrained(folder)  # 224 px, CLIP's mean and std


def make_images(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for n in range(count):
        base = rng.integers(0, 255, size=(32, 32, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((1024, 1024), Image.Resampling.BICUBIC)
        path = folder / f"{n:04d}.png"
        image.save(path)
        paths.append(path)
    return paths


def plain_loop(model_folder: Path, images: list[Path]) -> float:
    import torch
    import transformers

    model = transformers.AutoModel.from_pretrained(model_folder).eval()
    processor = transformers.AutoImageProcessor.from_pretrained(model_folder)
    start = time.perf_counter()
    for path in images:
        with Image.open(path) as opened:
            inputs = processor(images=[opened.convert("RGB")], return_tensors="pt")
        with torch.inference_mode():
            model.get_image_features(pixel_values=inputs["pixel_values"])
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96, help="images to embed (default 96)")
    args = parser.parse_args()
    from onelazy.comparison.image_score import ClipEmbedder, score_rows

    with tempfile.TemporaryDirectory(prefix="onelazy-bench-score-") as tmp:
        root = Path(tmp)
        (root / "model").mkdir()
        (root / "images").mkdir()
        make_model(root / "model")
        images = make_images(root / "images", args.images)
        half = len(images) // 2
        rows = [("no LoRA", [(path, None) for path in images[half:]])]

        baseline = plain_loop(root / "model", images)
        embedder = ClipEmbedder(str(root / "model"), device="cpu")
        start = time.perf_counter()
        first = score_rows(rows, images[:half], embedder, cache_dir=root / "cache")
        ours = time.perf_counter() - start
        start = time.perf_counter()
        again = score_rows(rows, images[:half], embedder, cache_dir=root / "cache")
        cached = time.perf_counter() - start
        assert first.embedded == len(images) and again.embedded == 0

    import torch

    count = len(images)
    print(f"{count} images of 1024 x 1024, ViT-B/32-sized CLIP, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(f"{'run':<38} {'seconds':>8} {'images/s':>9} {'vs baseline':>12}")
    for name, seconds in (
        ("baseline: plain loop, 1 per pass", baseline),
        ("onelazy score_rows (batches of 16)", ours),
        ("onelazy score_rows again (cached)", cached),
    ):
        print(f"{name:<38} {seconds:>8.2f} {count / seconds:>9.1f} {baseline / seconds:>11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
