"""Checks across keys that OneTrainer itself does not make before a run starts.

Each check returns :class:`~onelazy.onetrainer.problems.Problem` s with their own message: an
output format the model and training method cannot be saved in (OneTrainer only fails at the
final save, after all the training), a LoRA written as ``SAFETENSORS``, a concepts or samples
source that is neither inline nor an existing file, a ``layer_filter_preset`` without the
``layer_filter`` it stands for, intervals that OneTrainer would misread, an adaptive optimizer
with a learning rate far from 1, and relative paths (OneTrainer resolves them against its own
working directory).

:func:`check_file` reads any OneTrainer file (config, concepts, samples, secrets; any version)
leniently and adds these checks; it is what ``onelazy check`` runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onelazy._files import atomic_write_text
from onelazy.errors import ConfigError, MigrationError, OnelazyError, UsageError
from onelazy.onetrainer import CONCEPT_CONFIG_VERSION, CONFIG_VERSION
from onelazy.onetrainer.enums import (
    ADAPTIVE_OPTIMIZERS,
    WALL_CLOCK_UNITS,
    ModelFormat,
    TimeUnit,
    TrainingMethod,
)
from onelazy.onetrainer.install import ENV_VAR as ONETRAINER_ENV
from onelazy.onetrainer.migrations import config_version, migrate_concept_config
from onelazy.onetrainer.model_types import model_type_info
from onelazy.onetrainer.models import ConceptConfig, TrainConfig
from onelazy.onetrainer.problems import Problem, did_you_mean_hint
from onelazy.onetrainer.reading import (
    load_concepts_lenient,
    load_samples_lenient,
    load_secrets,
    load_train_config_lenient,
    read_json,
    validate_model,
)
from onelazy.onetrainer.writing import to_onetrainer_json

#: Learning rates an adaptive (Prodigy / D-Adaptation) optimizer is sensible with.
ADAPTIVE_LEARNING_RATE_RANGE = (0.1, 10.0)

_MODEL_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf")


def _is_relative(path: str) -> bool:
    return bool(path) and not Path(path).expanduser().is_absolute()


def _looks_like_local_path(name: str) -> bool:
    """A model name that is a file or folder path rather than a Hugging Face repo id or a URL.

    A URL to a single file on the Hub (OneTrainer's Z-Image DeTurbo preset names one) is loaded by
    diffusers' ``from_single_file``, so it is not a path to resolve.
    """
    if "://" in name:
        return False
    return name.startswith((".", "~")) or name.lower().endswith(_MODEL_FILE_SUFFIXES) or "\\" in name


def _format_checks(cfg: TrainConfig, source: str | None) -> list[Problem]:
    info = model_type_info(cfg.model_type)
    method, fmt = cfg.training_method, cfg.output_model_format
    if not info.supports(method):
        allowed = tuple(m.value for m in info.training_methods)
        return [
            Problem(
                source, "training_method",
                f"{method.value} is not available for {cfg.model_type.value}", allowed,
                "allowed: " + ", ".join(allowed),
            )
        ]  # fmt: skip
    formats = info.formats_for(method)
    if fmt in formats:
        return []
    allowed = tuple(f.value for f in formats)
    if method is TrainingMethod.LORA and fmt is ModelFormat.SAFETENSORS:
        return [
            Problem(
                source, "output_model_format",
                "SAFETENSORS holds only embeddings since config version 11; a LoRA saved as SAFETENSORS "
                "fails at the final save, after the whole training run", allowed,
                "use one of " + ", ".join(allowed) + " (LEGACY_LORA is what SAFETENSORS LoRAs used to be)",
            )
        ]  # fmt: skip
    return [
        Problem(
            source, "output_model_format",
            f"{fmt.value} is not an output format for {method.value} on {cfg.model_type.value}; "
            "OneTrainer only fails when it saves", allowed,
            did_you_mean_hint(fmt.value, allowed) or "allowed: " + ", ".join(allowed),
        )
    ]  # fmt: skip


def _data_file_check(
    source: str | None, key: str, list_key: str, name: str, base: Path | None, why: str, hint: str
) -> Problem | None:
    """``list_key`` is null, so OneTrainer reads the file ``name`` (``key``) when training starts."""
    if not name:
        return Problem(source, list_key, f"is null and {key} is empty", None, hint)
    path = Path(name).expanduser()
    if path.is_absolute():
        if path.is_file():
            return None
        return Problem(
            source, list_key, f"is null and {key} {name!r} is not an existing file; {why}", None, hint
        )
    if base is None:
        return Problem(
            source, key,
            f"{name!r} is relative to OneTrainer's folder (its working directory); without "
            "--onetrainer or ONETRAINER_DIR it cannot be checked that the file exists", None,
            f"{list_key} is null, so OneTrainer reads this file when training starts",
            level="warning",
        )  # fmt: skip
    if not (base / path).is_file():
        return Problem(
            source, list_key,
            f"is null and {key} {name!r} is not an existing file in OneTrainer's folder "
            f"({base / path}); {why}", None, hint,
        )  # fmt: skip
    return _relative(source, key, name, base)


def _source_checks(cfg: TrainConfig, source: str | None, base: Path | None) -> list[Problem]:
    found = []
    if cfg.concepts is None:
        found.append(
            _data_file_check(
                source, "concept_file_name", "concepts", cfg.concept_file_name, base,
                "OneTrainer reads it when training starts",
                "put the concepts inline or write that file",
            )
        )  # fmt: skip
    if cfg.samples is None:
        found.append(
            _data_file_check(
                source, "sample_definition_file_name", "samples", cfg.sample_definition_file_name, base,
                "OneTrainer reads it when training starts, even if it never samples",
                'write "samples": [] to sample nothing, or write that file',
            )
        )  # fmt: skip
    return [problem for problem in found if problem is not None]


def _layer_filter_checks(cfg: TrainConfig, source: str | None) -> list[Problem]:
    info = model_type_info(cfg.model_type)
    problems = []
    for prefix, preset, layer_filter in (
        ("", cfg.layer_filter_preset, cfg.layer_filter),
        ("quantization.", cfg.quantization.layer_filter_preset, cfg.quantization.layer_filter),
    ):
        if preset in ("full", "custom") or layer_filter:
            continue
        allowed = (*info.layer_filter_presets, "custom")
        expansion = info.layer_filter_presets.get(preset)
        if expansion is None:
            problems.append(
                Problem(
                    source, f"{prefix}layer_filter_preset",
                    f"{preset!r} is not a layer filter preset for {cfg.model_type.value}", allowed,
                    did_you_mean_hint(preset, allowed) or "allowed: " + ", ".join(allowed),
                )
            )  # fmt: skip
            continue
        regex = "true" if expansion.regex else "false"
        problems.append(
            Problem(
                source, f"{prefix}layer_filter_preset",
                f"{preset!r} has no effect under scripts/train.py without {prefix}layer_filter, "
                "so every layer is trained", allowed,
                f"set {prefix}layer_filter to {expansion.layer_filter!r} "
                f"and {prefix}layer_filter_regex to {regex}",
            )
        )  # fmt: skip
    return problems


def _interval_checks(cfg: TrainConfig, source: str | None) -> list[Problem]:
    problems = []
    intervals: list[tuple[str, Any, TimeUnit]] = [
        ("sample_after", cfg.sample_after, cfg.sample_after_unit),
        ("backup_after", cfg.backup_after, cfg.backup_after_unit),
        ("save_every", cfg.save_every, cfg.save_every_unit),
    ]
    if cfg.validation:
        intervals.append(("validate_after", cfg.validate_after, cfg.validate_after_unit))
    for key, value, unit in intervals:
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(
                Problem(
                    source, key, f"expected a whole number, got {value!r}", None, "OneTrainer truncates it"
                )
            )
        elif value == 0 and unit in WALL_CLOCK_UNITS:
            problems.append(
                Problem(
                    source, key,
                    f"0 with unit {unit.value} means every training step, not never", None,
                    f"set {key}_unit to NEVER to turn it off",
                )
            )  # fmt: skip
        elif value < 0:
            problems.append(Problem(source, key, f"{value} is negative; expected a whole number >= 0"))
    return problems


def _learning_rate_checks(cfg: TrainConfig, source: str | None) -> list[Problem]:
    optimizer = cfg.optimizer.optimizer
    if optimizer not in ADAPTIVE_OPTIMIZERS:
        return []
    low, high = ADAPTIVE_LEARNING_RATE_RANGE
    rates: list[tuple[str, float]] = [("learning_rate", cfg.learning_rate)]
    for part in model_type_info(cfg.model_type).model_parts:
        settings = getattr(cfg, part)
        if settings.train and settings.learning_rate is not None:
            rates.append((f"{part}.learning_rate", settings.learning_rate))
    return [
        Problem(
            source, key,
            f"{rate:g} with {optimizer.value}: adaptive optimizers find the step size themselves "
            "and expect a learning rate near 1.0", None, "set it to 1.0 (scale with optimizer.d_coef)",
            level="warning",
        )
        for key, rate in rates
        if not low <= rate <= high
    ]  # fmt: skip


def _relative(source: str | None, key: str, value: str, base: Path | None = None) -> Problem:
    where = (
        f"; from {base} (OneTrainer's folder, where onelazy launch runs it) that is {base / value}"
        if base is not None
        else ""
    )
    return Problem(
        source, key,
        f"{value!r} is a relative path; OneTrainer resolves it against its own working directory{where}",
        None, "write an absolute path to make it independent of where OneTrainer starts",
        level="warning",
    )  # fmt: skip


def _path_checks(cfg: TrainConfig, source: str | None, base: Path | None) -> list[Problem]:
    paths: list[tuple[str, str]] = [
        ("workspace_dir", cfg.workspace_dir),
        ("cache_dir", cfg.cache_dir),
        ("output_model_destination", cfg.output_model_destination),
    ]
    if cfg.debug_mode:
        paths.append(("debug_dir", cfg.debug_dir))
    if cfg.huggingface_cache_dir:
        paths.append(("huggingface_cache_dir", cfg.huggingface_cache_dir))
    if cfg.quantization.cache_dir:
        paths.append(("quantization.cache_dir", cfg.quantization.cache_dir))
    problems = [_relative(source, key, value, base) for key, value in paths if _is_relative(value)]
    models = [("base_model_name", cfg.base_model_name), ("lora_model_name", cfg.lora_model_name)]
    models.append(("embedding.model_name", cfg.embedding.model_name))
    models += [
        (f"{part}.model_name", getattr(cfg, part).model_name)
        for part in model_type_info(cfg.model_type).model_parts
    ]
    problems += [
        _relative(source, key, value, base)
        for key, value in models
        if value and _looks_like_local_path(value) and _is_relative(value)
    ]
    if cfg.concepts is not None:
        problems += check_concepts(cfg.concepts, source=source, prefix="concepts", base_dir=base)
    return problems


def check_train_config(
    cfg: TrainConfig, *, source: str | None = None, base_dir: str | os.PathLike[str] | None = None
) -> list[Problem]:
    """Every cross-key problem of ``cfg`` (empty list = nothing found), each with its level.

    ``base_dir`` is OneTrainer's folder, its working directory when it trains: relative file names
    are looked up there. Without it a relative concepts or samples file is a warning saying it could
    not be checked.
    """
    base = Path(base_dir).expanduser() if base_dir is not None else None
    return [
        *_format_checks(cfg, source),
        *_source_checks(cfg, source, base),
        *_layer_filter_checks(cfg, source),
        *_interval_checks(cfg, source),
        *_learning_rate_checks(cfg, source),
        *_path_checks(cfg, source, base),
    ]


def check_concepts(
    concepts: Sequence[ConceptConfig],
    *,
    source: str | None = None,
    prefix: str = "",
    positions: Sequence[int] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> list[Problem]:
    """Problems of concepts entries: relative or missing image folders, a missing prompt file.

    ``positions`` are the entries' indexes in the file when some entries could not be read;
    ``base_dir`` is OneTrainer's folder, where relative folders are looked up (unknown if None).
    """
    base = Path(base_dir).expanduser() if base_dir is not None else None
    problems = []
    for index, concept in zip(positions or range(len(concepts)), concepts, strict=True):
        where = f"{prefix}[{index}]"
        if not concept.enabled:
            continue
        folder = Path(concept.path).expanduser()
        resolved = folder if folder.is_absolute() else None if base is None else base / folder
        if not concept.path:
            problems.append(Problem(source, f"{where}.path", "is empty; expected the folder with the images"))
        elif resolved is None:
            problems.append(_relative(source, f"{where}.path", concept.path))
        elif not resolved.is_dir():
            shown = repr(concept.path) if folder.is_absolute() else f"{concept.path!r} ({resolved})"
            problems.append(
                Problem(
                    source, f"{where}.path", f"{shown} is not an existing folder", None,
                    "OneTrainer would look it up as a Hugging Face dataset instead",
                )
            )  # fmt: skip
        elif not folder.is_absolute():
            problems.append(_relative(source, f"{where}.path", concept.path, base))
        if concept.text.prompt_source == "concept":
            if not concept.text.prompt_path:
                problems.append(
                    Problem(source, f"{where}.text.prompt_path", 'is empty but prompt_source is "concept"')
                )
            elif _is_relative(concept.text.prompt_path):
                problems.append(
                    _relative(source, f"{where}.text.prompt_path", concept.text.prompt_path, base)
                )
    return problems


# --------------------------------------------------------------------------- whole files

_CONCEPT_ONLY_KEYS = frozenset({"path", "image", "text", "balancing", "repeats", "concept_stats", "type"})
_SECRETS_KEYS = frozenset({"__version", "huggingface_token", "cloud"})


def file_kind(data: Any) -> str:
    """What a parsed OneTrainer JSON file holds: "train", "concepts", "samples" or "secrets"."""
    if isinstance(data, list):
        if any(isinstance(item, Mapping) and _CONCEPT_ONLY_KEYS & set(item) for item in data):
            return "concepts"
        return "samples"
    if isinstance(data, Mapping) and "huggingface_token" in data and set(data) <= _SECRETS_KEYS:
        return "secrets"
    return "train"


def check_file(
    path: str | os.PathLike[str], *, onetrainer_dir: str | os.PathLike[str] | None = None
) -> list[Problem]:
    """All problems of one OneTrainer file of any kind and version (empty = clean), with their level.

    ``onetrainer_dir`` is OneTrainer's folder, its working directory when it trains: relative file
    and folder names are looked up there (without it they are warnings that say they could not be
    checked). A training config without ``"__version"`` that OneTrainer's migration would crash on
    is read as a preset, as OneTrainer reads its ``training_presets/`` files and ``--preset-path``:
    a warning says what would happen if it were given as ``--config-path``. Raises ConfigError when
    the file cannot be read as JSON at all, and MigrationError where OneTrainer's own migration
    would crash on a versioned config.
    """
    base = Path(onetrainer_dir).expanduser() if onetrainer_dir is not None else None
    source = str(path)
    data = read_json(path)
    kind = file_kind(data)
    if kind == "concepts":
        problems: list[Problem] = []
        for index, item in enumerate(data):
            entry = migrate_concept_config(item, source=source) if isinstance(item, Mapping) else item
            concept, found = validate_model(
                ConceptConfig, entry, source=source, prefix=(index,), lenient=True
            )
            problems += found
            if concept is not None:
                later = check_concepts([concept], source=source, positions=[index], base_dir=base)
                problems += _not_about(later, found)
        return problems
    if kind == "samples":
        return load_samples_lenient(data, source=source)[1]
    if kind == "secrets":
        try:
            load_secrets(data, source=source)
        except ConfigError as exc:
            return [Problem(source, exc.key or "", exc.detail, None, exc.hint)]
        return []
    try:
        cfg, problems = load_train_config_lenient(data, source=source)
    except MigrationError as exc:
        if not isinstance(data, Mapping) or "__version" in data:
            raise
        cfg, problems = load_train_config_lenient(data, source=source, migrate=False)
        problems.insert(0, _preset_warning(source, exc))
    problems = [_legacy_weight_dtype(problem, data, cfg) for problem in problems]
    return problems + _not_about(check_train_config(cfg, source=source, base_dir=base), problems)


def _legacy_weight_dtype(problem: Problem, data: Any, cfg: TrainConfig) -> Problem:
    """The global ``weight_dtype`` of config versions before 10 (OneTrainer's own presets still
    carry it; OneTrainer ignores it): a warning when every part of the model sets its own, since
    then it changes nothing; else an error naming the parts that lose it."""
    if problem.key != "weight_dtype" or not isinstance(data, Mapping) or "weight_dtype" not in data:
        return problem
    parts = model_type_info(cfg.model_type).model_parts
    unset = [p for p in parts if not (isinstance(data.get(p), Mapping) and "weight_dtype" in data[p])]
    before = "a key of config versions before 10, which OneTrainer ignores"
    if not unset:
        return Problem(
            problem.file, problem.key,
            f"{before}; it changes nothing here, since every part of {cfg.model_type.value} "
            f"({', '.join(parts)}) sets its own weight_dtype", None, "remove it",
            level="warning",
        )  # fmt: skip
    return Problem(
        problem.file, problem.key,
        f"{before}; {', '.join(unset)} take{'s' if len(unset) == 1 else ''} the default FLOAT_32 "
        f"instead of {data['weight_dtype']!r}", None,
        "set weight_dtype in " + ", ".join(unset),
    )  # fmt: skip


def _preset_warning(source: str, crash: MigrationError) -> Problem:
    return Problem(
        source, "__version",
        "missing, so it is checked as a preset (OneTrainer reads training_presets/ and --preset-path "
        "files without migrating them); given as --config-path, OneTrainer would migrate it from "
        f"version 0 and fail on {crash.key}", None,
        'add "__version": 11 to use it as a config',
        level="warning",
    )  # fmt: skip


def _not_about(later: list[Problem], found: list[Problem]) -> list[Problem]:
    """``later`` without the problems about a key ``found`` already reported: a value refused on
    reading is replaced by its default, and "expected a list, got 5" followed by "is null" about the
    same key would contradict itself."""
    keys = {problem.key for problem in found if problem.key}
    return [
        problem
        for problem in later
        if not any(problem.key == key or problem.key.startswith((f"{key}.", f"{key}[")) for key in keys)
    ]


def check_files(
    paths: Iterable[str | os.PathLike[str]], *, onetrainer_dir: str | os.PathLike[str] | None = None
) -> list[Problem]:
    """:func:`check_file` for each path, in order."""
    return [problem for path in paths for problem in check_file(path, onetrainer_dir=onetrainer_dir)]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@dataclass
class CheckReport:
    """What ``onelazy check`` found: the problems of each file, and the files it could not read."""

    checked: list[tuple[Path, list[Problem]]] = field(default_factory=list)
    read_errors: list[OnelazyError] = field(default_factory=list)
    #: OneTrainer's folder the relative paths were looked up in (None: not known).
    onetrainer_dir: Path | None = None

    @property
    def errors(self) -> int:
        return sum(problem.is_error for _path, problems in self.checked for problem in problems)

    @property
    def warnings(self) -> int:
        return sum(not problem.is_error for _path, problems in self.checked for problem in problems)

    def lines(self) -> list[str]:
        """One line per problem (warnings start with ``warning: ``), and one per file without errors."""
        out = []
        for path, problems in self.checked:
            out += [str(problem) if problem.is_error else f"warning: {problem}" for problem in problems]
            if not problems:
                out.append(f"{path}: OK")
            elif not any(problem.is_error for problem in problems):
                out.append(f"{path}: OK, with {_plural(len(problems), 'warning')}")
        return out

    def fails(self, *, strict: bool = False) -> bool:
        """Errors were found (or, with ``strict``, warnings)."""
        return self.errors > 0 or (strict and self.warnings > 0)

    def summary(self, *, strict: bool = False) -> str:
        """``"2 errors, 3 warnings found."`` (empty when nothing was found)."""
        if not self.errors and not self.warnings:
            return ""
        counts = [_plural(self.errors, "error")] if self.errors else []
        counts += [_plural(self.warnings, "warning")] if self.warnings else []
        text = ", ".join(counts) + " found."
        if self.warnings and not self.errors and not strict:
            text += " Warnings do not fail the check (--strict makes them)."
        return text


def check_report(
    paths: Iterable[str | os.PathLike[str]], *, onetrainer_dir: str | os.PathLike[str] | None = None
) -> CheckReport:
    """:func:`check_file` for each path, collecting the files it cannot read instead of stopping.

    ``onetrainer_dir`` defaults to ``$ONETRAINER_DIR``; a folder given that does not exist is a
    UsageError.
    """
    given = onetrainer_dir if onetrainer_dir is not None else os.environ.get(ONETRAINER_ENV) or None
    folder = Path(given).expanduser() if given is not None else None
    if folder is not None and not folder.is_dir():
        origin = "--onetrainer" if onetrainer_dir is not None else ONETRAINER_ENV
        raise UsageError(f"{origin} {folder}: not a folder; give OneTrainer's folder (with scripts/train.py)")
    report = CheckReport(onetrainer_dir=folder)
    for path in paths:
        try:
            report.checked.append((Path(path), check_file(path, onetrainer_dir=folder)))
        except OnelazyError as exc:
            report.read_errors.append(exc)
    return report


def _refuse_newer(data: Any, kind: str, source: str) -> None:
    """A MigrationError for a file whose ``__version`` is newer than onelazy's (or an entry's, in a
    concepts file): there is nothing to upgrade, and reading it as the current version would
    downgrade it."""
    if kind == "train":
        versioned, newest = [data] if isinstance(data, Mapping) else [], CONFIG_VERSION
    elif kind == "concepts":
        versioned, newest = [item for item in data if isinstance(item, Mapping)], CONCEPT_CONFIG_VERSION
    else:
        return
    for entry in versioned:
        version = config_version(entry, source=source)
        if version > newest:
            raise MigrationError(
                f"config version {version} is newer than {newest}, the newest onelazy knows; "
                "migrating would write it as an older version and drop what the newer one added",
                file=source,
                key="__version",
                hint="nothing was written; use it with the OneTrainer that wrote it, or a newer onelazy",
            )


def migrate_file(
    source_path: str | os.PathLike[str], target_path: str | os.PathLike[str] | None = None
) -> tuple[str, list[Problem]]:
    """Upgrade a training config (or concepts file) to the current version.

    Returns the upgraded JSON text and what OneTrainer would drop or replace on the way (removed
    keys, values it no longer accepts; those are written with their defaults, as OneTrainer would
    use them). With ``target_path`` the text is also written there atomically. Nothing is written
    when the file cannot be read or migrated (ConfigError / MigrationError), nor when it is newer
    than onelazy knows: writing it as the current version would drop what the newer one added.
    """
    source = str(source_path)
    data = read_json(source_path)
    kind = file_kind(data)
    _refuse_newer(data, kind, source)
    if kind == "concepts":
        concepts, problems = load_concepts_lenient(data, source=source)
        text = to_onetrainer_json(concepts)
    elif kind == "train":
        cfg, problems = load_train_config_lenient(data, source=source)
        text = to_onetrainer_json(cfg)
    else:
        raise ConfigError(
            f"is a {kind} file; only training configs and concepts files have versions", file=source
        )
    if target_path is not None:
        atomic_write_text(target_path, text)
    return text, problems
