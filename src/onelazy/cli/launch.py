"""``onelazy launch``: run OneTrainer's training on a config, watch it, stop it cleanly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

_F = TypeVar("_F", bound=Callable[..., Any])


def _folder_option(*names: str, help: str) -> Callable[[_F], _F]:
    return click.option(*names, type=click.Path(file_okay=False, path_type=Path), help=help)


def _file_option(*names: str, help: str) -> Callable[[_F], _F]:
    return click.option(*names, type=click.Path(dir_okay=False, path_type=Path), help=help)


@click.command("launch")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@_folder_option("--onetrainer", "onetrainer_dir", help="OneTrainer checkout (default: $ONETRAINER_DIR).")
@_file_option("--python", "python_path", help="OneTrainer's Python (default: its venv/bin/python).")
@_file_option("--secrets", "secrets_path", help="secrets.json passed as --secrets-path.")
@_folder_option("--run-dir", help="Folder for launch.log (default: the config's folder).")
@click.option(
    "--allow-config-warnings",
    is_flag=True,
    help="Keep training when OneTrainer prints 'Could not set ...' (it then uses its default).",
)
@click.option("--dry-run", is_flag=True, help="Run the preflight checks, print the command, start nothing.")
@click.option("--quiet", "-q", is_flag=True, help="Print only stops, failures and the summary.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event on stdout.")
@click.pass_context
def launch_command(
    ctx: click.Context,
    config: Path,
    onetrainer_dir: Path | None,
    python_path: Path | None,
    secrets_path: Path | None,
    run_dir: Path | None,
    allow_config_warnings: bool,
    dry_run: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Run OneTrainer's scripts/train.py on CONFIG and show its progress.

    Checks everything first (config, OneTrainer version, base model, concept folders, free space,
    workspace not in use). Ctrl+C once: OneTrainer makes a backup and saves, wait for it (once
    it has trained a step, and with backup_before_save on; otherwise it exits saving nothing, and
    the launcher says so). Ctrl+C twice: stop now. Exit code 0 finished, 130 interrupted, 1
    failed; OneTrainer's whole output is kept in launch.log beside the config.

    \b
    Example:
        onelazy launch runs/faery/config.json --onetrainer ~/OneTrainer
        onelazy launch runs/faery/config.json --dry-run
    """
    import json

    from onelazy.training import check_launch, run_events
    from onelazy.training.display import make_display, report_lines
    from onelazy.training.runner import collect

    if dry_run:
        report = check_launch(
            config, onetrainer=onetrainer_dir, python=python_path, secrets_path=secrets_path
        )
        if as_json:
            click.echo(json.dumps(report.to_dict()))
        else:
            for line in report_lines(report):
                click.echo(line)
        report.raise_for_failures()
        return
    run = run_events(
        config,
        onetrainer=onetrainer_dir,
        python=python_path,
        secrets_path=secrets_path,
        allow_config_warnings=allow_config_warnings,
        run_dir=run_dir,
    )
    display = make_display("json" if as_json else "quiet" if quiet else "auto")
    try:
        result = collect(run, display)
    finally:
        display.close()
    ctx.exit(result.exit_code)
