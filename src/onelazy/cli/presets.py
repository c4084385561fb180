"""``onelazy presets``: list, show, diff and render the presets."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("presets")
def presets() -> None:
    """The presets: OneTrainer settings with a reason for every change.

    \b
    Example:
        onelazy presets list
        onelazy presets show lazy-sd15
        onelazy presets diff lazy-sd15 nonlazy-sd15
    """


@presets.command("list")
def list_command() -> None:
    """List the presets: name, base and what each is for.

    \b
    Example:
        onelazy presets list
    """
    from onelazy.presets import list_presets

    items = list_presets()
    name_width = max(len(item.name) for item in items)
    base_width = max(len(item.base or "") for item in items)
    for item in items:
        click.echo(f"{item.name:<{name_width}}  {item.base or '':<{base_width}}  {item.summary}")


@presets.command("show")
@click.argument("name")
def show_command(name: str) -> None:
    """Show a preset's values with the reason for each, and what it inherits.

    \b
    Example:
        onelazy presets show nonlazy-sdxl
    """
    from onelazy.presets import describe_preset

    for line in describe_preset(name):
        click.echo(line)


@presets.command("diff")
@click.argument("a")
@click.argument("b")
def diff_command(a: str, b: str) -> None:
    """Show the OneTrainer keys whose values differ between two presets.

    \b
    Example:
        onelazy presets diff lazy-sd15 nonlazy-sd15
    """
    from onelazy.presets import diff_presets, format_value

    rows = diff_presets(a, b)
    if not rows:
        click.echo(f"{a} and {b} render to the same config")
        return
    width = max(len(key) for key, _, _ in rows)
    click.echo(f"{'key':<{width}}  {a}  →  {b}")
    for key, left, right in rows:
        click.echo(f"{key:<{width}}  {format_value(left)}  →  {format_value(right)}")


@presets.command("render")
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON here.")
@click.option("--all", "render_every", is_flag=True, help="Rewrite presets/rendered/*.json for every preset.")
@click.option("--check", is_flag=True, help="Fail if a committed rendering differs from a fresh one.")
def render_command(name: str | None, output: Path | None, render_every: bool, check: bool) -> None:
    """Render a preset to the full OneTrainer config JSON.

    Without -o the JSON goes to stdout. --all regenerates presets/rendered/; --check compares them
    with fresh renderings and fails (exit 2) listing the stale ones.

    \b
    Example:
        onelazy presets render lazy-sd15 -o lazy-sd15.json
        onelazy presets render --check
    """
    from onelazy._files import atomic_write_text
    from onelazy.errors import PresetError
    from onelazy.presets import preset_names, render_all, render_text, rendered_drift

    if check:
        drift = rendered_drift(name)
        if drift:
            raise PresetError(
                f"{len(drift)} rendered preset(s) out of date ({'; '.join(drift)}); "
                "run: onelazy presets render --all"
            )
        click.echo(f"rendered presets are up to date ({len(preset_names()) if name is None else 1} checked)")
    elif render_every:
        for line in render_all() or ["rendered presets were already up to date"]:
            click.echo(line)
    elif name is None:
        raise PresetError("name a preset to render, or give --all or --check")
    elif output is None:
        click.echo(render_text(name).rstrip("\n"))
    else:
        atomic_write_text(output, render_text(name))
        click.echo(f"wrote {output}")


@presets.command("docs")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: docs/presets.md."
)
@click.option("--check", is_flag=True, help="Fail if the committed file differs from a fresh one.")
def docs_command(output: Path | None, check: bool) -> None:
    """Generate docs/presets.md: every preset value, OneTrainer's default and the reason.

    \b
    Example:
        onelazy presets docs --check
    """
    from onelazy.errors import PresetError
    from onelazy.presets import docs_path, write_docs

    drift = write_docs(check=check, path=output)
    if check and drift:
        raise PresetError(f"{drift[0]}; run: onelazy presets docs")
    target = output or docs_path()
    if check:
        click.echo(f"{target} is up to date")
    else:
        click.echo(f"wrote {target}" if drift else f"{target} was already up to date")
