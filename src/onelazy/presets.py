"""Presets: YAML files that say which OneTrainer values a recipe changes, and why.

A preset names its base and holds only the values that differ from it, each with a reason::

    base: sd15-lora
    summary: The lazy recipe for SD 1.5 - OneTrainer's UI preset with LoRA rank 32
    values:
      lora_rank: {value: 32, why: "..."}
    kept:
      learning_rate: why the base value is deliberately left alone

The base is another onelazy preset or ``onetrainer:<name>``, one of OneTrainer's built-in presets
stated as facts in ``presets/onetrainer/*.yaml`` (those sit directly on OneTrainer's defaults and
carry no reasons: OneTrainer chose them). Keys are OneTrainer's, dotted for nested objects
(``optimizer.d_coef``, ``text_encoder.train``).

A config is layered in this order, later layers winning: OneTrainer's defaults → the chain of bases →
the preset → project values → ``--set key=value`` (``set_values``). The result is validated strictly by
the OneTrainer model, so a preset can never hold a value OneTrainer would drop.

``presets/rendered/NAME.json`` holds every preset rendered to OneTrainer's JSON and
``docs/presets.md`` a table of all of them; both are generated (:func:`render_all`,
:func:`presets_markdown`) and CI fails when a committed copy differs from a fresh one.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onelazy import _yaml
from onelazy._files import atomic_write_text
from onelazy.errors import ConfigError, PresetError
from onelazy.onetrainer import run_config

if TYPE_CHECKING:
    from onelazy.onetrainer import TrainConfig

#: Prefix naming one of OneTrainer's built-in presets as a base.
ONETRAINER_PREFIX = "onetrainer:"
#: ``train_device`` written into rendered presets (a build writes the machine's own).
RENDER_TRAIN_DEVICE = "cuda"
#: Keys a preset leaves to build-config: where the run's files and data are. The cross-field checks
#: of a bare preset skip them (OneTrainer's defaults there are relative paths and files to come).
RUN_KEYS = run_config.RUN_KEYS
_PRESET_KEYS = {"base", "summary", "values", "kept"}
_BUILTIN_KEYS = {"onetrainer_preset", "path", "summary", "values"}


@dataclass(frozen=True)
class PresetValue:
    """One value a preset sets (or deliberately keeps), with the reason."""

    key: str
    value: Any
    why: str


@dataclass(frozen=True)
class Preset:
    """A preset file: its name, base, and the values it sets with their reasons."""

    name: str
    summary: str
    base: str | None
    """The base preset's name; None for OneTrainer's built-ins (they sit on OneTrainer's defaults)."""
    values: tuple[PresetValue, ...]
    kept: tuple[PresetValue, ...]
    """Keys deliberately left at the base's value (``value`` is None here; see :func:`kept_values`)."""
    path: Path

    @property
    def builtin(self) -> bool:
        """True for OneTrainer's own presets (stated as facts), False for onelazy's."""
        return self.name.startswith(ONETRAINER_PREFIX)


# --------------------------------------------------------------------------- finding and loading


def presets_dir() -> Path:
    """The folder of preset files: inside an installed wheel, or ``presets/`` of a source checkout."""
    return find_presets_dir(Path(__file__).resolve().parent)


def find_presets_dir(package: Path) -> Path:
    """``package/_presets`` (a wheel: pyproject force-includes ``presets/`` there), else the
    ``presets/`` folder of the source checkout ``package`` sits in (``src/onelazy`` → ``presets``)."""
    for candidate in (package / "_presets", package.parent.parent / "presets"):
        if (candidate / "onetrainer").is_dir():
            return candidate
    raise PresetError(f"the preset folder is missing: neither {package / '_presets'} nor a source checkout")


def preset_names(directory: Path | None = None) -> list[str]:
    """Names of onelazy's presets (not OneTrainer's built-ins), sorted."""
    root = directory or presets_dir()
    return sorted(path.stem for path in root.glob("*.yaml"))


def builtin_names(directory: Path | None = None) -> list[str]:
    """``onetrainer:<name>`` of every OneTrainer built-in preset stated in ``presets/onetrainer/``."""
    return sorted(_builtin_files(directory or presets_dir()))


def list_presets(directory: Path | None = None) -> list[Preset]:
    """Every onelazy preset, sorted by name."""
    root = directory or presets_dir()
    return [load_preset(name, directory=root) for name in preset_names(root)]


def load_preset(name: str, *, directory: Path | None = None) -> Preset:
    """Read one preset (onelazy's by name, or ``onetrainer:<name>``); PresetError names what is wrong."""
    root = directory or presets_dir()
    if name.startswith(ONETRAINER_PREFIX):
        files = _builtin_files(root)
        if name not in files:
            raise PresetError(f"unknown OneTrainer preset {name!r}{_suggest(name, files)}")
        return _parse_builtin(name, files[name])
    path = root / f"{name}.yaml"
    if "/" in name or "\\" in name or not path.is_file():
        names = preset_names(root)
        raise PresetError(f"unknown preset {name!r}{_suggest(name, names)}; presets: {', '.join(names)}")
    return _parse_preset(name, path)


def preset_chain(name: str, *, directory: Path | None = None) -> list[Preset]:
    """The preset and its bases, OneTrainer's built-in first, ``name`` last."""
    chain: list[Preset] = []
    seen: list[str] = []
    current: str | None = name
    while current is not None:
        if current in seen:
            raise PresetError(f"presets form a loop: {' → '.join([*seen, current])}")
        seen.append(current)
        preset = load_preset(current, directory=directory)
        chain.append(preset)
        current = preset.base
    return list(reversed(chain))


def _builtin_files(root: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in sorted((root / "onetrainer").glob("*.yaml")):
        data = _read_yaml(path)
        label = data.get("onetrainer_preset") if isinstance(data, dict) else None
        if not isinstance(label, str) or not label:
            raise PresetError(f"{path}: onetrainer_preset: missing; name the OneTrainer preset it states")
        files[ONETRAINER_PREFIX + label] = path
    return files


#: Parsed preset files by path, with the text they were parsed from: one command reads a preset's
#: chain several times (the project check, the build, every built-in's name), and parsing YAML is
#: the slow part, so a file is parsed again only when its text changed.
_PARSED: dict[Path, tuple[str, Any]] = {}


def _read_yaml(path: Path) -> Any:
    """The data of a preset file (a copy: callers layer its values into configs they change)."""
    text = _yaml.read_text(path, PresetError)
    known = _PARSED.get(path)
    if known is None or known[0] != text:
        known = (text, _yaml.parse(path, text, PresetError)[1])
        _PARSED[path] = known
    return copy.deepcopy(known[1])


def _mapping(path: Path, data: Any, allowed: set[str], required: Iterable[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise PresetError(f"{path}: a preset is a mapping with keys {', '.join(sorted(allowed))}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise PresetError(
            f"{path}: {unknown[0]}: not a preset key{_suggest(str(unknown[0]), allowed)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    for key in required:
        if key not in data:
            raise PresetError(f"{path}: {key}: missing")
    return data


def _text(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PresetError(f"{path}: {key}: must be a non-empty line of text")
    return " ".join(value.split())


def _parse_preset(name: str, path: Path) -> Preset:
    data = _mapping(path, _read_yaml(path), _PRESET_KEYS, ("base", "summary", "values"))
    base = _text(path, "base", data["base"])
    summary = _text(path, "summary", data["summary"])
    raw_values = data["values"]
    if not isinstance(raw_values, dict) or not raw_values:
        raise PresetError(f"{path}: values: must map OneTrainer keys to {{value, why}}")
    values = []
    for key, entry in raw_values.items():
        if not isinstance(entry, dict) or set(entry) != {"value", "why"}:
            raise PresetError(f"{path}: values.{key}: must be {{value: ..., why: one line saying why}}")
        values.append(PresetValue(str(key), entry["value"], _text(path, f"values.{key}.why", entry["why"])))
    raw_kept = data.get("kept") or {}
    if not isinstance(raw_kept, dict):
        raise PresetError(f"{path}: kept: must map OneTrainer keys to why they keep the base's value")
    kept = []
    for key, why in raw_kept.items():
        if key in raw_values:
            raise PresetError(f"{path}: kept.{key}: also under values; a key is either changed or kept")
        kept.append(PresetValue(str(key), None, _text(path, f"kept.{key}", why)))
    return Preset(name, summary, base, tuple(values), tuple(kept), path)


def _parse_builtin(name: str, path: Path) -> Preset:
    data = _mapping(path, _read_yaml(path), _BUILTIN_KEYS, ("onetrainer_preset", "path", "summary", "values"))
    summary = _text(path, "summary", data["summary"])
    raw_values = data["values"]
    if not isinstance(raw_values, dict) or not raw_values:
        raise PresetError(f"{path}: values: must map OneTrainer keys to the preset's values")
    why = f"set by OneTrainer's built-in preset {data['path']}"
    values = tuple(PresetValue(str(key), value, why) for key, value in raw_values.items())
    return Preset(name, summary, None, values, (), path)


def _suggest(value: str, candidates: Iterable[str]) -> str:
    from onelazy.onetrainer.problems import did_you_mean_hint

    hint = did_you_mean_hint(value, list(candidates))
    return f"; {hint}" if hint else ""


# --------------------------------------------------------------------------- layering


def layered_dict(
    name: str,
    *,
    train_device: str = RENDER_TRAIN_DEVICE,
    project_values: Mapping[str, Any] | None = None,
    set_values: Sequence[str] = (),
    directory: Path | None = None,
) -> dict[str, Any]:
    """OneTrainer's defaults with the preset chain, project values and ``--set`` overrides applied.

    Not yet validated; :func:`resolve_preset` validates it.
    """
    from onelazy.onetrainer import coerce_dotted, default_train_config, to_onetrainer_dict

    data = to_onetrainer_dict(default_train_config(train_device=train_device))
    for preset in preset_chain(name, directory=directory):
        for item in preset.values:
            _apply(data, item.key, item.value, source=str(preset.path))
    for key, value in (project_values or {}).items():
        typed = coerce_dotted(key, value) if isinstance(value, str) else value
        _apply(data, key, typed, source="project")
    apply_set_values(data, set_values)
    return data


def apply_set_values(data: dict[str, Any], set_values: Sequence[str]) -> None:
    """Apply ``--set key=value`` expressions to a OneTrainer dict, each value typed by the model."""
    from onelazy.onetrainer import coerce_dotted, parse_assignment

    keys = []
    for expression in set_values:
        key, raw = parse_assignment(expression)
        try:
            value = coerce_dotted(key, raw)
        except ConfigError as exc:  # named as the flag it came from, as every other --set mistake
            raise ConfigError(
                exc.detail, file="--set", key=exc.key, allowed=exc.allowed, hint=exc.hint
            ) from None
        _apply(data, key, value, source="--set")
        keys.append(key)
    _raise_for_keys(data, keys, source="--set")


def _raise_for_keys(data: Mapping[str, Any], keys: Sequence[str], *, source: str) -> None:
    """Raise the first value under ``keys`` that TrainConfig refuses, naming ``source``.

    A list or object given as JSON (``--set samples=[1]``) is only typed as a whole by
    :func:`~onelazy.onetrainer.coerce_dotted`; without this its inner mistakes would surface later
    as the preset's, which the person never wrote.
    """
    if not keys:
        return
    from onelazy.onetrainer.models import TrainConfig
    from onelazy.onetrainer.ranges import range_problems
    from onelazy.onetrainer.reading import validate_model

    model, problems = validate_model(TrainConfig, data, source=source)
    if model is not None:  # valid types: now the values OneTrainer could not train with
        problems = range_problems(model, source=source)
    for problem in problems:
        if any(problem.key == key or problem.key.startswith((f"{key}.", f"{key}[")) for key in keys):
            raise problem.to_error()


def _apply(data: dict[str, Any], key: str, value: Any, *, source: str) -> None:
    """Set one dotted key; a ConfigError names where the value came from (a preset file, --set)."""
    from onelazy.onetrainer import apply_dotted

    try:
        apply_dotted(data, key, _jsonable(value))
    except ConfigError as exc:
        if exc.file is None:
            raise ConfigError(
                exc.detail, file=source, key=exc.key or key, allowed=exc.allowed, hint=exc.hint
            ) from None
        raise


def _jsonable(value: Any) -> Any:
    """YAML's ``.inf`` as OneTrainer writes it (the string ``"inf"``)."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def resolve_preset(
    name: str,
    *,
    train_device: str = RENDER_TRAIN_DEVICE,
    project_values: Mapping[str, Any] | None = None,
    set_values: Sequence[str] = (),
    directory: Path | None = None,
) -> TrainConfig:
    """The preset layered onto OneTrainer's defaults, validated strictly as a TrainConfig."""
    from onelazy.onetrainer import load_train_config

    data = layered_dict(
        name,
        train_device=train_device,
        project_values=project_values,
        set_values=set_values,
        directory=directory,
    )
    return load_train_config(data, source=f"preset {name}", strict=True)


def render_preset(name: str, *, directory: Path | None = None) -> dict[str, Any]:
    """The preset as the full OneTrainer JSON object (``train_device`` = ``cuda``)."""
    from onelazy.onetrainer import to_onetrainer_dict

    return to_onetrainer_dict(resolve_preset(name, directory=directory))


def render_text(name: str, *, directory: Path | None = None) -> str:
    """:func:`render_preset` as the text of ``presets/rendered/NAME.json``."""
    return json.dumps(render_preset(name, directory=directory), indent=4, ensure_ascii=False) + "\n"


def check_preset(name: str, *, directory: Path | None = None) -> list[str]:
    """What is wrong with a preset beyond its syntax, one line each (empty when it is sound).

    A value equal to its base's is not a change (move it to ``kept``); a ``kept`` key must exist;
    the rendered config must pass the model's cross-field checks.
    """
    from onelazy.onetrainer import check_train_config

    preset = load_preset(name, directory=directory)
    problems: list[str] = []
    if preset.base is not None:
        base = _flat(render_preset(preset.base, directory=directory))
        for item in preset.values:
            if item.key in base and _same(base[item.key], _jsonable(item.value)):
                problems.append(
                    f"{preset.path}: values.{item.key}: equals the base's value; list it under kept instead"
                )
        for item in preset.kept:
            if item.key not in base:
                problems.append(f"{preset.path}: kept.{item.key}: not a OneTrainer key")
    config = resolve_preset(name, directory=directory)
    problems.extend(
        str(problem)
        for problem in check_train_config(config, source=f"preset {name}")
        if problem.key.split(".")[0] not in RUN_KEYS
    )
    return problems


def kept_values(name: str, *, directory: Path | None = None) -> list[PresetValue]:
    """The preset's ``kept`` keys with the value they keep."""
    return _kept(load_preset(name, directory=directory), _flat(render_preset(name, directory=directory)))


def _kept(preset: Preset, rendered: Mapping[str, Any]) -> list[PresetValue]:
    """``preset``'s kept keys with their values in its flattened rendering."""
    return [PresetValue(item.key, rendered.get(item.key), item.why) for item in preset.kept]


# --------------------------------------------------------------------------- rendering and docs


def rendered_dir(directory: Path | None = None) -> Path:
    return (directory or presets_dir()) / "rendered"


def render_all(*, check: bool = False, directory: Path | None = None) -> list[str]:
    """Write ``rendered/NAME.json`` for every preset, or with ``check`` list the ones that differ.

    Returns one line per rendering that was stale, missing or has no preset any more.
    """
    root = directory or presets_dir()
    out_dir = rendered_dir(root)
    drift: list[str] = []
    names = preset_names(root)
    for name in names:
        fresh = render_text(name, directory=root)
        target = out_dir / f"{name}.json"
        line = _drift(target, fresh)
        if line is None:
            continue
        drift.append(line)
        if not check:
            atomic_write_text(target, fresh)
    for stale in sorted(out_dir.glob("*.json")):
        if stale.stem not in names:
            drift.append(f"{stale}: no preset {stale.stem!r} any more")
            if not check:
                stale.unlink()
    return drift


def rendered_drift(name: str | None = None, *, directory: Path | None = None) -> list[str]:
    """What is out of date in ``presets/rendered/``: for preset ``name``, or for every preset."""
    if name is None:
        return render_all(check=True, directory=directory)
    stale = _drift(rendered_dir(directory) / f"{name}.json", render_text(name, directory=directory))
    return [] if stale is None else [stale]


def diff_presets(a: str, b: str, *, directory: Path | None = None) -> list[tuple[str, Any, Any]]:
    """Keys whose rendered values differ between two presets: ``(key, value in a, value in b)``."""
    left = _flat(render_preset(a, directory=directory))
    right = _flat(render_preset(b, directory=directory))
    rows = []
    for key in sorted(set(left) | set(right)):
        if not _same(left.get(key), right.get(key)):
            rows.append((key, left.get(key), right.get(key)))
    return rows


def format_value(value: Any) -> str:
    """A value as it reads in OneTrainer's JSON (strings unquoted unless empty)."""
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value)


def describe_preset(name: str, *, directory: Path | None = None) -> list[str]:
    """``onelazy presets show``: the preset's values with their reasons, then what it inherits."""
    chain = preset_chain(name, directory=directory)
    preset = chain[-1]
    lines = [f"{preset.name}: {preset.summary}"]
    lines.append("chain: OneTrainer defaults → " + " → ".join(item.name for item in chain))
    lines.append("")
    lines.append("sets:" if preset.values else "sets nothing of its own")
    lines.extend(_value_lines(preset.values))
    kept = _kept(preset, _flat(render_preset(name, directory=directory))) if preset.kept else []
    if kept:
        lines.append("keeps from its base:")
        lines.extend(_value_lines(kept))
    own = {item.key for item in preset.values}
    for base in reversed(chain[:-1]):
        inherited = [item for item in base.values if item.key not in own]
        own |= {item.key for item in base.values}
        if inherited:
            lines.append(f"from {base.name}:")
            lines.extend(_value_lines(inherited))
    return lines


def _value_lines(items: Sequence[PresetValue]) -> list[str]:
    width = max((len(item.key) for item in items), default=0)
    return [f"  {item.key:<{width}} = {format_value(_jsonable(item.value))}  # {item.why}" for item in items]


def presets_markdown(directory: Path | None = None) -> str:
    """``docs/presets.md``: every key any preset sets, OneTrainer's default, each preset's value, why."""
    from onelazy.families import FAMILIES, family_of_preset
    from onelazy.onetrainer import default_train_config, to_onetrainer_dict

    root = directory or presets_dir()
    names = preset_names(root)
    defaults = _flat(to_onetrainer_dict(default_train_config(train_device=RENDER_TRAIN_DEVICE)))
    rendered = {name: _flat(render_preset(name, directory=root)) for name in names}
    presets = {name: load_preset(name, directory=root) for name in names}
    groups: dict[str, list[str]] = {family.label: [] for family in FAMILIES}
    for name in names:
        owner = family_of_preset(name)
        groups.setdefault(owner.label if owner else "Other", []).append(name)
    lines = [
        "# Presets",
        "",
        "Generated by `onelazy presets docs` from `presets/*.yaml`; do not edit by hand (CI checks it",
        "with `onelazy presets docs --check`).",
        "",
        "Each preset names its base and sets only what differs from it, with a reason. The layers are:",
        "OneTrainer's defaults → the base chain → the preset → the project file → `--set key=value`.",
        "",
        "A preset file (`presets/NAME.yaml`):",
        "",
        "```yaml",
        "base: sd15-lora            # another preset, or onetrainer:<name> (presets/onetrainer/*.yaml)",
        "summary: one line for `onelazy presets list`",
        "values:                    # OneTrainer keys, dotted for nested objects",
        "  lora_rank: {value: 32, why: one line saying why}",
        "kept:                      # keys deliberately left at the base's value, and why",
        "  learning_rate: one line saying why",
        "```",
        "",
        "`presets/onetrainer/*.yaml` state OneTrainer's own built-in presets as facts (the keys each sets,",
        "as `scripts/train.py --preset-path` loads it); `presets/rendered/NAME.json` is each preset",
        "rendered to the full OneTrainer config (`onelazy presets render --all`).",
        "",
        "Every family has a lazy and a careful (`nonlazy-`) preset. Where OneTrainer has LoRA presets for",
        "several memory tiers, each tier has its own pair, named by the GPU memory it fits",
        "(`lazy-chroma-8gb`, `lazy-chroma-16gb`, ...); `onelazy init --preset` lists them.",
        "",
        "| family | preset | base | summary |",
        "| --- | --- | --- | --- |",
    ]
    for label, members in groups.items():
        for name in members:
            preset = presets[name]
            lines.append(f"| {label} | `{name}` | `{preset.base}` | {_cell(preset.summary)} |")
    for label, members in groups.items():
        if members:
            lines += _family_section(label, members, root, defaults, rendered, presets)
    return "\n".join(lines) + "\n"


def _family_section(
    label: str,
    names: Sequence[str],
    root: Path,
    defaults: Mapping[str, Any],
    rendered: Mapping[str, Mapping[str, Any]],
    presets: Mapping[str, Preset],
) -> list[str]:
    """One family's part of ``docs/presets.md``: its values table, then what it keeps on purpose."""
    keys: list[str] = []
    # key -> reason -> the presets giving it (OneTrainer's built-ins share one reason)
    reasons: dict[str, dict[str, list[str]]] = {}
    for name in names:
        for preset in preset_chain(name, directory=root):
            for item in preset.values:
                if item.key not in keys:
                    keys.append(item.key)
                if preset.builtin:
                    reason, who = "set by OneTrainer's built-in preset", preset.name[len(ONETRAINER_PREFIX) :]
                else:
                    reason, who = item.why, preset.name
                givers = reasons.setdefault(item.key, {}).setdefault(reason, [])
                if who not in givers:
                    givers.append(who)
    keys.sort(key=_doc_order)
    lines = [
        "",
        f"## {label}",
        "",
        "Every key a preset or its base sets. A value that differs from OneTrainer's default is in bold.",
        "",
        "| key | OneTrainer default | " + " | ".join(f"`{n}`" for n in names) + " | why |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " | --- |",
    ]
    for key in keys:
        default = defaults.get(key)
        cells = []
        for name in names:
            value = rendered[name].get(key)
            text = _cell(format_value(value))
            cells.append(f"**{text}**" if not _same(value, default) else text)
        why = "<br>".join(f"{', '.join(who)}: {_cell(reason)}" for reason, who in reasons[key].items())
        lines.append(f"| `{key}` | {_cell(format_value(default))} | " + " | ".join(cells) + f" | {why} |")
    kept = [(name, item) for name in names for item in _kept(presets[name], rendered[name])]
    if kept:
        lines += ["", f"### {label}: kept on purpose", "", "| preset | key | value | why |"]
        lines.append("| --- | --- | --- | --- |")
        for name, item in kept:
            value = _cell(format_value(item.value))
            lines.append(f"| `{name}` | `{item.key}` | {value} | {_cell(item.why)} |")
    return lines


def docs_path(directory: Path | None = None) -> Path:
    """``docs/presets.md`` of the checkout the presets live in."""
    return (directory or presets_dir()).parent / "docs" / "presets.md"


def write_docs(*, check: bool = False, path: Path | None = None, directory: Path | None = None) -> list[str]:
    """Write ``docs/presets.md``, or with ``check`` report (one line) whether it differs."""
    target = path or docs_path(directory)
    fresh = presets_markdown(directory)
    stale = _drift(target, fresh)
    if stale is None:
        return []
    if not check:
        atomic_write_text(target, fresh)
    return [stale]


def _drift(target: Path, fresh: str) -> str | None:
    """The line saying how a generated file differs from ``fresh`` (missing or stale); None if equal."""
    current = target.read_text(encoding="utf-8") if target.is_file() else None
    if current == fresh:
        return None
    return f"{target}: {'missing' if current is None else 'differs from a fresh rendering'}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _doc_order(key: str) -> tuple[int, str]:
    return (key.count("."), key)


def _flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested OneTrainer dict → ``{dotted key: value}`` (``__version`` keys left out)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "__version":
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and "__version" in value:
            out.update(_flat(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return bool(a == b)
