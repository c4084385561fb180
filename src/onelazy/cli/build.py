"""``onelazy build-config``: images and a preset into a run folder of OneTrainer files."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("build-config")
@click.argument("images_dir", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--preset", required=True, help="Preset name (onelazy presets list).")
@click.option("--base-model", required=True, help="Hugging Face repo id or local model path.")
@click.option(
    "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The LoRA file to write."
)
@click.option("--name", help="Run name (default: the output file's name).")
@click.option(
    "--prompt", "prompts", multiple=True, help="A training prompt (repeatable); written to prompts.txt."
)
@click.option("--prompt-file", type=click.Path(dir_okay=False, path_type=Path), help="Prompts, one per line.")
@click.option(
    "--prompt-source",
    type=click.Choice(["concept", "sample", "filename"]),
    help="Where captions come from (default: concept with prompts, else a .txt per image).",
)
@click.option("--steps-per-image", type=click.IntRange(min=1), help="Target: times each image is seen.")
@click.option("--total-steps", type=click.IntRange(min=1), help="Target: total training steps.")
@click.option("--set", "set_values", multiple=True, metavar="KEY=VALUE", help="Override a OneTrainer value.")
@click.option(
    "-o", "--run-dir", type=click.Path(file_okay=False, path_type=Path), help="Default: ./runs/NAME."
)
@click.option(
    "--separate-files", is_flag=True, help="Write concepts.json and samples.json beside config.json."
)
@click.option("--recursive", is_flag=True, help="One concept with the images of every subfolder too.")
@click.option("--train-device", default="cuda", show_default=True, help="Torch device OneTrainer trains on.")
@click.option("--hf-token", help="Hugging Face token (default: $HF_TOKEN); goes only to secrets.json.")
@click.option("--no-saves", is_flag=True, help="Stop at the target with no intermediate saves.")
@click.option(
    "--no-validation",
    is_flag=True,
    help="Train on every image: hold none out for OneTrainer's validation loss.",
)
@click.option(
    "--onetrainer", help="OneTrainer folder, for the printed launch command (default: $ONETRAINER_DIR)."
)
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
def build_config_command(
    images_dir: tuple[Path, ...],
    preset: str,
    base_model: str,
    output: Path,
    name: str | None,
    prompts: tuple[str, ...],
    prompt_file: Path | None,
    prompt_source: str | None,
    steps_per_image: int | None,
    total_steps: int | None,
    set_values: tuple[str, ...],
    run_dir: Path | None,
    separate_files: bool,
    recursive: bool,
    train_device: str,
    hf_token: str | None,
    no_saves: bool,
    no_validation: bool,
    onetrainer: str | None,
    dry_run: bool,
) -> None:
    """Write the OneTrainer config for a folder of images, print the plan and the launch command.

    One concept per image folder; a folder that holds no images itself but set folders that do
    (generate's DATASET/<set>/) gives one concept per set folder. Training runs past the target
    (to 125 %) with saves at 75 % and 100 %, because the best checkpoint is often not the last.
    About 10 % of the images (4 to 20) are held out as a validation set, so OneTrainer logs a
    validation loss at every save.

    \b
    Example:
        onelazy build-config ./images --preset lazy-sd15 \\
            --base-model stablediffusionapi/ghostmix --output ./faery.safetensors \\
            --prompt "a photo of a faery in a forest" -o runs/faery
    """
    from onelazy.build import build_config

    built = build_config(
        list(images_dir),
        preset=preset,
        base_model=base_model,
        output=output,
        name=name,
        prompts=prompts,
        prompt_file=prompt_file,
        prompt_source=prompt_source,
        steps_per_image=steps_per_image,
        total_steps=total_steps,
        set_values=set_values,
        run_dir=run_dir,
        separate_files=separate_files,
        recursive=recursive,
        train_device=train_device,
        hf_token=hf_token,
        intermediate_saves=not no_saves,
        validation=not no_validation,
    )
    for line in built.describe():
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing written.")
        return
    for path in built.write():
        click.echo(f"wrote {path}")
    click.echo("Next:")
    command = built.launch_command(onetrainer)
    click.echo(f"  {command}")
    if "--onetrainer" not in command:
        click.echo("  (add --onetrainer DIR, or set ONETRAINER_DIR to your OneTrainer folder)")
