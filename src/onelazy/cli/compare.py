"""``onelazy compare``: render every checkpoint of a run side by side, and pick the best one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from onelazy.cli._options import backend_option, render_options


def _check_weights(
    _ctx: click.Context, _param: click.Parameter, weights: tuple[float, ...]
) -> tuple[float, ...]:
    """The library's one weight rule, applied while parsing so the message names --weight."""
    from onelazy.comparison import lora_weight_problem

    for weight in weights:
        problem = lora_weight_problem(weight)
        if problem:
            raise click.BadParameter(problem)
    return weights


def _check_pick(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | str | None:
    """A step number or the word ``final`` or ``best``."""
    if value is None:
        return None
    if value.strip().lower() in ("final", "best"):
        return value.strip().lower()
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a step number nor 'final' or 'best'") from None


@click.command("compare")
@click.argument("run_dir", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--project",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Take the settings from this onelazy.yaml (default: the one beside RUN_DIR, if any).",
)
@backend_option()
@click.option("--url", help="Backend URL.")
@click.option("--model", help="Checkpoint the backend renders with, as it lists it.")
@click.option(
    "--lora-dir", type=click.Path(file_okay=False, path_type=Path), help="The backend's LoRA folder."
)
@click.option("--prompt", "prompts", multiple=True, help="A prompt to compare (repeat for several).")
@click.option("--negative", help="Negative prompt.")
@click.option(
    "--weight",
    "weights",
    multiple=True,
    type=float,
    callback=_check_weights,
    help="A LoRA weight, -10..10 (repeat; default 0.7 and 1).",
)
@click.option("--seed", type=click.IntRange(min=0), help="The one seed every image uses (default 1234).")
@render_options
@click.option("--keep", is_flag=True, default=None, help="Leave the LoRA copies in the backend's folder.")
@click.option(
    "--image-score",
    metavar="MODEL|none",
    help="Also score each checkpoint with an image model (needs onelazy[score]): a Hugging Face id "
    "such as openai/clip-vit-base-patch32, fetched on first use, or a local model folder; 'none' "
    "turns off the one onelazy.yaml names. Shown beside the losses, never part of --pick best.",
)
@click.option(
    "--pick",
    metavar="STEP|final|best",
    callback=_check_pick,
    help="Make the checkpoint of STEP (or the trained final model) the LoRA; nothing is lost, so a "
    "later --pick can go back. 'best': the one with the lowest validation loss, unless the "
    "differences are within the noise (then nothing is picked, exit 1).",
)
def compare_command(run_dir: Path, project: Path | None, pick: int | str | None, **flags: Any) -> None:
    """Render each checkpoint of RUN_DIR with fixed seeds: a grid PNG and a page.

    Rows are the checkpoints by step (intermediate saves and the final model), with the prompt
    rendered without any LoRA first; columns are prompts x LoRA weights. Each checkpoint is
    copied into the backend's LoRA folder under a unique name while it renders, then removed.
    Images already rendered are reused. Each checkpoint's row shows the validation loss and
    train loss OneTrainer logged (with onelazy[evidence] installed), beside OneTrainer's own
    training samples, and the page has a loss chart. --image-score adds what an image model sees:
    how close each row's renders are to the training images (likeness) and how far the LoRA moves
    them from the no-LoRA renders (pull). Then --pick STEP makes the best one the
    LoRA, or --pick best the one the validation loss points to; the trained final model is kept
    beside it (NAME.final-STEP.safetensors) and stays in the comparison, so --pick final (or its
    step) goes back to it.

    \b
    Example:
        onelazy compare run --backend comfyui --url http://127.0.0.1:8188 \\
            --model sd15.safetensors --lora-dir ~/ComfyUI/models/loras \\
            --prompt "a faery, walking in a meadow" --weight 0.7 --weight 1
        onelazy compare run --image-score openai/clip-vit-base-patch32
        onelazy compare run --pick 1500
        onelazy compare run --pick best
        onelazy compare run --pick final
    """
    if pick == "best":
        from onelazy.comparison import pick_best

        evidence, picked = pick_best(run_dir)
        for line in [*evidence.describe(), *(picked.describe() if picked else [])]:
            click.echo(line)
        if picked is None:
            click.echo(f"Nothing picked; choose with: onelazy compare {run_dir} --pick STEP", err=True)
            raise SystemExit(1)
        return
    if pick is not None:
        from onelazy.comparison import pick_checkpoint

        for line in pick_checkpoint(run_dir, "final" if pick == "final" else int(pick)).describe():
            click.echo(line)
        return
    from onelazy.comparison import COMPARE_SEED, compare
    from onelazy.render import RENDER_FIELDS, RenderSettings

    options = _project_options(run_dir, project)
    given = {key: value for key, value in flags.items() if value not in (None, ())}
    options.update({key: list(value) if isinstance(value, tuple) else value for key, value in given.items()})
    if str(options.get("image_score", "")).lower() == "none":
        del options["image_score"]
    render_values = {name: options.pop(name) for name in RENDER_FIELDS if name in options}
    base: RenderSettings | None = options.pop("render", None)
    known = {**options, "model": render_values.get("model") or (base.model if base else None)}
    required = {"kind": "--backend", "url": "--url", "model": "--model", "lora_dir": "--lora-dir"}
    missing = [flag for name, flag in required.items() if not known.get(name)]
    if not options.get("prompts"):
        missing.append("--prompt")
    if missing:
        raise click.UsageError(f"give {', '.join(missing)} (or --project with a compare: section)")
    if base is None:
        render = RenderSettings(**{"seed": COMPARE_SEED, **render_values})
    else:
        render = base.with_values(**render_values)
    result = compare(run_dir, on_progress=_progress, render=render, **options)
    for line in result.describe():
        click.echo(line)


def _project_options(run_dir: Path, project: Path | None) -> dict[str, Any]:
    from onelazy.project import PROJECT_FILE, load_project

    if project is None:
        beside = run_dir.resolve().parent / PROJECT_FILE
        if not beside.is_file():
            return {}
        project = beside
    return load_project(project).compare_options()


def _progress(state: Any) -> None:
    if state.stage == "load":
        click.echo(f"Loading the image model {state.current} (its first use downloads it)", err=True)
    elif state.done and (state.done == state.total or state.done % 10 == 0):
        if state.stage == "score":
            click.echo(f"{state.done}/{state.total} images embedded for the image score")
        else:
            click.echo(f"{state.done}/{state.total} images rendered ({state.reused} already there)")
