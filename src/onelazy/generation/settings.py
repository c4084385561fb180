"""The ``generate:`` settings: prompt sets, render values, backend URLs, and reading them from YAML.

Validation here is strict (unknown keys, out-of-range values) and every problem is one line that
names the file, line and column, or the flag the value came from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from onelazy.backends import BackendKind
from onelazy.errors import ProjectFileError, UsageError
from onelazy.render import RENDER_FIELDS, RenderSettings

SET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


# =============================================================================== configuration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoraWeight(_Strict):
    """A LoRA applied while generating, with its weight."""

    name: str = Field(min_length=1)
    weight: float = Field(default=1.0, ge=-100, le=100)

    @model_validator(mode="before")
    @classmethod
    def _name_alone(cls, data: Any) -> Any:
        """``- faery_style.safetensors`` in a ``loras:`` list: that LoRA at weight 1."""
        return {"name": data} if isinstance(data, str) else data


# The limits of each render setting, said once for every section of onelazy.yaml that sets one.
ModelName = Annotated[str, Field(min_length=1)]
Side = Annotated[int, Field(ge=64, le=16384, multiple_of=8)]
Steps = Annotated[int, Field(ge=1, le=500)]
Cfg = Annotated[float, Field(ge=0, le=100)]
Seed = Annotated[int, Field(ge=0, le=2**63)]


class RenderLayer(_Strict):
    """A section of ``onelazy.yaml`` that may set render settings; a value left None takes the one
    of the layer under it (:meth:`over`)."""

    def over(self, base: RenderSettings) -> RenderSettings:
        """``base`` with the render settings this section gives."""
        given: dict[str, Any] = {}
        for name in RENDER_FIELDS:
            value = getattr(self, name, None)
            if value is not None:
                given[name] = tuple((lora.name, lora.weight) for lora in value) if name == "loras" else value
        return base.with_values(**given)


class SamplingValues(RenderLayer):
    """The render settings every layer may override (a prompt set, ``compare:``): the checkpoint,
    the size and the sampling; None means "use the value of the layer under it"."""

    model: ModelName | None = None
    width: Side | None = None
    height: Side | None = None
    steps: Steps | None = None
    cfg: Cfg | None = None
    sampler: str | None = None
    scheduler: str | None = None


class RenderValues(SamplingValues):
    """Render settings a prompt set may override; None means "use the shared value"."""

    seed: Seed | None = None
    loras: list[LoraWeight] | None = None


class PromptSet(RenderValues):
    """One prompt set: ``count`` images of ``prompt`` into ``DATASET/<name>/``.

    ``caption`` is what the LoRA's users will type (close to, not the same as, the prompt);
    it defaults to the prompt.
    """

    name: str = Field(pattern=SET_NAME_PATTERN)
    prompt: str = Field(min_length=1)
    negative: str = ""
    count: int = Field(ge=1, le=1_000_000)
    caption: str | None = None


class GenerateConfig(_Strict):
    """The ``generate:`` section: shared settings and the prompt sets."""

    backend: BackendKind
    urls: list[str] = Field(min_length=1)
    # the shared render settings, each set's defaults (RenderSettings' own defaults)
    model: ModelName
    width: Side = 512
    height: Side = 512
    steps: Steps = 20
    cfg: Cfg = 7.0
    sampler: str | None = None
    scheduler: str | None = None
    seed: Seed = 0
    loras: list[LoraWeight] = Field(default_factory=list)
    family: str | None = None
    """The model family the checkpoint is (default in a project: the preset's); decides the graph."""
    text_encoders: list[str] = Field(default_factory=list)
    vae: str | None = None
    batch: int = Field(default=1, ge=1, le=64)
    captions: Literal["image", "set", "none"] = "image"
    in_flight: int | None = Field(default=None, ge=1, le=64)
    dataset: str | None = None
    sets: list[PromptSet] = Field(min_length=1)

    def render(self) -> RenderSettings:
        """The shared render settings: what a set renders with where it says nothing else."""
        return RenderSettings(
            model=self.model,
            width=self.width,
            height=self.height,
            steps=self.steps,
            cfg=self.cfg,
            sampler=self.sampler,
            scheduler=self.scheduler,
            seed=self.seed,
            loras=tuple((lora.name, lora.weight) for lora in self.loras),
            family=self.family,
            text_encoders=tuple(self.text_encoders),
            vae=self.vae,
        )

    def set_render(self, spec: PromptSet) -> RenderSettings:
        """What the set ``spec`` renders with: its own values over the shared ones (its ``seed``
        is the base seed: image ``i`` gets ``seed + i``)."""
        return spec.over(self.render())

    @field_validator("family")
    @classmethod
    def _known_family(cls, family: str | None) -> str | None:
        from onelazy.families import family_keys

        if family is not None and family not in family_keys():
            raise ValueError(f"{family!r} is not a model family; allowed: {', '.join(family_keys())}")
        return family

    @model_validator(mode="before")
    @classmethod
    def _url_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "url" in data:
            data = dict(data)
            url = data.pop("url")
            if "urls" in data:
                raise ValueError("give either url or urls, not both")
            data["urls"] = url if isinstance(url, list) else [url]
        if isinstance(data, dict) and isinstance(data.get("urls"), str):  # one URL without brackets
            data = {**data, "urls": [data["urls"]]}
        return data

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, urls: list[str]) -> list[str]:
        from onelazy.backends.urls import normalize_url

        normalized = [normalize_url(url) for url in urls]
        if len(set(normalized)) != len(normalized):
            raise ValueError("a URL is listed twice")
        return normalized

    @field_validator("sets")
    @classmethod
    def _unique_names(cls, sets: list[PromptSet]) -> list[PromptSet]:
        names = [s.name.lower() for s in sets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"set names must be unique (ignoring case): {', '.join(duplicates)}")
        return sets


def _given_as(loc: Sequence[Any], names: Mapping[str, str]) -> str | None:
    """How the person gave the value at ``loc`` (a flag such as ``--width``), if ``names`` says."""
    dotted = ".".join(str(part) for part in loc)
    if dotted in names:
        return names[dotted]
    if len(loc) >= 3 and loc[0] == "sets" and str(loc[2]) in names:  # count: every set's count
        return names[str(loc[2])]
    return names.get(str(loc[0])) if loc else None


def _format_validation_error(
    exc: ValidationError,
    where: Callable[[tuple[Any, ...], bool], str],
    names: Mapping[str, str] | None = None,
) -> str:
    from onelazy._keys import first_error

    error = first_error(exc.errors())
    loc = tuple(error["loc"])
    key = ".".join(str(part) for part in loc) or "generate"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        from onelazy._keys import unknown_key_message

        message = unknown_key_message(GenerateConfig, loc)
    elif error["type"] == "literal_error":
        message = f"{message} (got {error.get('input')!r})"
    elif error["type"] in ("model_type", "model_attributes_type", "dict_type"):
        message = f"expected a mapping of keys (key: value lines), got {error.get('input')!r}"
    elif error["type"] == "string_pattern_mismatch" and loc[-1:] == ("name",):
        message = "use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)"
    message += f" (got {error.get('input')!r})" if error["type"] in _SHOW_INPUT else ""
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    given = _given_as(loc, names or {})
    if given is not None:
        return f"{given}: {message}{more}"
    return f"{where(loc, error['type'] == 'extra_forbidden')}{key}: {message}{more}"


#: error types whose message does not say what was given
_SHOW_INPUT = frozenset(
    {
        "greater_than_equal",
        "less_than_equal",
        "multiple_of",
        "string_pattern_mismatch",
        "int_parsing",
        "float_parsing",
        "bool_parsing",
    }
)


def config_from_mapping(
    data: Mapping[str, Any], *, source: str = "flags", names: Mapping[str, str] | None = None
) -> GenerateConfig:
    """A :class:`GenerateConfig` from plain data; a bad value is one line naming ``source`` and the key.

    ``names`` maps keys (dotted for a set's: ``sets.0.name``) to how the person gave them (``--name``);
    an error in such a key names that instead.
    """
    try:
        return GenerateConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise UsageError(_format_validation_error(exc, lambda loc, at_key: f"{source}: ", names)) from None
    except UsageError as exc:
        given = (names or {}).get("urls")
        raise UsageError(f"{given or source}: {exc}") from None


def load_generate_config(
    path: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    *,
    override_names: Mapping[str, str] | None = None,
) -> GenerateConfig:
    """The ``generate:`` section of a YAML file (``onelazy.yaml``), with ``overrides`` on top.

    Errors name the file, line and column: ``onelazy.yaml:12:5: generate.sets.1.count: ...``.
    ``overrides`` replace shared keys; ``count`` in it sets every set's count. An error in an
    override names it as ``override_names`` says (``--width``), else as "width (override)", never
    as a line of the file that did not say it.
    """
    from onelazy import _yaml

    file = Path(path)
    root, data = _yaml.load(file, ProjectFileError)
    if not isinstance(data, dict) or not isinstance(data.get("generate"), dict):
        raise ProjectFileError(
            f"{file}: has no 'generate:' section (a mapping with backend, urls, model, sets)"
        )
    section = dict(data["generate"])
    for key, value in (overrides or {}).items():
        if key == "count":
            section["sets"] = [
                {**s, "count": value} if isinstance(s, dict) else s for s in section.get("sets") or []
            ]
        else:
            section[key] = value

    def where(loc: tuple[Any, ...], at_key: bool) -> str:
        return f"{_yaml.place(file, root, ('generate', *loc), at_key=at_key)}: generate."

    names = {key: f"{key} (override)" for key in overrides or {}}
    names.update({key: name for key, name in (override_names or {}).items() if key in names})
    try:
        return GenerateConfig.model_validate(section)
    except ValidationError as exc:
        raise ProjectFileError(_format_validation_error(exc, where, names)) from None
    except UsageError as exc:
        given = names.get("urls")
        raise ProjectFileError(f"{given}: {exc}" if given else f"{file}: generate: {exc}") from None


