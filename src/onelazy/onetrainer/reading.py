"""Reading OneTrainer files into the models: strict by default, lenient on request.

Strict reading raises a :class:`~onelazy.errors.ConfigError` built from the FIRST problem found
(its hint says how many more there are; ``onelazy check`` lists them all). Lenient reading behaves
like OneTrainer's ``from_dict``: unknown keys are dropped and a bad value falls back to its
default, and every such case is returned as a :class:`~onelazy.onetrainer.problems.Problem`.
Either way a config that OneTrainer's own migration would crash on raises MigrationError.

TrainConfig files (and inline concepts) are migrated from older ``__version`` s first; concepts
files are migrated entry by entry.
"""

from __future__ import annotations

import copy
import json
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar, Union

from pydantic import BaseModel, ValidationError

from onelazy.errors import ConfigError
from onelazy.onetrainer import CONFIG_VERSION
from onelazy.onetrainer.migrations import (
    config_version,
    migrate_concept_config,
    migrate_train_config,
)
from onelazy.onetrainer.models import (
    ConceptConfig,
    OneTrainerConfig,
    SampleConfig,
    SecretsConfig,
    TrainConfig,
)
from onelazy.onetrainer.problems import Level, Problem, did_you_mean_hint, raise_first
from onelazy.onetrainer.ranges import range_problems

if typing.TYPE_CHECKING:
    from onelazy.onetrainer.enums import ModelType

ConfigT = TypeVar("ConfigT", bound=OneTrainerConfig)
Loc = tuple[int | str, ...]

INTERVAL_KEYS = frozenset(
    {
        "sample_after",
        "backup_after",
        "save_every",
        "validate_after",
        "sample_skip_first",
        "save_skip_first",
        "stop_training_after",
    }
)

_ENUM_NOUNS = {
    "Optimizer": "an optimizer",
    "ModelType": "a model type",
    "ModelFormat": "an output model format",
    "TrainingMethod": "a training method",
    "DataType": "a data type",
    "TimeUnit": "a time unit",
    "EMAMode": "an EMA mode",
    "NoiseScheduler": "a noise scheduler",
    "PeftType": "a PEFT type",
    "LossWeight": "a loss weight function",
    "AttentionMechanism": "an attention mechanism",
}


# --------------------------------------------------------------------------- describing fields


def unwrap_annotation(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without Optional/Annotated, whether None is allowed)."""
    nullable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            nullable = nullable or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return annotation, nullable
            annotation = args[0]
        else:
            return annotation, nullable


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field(owner: type[BaseModel] | None, name: int | str) -> Any:
    if owner is None or not isinstance(name, str) or name not in owner.model_fields:
        return None
    return owner.model_fields[name].annotation


def _annotation_at(root: type[BaseModel], loc: Loc) -> Any:
    """The annotation of the key at ``loc`` (None if the path leaves the models)."""
    annotation: Any = root
    for part in loc:
        inner, _ = unwrap_annotation(annotation)
        if _is_model(inner):
            annotation = _field(inner, part)
        elif typing.get_origin(inner) in (list, dict):
            args = typing.get_args(inner)
            annotation = args[-1] if args else None
        else:
            return None
    return annotation


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class of the value at ``loc`` (None if it is not a config object)."""
    inner, _ = unwrap_annotation(_annotation_at(root, loc))
    return inner if _is_model(inner) else None


def enum_noun(enum_class: type[Enum]) -> str:
    """How messages name a member of ``enum_class``: "an optimizer", "a model type", ..."""
    return _ENUM_NOUNS.get(enum_class.__name__, f"a {enum_class.__name__} name")


def _expected(annotation: Any) -> tuple[str, tuple[str, ...] | None, bool]:
    """(what a value must be, the allowed values if a fixed set, whether null is allowed)."""
    inner, nullable = unwrap_annotation(annotation)
    origin = typing.get_origin(inner)
    if isinstance(inner, type) and issubclass(inner, Enum):
        return (
            enum_noun(inner),
            tuple(m.value for m in inner),
            nullable,
        )
    if origin is typing.Literal:
        values = tuple(str(v) for v in typing.get_args(inner))
        return "one of " + ", ".join(values), values, nullable
    if inner is bool:
        return "true or false", ("true", "false"), nullable
    if inner is int:
        return "a whole number", None, nullable
    if inner is float:
        return 'a number (or "inf")', None, nullable
    if inner is str:
        return "a string", None, nullable
    if _is_model(inner):
        return f"an object ({inner.__name__})", None, nullable
    if origin is list:
        return "a list", None, nullable
    if origin is dict:
        return "an object", None, nullable
    return "a string or a whole number", None, nullable


def _kind_of(value: Any) -> str:
    """A value's JSON type in words (``a string``, ``a list``), never the value itself."""
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return f"a value of type {type(value).__name__}"


def _describe(value: Any) -> str:
    """What a wrong-typed value is, for a message: strings, lists and objects by their type only
    (a token pasted into the wrong place or file must never be printed); a number, true, false or
    null as itself, since it cannot carry one and says more."""
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, str) and _is_quoted_scalar(value):
        return f"the string {json.dumps(value)} (write it without quotes)"
    return _kind_of(value)


def _is_quoted_scalar(text: str) -> bool:
    """A number, true/false or null written in quotes: the common mistake, and never a token."""
    if text.strip().lower() in ("true", "false", "null", "inf", "-inf"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return len(text) <= 32


def key_path(loc: Sequence[int | str]) -> str:
    """``("concepts", 0, "path")`` → ``"concepts[0].path"``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# --------------------------------------------------------------------------- errors → problems


def _problem(root: type[BaseModel], error: Mapping[str, Any], source: str | None, prefix: Loc) -> Problem:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if root is SecretsConfig or (loc and loc[0] == "secrets"):
        return _secret_problem(root, error, source, prefix)
    if kind == "version_type":
        return Problem(
            source,
            key_path((*prefix, *loc, "__version")),
            f"expected a config version number, got {_describe(value)}",
        )
    key = key_path((*prefix, *loc))
    if kind == "extra_forbidden":
        owner = _model_at(root, loc[:-1])
        fields = tuple(owner.model_fields) if owner is not None else ()
        name = owner.__name__ if owner is not None else "this object"
        hint = did_you_mean_hint(str(loc[-1]), fields) or "onelazy schema lists the keys"
        return Problem(
            source,
            key,
            f"not a {name} key (config version {CONFIG_VERSION}); OneTrainer ignores it",
            None,
            hint,
        )
    annotation = _annotation_at(root, loc)
    expected, allowed, nullable = _expected(annotation)
    name = str(loc[-1]) if loc else ""
    if value is None and not nullable and kind != "missing":
        listed = "allowed: " + ", ".join(allowed) if allowed else None
        return Problem(source, key, f"null is not allowed here; expected {expected}", allowed, listed)
    if kind in ("enum", "literal_error"):
        if isinstance(value, str):
            hint = did_you_mean_hint(value, allowed or ()) or "allowed: " + ", ".join(allowed or ())
            return Problem(source, key, f"{value!r} is not {expected}", allowed, hint)
        return Problem(
            source,
            key,
            f"expected {expected}, got {_describe(value)}; write the name as a string",
            allowed,
            "allowed: " + ", ".join(allowed or ()),
        )
    if kind == "bool_type":
        if isinstance(value, str):
            return Problem(
                source,
                key,
                "expected true or false without quotes, got a string "
                "(OneTrainer would treat any non-empty string as true)",
                allowed,
            )
        return Problem(source, key, f"expected true or false, got {_describe(value)}", allowed)
    if kind in ("int_type", "int_from_float", "int_parsing"):
        cut: str | None = None
        if isinstance(value, float) and math.isfinite(value):
            if name in INTERVAL_KEYS:
                cut = (
                    f"OneTrainer would cut it to {int(value)}; intervals count whole units "
                    "(0 means never with EPOCH/STEP, every step with SECOND/MINUTE/HOUR)"
                )
            else:
                cut = f"OneTrainer would cut it to {int(value)}"
        # 100.0 is read as 100, what the file means; 0.5 is cut to 0, which it does not
        whole = isinstance(value, float) and math.isfinite(value) and value.is_integer()
        level: Level = "warning" if whole else "error"
        return Problem(source, key, f"expected a whole number, got {_describe(value)}", None, cut, level)
    if kind == "string_type":
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        quoted = f'write "{value}"' if number else None
        return Problem(source, key, f"expected a string, got {_describe(value)}", None, quoted)
    if kind == "float_type":
        return Problem(source, key, f"expected {expected}, got {_describe(value)}")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return Problem(source, key, f"expected {expected}, got {_describe(value)}")
    if kind == "list_type":
        return Problem(source, key, f"expected a list, got {_describe(value)}")
    if kind == "missing":
        return Problem(source, key, "this key is required")
    return Problem(source, key, f"{error.get('msg', 'invalid value')} (got {_describe(value)})", allowed)


def _secret_problem(
    root: type[BaseModel], error: Mapping[str, Any], source: str | None, prefix: Loc
) -> Problem:
    """A problem in a secrets block, described without ever showing the value."""
    loc: Loc = tuple(error["loc"])
    key = key_path((*prefix, *loc))
    if error["type"] == "extra_forbidden":
        owner = _model_at(root, loc[:-1])
        fields = tuple(owner.model_fields) if owner is not None else ()
        return Problem(source, key, "not a secrets key", None, did_you_mean_hint(str(loc[-1]), fields))
    annotation = _annotation_at(root, loc)
    expected, allowed, _ = _expected(annotation)
    return Problem(
        source, key, f"expected {expected}, got {_kind_of(error.get('input'))} (not shown)", allowed
    )


def _drop(data: Any, loc: Loc) -> None:
    """Remove the value at ``loc`` so the model's default takes its place (OneTrainer keeps defaults)."""
    *parents, last = loc
    for part in parents:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(data, dict):
        data.pop(last, None)
    elif isinstance(data, list) and isinstance(last, int) and last < len(data):
        del data[last]


_NO_VALUE = object()
# pydantic's error types for a value of the wrong type that OneTrainer converts with int/float/str
_CONVERTIBLE = frozenset({"int_type", "int_from_float", "int_parsing", "float_type", "string_type"})


def _is_secret(root: type[BaseModel], loc: Loc) -> bool:
    return root is SecretsConfig or (bool(loc) and loc[0] == "secrets")


def onetrainer_conversion(annotation: Any, value: Any) -> Any:
    """What OneTrainer's ``from_dict`` stores for a value of the wrong type, if the model can hold it.

    OneTrainer converts with the key's type: ``int(value)`` for an int key (``100.0`` → ``100``,
    ``0.5`` → ``0``, ``"12"`` → ``12``, ``true`` → ``1``), ``float(value)`` for a float key
    (``"0.5"`` → ``0.5``), ``str(value)`` for a string key (``768`` → ``"768"``); where that
    conversion fails it keeps the default. Returns the converted value, or ``_NO_VALUE`` when
    OneTrainer keeps the default or stores something the model cannot hold (a string in a bool key).
    """
    inner, _ = unwrap_annotation(annotation)
    if value is None or isinstance(value, (Mapping, list)):
        return _NO_VALUE
    try:
        if inner is int:
            return int(value)
        if inner is float:
            return float(value)
        if inner is str and isinstance(value, (int, float)):
            return str(value)
    except (TypeError, ValueError, OverflowError):
        return _NO_VALUE
    return _NO_VALUE


def _set(data: Any, loc: Loc, value: Any) -> None:
    *parents, last = loc
    for part in parents:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(data, dict):
        data[last] = value
        return
    if isinstance(data, list) and isinstance(last, int) and last < len(data):
        data[last] = value


def validate_model(
    cls: type[ConfigT], data: Any, *, source: str | None = None, prefix: Loc = (), lenient: bool = False
) -> tuple[ConfigT | None, list[Problem]]:
    """Validate ``data`` into ``cls``; return the model (None if strict and invalid) and the problems.

    Lenient: each refused value is replaced by what OneTrainer would store for it
    (:func:`onetrainer_conversion`) or, where OneTrainer keeps the default, removed so the default
    applies; then validation runs again.
    """
    if not isinstance(data, Mapping):
        return None, [Problem(source, key_path(prefix), f"expected a JSON object, got {_describe(data)}")]
    work = copy.deepcopy(dict(data))
    problems: list[Problem] = []
    for _attempt in range(8):
        try:
            return cls.model_validate(work), problems
        except ValidationError as exc:
            errors = exc.errors()
            problems.extend(_problem(cls, error, source, prefix) for error in errors)
            if not lenient:
                return None, problems
            for error in sorted(errors, key=lambda e: [str(p) for p in e["loc"]], reverse=True):
                loc = tuple(error["loc"])
                if error["type"] == "version_type":
                    _drop(work, (*loc, "__version"))
                    continue
                converted = _NO_VALUE
                if error["type"] in _CONVERTIBLE and not _is_secret(cls, loc):
                    converted = onetrainer_conversion(_annotation_at(cls, loc), error.get("input"))
                if converted is _NO_VALUE:
                    _drop(work, loc)
                else:
                    _set(work, loc, converted)
    raise ConfigError("the config could not be repaired", file=source)  # pragma: no cover


def _finish(model: ConfigT | None, problems: list[Problem], strict: bool) -> ConfigT:
    if strict:
        raise_first(problems)
    if model is None:  # only for a non-object input, which even lenient reading cannot use
        raise_first(problems)
        raise AssertionError("unreachable")
    return model


# --------------------------------------------------------------------------- TrainConfig


def load_train_config_lenient(
    data: Any, *, source: str = "<dict>", migrate: bool = True
) -> tuple[TrainConfig, list[Problem]]:
    """Read a TrainConfig dict as OneTrainer would, returning the problems instead of raising.

    ``migrate=False`` reads it as a preset (OneTrainer loads presets without migrating them).
    """
    problems: list[Problem] = []
    if isinstance(data, Mapping):
        version = config_version(data, source=source)
        if migrate and version > CONFIG_VERSION:
            problems.append(
                Problem(
                    source,
                    "__version",
                    f"config version {version} is newer than {CONFIG_VERSION}, the newest onelazy knows",
                    hint="keys added since then are reported as unknown",
                )
            )
        if migrate:
            data = migrate_train_config(data, source=source)
    model, found = validate_model(TrainConfig, data, source=source, lenient=True)
    problems.extend(found)
    config = _finish(model, problems, strict=False)
    problems.extend(range_problems(config, source=source))
    return config, problems


def load_train_config(
    data: Any, *, source: str = "<dict>", strict: bool = True, migrate: bool = True
) -> TrainConfig:
    """A TrainConfig from a OneTrainer dict (partial dicts merge onto the defaults).

    Older ``__version`` s are migrated first (unless ``migrate=False``, as for presets). Strict:
    the first problem is raised as a ConfigError. ``strict=False`` is the lenient read, with the
    problems discarded; use :func:`load_train_config_lenient` to get them.
    """
    if not strict:
        return load_train_config_lenient(data, source=source, migrate=migrate)[0]
    problems: list[Problem] = []
    if isinstance(data, Mapping) and migrate:
        version = config_version(data, source=source)
        if version > CONFIG_VERSION:
            problems.append(
                Problem(
                    source,
                    "__version",
                    f"config version {version} is newer than {CONFIG_VERSION}, the newest onelazy knows",
                )
            )
        data = migrate_train_config(data, source=source)
    model, found = validate_model(TrainConfig, data, source=source)
    problems.extend(found)
    if model is not None:
        problems.extend(range_problems(model, source=source))
    return _finish(model, problems, strict=True)


def read_json(path: str | os.PathLike[str]) -> Any:
    """The parsed JSON of ``path``; a ConfigError naming the file, line and column if it is not JSON."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError("no such file", file=file) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, expected a JSON file", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=file) from None
    return parse_json(raw, file)


def parse_json(raw: bytes, file: str | os.PathLike[str]) -> Any:
    """:func:`read_json` of the bytes already read from ``file``."""
    file = Path(file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start}); OneTrainer reads its files as UTF-8", file=file
        ) from None
    if text.startswith("\ufeff"):
        raise ConfigError(
            "starts with a byte-order mark, which OneTrainer's JSON reader refuses; save it as UTF-8 "
            "without BOM",
            file=file,
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        yaml_file = Path(file).suffix.lower() in (".yaml", ".yml")
        raise ConfigError(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            file=file,
            hint="this reads OneTrainer's JSON files; `onelazy status` checks onelazy.yaml"
            if yaml_file
            else None,
        ) from None


def read_train_config(path: str | os.PathLike[str], *, strict: bool = True) -> TrainConfig:
    """Read a training config file (any version; migrated). Strict: raises the first problem."""
    return load_train_config(read_json(path), source=str(path), strict=strict)


def read_train_config_lenient(path: str | os.PathLike[str]) -> tuple[TrainConfig, list[Problem]]:
    """Read a training config file as OneTrainer would, returning the problems instead of raising."""
    return load_train_config_lenient(read_json(path), source=str(path))


# --------------------------------------------------------------------------- concepts, samples, secrets


def _load_list(
    cls: type[ConfigT],
    data: Any,
    *,
    source: str,
    strict: bool,
    template: Mapping[str, Any] | None = None,
    migrate_item: Any = None,
) -> tuple[list[ConfigT], list[Problem]]:
    if not isinstance(data, list):
        problem = Problem(
            source, "", f"expected a JSON list of {cls.__name__} objects, got {_describe(data)}"
        )
        raise problem.to_error()
    items: list[ConfigT] = []
    problems: list[Problem] = []
    for index, item in enumerate(data):
        if isinstance(item, Mapping):
            if migrate_item is not None:
                item = migrate_item(item, source=source)
            if template is not None:
                item = {**template, **item}
        model, found = validate_model(cls, item, source=source, prefix=(index,), lenient=not strict)
        problems.extend(found)
        if model is not None:
            items.append(model)
    if strict:
        raise_first(problems)
    return items, problems


def load_concepts_lenient(data: Any, *, source: str = "<list>") -> tuple[list[ConceptConfig], list[Problem]]:
    """Concepts from a JSON list (each entry migrated), returning the problems instead of raising."""
    return _load_list(ConceptConfig, data, source=source, strict=False, migrate_item=migrate_concept_config)


def load_concepts(data: Any, *, source: str = "<list>", strict: bool = True) -> list[ConceptConfig]:
    """Concepts from a JSON list; each entry is migrated from its own ``__version`` first."""
    return _load_list(ConceptConfig, data, source=source, strict=strict, migrate_item=migrate_concept_config)[
        0
    ]


def read_concepts(path: str | os.PathLike[str], *, strict: bool = True) -> list[ConceptConfig]:
    """Read a concepts file (a JSON list of ConceptConfig objects)."""
    return load_concepts(read_json(path), source=str(path), strict=strict)


def read_concepts_lenient(path: str | os.PathLike[str]) -> tuple[list[ConceptConfig], list[Problem]]:
    """Read a concepts file as OneTrainer would, returning the problems instead of raising."""
    return load_concepts_lenient(read_json(path), source=str(path))


def _sample_template(model_type: ModelType | None) -> dict[str, Any] | None:
    if model_type is None:
        return None
    from onelazy.onetrainer.defaults import default_sample_config
    from onelazy.onetrainer.writing import to_onetrainer_dict

    return to_onetrainer_dict(default_sample_config(model_type))


def load_samples_lenient(
    data: Any, *, source: str = "<list>", model_type: ModelType | None = None
) -> tuple[list[SampleConfig], list[Problem]]:
    """Samples from a JSON list, returning the problems instead of raising."""
    return _load_list(SampleConfig, data, source=source, strict=False, template=_sample_template(model_type))


def load_samples(
    data: Any, *, source: str = "<list>", model_type: ModelType | None = None, strict: bool = True
) -> list[SampleConfig]:
    """Samples from a JSON list.

    Missing keys take the generic SampleConfig defaults, or with ``model_type`` that model's sample
    defaults, as OneTrainer does for entries of a samples FILE (inline ``samples`` get the generic ones).
    """
    return _load_list(
        SampleConfig, data, source=source, strict=strict, template=_sample_template(model_type)
    )[0]


def read_samples(
    path: str | os.PathLike[str], *, model_type: ModelType | None = None, strict: bool = True
) -> list[SampleConfig]:
    """Read a samples file (a JSON list of SampleConfig objects); see :func:`load_samples`."""
    return load_samples(read_json(path), source=str(path), model_type=model_type, strict=strict)


def read_samples_lenient(
    path: str | os.PathLike[str], *, model_type: ModelType | None = None
) -> tuple[list[SampleConfig], list[Problem]]:
    """Read a samples file as OneTrainer would, returning the problems instead of raising."""
    return load_samples_lenient(read_json(path), source=str(path), model_type=model_type)


def load_secrets(data: Any, *, source: str = "<dict>", strict: bool = True) -> SecretsConfig:
    """SecretsConfig from a dict (the content of ``secrets.json``); a message never shows a value."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a JSON object, got {_kind_of(data)} (not shown)", file=source)
    model, problems = validate_model(SecretsConfig, data, source=source, lenient=not strict)
    return _finish(model, problems, strict)


def read_secrets(path: str | os.PathLike[str], *, strict: bool = True) -> SecretsConfig:
    """Read ``secrets.json``. Error messages never show secret values, only keys."""
    return load_secrets(read_json(path), source=str(path), strict=strict)
