"""``onelazy.launch``: run OneTrainer's own training, watch it, stop it cleanly.

::

    import onelazy
    result = onelazy.launch("runs/faery/config.json", onetrainer="~/OneTrainer", on_event=print)
    print(result.outcome, result.final_model)

    from onelazy.training import run_events, Progress
    with run_events("runs/faery/config.json") as run:
        for event in run:
            if isinstance(event, Progress):
                print(event.global_step, event.loss)

Preflight runs before anything starts (config, OneTrainer version, base model, concept folders,
output space, workspace lock); OneTrainer's output becomes typed events; the outcome is decided by
what the launcher saw (finished / interrupted / failed), not by OneTrainer's exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from onelazy.errors import ConfigError
from onelazy.onetrainer.install import OneTrainerInstall, find_onetrainer
from onelazy.training.events import (
    Ended,
    Event,
    Failed,
    Output,
    Phase,
    Progress,
    Saved,
    Started,
    Stopping,
    TrainerWarning,
    TrainingWarning,
)
from onelazy.training.preflight import Check, PreflightReport, build_command, preflight
from onelazy.training.result import LaunchResult, Outcome, SavedFile
from onelazy.training.runner import TrainingRun, collect

__all__ = [
    "Check",
    "Ended",
    "Event",
    "Failed",
    "LaunchResult",
    "OneTrainerInstall",
    "Outcome",
    "Output",
    "Phase",
    "PreflightReport",
    "Progress",
    "Saved",
    "SavedFile",
    "Started",
    "Stopping",
    "TrainerWarning",
    "TrainingRun",
    "TrainingWarning",
    "build_command",
    "check_launch",
    "find_onetrainer",
    "launch",
    "run_events",
]


def check_launch(
    config_path: str | Path,
    *,
    onetrainer: str | Path | None = None,
    python: str | Path | None = None,
    secrets_path: str | Path | None = None,
) -> PreflightReport:
    """Preflight only: find OneTrainer, run every check, build the command; start nothing.

    Raises :class:`~onelazy.errors.OneTrainerNotFound` when there is no install to check against;
    failed checks are in the report (``report.ok``, ``report.failures``).
    """
    config = Path(config_path).expanduser()
    if not config.is_file():
        raise ConfigError("no such file", file=config)
    install = find_onetrainer(onetrainer, python=python)
    secrets = Path(secrets_path).expanduser().resolve() if secrets_path is not None else None
    return preflight(config.resolve(), install, secrets_path=secrets)


def run_events(
    config_path: str | Path,
    *,
    onetrainer: str | Path | None = None,
    python: str | Path | None = None,
    secrets_path: str | Path | None = None,
    allow_config_warnings: bool = False,
    run_dir: str | Path | None = None,
    handle_signals: bool = True,
) -> TrainingRun:
    """Preflight now (raising on the first failure); iterate the returned run for its events.

    ``run_dir`` holds ``launch.log`` (default: the config's folder). With ``handle_signals`` (and
    on the main thread) Ctrl+C, SIGTERM and SIGHUP are handled while the run goes: the first
    Ctrl+C lets OneTrainer save, the second stops it now.
    """
    report = check_launch(config_path, onetrainer=onetrainer, python=python, secrets_path=secrets_path)
    report.raise_for_failures()
    folder = Path(run_dir).expanduser() if run_dir is not None else report.config_path.parent
    return TrainingRun(
        report,
        run_dir=folder,
        allow_config_warnings=allow_config_warnings,
        handle_signals=handle_signals,
    )


def launch(
    config_path: str | Path,
    *,
    onetrainer: str | Path | None = None,
    python: str | Path | None = None,
    secrets_path: str | Path | None = None,
    on_event: Callable[[Event], None] | None = None,
    allow_config_warnings: bool = False,
    run_dir: str | Path | None = None,
    handle_signals: bool = True,
) -> LaunchResult:
    """Run OneTrainer's ``scripts/train.py`` on ``config_path`` to the end; the outcome.

    ``on_event`` gets every event (:class:`Progress`, :class:`Saved`, :class:`TrainingWarning`, …).
    A failed or interrupted run is a result, not an exception: check ``result.outcome``.
    """
    run = run_events(
        config_path,
        onetrainer=onetrainer,
        python=python,
        secrets_path=secrets_path,
        allow_config_warnings=allow_config_warnings,
        run_dir=run_dir,
        handle_signals=handle_signals,
    )
    return collect(run, on_event)


def __getattr__(name: str) -> Any:
    """``onelazy.training.Warning``, the first name of :class:`TrainingWarning`, still imports."""
    from onelazy.training import events

    return getattr(events, name)
