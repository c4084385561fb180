"""``onelazy init``, ``onelazy run`` and ``onelazy status``: the whole recipe from one onelazy.yaml."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from onelazy._stages import STAGES
from onelazy.backends import DEFAULT_KIND
from onelazy.cli._options import backend_option


def _preset_help() -> str:
    from onelazy.families import FAMILIES

    names = "; ".join(
        f"{family.display}: {', '.join(family.preset_names()[: max(1, len(family.tiers))])}"
        for family in FAMILIES
    )
    return f"The recipe for your model family (nonlazy-... for the careful one). {names}."


_PRESET_HELP = _preset_help()


@click.command("init")
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="The LoRA's name (default: the folder's name).")
@click.option("--preset", default="lazy-sd15", show_default=True, help=_PRESET_HELP)
@backend_option(dest="backend", default=DEFAULT_KIND, show_default=True)
@click.option("--url", help="Backend URL (default: SwarmUI's 7801 or ComfyUI's 8188 on this machine).")
@click.option("--model", help="Fills in generate.model: the checkpoint name as the backend lists it.")
@click.option("--prompt", help="Fills in the prompt both image sets use.")
@click.option("--lora-dir", help="Fills in compare.lora_dir: the folder the backend loads LoRAs from.")
@click.option("--onetrainer", help="Your OneTrainer checkout (default: $ONETRAINER_DIR).")
@click.option("--force", is_flag=True, help="Overwrite an existing onelazy.yaml.")
def init_command(directory: Path, **options: Any) -> None:
    """Write a commented onelazy.yaml with the recipe's defaults.

    Two sets of 100 images of one prompt (upright and wide), the lazy preset, saves at 75/100/125 %
    of the plan, and a comparison of every checkpoint. Three values are left to fill in: the
    prompt, the backend's checkpoint name (generate.model) and the backend's LoRA folder
    (compare.lora_dir); the command says on which lines. Give them as flags to fill them now.

    \b
    Example:
        onelazy init faery --backend comfyui --onetrainer ~/OneTrainer
        onelazy init . --prompt "photo of a faery, forest" --model sd15.safetensors \\
            --lora-dir ~/ComfyUI/models/loras
    """
    from onelazy.project import init_project

    result = init_project(directory, **options)
    for line in result.describe():
        click.echo(line)


@click.command("run")
@click.argument("project", required=False, default="onelazy.yaml", type=click.Path(path_type=Path))
@click.option(
    "--review", is_flag=True, help="After cull, open the review page; Ctrl+C there continues the run."
)
@click.option("--no-browser", is_flag=True, help="With --review: print the page's address, do not open it.")
@click.option("--stop-after", type=click.Choice(STAGES), help="End the run after this stage.")
@click.option("--quiet", is_flag=True, help="Only the stage decisions, no progress lines.")
def run_command(project: Path, review: bool, no_browser: bool, stop_after: str | None, quiet: bool) -> None:
    """Run every stage of onelazy.yaml that is not already done.

    generate -> cull -> (review) -> build-config -> launch -> compare. A stage is skipped when its
    output is complete and its inputs have not changed since it ran; a stage whose inputs changed
    runs again and the run says which input changed. Ctrl+C at any point, then `onelazy run`
    again, continues where it stopped (training continues from OneTrainer's backup).

    \b
    Example:
        onelazy run
        onelazy run faery/onelazy.yaml --review
    """
    from onelazy.pipeline import run_project
    from onelazy.training.display import make_display

    display = make_display("quiet" if quiet else "auto")
    progress = _Throttled(enabled=not quiet)
    try:
        summary = run_project(
            project,
            review=review,
            open_browser=not no_browser,
            echo=progress.line,
            on_progress=progress.update,
            on_training_event=display,
            stop_after=stop_after,
        )
    finally:
        display.close()
    if summary.exit_code:
        sys.exit(summary.exit_code)


class _Throttled:
    """Stage decisions as they come; progress within a stage at most every few seconds."""

    def __init__(self, *, enabled: bool, every: float = 5.0) -> None:
        self.enabled = enabled
        self.every = every
        self.last = 0.0

    def line(self, text: str) -> None:
        click.echo(text)

    def update(self, stage: str, text: str) -> None:
        now = time.monotonic()
        if self.enabled and now - self.last >= self.every:
            self.last = now
            click.echo(f"  {stage}: {text}")


@click.command("status")
@click.argument("project", required=False, default="onelazy.yaml", type=click.Path(path_type=Path))
def status_command(project: Path) -> None:
    """Show each stage of onelazy.yaml: done, stale (and why) or pending, with counts.

    \b
    Example:
        onelazy status
        onelazy status faery/onelazy.yaml
    """
    from onelazy.pipeline import project_status

    for status in project_status(project):
        click.echo(status.line())
