"""``onelazy check``, ``onelazy migrate`` and ``onelazy schema``: OneTrainer's config files."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("check", short_help="Validate OneTrainer config, concepts and samples files.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def check(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Validate OneTrainer config, concepts, samples and secrets files of any version.

    Prints one line per problem: unknown keys (with a "did you mean"), wrong types, values
    OneTrainer would silently replace, and what it only notices mid-run (an output format the
    model cannot be saved in, a missing samples file, a layer preset without its filter,
    relative paths). Exit code 0: no problems; 1: problems found; 2: a file cannot be read.

    \b
    Example:
        onelazy check runs/faery/config.json runs/faery/concepts.json
    """
    from onelazy.errors import OnelazyError
    from onelazy.onetrainer.checks import check_file

    found = 0
    errors: list[OnelazyError] = []
    for file in files:
        try:
            problems = check_file(file)
        except OnelazyError as exc:
            errors.append(exc)
            continue
        for problem in problems:
            click.echo(str(problem))
        if not problems:
            click.echo(f"{file}: OK")
        found += len(problems)
    if errors:  # in the order given: the last one is printed by the group, with its exit code
        for earlier in errors[:-1]:
            click.echo(f"Error: {earlier}", err=True)
        raise errors[-1]
    if found:
        click.echo(f"{found} problem{'s' if found != 1 else ''} found.", err=True)
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
