"""``onelazy check``, ``onelazy migrate`` and ``onelazy schema``: OneTrainer's config files."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("check", short_help="Validate OneTrainer config, concepts and samples files.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--onetrainer",
    "onetrainer_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="OneTrainer's folder, where relative paths are looked up (default: $ONETRAINER_DIR).",
)
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@click.pass_context
def check(ctx: click.Context, files: tuple[Path, ...], onetrainer_dir: Path | None, strict: bool) -> None:
    """Validate OneTrainer config, concepts, samples and secrets files of any version.

    Prints one line per problem. Errors are what OneTrainer would drop, mangle, fail on or do
    differently from what the file says: unknown keys (with a "did you mean"), wrong types and
    enum names, values it cannot train with (lora_rank 0), an output format the model cannot be
    saved in, a missing samples file, a layer preset without its filter. Warnings ("warning: ...")
    are what works but depends on where OneTrainer runs: relative paths and files in OneTrainer's
    folder, looked up in --onetrainer (or $ONETRAINER_DIR) when given. A file without "__version"
    that OneTrainer's migration cannot read is checked as a preset. Exit code 0: no errors
    (warnings allowed unless --strict); 1: errors found; 2: a file cannot be read.

    \b
    Example:
        onelazy check runs/faery/config.json runs/faery/concepts.json
        onelazy check ~/OneTrainer/training_presets/SDXL/*.json --onetrainer ~/OneTrainer
    """
    from onelazy.onetrainer.checks import check_report

    report = check_report(files, onetrainer_dir=onetrainer_dir)
    for line in report.lines():
        click.echo(line)
    if report.summary(strict=strict):
        click.echo(report.summary(strict=strict), err=True)
    if report.read_errors:  # in the order given: the last one is printed by the group, with its exit code
        for earlier in report.read_errors[:-1]:
            click.echo(f"Error: {earlier}", err=True)
        raise report.read_errors[-1]
    if report.fails(strict=strict):
        ctx.exit(1)


@click.command("migrate", short_help="Upgrade an old OneTrainer config to the current version.")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Write here (atomically) instead of to stdout."
)
def migrate(source: Path, output: Path | None) -> None:
    """Upgrade an old OneTrainer config (or concepts file) to the current version.

    Runs OneTrainer's migrations step by step and writes the complete current config. Keys and
    values OneTrainer would drop on the way are listed on stderr; where OneTrainer's own migration
    would crash (a partial config without "__version"), or when the file is newer than the version
    onelazy knows (writing it as that version would lose what the newer one added), nothing is
    written and the exit code is 2.

    \b
    Example:
        onelazy migrate old-config.json -o config.json
    """
    from onelazy.onetrainer.checks import migrate_file

    text, problems = migrate_file(source, output)
    for problem in problems:
        click.echo(f"dropped: {problem}", err=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"Wrote {output}", err=True)


@click.command("schema", short_help="JSON Schema of OneTrainer's files, for editors.")
@click.option(
    "--kind",
    type=click.Choice(["train", "concepts", "samples", "secrets"]),
    default="train",
    show_default=True,
    help="Which file the schema describes.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here instead of to stdout.")
def schema(kind: str, output: Path | None) -> None:
    """Print the JSON Schema of OneTrainer's config files, for editor completion and checks.

    \b
    Example:
        onelazy schema -o onetrainer-config.schema.json
        onelazy schema --kind concepts
    """
    from onelazy.onetrainer.schema import write_json_schema

    text = write_json_schema(output, kind)
    if output is None:
        click.echo(text, nl=False)
