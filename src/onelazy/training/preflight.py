"""Checks before OneTrainer starts, so a run does not die after minutes of model loading.

Each check gives one line. :func:`preflight` runs them all and returns a :class:`PreflightReport`;
:meth:`PreflightReport.raise_for_failures` raises the first failure's error type (a bad config is a
usage error, exit 2; an unusable install or workspace exit 1) with every failure in the message.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from onelazy.dataset import find_images
from onelazy.errors import (
    ConfigError,
    DatasetError,
    OnelazyError,
    OneTrainerVersionMismatch,
    PreflightError,
    WorkspaceLocked,
)
from onelazy.onetrainer import CONFIG_VERSION
from onelazy.onetrainer.install import OneTrainerInstall
from onelazy.onetrainer.model_names import is_hub_id, is_remote
from onelazy.plan import onetrainer_save_points
from onelazy.training.config_facts import ConceptFacts, ConfigFacts, concepts_relative_to, read_config_facts

LOCK_NAME = ".onelazy-launch.lock"
_MIB = 1024 * 1024
_GIB = 1024 * _MIB


@dataclass(frozen=True)
class Check:
    """One preflight check: what was checked, whether it passed, one line saying why."""

    name: str
    ok: bool
    detail: str
    error: type[OnelazyError] = PreflightError
    #: Passed, but with something the person should know (printed as a warning; nothing stops).
    warning: bool = False


@dataclass
class PreflightReport:
    """All checks for one launch, the command that would run, and the config facts."""

    config_path: Path
    install: OneTrainerInstall
    command: tuple[str, ...]
    facts: ConfigFacts | None
    checks: list[Check] = field(default_factory=list)
    images: int = 0
    required_bytes: int = 0

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    @property
    def warnings(self) -> list[Check]:
        """Checks that passed with a warning (e.g. a OneTrainer newer than onelazy)."""
        return [check for check in self.checks if check.ok and check.warning]

    def raise_for_failures(self) -> None:
        """Raise the first failure's error type, naming every failure (one per line)."""
        failures = self.failures
        if not failures:
            return
        lines = [f"{check.name}: {check.detail}" for check in failures]
        message = lines[0] if len(lines) == 1 else "preflight failed:\n  " + "\n  ".join(lines)
        error = failures[0].error
        if issubclass(error, ConfigError):
            raise ConfigError(message)
        raise error(message)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "command": list(self.command),
            "cwd": str(self.install.root),
            "checks": [
                {"name": c.name, "ok": c.ok, "warning": c.warning, "detail": c.detail} for c in self.checks
            ],
        }


def build_command(
    install: OneTrainerInstall, config_path: Path, secrets_path: Path | None = None
) -> tuple[str, ...]:
    """The exact argument list: OneTrainer's Python, its train script, the config (and secrets)."""
    command = [str(install.python), str(install.train_script), "--config-path", str(config_path)]
    if secrets_path is not None:
        command += ["--secrets-path", str(secrets_path)]
    return tuple(command)


def preflight(
    config_path: Path, install: OneTrainerInstall, *, secrets_path: Path | None = None
) -> PreflightReport:
    """Run every check; never raises for a failed check (see :meth:`PreflightReport.raise_for_failures`)."""
    report = PreflightReport(
        config_path=config_path,
        install=install,
        command=build_command(install, config_path, secrets_path),
        facts=None,
    )
    checks = report.checks
    expected = CONFIG_VERSION  # the TrainConfig __version onelazy writes
    try:
        newer = install.check_config_version(expected)
        if newer is None:
            checks.append(Check("onetrainer", True, f"{install.root} expects config version {expected}"))
        else:
            checks.append(Check("onetrainer", True, newer, warning=True))
    except OneTrainerVersionMismatch as exc:
        checks.append(Check("onetrainer", False, str(exc), OneTrainerVersionMismatch))
    if secrets_path is not None:
        checks.append(_check_secrets(secrets_path))
    try:
        facts = read_config_facts(config_path, base_dir=install.root)
    except ConfigError as exc:
        checks.append(Check("config", False, str(exc), ConfigError))
        return report
    report.facts = facts
    if facts.config_version is not None and facts.config_version != expected:
        checks.append(
            Check(
                "config",
                False,
                f"{config_path}: __version is {facts.config_version}, onelazy checks and launches "
                f"version {expected}; run onelazy migrate",
                ConfigError,
            )
        )
    elif facts.config_version is None:
        checks.append(
            Check(
                "config",
                False,
                f"{config_path}: __version is missing; OneTrainer would run every migration on it "
                f'(write "__version": {expected})',
                ConfigError,
            )
        )
    else:
        checks.append(Check("config", True, f"{config_path} is valid (version {facts.config_version})"))
    checks.extend(Check("config", True, warning, warning=True) for warning in facts.warnings)
    root = install.root
    checks.append(_check_base_model(facts.base_model_name, root))
    concept_check, images = _check_concepts(facts, root)
    checks.append(concept_check)
    report.images = images
    in_workspace, at_output = _required_bytes(facts, root, images)
    report.required_bytes = in_workspace + at_output
    checks.extend(_check_outputs(facts, root, in_workspace, at_output))
    checks.append(_check_lock(resolve(facts.workspace_dir, root)))
    return report


def _check_secrets(path: Path) -> Check:
    """The secrets file as strictly as the config: OneTrainer would stop on bad JSON only after
    loading, and silently drop a misspelt key (then the download fails for want of the token)."""
    from onelazy.onetrainer.reading import read_secrets

    if not path.is_file():
        return Check("secrets", False, f"{path}: no such file", ConfigError)
    try:
        read_secrets(path, strict=True)
    except ConfigError as exc:  # names the key, never the value
        return Check("secrets", False, str(exc), ConfigError)
    return Check("secrets", True, f"{path} is valid")


def resolve(value: str, root: Path) -> Path:
    """A config path as OneTrainer sees it (relative paths resolve against its root, its cwd)."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def _check_base_model(name: str, root: Path) -> Check:
    if not name:
        return Check("base model", False, "base_model_name is empty", ConfigError)
    local = resolve(name, root)
    if local.exists():
        return Check("base model", True, f"{local} exists")
    if is_remote(name):
        what = "a Hugging Face id" if is_hub_id(name) else "a URL"
        return Check("base model", True, f"{name} is {what} (downloaded by OneTrainer)")
    return Check(
        "base model",
        False,
        f"base_model_name {name}: no such file or folder ({local}) and not a Hugging Face id (owner/name)",
        ConfigError,
    )


def count_images(folder: Path, recursive: bool) -> int:
    """Training images in ``folder`` as OneTrainer's data loader counts them (masks excluded)."""
    return len(find_images(folder, depth=None if recursive else 0))


def _check_concepts(facts: ConfigFacts, root: Path) -> tuple[Check, int]:
    concepts, error = concepts_relative_to(facts, root)
    if concepts is None:
        return Check("concepts", False, error or "concepts could not be read", ConfigError), 0
    enabled = [c for c in concepts if c.enabled]
    if not enabled:
        return Check("concepts", False, "no enabled concept: nothing to train on", ConfigError), 0
    total = 0
    samples = 0.0
    for concept in enabled:
        folder = resolve(concept.path, root)
        label = f"concept {concept.name or concept.path!r}"
        if not folder.is_dir():
            return Check("concepts", False, f"{label}: {folder} is not a folder", DatasetError), 0
        found = count_images(folder, concept.include_subdirectories)
        if found == 0:
            return Check("concepts", False, f"{label}: {folder} has no images", DatasetError), 0
        total += found
        samples += _samples_per_epoch(concept, found)
    detail = f"{len(enabled)} concept(s), {total} image(s)"
    return Check("concepts", True, detail), int(samples)


def _samples_per_epoch(concept: ConceptFacts, images: int) -> float:
    if concept.balancing_strategy == "SAMPLES":
        return float(int(concept.balancing))
    return float(int(images * concept.balancing))


def planned_saves(facts: ConfigFacts, samples_per_epoch: int) -> int:
    """How many intermediate saves the run will write, by OneTrainer's own interval rules.

    Time-based units (SECOND, MINUTE, HOUR) depend on the machine's speed: counted as 0.
    """
    if facts.save_every <= 0 or facts.save_every_unit not in ("EPOCH", "STEP"):
        return 0
    points = onetrainer_save_points(
        facts.save_every,
        facts.save_every_unit,
        facts.save_skip_first,
        steps_per_epoch=max(1, samples_per_epoch // facts.batch_size),
        epochs=facts.epochs,
        gradient_accumulation_steps=facts.gradient_accumulation_steps,
    )
    return sum(1 for point in points if not point.final)


def estimated_model_bytes(facts: ConfigFacts, root: Path) -> int:
    """A generous size of one saved model: an embedding 16 MiB, a LoRA by its rank and the base
    model's layers (or the size of a save already made), a fine-tune by its base model."""
    if facts.training_method == "EMBEDDING":
        return 16 * _MIB
    base = resolve(facts.base_model_name, root)
    if facts.training_method == "LORA":  # not a full model: rank x the adapted layers
        from onelazy.training.save_size import lora_save_bytes

        return lora_save_bytes(facts, base, resolve(facts.workspace_dir, root))[0]
    if base.is_file():
        return base.stat().st_size
    if base.is_dir():
        return sum(p.stat().st_size for p in base.rglob("*") if p.is_file())
    return 8 * _GIB


def _required_bytes(facts: ConfigFacts, root: Path, samples_per_epoch: int) -> tuple[int, int]:
    """Bytes the run will write: (in the workspace: saves and the backup, at the output: the model)."""
    size = estimated_model_bytes(facts, root)
    saves = planned_saves(facts, samples_per_epoch)
    backup = 3 * size if facts.backup_before_save else 0  # model + optimizer state
    return saves * size + backup, size


def _existing_ancestor(path: Path) -> Path:
    current = path
    while not current.exists() and current.parent != current:
        current = current.parent
    return current


def _check_outputs(facts: ConfigFacts, root: Path, in_workspace: int, at_output: int) -> list[Check]:
    checks: list[Check] = []
    destination = resolve(facts.output_model_destination, root)
    workspace = resolve(facts.workspace_dir, root)
    for label, folder in (("output", destination.parent), ("workspace", workspace)):
        anchor = _existing_ancestor(folder)
        if not anchor.is_dir():
            checks.append(Check(label, False, f"{folder}: {anchor} is not a folder", ConfigError))
            continue
        if not os.access(anchor, os.W_OK | os.X_OK):
            checks.append(Check(label, False, f"{folder}: {anchor} is not writable", PreflightError))
            continue
        checks.append(Check(label, True, f"{folder} is writable"))
    # one check per file system: the workspace's and the output's may be different disks
    needs: dict[int, tuple[Path, int]] = {}
    for folder, amount in ((workspace, in_workspace), (destination.parent, at_output)):
        anchor = _existing_ancestor(folder)
        device = anchor.stat().st_dev
        known = needs.get(device)
        needs[device] = (known[0] if known else folder, (known[1] if known else 0) + amount)
    for folder, amount in needs.values():
        free = shutil.disk_usage(_existing_ancestor(folder)).free
        if free < amount:
            detail = f"{_size(free)} free at {folder}, the saves need about {_size(amount)} there"
            checks.append(Check("disk", False, detail, PreflightError))
        else:
            checks.append(
                Check("disk", True, f"{_size(free)} free at {folder}, saves need about {_size(amount)}")
            )
    return checks


def _size(value: int) -> str:
    """Bytes in the unit that reads best: a LoRA save is megabytes, a free disk gigabytes."""
    if value >= _GIB:
        return f"{value / _GIB:.1f} GiB"
    if value >= _MIB:
        return f"{value / _MIB:.1f} MiB"
    return f"{value / 1024:.0f} KiB"


# --------------------------------------------------------------------------- workspace lock


class WorkspaceLock:
    """An exclusive lock on ``<workspace>/.onelazy-launch.lock`` held while a run is going.

    The operating system releases it when the launcher dies, so a crash never leaves a stale lock.
    """

    def __init__(self, workspace: Path) -> None:
        self.path = workspace / LOCK_NAME
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`WorkspaceLocked` naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
        if not _try_lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise WorkspaceLocked(
                f"{self.path.parent} is in use by another onelazy launch (pid {holder}); "
                "wait for it to end or use another workspace_dir"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.seek(0)
                self._handle.truncate()
            self._handle.close()
            self._handle = None


def _try_lock(handle: IO[str]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _check_lock(workspace: Path) -> Check:
    path = workspace / LOCK_NAME
    if not path.exists():
        return Check("lock", True, f"{workspace} is not in use")
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        return Check("lock", False, f"{path}: cannot open: {exc.strerror}", WorkspaceLocked)
    try:
        if not _try_lock(handle):
            holder = handle.read().strip() or "another process"
            return Check(
                "lock",
                False,
                f"{workspace} is in use by another onelazy launch (pid {holder})",
                WorkspaceLocked,
            )
    finally:
        handle.close()
    return Check("lock", True, f"{workspace} is not in use")
