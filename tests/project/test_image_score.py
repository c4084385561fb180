"""The optional image score, end to end: compare loads an image model (a tiny random CLIP the test
built, loaded as a downloaded one is), scores each row's renders against the run's training images
and against the no-LoRA renders, and shows the numbers beside the losses without touching the pick.

The expected numbers are computed here from the model with transformers directly, from the files
the test finds itself, so a wrong image set, a wrong pairing or a wrong formula fails."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from onelazy.cli import cli
from onelazy.comparison.image_score import RowScore, ScoreProgress, score_rows
from onelazy.errors import ImageScoreError, UsageError
from tests.project.test_evidence import CLEAR, render, train


def expected_embeddings(model_folder: Path, files: list[Path]) -> dict[Path, Any]:
    import torch
    import transformers

    model = transformers.CLIPModel.from_pretrained(model_folder)
    processor = transformers.AutoImageProcessor.from_pretrained(model_folder)
    found = {}
    for path in files:
        with Image.open(path) as image:
            inputs = processor(images=[image.convert("RGB")], return_tensors="pt")
        with torch.no_grad():
            vision = model.vision_model(pixel_values=inputs["pixel_values"])
            vector = model.visual_projection(vision.pooler_output)[0].double().numpy()
        found[path] = vector / np.linalg.norm(vector)
    return found


def compare_with_score(run: Path, world: dict[str, Any], model: Any, **options: Any) -> Any:
    prompts = ("a faery in a forest", "a faery on a beach")
    return render(run, world, prompts, (0.7, 1.0), image_score=model, **options)


def new_project(world: dict[str, Any]) -> Path:
    """A filled-in onelazy.yaml in the stand-in world."""
    from onelazy.project import init_project
    from tests.project.helpers import fill_in

    made = init_project(
        world["base"] / "faery", name="faery", backend="comfyui", url=world["server"].url,
        onetrainer=str(world["onetrainer"]),
    )  # fmt: skip
    fill_in(made.path, world)
    return made.path


def test_compare_scores_each_row_against_the_training_images_and_the_no_lora_renders(
    world: dict[str, Any], onetrainer_facts: Path, tiny_image_model: Path
) -> None:
    run, _onetrainer = train(world, onetrainer_facts, CLEAR)
    plain = compare_with_score(run, world, None)
    plain_cells = json.loads((run / "compare" / "cells.json").read_text(encoding="utf-8"))
    plain_blue = blue_pixels(plain.grid)
    steps: list[str] = []
    result = compare_with_score(
        run, world, str(tiny_image_model), on_progress=lambda s: steps.append(s.stage)
    )
    assert result.rendered == 0  # the renders of the plain comparison are reused
    scores = result.scores
    assert scores is not None and plain.scores is None

    # what was trained on: run/train/<set>/, never the held-out run/validation/<set>/
    trained = sorted((run / "train").glob("*/*.png"))
    held = sorted((run / "validation").glob("*/*.png"))
    assert len(trained) == 20 and len(held) == 4
    cells = json.loads((run / "compare" / "cells.json").read_text(encoding="utf-8"))
    images = run / "compare" / "images"

    def cell(row: int, prompt: int, weight: int) -> Path:
        return images / cells["files"][cells["cells"][f"{row},{prompt},{weight}"]]

    renders = [cell(r, p, w) for r in range(len(cells["rows"])) for p in range(2) for w in range(2)]
    truth = expected_embeddings(tiny_image_model, [*trained, *held, *dict.fromkeys(renders)])
    centroid = np.mean([truth[path] for path in trained], axis=0)
    assert scores.references == 20 and scores.model == str(tiny_image_model.resolve())

    assert [row.label for row in scores.rows] == cells["rows"]
    for r, row in enumerate(scores.rows):
        mine = list(dict.fromkeys(cell(r, p, w) for p in range(2) for w in range(2)))
        likeness = np.mean([truth[path] @ centroid for path in mine])
        assert row.likeness == pytest.approx(likeness, abs=1e-5)
        if r == 0:  # the no-LoRA row: its renders are the baseline, nothing pulls them
            assert row.pull is None and len(mine) == 2
            continue
        pull = np.mean([1 - truth[cell(r, p, w)] @ truth[cell(0, p, w)] for p in range(2) for w in range(2)])
        assert row.pull == pytest.approx(pull, abs=1e-5)
        # against the held-out images the number would differ: the right set was used
        assert row.likeness != pytest.approx(
            np.mean([truth[path] @ np.mean([truth[h] for h in held], axis=0) for path in mine]), abs=1e-9
        )

    # shown beside the losses, on the page and in cells.json, and never in the pick
    page = result.page.read_text(encoding="utf-8")
    assert "What an image model sees" in page and "not part of the suggestion" in page
    for r, row in enumerate(scores.rows):
        label = row.label
        line = next(text for text in page.splitlines() if text.startswith("<tr") and f">{label}<" in text)
        assert f"<span class=score>likeness {row.likeness:.3f}</span>" in line
        assert (f"pull {row.pull:.3f}" in line) if row.pull is not None else ("pull" not in line and r == 0)
        renders = 2 if r == 0 else 4  # the no-LoRA row: one per prompt, the same at every weight
        assert cells["image_score"]["rows"][r] == {
            "label": label, "likeness": pytest.approx(row.likeness), "pull": row.pull, "renders": renders
        }  # fmt: skip
    assert cells["evidence"] == plain_cells["evidence"] and "image_score" not in plain_cells
    assert result.evidence is not None and plain.evidence is not None
    assert result.evidence.suggestion == plain.evidence.suggestion
    assert cells["suggested"] is not None and "no LoRA" not in cells["evidence"]
    assert steps[0] == "load" and "score" in steps
    header = f"What {scores.model} sees (against 20 training images"
    assert any(line.startswith(header) for line in result.describe())
    # the grid draws the image model's lines in their own colour (the renders may hold a few)
    assert blue_pixels(result.grid) > plain_blue + 100

    # a rerun embeds nothing: every embedding is kept by the content of its file
    again = compare_with_score(run, world, str(tiny_image_model))
    assert again.scores is not None and again.scores.embedded == 0
    assert again.scores.reused == scores.embedded + scores.reused
    assert again.scores.rows == scores.rows


def blue_pixels(grid: Path) -> int:
    with Image.open(grid) as image:
        return sum(
            count for count, colour in image.convert("RGB").getcolors(1 << 22) if colour == (30, 90, 160)
        )


class MeanColour:
    """An embedder by mean colour: enough to check the arithmetic and the bookkeeping exactly."""

    name = "mean-colour"
    revision = None

    def __init__(self) -> None:
        self.embedded: list[Path] = []

    def embed(self, images: list[Path]) -> Any:
        rows = []
        for path in images:
            with Image.open(path) as image:
                rows.append(np.asarray(image.convert("RGB"), dtype=np.float64).mean(axis=(0, 1)) + 1.0)
            self.embedded.append(path)
        found = np.array(rows)
        return found / np.linalg.norm(found, axis=1, keepdims=True)


def solid(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (16, 16), colour).save(path)
    return path


def test_score_arithmetic_unreadable_images_and_the_cache(tmp_path: Path) -> None:
    red, blue = solid(tmp_path / "red.png", (254, 0, 0)), solid(tmp_path / "blue.png", (0, 0, 254))
    also_red = solid(tmp_path / "also-red.png", (254, 0, 0))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    embedder = MeanColour()
    progress: list[ScoreProgress] = []
    scores = score_rows(
        [("no LoRA", [(blue, None)]), ("step 10", [(also_red, blue), (broken, blue)])],
        [red, broken],
        embedder,
        cache_dir=tmp_path / "cache",
        on_progress=progress.append,
    )
    r, b = np.array([255.0, 1, 1]), np.array([1.0, 1, 255])
    cos = float(r @ b / (np.linalg.norm(r) * np.linalg.norm(b)))
    assert scores.rows[0] == RowScore("no LoRA", pytest.approx(cos), None, 1)
    # the broken render is not counted: one render measured
    assert scores.rows[1] == RowScore("step 10", pytest.approx(1.0), pytest.approx(1 - cos), 1)
    assert scores.references == 1 and scores.unreadable == (broken,)
    # red and also-red are one file content: embedded once
    assert scores.embedded == 2 and scores.reused == 0 and progress[-1] == ScoreProgress(3, 3)
    assert {p.name for p in embedder.embedded} == {"blue.png", "red.png"}
    assert scores.describe()[-1].startswith("  1 image(s) could not be read")

    fresh = MeanColour()
    again = score_rows([("step 10", [(also_red, blue)])], [red], fresh, cache_dir=tmp_path / "cache")
    assert fresh.embedded == [] and again.reused == 2 and again.rows[0].likeness == pytest.approx(1.0)

    # a damaged cache is embedded again, not a crash
    for cache in (tmp_path / "cache").iterdir():
        cache.write_bytes(cache.read_bytes()[:40])
    fresh = MeanColour()
    again = score_rows([("step 10", [(also_red, blue)])], [red], fresh, cache_dir=tmp_path / "cache")
    assert again.reused == 0 and again.embedded == 2 and len(fresh.embedded) == 2


def test_rows_with_the_same_label_keep_their_own_numbers(tmp_path: Path) -> None:
    """Two earlier final models of one step are two rows of one label; each shows its own."""
    from onelazy.comparison.rendering import _row_evidence

    red, blue = solid(tmp_path / "red.png", (254, 0, 0)), solid(tmp_path / "blue.png", (0, 0, 254))
    label = "earlier final (step 20)"
    scores = score_rows(
        [("no LoRA", [(blue, None)]), (label, [(red, blue)]), (label, [(blue, blue)])], [red], MeanColour()
    )
    rows: list[Any] = [("no LoRA", None), (label, object()), (label, object())]
    shown, _columns = _row_evidence(rows, None, scores)
    assert shown[1].scores == ("likeness 1.000", f"pull {scores.rows[1].pull:.3f}")
    assert shown[2].scores == (f"likeness {scores.rows[2].likeness:.3f}", "pull 0.000")


def test_score_without_training_images_says_none(tmp_path: Path) -> None:
    red = solid(tmp_path / "red.png", (254, 0, 0))
    scores = score_rows([("step 10", [(red, red)])], [], MeanColour())
    assert scores.rows[0].likeness is None and scores.rows[0].pull == pytest.approx(0.0)
    assert scores.rows[0].lines() == ("likeness: none", "pull 0.000")
    assert "the likeness is not measured" in scores.describe()[-1]


def run_cli(run: Path, world: dict[str, Any], *extra: str) -> Any:
    return CliRunner().invoke(
        cli,
        [
            "compare", str(run), "--backend", "comfyui", "--url", world["server"].url,
            "--model", "tiny_sd15.safetensors", "--lora-dir", str(world["loras"]),
            "--prompt", "a faery in a forest", "--width", "512", "--height", "512", *extra,
        ],
    )  # fmt: skip


def test_the_image_model_is_checked_before_anything_is_rendered(
    world: dict[str, Any], onetrainer_facts: Path, tiny_image_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, _onetrainer = train(world, onetrainer_facts, CLEAR)
    server = world["server"]

    # a local folder that is not there: the person's mistake
    outcome = run_cli(run, world, "--image-score", str(world["base"] / "no-such-model"))
    assert outcome.exit_code == 2, outcome.output
    assert "--image-score:" in outcome.output and "no such folder" in outcome.output
    # a hub id that is not in the cache, offline; the token never shows
    monkeypatch.setenv("HF_TOKEN", "hf_SecretSecretSecret1234")
    outcome = run_cli(run, world, "--image-score", "someone/no-such-clip")
    assert outcome.exit_code == 1, outcome.output
    assert "cannot load 'someone/no-such-clip'" in outcome.output and "Traceback" not in outcome.output
    assert "hf_SecretSecret" not in outcome.output
    # what is being loaded (a first use downloads it), then the error in one line
    loading, error = outcome.output.strip().splitlines()
    assert loading.startswith("Loading the image model someone/no-such-clip") and error.startswith("Error: ")
    # a folder that holds no image model
    empty = world["base"] / "empty-model"
    empty.mkdir()
    outcome = run_cli(run, world, "--image-score", str(empty))
    assert outcome.exit_code == 1 and "cannot load" in outcome.output
    # the packages missing: named, with the extra that brings them
    with monkeypatch.context() as hidden:
        hidden.setitem(sys.modules, "torch", None)  # what `import torch` finds when it is not installed
        with pytest.raises(ImageScoreError, match=r"needs torch: pip install 'onelazy\[score\]'"):
            compare_with_score(run, world, str(tiny_image_model))
    assert server.renders == 0 and not (run / "compare").exists()

    outcome = run_cli(run, world, "--image-score", str(tiny_image_model))
    assert outcome.exit_code == 0, outcome.output
    assert "images embedded for the image score" in outcome.output and "likeness" in outcome.output
    outcome = run_cli(run, world, "--image-score", "none")
    assert outcome.exit_code == 0 and "likeness" not in outcome.output


def test_onelazy_yaml_names_the_image_model(world: dict[str, Any], tiny_image_model: Path) -> None:
    from onelazy.errors import ProjectFileError
    from onelazy.project import load_project

    path = new_project(world)
    text = path.read_text(encoding="utf-8")
    assert "\ncompare:\n" in text
    with_model = text.replace("\ncompare:\n", "\ncompare:\n  image_score: ../clip\n")
    path.write_text(with_model, encoding="utf-8")
    with pytest.raises(ProjectFileError, match=r"onelazy.yaml:\d+:\d+: compare.image_score: .*clip: no such"):
        load_project(path)
    (world["base"] / "clip").symlink_to(tiny_image_model, target_is_directory=True)
    assert load_project(path).compare_options()["image_score"] == str(tiny_image_model.resolve())
    hub = text.replace("\ncompare:\n", "\ncompare:\n  image_score: openai/clip-vit-base-patch32\n")
    path.write_text(hub, encoding="utf-8")
    assert load_project(path).compare_options()["image_score"] == "openai/clip-vit-base-patch32"
    path.write_text(text, encoding="utf-8")
    assert "image_score" not in load_project(path).compare_options()  # off unless asked


def test_a_model_name_that_is_no_folder_and_no_hub_id_is_a_usage_error() -> None:
    from onelazy.comparison.image_score import check_model_name

    with pytest.raises(UsageError, match="no such folder"):
        check_model_name("clip.safetensors")
    assert check_model_name("openai/clip-vit-base-patch32") == "openai/clip-vit-base-patch32"
    with pytest.raises(UsageError, match="give a model"):
        check_model_name(" ")


def test_a_file_is_no_model_folder(tmp_path: Path) -> None:
    from onelazy.comparison.image_score import check_model_name

    (tmp_path / "clip").write_text("not a model", encoding="utf-8")
    with pytest.raises(UsageError, match="clip: is a file, not a model folder"):
        check_model_name(str(tmp_path / "clip"))


def test_onelazy_run_scores_with_the_model_the_file_names(
    world: dict[str, Any], tiny_image_model: Path
) -> None:
    from onelazy.pipeline import project_status, run_project

    path = new_project(world)
    plain = path.read_text(encoding="utf-8")
    scored = plain.replace("\ncompare:\n", f"\ncompare:\n  image_score: {tiny_image_model}\n")
    path.write_text(scored, encoding="utf-8")
    # without the packages, the run stops before it generates anything, not after the training
    with pytest.MonkeyPatch.context() as hidden:
        hidden.setitem(sys.modules, "transformers", None)
        with pytest.raises(ImageScoreError, match=r"compare.image_score: the image score needs transformers"):
            run_project(path)
    assert world["server"].renders == 0
    lines: list[str] = []
    run_project(path, echo=lines.append)
    page = (world["base"] / "faery" / "run" / "compare" / "index.html").read_text(encoding="utf-8")
    assert "What an image model sees" in page and "<span class=score>likeness" in page
    assert any("sees (against 12 training images" in line for line in lines), lines
    states = {s.stage: s.state for s in project_status(path)}
    assert states["compare"] == "done"
    # the score is part of what compare was asked: without it the comparison is redone (every
    # image reused), and the page no longer shows it
    path.write_text(plain, encoding="utf-8")
    assert {s.stage: s.state for s in project_status(path)}["compare"] == "stale"
    renders = world["server"].renders
    run_project(path, echo=lines.append)
    assert world["server"].renders == renders
    page = (world["base"] / "faery" / "run" / "compare" / "index.html").read_text(encoding="utf-8")
    assert "What an image model sees" not in page


class OutOfMemory(MeanColour):
    """An image model that fails while it embeds, as one out of GPU memory does."""

    def embed(self, images: list[Path]) -> Any:
        raise ImageScoreError("image score: mean-colour failed: CUDA out of memory")


def test_a_model_failing_while_it_embeds_leaves_the_renders_and_the_page(
    world: dict[str, Any], onetrainer_facts: Path
) -> None:
    run, _onetrainer = train(world, onetrainer_facts, CLEAR)
    result = compare_with_score(run, world, OutOfMemory())
    assert result.scores is None and result.rendered == 14
    assert "No image score: image score: mean-colour failed: CUDA out of memory" in result.notes
    page = result.page.read_text(encoding="utf-8")
    assert "CUDA out of memory" in page and "<span class=score>" not in page
    assert "validation loss" in page and result.grid.is_file()
