"""onelazy compare against the stand-in servers: checkpoints found, grid and page written, LoRA copies
cleaned up, only missing images rendered on rerun, --pick atomic and reversible (the trained final
model kept beside the output)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from onelazy.comparison import COMPARE_SEED, compare, find_checkpoints, pick_checkpoint
from onelazy.errors import BackendUnreachable, ConfigError, UsageError
from onelazy.render import RenderSettings
from tests.project.standins import FolderComfy, FolderSwarm

SAVES = [(3, 0, 3), (7, 0, 7), (11, 1, 3)]


def write_model(path: Path, tag: str) -> None:
    """A minimal safetensors file whose bytes differ by ``tag``."""
    header = json.dumps({"__metadata__": {"tag": tag}}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(len(header).to_bytes(8, "little") + header)


def make_run(base: Path) -> Path:
    run = base / "run"
    workspace = run / "workspace"
    for step, epoch, epoch_step in SAVES:
        write_model(
            workspace
            / "save"
            / f"faery-2026-11-24_21-05-1{step % 10}-save-{step}-{epoch}-{epoch_step}.safetensors",
            f"s{step}",
        )
    (workspace / "save" / ".faery-x-save-99-9-9.safetensors.tmp").write_bytes(b"partial")
    (workspace / "backup" / "2026-11-24_21-06-00-backup-16-2-0" / "lora").mkdir(parents=True)
    write_model(run / "out" / "faery.safetensors", "final")
    config = {
        "__version": 11,
        "workspace_dir": str(workspace),
        "cache_dir": str(run / "cache"),
        "output_model_destination": str(run / "out" / "faery.safetensors"),
        "save_filename_prefix": "faery-",
    }
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return run


def run_compare(run: Path, server: Any, kind: str, loras: Path, **options: Any) -> Any:
    model = "tiny_sd15.safetensors" if kind == "comfyui" else "SD15/tiny_sd15.safetensors"
    return compare(
        run,
        kind=kind,
        url=server.url,
        render=RenderSettings(model=model, width=512, height=768, seed=COMPARE_SEED),
        lora_dir=loras,
        prompts=["a faery in a forest", "a faery, portrait"],
        weights=[0.6, 1.0],
        **options,
    )


def test_finds_saves_and_final_with_their_steps(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    found = find_checkpoints(run)
    assert [(c.kind, c.step, c.epoch) for c in found] == [
        ("save", 3, 0),
        ("save", 7, 0),
        ("save", 11, 1),
        ("final", 16, 2),
    ]
    assert found[-1].label == "final (step 16, epoch 2)"


def test_saves_of_other_runs_in_the_workspace_are_left_out(tmp_path: Path) -> None:
    """OneTrainer names saves <save_filename_prefix><time>-save-...: another prefix is another run."""
    run = make_run(tmp_path)
    save = run / "workspace" / "save"
    for name in (
        "2026-11-24_20-00-00-save-5-0-5.safetensors",  # no prefix
        "faery-v2-2026-11-24_20-00-00-save-6-0-6.safetensors",  # a longer prefix
        "other-2026-11-24_20-00-00-save-9-1-1.safetensors",
    ):
        write_model(save / name, name)
    assert [c.step for c in find_checkpoints(run) if c.kind == "save"] == [3, 7, 11]


@pytest.mark.parametrize("kind", ["comfyui", "swarmui"])
def test_grid_page_cleanup_and_rerun(tmp_path: Path, kind: str) -> None:
    run = make_run(tmp_path)
    loras = tmp_path / "loras"
    loras.mkdir()
    (loras / "someone_else.safetensors").write_bytes(b"x")
    server_class = FolderComfy if kind == "comfyui" else FolderSwarm
    with server_class(loras) as server:
        result = run_compare(run, server, kind, loras)
        # 4 checkpoints x 2 prompts x 2 weights + 2 no-LoRA images
        assert result.rendered == 18 and result.reused == 0
        assert sorted(p.name for p in loras.iterdir()) == ["someone_else.safetensors"]
        renders = server.renders
        again = run_compare(run, server, kind, loras)
        assert again.rendered == 0 and again.reused == 18 and server.renders == renders
        if kind == "swarmui":
            bodies = [b for b in server.generate_bodies if b.get("loras")]
            assert {tuple(b["loraweights"]) for b in bodies} == {(0.6,), (1.0,)}
            assert all(b["loras"][0].startswith("onelazy-") for b in bodies)
            assert len({b["seed"] for b in server.generate_bodies}) == 1
            assert server.refreshes >= 1  # it lists a new LoRA only after TriggerRefresh
        # a new save appears: only its row is rendered
        write_model(run / "workspace" / "save" / "faery-2026-11-24_21-05-30-save-15-1-7.safetensors", "s15")
        more = run_compare(run, server, kind, loras, keep=True)
        assert more.rendered == 4 and more.reused == 18
        assert [p.name for p in loras.iterdir() if p.name.startswith("onelazy-")]
    grid = Image.open(result.grid)  # 5 checkpoints + no LoRA; 2 prompts x 2 weights of 171x256 cells
    assert grid.width >= 4 * 171 and grid.height >= 6 * 256
    assert (
        len(grid.crop((200, grid.height - 256, 371, grid.height - 8)).getcolors(maxcolors=1 << 16) or ()) > 8
    )
    cells = json.loads((run / "compare" / "cells.json").read_text(encoding="utf-8"))
    assert cells["rows"][0] == "no LoRA" and cells["rows"][1] == "step 3, epoch 0"
    assert cells["cells"]["0,0,0"] == cells["cells"]["0,0,1"]  # no LoRA: one image per prompt
    assert cells["cells"]["1,0,0"] != cells["cells"]["1,0,1"]
    page = result.page.read_text(encoding="utf-8")
    for name in cells["files"].values():
        assert f'href="images/{name}"' in page
        assert (run / "compare" / "images" / name).is_file()


def test_no_checkpoints_and_bad_lora_dir(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    with pytest.raises(UsageError, match="is not a folder"):
        compare(
            run,
            kind="comfyui",
            url="http://127.0.0.1:9",
            render=RenderSettings(model="m"),
            lora_dir=tmp_path / "nope",
            prompts=["p"],
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    config.update(workspace_dir=str(empty / "ws"), output_model_destination=str(empty / "x.safetensors"))
    (empty / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(UsageError, match="no checkpoints yet"):
        compare(
            empty,
            kind="comfyui",
            url="http://127.0.0.1:9",
            render=RenderSettings(model="m"),
            lora_dir=tmp_path,
            prompts=["p"],
        )


def test_pick_copies_the_checkpoint_and_keeps_the_trained_final_model(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    output = run / "out" / "faery.safetensors"
    final = output.read_bytes()
    picked = pick_checkpoint(run, 7)
    assert picked.changed and output.read_bytes() == picked.checkpoint.path.read_bytes()
    kept = run / "out" / "faery.final-16.safetensors"  # named for what it is: the final model of step 16
    assert picked.backup == kept and kept.read_bytes() == final
    assert not list(output.parent.glob(".*.tmp"))
    # the final model stays in the comparison, as the final row
    found = find_checkpoints(run)
    assert [(c.kind, c.step) for c in found] == [("save", 3), ("save", 7), ("save", 11), ("final", 16)]
    assert found[-1].path == kept and found[-1].label == "final (step 16, epoch 2)"
    assert not pick_checkpoint(run, 7).changed
    expected = re.escape("no checkpoint at step 8; the run has: 3, 7, 11, 16 (final)")
    with pytest.raises(ConfigError, match=expected) as caught:
        pick_checkpoint(run, 8)
    assert caught.value.exit_code == 2


def test_picking_twice_and_back_to_the_final_model_loses_nothing(tmp_path: Path) -> None:
    """--pick 7, --pick 11, then --pick 16 (the final step) or --pick final: the trained final model
    is still on disk and becomes the LoRA again; no second pick overwrote the only copy of it."""
    run = make_run(tmp_path)
    output = run / "out" / "faery.safetensors"
    final = output.read_bytes()
    pick_checkpoint(run, 7)
    second = pick_checkpoint(run, 11)
    assert second.changed and second.backup is None  # step 7 is still in save/: nothing to keep
    assert [c.kind for c in find_checkpoints(run)] == ["save", "save", "save", "final"]
    back = pick_checkpoint(run, 16)
    assert back.changed and back.checkpoint.kind == "final" and output.read_bytes() == final
    pick_checkpoint(run, 3)
    assert pick_checkpoint(run, "final").checkpoint.kind == "final" and output.read_bytes() == final
    assert (run / "out" / "faery.final-16.safetensors").read_bytes() == final
    names = sorted(p.name for p in output.parent.iterdir())
    assert names == ["faery.final-16.safetensors", "faery.safetensors"]


def test_a_pick_never_overwrites_an_earlier_backup(tmp_path: Path) -> None:
    """An output that is none of the checkpoints (put there by hand) is kept under a free name."""
    run = make_run(tmp_path)
    output = run / "out" / "faery.safetensors"
    pick_checkpoint(run, 7)
    write_model(output, "by hand 1")
    first = pick_checkpoint(run, 11).backup
    write_model(output, "by hand 2")
    second = pick_checkpoint(run, 3).backup
    assert first is not None and second is not None and first != second
    assert b"by hand 1" in first.read_bytes() and b"by hand 2" in second.read_bytes()
    assert (run / "out" / "faery.final-16.safetensors").is_file()


def test_an_unreachable_backend_fails_after_the_quick_health_check(tmp_path: Path) -> None:
    """Not after the eight patient attempts the renders get (about half a minute)."""
    run = make_run(tmp_path)
    loras = tmp_path / "loras"
    loras.mkdir()
    server = FolderComfy(loras).start()
    url = server.url
    server.stop()
    with pytest.raises(BackendUnreachable) as caught:
        run_compare(run, server, "comfyui", loras)
    assert str(caught.value) == (
        f"{url}: ComfyUI not usable after 2 attempts: connection refused or host not found"
    )
    assert list(loras.iterdir()) == []  # nothing was copied in before the server was asked


def test_one_weight_rule_for_flags_the_project_file_and_python(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from onelazy.cli import cli
    from onelazy.comparison import lora_weight_problem
    from onelazy.errors import ProjectFileError
    from onelazy.project import init_project, load_project
    from tests.project.test_project_file import fill

    run = make_run(tmp_path)
    loras = tmp_path / "loras"
    loras.mkdir()
    rule = lora_weight_problem(50)
    assert rule == "weight 50 is outside -10..10" and lora_weight_problem(-10) is None
    flags = ["--backend", "comfyui", "--url", "http://127.0.0.1:9", "--model", "m.safetensors"]
    flags += ["--lora-dir", str(loras), "--prompt", "a faery"]
    result = CliRunner().invoke(cli, ["compare", str(run), *flags, "--weight", "0.7", "--weight", "50"])
    assert result.exit_code == 2 and f"Invalid value for '--weight': {rule}" in result.output
    with pytest.raises(UsageError, match=f"^compare: {rule}$"):  # refused before any server is asked
        compare(
            run,
            kind="comfyui",
            url="http://127.0.0.1:9",
            render=RenderSettings(model="m"),
            lora_dir=loras,
            prompts=["a"],
            weights=[50],
        )
    project = init_project(tmp_path / "project")
    fill(project.path, prompt="a faery", model="m.safetensors", lora_dir=str(loras))
    text = project.path.read_text(encoding="utf-8").replace("weights: [0.7, 1.0]", "weights: [0.7, 50]")
    project.path.write_text(text, encoding="utf-8")
    with pytest.raises(ProjectFileError, match=rule):
        load_project(project.path)
    assert "-10..10" in CliRunner().invoke(cli, ["compare", "--help"]).output


def test_the_no_lora_image_is_rendered_and_shown_once_per_prompt(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    loras = tmp_path / "loras"
    loras.mkdir()
    with FolderSwarm(loras) as server:
        result = run_compare(run, server, "swarmui", loras)
        plain = [b["prompt"] for b in server.generate_bodies if not b.get("loras")]
    assert sorted(plain) == ["a faery in a forest", "a faery, portrait"]  # once each, not once per weight
    grid = Image.open(result.grid).convert("RGB")
    cell_w, cell_h, pad, label_w, rows = 171, 256, 8, 200, 5  # 512x768 images; 4 checkpoints + no LoRA
    header_h = grid.height - rows * (cell_h + pad) - pad

    def blank(row: int, column: int) -> float:
        """The share of the cell that is background: 1.0 empty, near 0 under an image."""
        x, y = label_w + column * (cell_w + pad), header_h + row * (cell_h + pad)
        found = grid.crop((x, y, x + cell_w, y + cell_h)).getcolors(1 << 16) or []
        background = sum(n for n, colour in found if colour == (250, 250, 250))
        return background / (cell_w * cell_h)

    # columns: prompt 1 at weights 0.6 and 1, then prompt 2 at both
    assert blank(0, 0) < 0.1 and blank(0, 2) < 0.1  # the no-LoRA image, first of each prompt's group
    assert blank(0, 1) > 0.95 and blank(0, 3) > 0.95  # beside it: a short grey note, no image again
    assert all(blank(1, column) < 0.1 for column in range(4))  # a checkpoint differs per weight
    page = result.page.read_text(encoding="utf-8")
    no_lora_row = next(line for line in page.splitlines() if line.startswith("<tr><th class=row>no LoRA"))
    assert no_lora_row.count('<td colspan="2">') == 2 and no_lora_row.count("<img") == 2


def test_setting_aside_an_earlier_training_moves_everything_and_deletes_nothing(tmp_path: Path) -> None:
    """Before a fresh training: this prefix's saves, the backups, the (picked) output and the kept final
    model go into workspace/earlier/<time>/; another prefix's saves stay; compare then finds nothing."""
    from onelazy.comparison import set_aside_earlier_training

    run = make_run(tmp_path)
    workspace = run / "workspace"
    other = workspace / "save" / "other-2026-11-24_20-00-00-save-9-1-1.safetensors"
    write_model(other, "other run")
    output = run / "out" / "faery.safetensors"
    final = output.read_bytes()
    pick_checkpoint(run, 7)
    before = {p.read_bytes() for p in (workspace / "save").iterdir() if p.name.startswith("faery-")}
    aside = set_aside_earlier_training(run)
    assert aside.folder is not None and aside.folder.parent == workspace / "earlier"
    assert find_checkpoints(run) == [] and not output.exists() and other.is_file()
    assert [p.name for p in (workspace / "save").iterdir() if not p.name.startswith(".")] == [other.name]
    assert not list((workspace / "backup").iterdir())
    kept = aside.folder
    assert {p.read_bytes() for p in (kept / "save").iterdir()} == before
    assert (kept / "backup" / "2026-11-24_21-06-00-backup-16-2-0" / "lora").is_dir()
    assert (kept / "faery.final-16.safetensors").read_bytes() == final
    picked = kept / "faery.picked-7.safetensors"
    assert aside.output == (output, picked, "picked step 7") and b"s7" in picked.read_bytes()
    assert f"{output} (picked step 7) moved to {picked}" in " ".join(aside.describe())
    assert set_aside_earlier_training(run).moved == ()  # nothing left of it: nothing moves again


def test_a_final_model_kept_by_an_earlier_training_is_not_this_trainings_final(tmp_path: Path) -> None:
    """Retrained with `onelazy launch` alone (nothing set aside): the new output is the final row, the
    earlier kept final model is a row of its own, and the next pick keeps the new one beside it."""
    run = make_run(tmp_path)
    output = run / "out" / "faery.safetensors"
    earlier_final = output.read_bytes()
    pick_checkpoint(run, 7)
    (run / "workspace" / "backup" / "2026-11-25_08-00-00-backup-20-3-0" / "lora").mkdir(parents=True)
    write_model(output, "final of the new training")
    new_final = output.read_bytes()
    found = find_checkpoints(run)
    assert [(c.kind, c.step, c.path.name) for c in found[-2:]] == [
        ("previous", 16, "faery.final-16.safetensors"),
        ("final", 20, "faery.safetensors"),
    ]
    assert found[-2].label == "earlier final (step 16)"
    assert pick_checkpoint(run, 11).backup == run / "out" / "faery.final-20.safetensors"
    assert (run / "out" / "faery.final-20.safetensors").read_bytes() == new_final
    assert (run / "out" / "faery.final-16.safetensors").read_bytes() == earlier_final
    assert pick_checkpoint(run, "final").checkpoint.path.name == "faery.final-20.safetensors"
    assert output.read_bytes() == new_final
    assert [c.path.name for c in find_checkpoints(run) if c.kind != "save"] == [
        "faery.final-16.safetensors",  # listed still, as an earlier final model
        "faery.final-20.safetensors",
    ]
