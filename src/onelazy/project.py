"""``onelazy.yaml``: one file per LoRA, read into a validated :class:`Project`.

The file holds everything the recipe needs, stage by stage: what to generate (the ``generate:``
section is exactly what ``onelazy generate onelazy.yaml`` reads), how to cull, how to train and
what to compare. Relative paths in it are relative to the file's folder, so a project folder can
be moved. Errors name the file, line and column (``onelazy.yaml:14:12: generate.model: ...``)
because the person fixes them in an editor.

``init_project()`` writes a commented file with the recipe's defaults (two sets of 100 images,
the lazy preset); it runs once three values are filled in (see :data:`FILL_IN_KEYS`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from onelazy import _yaml
from onelazy._files import atomic_write_text
from onelazy._keys import first_error
from onelazy._yaml import place as _place
from onelazy.backends import DEFAULT_KIND, kind_facts
from onelazy.comparison import COMPARE_SEED, lora_weight_problem
from onelazy.errors import ConfigError, ProjectFileError, UsageError
from onelazy.generation import GenerateConfig
from onelazy.generation.settings import SamplingValues, Seed
from onelazy.onetrainer.model_names import is_hub_id, is_remote
from onelazy.render import RenderSettings

if TYPE_CHECKING:
    from onelazy.backends.comfyui_graphs import ComfyRecipe

__all__ = [
    "FILL_IN",
    "FILL_IN_KEYS",
    "PROJECT_FILE",
    "CompareSettings",
    "CullSettings",
    "InitResult",
    "Project",
    "TrainSettings",
    "init_project",
    "load_project",
]

PROJECT_FILE = "onelazy.yaml"
#: The placeholder ``init`` writes where only the person knows the value.
FILL_IN = "FILL IN"
#: The dotted keys ``init`` leaves for the person, with what belongs there.
FILL_IN_KEYS: dict[str, str] = {
    "generate.sets.0.prompt": "the prompt you liked in your image UI (both sets use it)",
    "generate.model": "the checkpoint the backend renders with, exactly as the backend lists it",
    "compare.lora_dir": "the folder the backend loads LoRAs from (to compare checkpoints)",
}
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CullSettings(_Strict):
    """Options of ``onelazy cull``; None keeps cull's own default."""

    min_side: int | None = Field(default=None, ge=1)
    aspect: tuple[float, float] | None = None
    near_distance: int | None = Field(default=None, ge=0, le=64)
    blur_ratio: float | None = Field(default=None, ge=0)
    blur_threshold: float | None = Field(default=None, ge=0)
    flat_ratio: float | None = Field(default=None, ge=0)
    flat_threshold: float | None = Field(default=None, ge=0)
    skip: list[str] = Field(default_factory=list)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`onelazy.cull` (only the values the file sets)."""
        values = {key: value for key, value in self.model_dump().items() if value is not None}
        if not values.get("skip"):
            values.pop("skip", None)
        return values


class TrainSettings(_Strict):
    """What ``build-config`` needs beyond the images: the length of training and overrides."""

    steps_per_image: int | None = Field(default=None, ge=1)
    total_steps: int | None = Field(default=None, ge=1)
    set: dict[str, Any] = Field(default_factory=dict)
    """OneTrainer keys, dotted (``optimizer.d_coef: 2``), on top of the preset."""
    prompt_source: Literal["concept", "sample", "filename"] | None = None
    sample_prompts: list[str] | None = None
    train_device: str = "cuda"
    separate_files: bool = False
    allow_config_warnings: bool = False
    validation: Literal["auto", "none"] = "auto"
    """``auto``: about 10 % of the images held out for OneTrainer's validation loss; ``none``: none."""

    @model_validator(mode="after")
    def _one_target(self) -> TrainSettings:
        if self.steps_per_image is not None and self.total_steps is not None:
            raise ValueError("give steps_per_image or total_steps, not both")
        return self


class CompareSettings(SamplingValues):
    """What ``onelazy compare`` renders; unset render settings come from the ``generate:`` section
    (its first set's, then the shared ones), except the seed (one for every image) and the LoRAs
    (only the checkpoint compared)."""

    lora_dir: str = Field(min_length=1)
    prompts: list[str] | None = None
    negative: str | None = None
    weights: list[float] = Field(default_factory=lambda: [0.7, 1.0], min_length=1)
    seed: Seed = COMPARE_SEED
    url: str | None = None
    keep: bool = False
    image_score: str | None = Field(default=None, min_length=1)
    """An image model (a Hugging Face id such as ``openai/clip-vit-base-patch32``, or a local model
    folder) whose likeness and pull per checkpoint the page shows beside the losses."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        """Refused when the file is read, not when compare opens it after training."""
        if url is None:
            return None
        from onelazy.backends.urls import normalize_url

        try:
            return normalize_url(url)
        except UsageError as exc:  # a ValueError, so the message names the line and the key
            raise ValueError(str(exc)) from None

    @field_validator("weights")
    @classmethod
    def _weights_in_range(cls, weights: list[float]) -> list[float]:
        for weight in weights:
            problem = lora_weight_problem(weight)
            if problem:
                raise ValueError(problem)
        return weights


class Project(_Strict):
    """A validated ``onelazy.yaml``, with one name per value: the paths are resolved against the
    file's folder as they are read (``project.dataset`` is the dataset folder itself), and
    ``base_model`` is what OneTrainer gets."""

    name: str = Field(pattern=NAME_PATTERN)
    preset: str = "lazy-sd15"
    base_model: str = Field(default=None, validate_default=True)
    """The base model as OneTrainer gets it: an absolute path when it is a local one, else a hub id
    (the preset family's base model when the file does not say)."""
    output: Path = Field(default=None, validate_default=True)
    """The LoRA file (default: ``<name>.safetensors`` beside ``onelazy.yaml``)."""
    onetrainer: Path | None = Field(default=None, validate_default=True)
    """The OneTrainer checkout (default: ``$ONETRAINER_DIR``)."""
    python: str | None = None
    dataset: Path = Field(default=Path("dataset"), validate_default=True)
    run_dir: Path = Field(default=Path("run"), validate_default=True)
    generate: GenerateConfig
    cull: CullSettings = Field(default_factory=CullSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    compare: CompareSettings | None = None

    # where the file is: set by load_project, never by the file itself
    _file: Path = PrivateAttr(default=Path(PROJECT_FILE))

    @model_validator(mode="after")
    def _family_from_preset(self) -> Project:
        """Images are rendered as the preset's family unless ``generate.family`` says otherwise."""
        if self.generate.family is None:
            from onelazy.families import family_of_preset

            owner = family_of_preset(self.preset)
            if owner is not None:
                self.generate = self.generate.model_copy(update={"family": owner.key})
        return self

    @staticmethod
    def _folder(info: ValidationInfo) -> Path:
        folder = (info.context or {}).get("folder")
        return Path(folder) if folder is not None else Path(".")

    @staticmethod
    def _resolved(value: Any, folder: Path) -> Path:
        candidate = Path(str(value)).expanduser()
        return candidate if candidate.is_absolute() else (folder / candidate).resolve()

    @field_validator("dataset", "run_dir", mode="before")
    @classmethod
    def _folder_path(cls, value: Any, info: ValidationInfo) -> Any:
        return cls._resolved(value, cls._folder(info)) if isinstance(value, (str, os.PathLike)) else value

    @field_validator("output", mode="before")
    @classmethod
    def _output_path(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            value = f"{info.data.get('name', 'lora')}.safetensors"
        if not isinstance(value, (str, os.PathLike)):
            return value
        if not str(value).lower().endswith(".safetensors"):
            raise ValueError(f"{str(value)!r}: a LoRA file name ends in .safetensors")
        return cls._resolved(value, cls._folder(info))

    @field_validator("onetrainer", mode="before")
    @classmethod
    def _onetrainer_path(cls, value: Any, info: ValidationInfo) -> Any:
        if value:
            return cls._resolved(value, cls._folder(info)) if isinstance(value, (str, os.PathLike)) else value
        env = os.environ.get("ONETRAINER_DIR")
        return Path(env).expanduser() if env else None

    @field_validator("base_model", mode="before")
    @classmethod
    def _base_model_as_given_to_onetrainer(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:  # the base model the preset names (OneTrainer's choice for the family)
            return preset_base_model(str(info.data.get("preset", "lazy-sd15")))
        if not isinstance(value, str):
            return value
        local = cls._resolved(value, cls._folder(info))
        return str(local) if local.exists() or not is_remote(value) else value

    # -- paths, resolved against the project folder
    @property
    def file(self) -> Path:
        return self._file

    @property
    def folder(self) -> Path:
        return self._file.parent

    def path(self, value: str) -> Path:
        return self._resolved(value, self.folder)

    @property
    def set_folders(self) -> list[Path]:
        return [self.dataset / spec.name for spec in self.generate.sets]

    def compare_prompts(self) -> list[str]:
        """The prompts compared: the file's, else each set's caption (what users will type), once each."""
        assert self.compare is not None
        if self.compare.prompts:
            return list(self.compare.prompts)
        seen: list[str] = []
        for spec in self.generate.sets:
            text = spec.caption or spec.prompt
            if text not in seen:
                seen.append(text)
        return seen

    def compare_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`onelazy.compare`: the ``compare:`` section, its render
        settings over the first set's (:meth:`compare_render`), its negative prompt else the first
        set's."""
        if self.compare is None:
            raise UsageError(f"{self.file}: has no compare: section (lora_dir:, weights:, ...)")
        c, g = self.compare, self.generate
        return {
            "kind": g.backend,
            "url": c.url or g.urls[0],
            "render": self.compare_render(),
            "lora_dir": str(self.path(c.lora_dir)),
            "prompts": self.compare_prompts(),
            "negative": c.negative if c.negative is not None else g.sets[0].negative,
            "weights": list(c.weights),
            "keep": c.keep,
            **({"image_score": self.image_score_model()} if c.image_score else {}),
        }

    def image_score_model(self) -> str | None:
        """``compare.image_score`` as the embedder loads it: a local folder resolved against the
        project folder, a Hugging Face id (``owner/name`` that is no folder here) as written."""
        name = self.compare.image_score if self.compare is not None else None
        if name is None:
            return None
        local = self.path(name)
        return name if is_hub_id(name) and not local.exists() else str(local)

    def compare_render(self) -> RenderSettings:
        """What compare renders with: the ``compare:`` section's values over the first set's (which
        are over the shared ones); its own seed, and no LoRA but the checkpoint compared."""
        assert self.compare is not None
        first = self.generate.set_render(self.generate.sets[0])
        return self.compare.over(first).with_values(loras=())

    def generate_config(self) -> GenerateConfig:
        """The ``generate:`` section with the project's dataset folder (validated as a whole again)."""
        return GenerateConfig.model_validate({**self.generate.model_dump(), "dataset": str(self.dataset)})


# =============================================================================== loading


def _dotted(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _find_placeholders(data: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [hit for key, value in data.items() for hit in _find_placeholders(value, (*loc, key))]
    if isinstance(data, list):
        return [hit for index, value in enumerate(data) for hit in _find_placeholders(value, (*loc, index))]
    if isinstance(data, str) and data.strip().upper().startswith(FILL_IN):
        return [loc]
    return []


def _message(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        from onelazy._keys import unknown_key_message

        return unknown_key_message(Project, tuple(error["loc"]))
    if error["type"] == "missing":
        return "required, but missing"
    if error["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys (key: value lines), got {error.get('input')!r}"
    if error["type"] == "literal_error" or error["type"].endswith(("_parsing", "_type")):
        return f"{message} (got {error.get('input')!r})"
    return message


def load_project(path: str | os.PathLike[str] = PROJECT_FILE) -> Project:
    """Read and validate ``onelazy.yaml``; the first problem is one line with the line and column.

    A value still saying ``FILL IN`` is reported with what belongs there. The preset and the
    ``train.set`` keys are checked against OneTrainer's config model here, before anything runs.
    """
    file = Path(path).expanduser()
    if file.is_dir():
        file = file / PROJECT_FILE
    text = _yaml.read_text(
        file, ProjectFileError, missing_hint=f"`onelazy init {file.parent}` writes one to fill in"
    )
    root, data = _yaml.parse(file, text, ProjectFileError)
    if data is None:
        raise ProjectFileError(
            f"{file}: is empty; `onelazy init --force {file.parent}` writes one to fill in"
        )
    if not isinstance(data, dict):
        raise ProjectFileError(
            f"{file}: must be a mapping of keys (name:, generate:, ...), not {type(data).__name__}"
        )

    for loc in _find_placeholders(data):
        key = _dotted(loc)
        what = FILL_IN_KEYS.get(key) or FILL_IN_KEYS.get(key.replace("sets.1.", "sets.0."), "a value")
        raise ProjectFileError(f"{_place(file, root, loc)}: {key}: still says {FILL_IN}; put {what} here")

    try:
        project = Project.model_validate(data, context={"folder": file.resolve().parent})
    except ValidationError as exc:
        error = first_error(exc.errors())
        loc = tuple(error["loc"])
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        place = _place(file, root, loc, at_key=error["type"] == "extra_forbidden")
        raise ProjectFileError(f"{place}: {_dotted(loc) or 'file'}: {_message(error)}{more}") from None
    except UsageError as exc:  # raised by a nested model's own checks (e.g. a URL)
        raise ProjectFileError(f"{file}: {exc}") from None
    project._file = file.resolve()
    _check_training_values(project, file, root)
    _check_folders(project, file, root)
    _check_local_paths(project, file, root)
    return project


def _check_local_paths(project: Project, file: Path, root: Any) -> None:
    """The paths the file names that must already exist do: a wrong base model is found now, not
    at launch after generating and culling; a wrong LoRA folder now, not at compare after training.
    A ``base_model`` written as ``owner/name`` is a Hugging Face repo id and one with ``://`` a URL
    (see :mod:`onelazy.onetrainer.model_names`), anything else a local path."""
    if not is_remote(project.base_model):  # resolved as it was read: a local path is absolute
        local = Path(project.base_model)
        if not local.exists():
            raise ProjectFileError(
                f"{_place(file, root, ('base_model',))}: base_model: {local}: no such file or folder "
                "(a local path; a Hugging Face repo id is written owner/name)"
            )
    model = project.image_score_model()
    if model is not None and not is_hub_id(model) and not Path(model).is_dir():
        what = "is a file, not a model folder" if Path(model).exists() else "no such folder"
        raise ProjectFileError(
            f"{_place(file, root, ('compare', 'image_score'))}: compare.image_score: {model}: {what} "
            "(a local model folder; a Hugging Face id is written owner/name)"
        )
    if project.compare is not None:
        folder = project.path(project.compare.lora_dir)
        if not folder.is_dir():
            what = "is a file, not a folder" if folder.exists() else "no such folder"
            raise ProjectFileError(
                f"{_place(file, root, ('compare', 'lora_dir'))}: compare.lora_dir: {folder}: {what}; "
                "give the folder the backend loads LoRAs from (ComfyUI: models/loras, SwarmUI: Models/Lora)"
            )


def _check_folders(project: Project, file: Path, root: Any) -> None:
    """The folders the stages write into can be folders: a file in the way is found now, not when
    ``run`` reaches the stage that writes there (after generating, or training)."""
    from onelazy._files import file_in_the_way

    wanted = {
        "dataset": project.dataset,
        "run_dir": project.run_dir,
        "output": project.output.parent,
    }
    for key, folder in wanted.items():
        blocker = folder if folder.exists() and not folder.is_dir() else file_in_the_way(folder)
        if blocker is not None:
            raise ProjectFileError(f"{_place(file, root, (key,))}: {key}: {blocker} is a file, not a folder")


def _check_training_values(project: Project, file: Path, root: Any) -> None:
    """The preset exists and every ``train.set`` key and value is one OneTrainer takes."""
    from onelazy.errors import PresetError
    from onelazy.presets import resolve_preset

    try:
        resolve_preset(
            project.preset, project_values=project.train.set, train_device=project.train.train_device
        )
    except PresetError as exc:
        raise ProjectFileError(f"{_place(file, root, ('preset',))}: preset: {exc}") from None
    except ConfigError as exc:
        key = exc.key or ""
        if key in project.train.set:
            loc: tuple[Any, ...] = ("train", "set", key)
        else:
            loc = ("train", "set")
        detail = exc.detail + (f"; {exc.hint}" if exc.hint else "")
        raise ProjectFileError(f"{_place(file, root, loc, at_key=True)}: train.set.{key}: {detail}") from None


# =============================================================================== init

_TEMPLATE = """\
# onelazy.yaml: one LoRA, start to finish. `onelazy run` does every stage; `onelazy status` shows
# where it stands. Relative paths are relative to this file's folder.
#
# Fill in the three values marked FILL IN, then run `onelazy run`.

# The LoRA's name: file names, OneTrainer's save prefix.
name: {name}
# lazy-<family>: OneTrainer's own LoRA preset for the family with a larger rank (lazy-sd15,
# lazy-sdxl also for Illustrious/NoobAI/Pony, lazy-flux1, lazy-chroma-16gb, ...); nonlazy-<family>
# uses Prodigy, EMA and more; `onelazy presets list` shows all, one per family and memory tier.
preset: {preset}
# What OneTrainer trains on: a Hugging Face id (written owner/name) or a local model file/folder
# (anything else; it must exist). The base model of your family is a safe choice; the checkpoint
# you generate with can be closer to your images.
base_model: {base_model}
# Where the finished LoRA goes (`onelazy compare --pick STEP` replaces it with a better checkpoint).
output: {name}.safetensors
# Your OneTrainer checkout (with its venv); leave empty to use $ONETRAINER_DIR.
onetrainer: {onetrainer}
dataset: dataset     # generated images (one folder per set), captions, manifest.jsonl
run_dir: run         # OneTrainer's config.json, workspace (saves), launch.log, compare/

# Step 1: images through SwarmUI or ComfyUI (the same section `onelazy generate onelazy.yaml` reads).
generate:
  backend: {backend}            # swarmui or comfyui
  urls: [{url}]   # several URLs share the work
  model: {model}   # {model_comment}
{model_files}  width: {width}
  height: {height}
  steps: {steps}
  cfg: {cfg}
  seed: 1000        # image i of a set gets seed + i, so a rerun asks for the same images
  captions: image   # a .txt caption beside each image
  sets:
    # Two sets of 100: the same prompt, upright and wide, so the LoRA does not learn one framing.
    - name: upright
      prompt: &prompt {prompt}
      # caption: what users will type to get the LoRA (close to, not the same as, the prompt)
      negative: &negative "lowres, blurry, watermark, text"
      count: 100
      width: {narrow}
      height: {wide}
    - name: wide
      prompt: *prompt
      negative: *negative
      count: 100
      width: {wide}
      height: {narrow}

# Step 2: throw out broken, tiny, flat, blurry and near-duplicate images (moved, never deleted).
cull:
  min_side: {min_side}     # the training resolution
  # near_distance: {near_distance}  # pHash bits; lower keeps more near-copies
  # aspect: [0.5, 2.0]

# Step 3: the OneTrainer config (the plan: epochs, saves at 75/100/125 %, samples).
train:
  # steps_per_image: {steps_per_image}   # the recipe's default for this model family
  # total_steps: 2000
  set: {{}}           # OneTrainer keys on top of the preset, dotted: {{lora_rank: 48, optimizer.d_coef: 2}}
  train_device: cuda
  validation: auto    # ~10 % of the images held out, for OneTrainer's validation loss (none: train on all)

# Step 4: render each checkpoint with fixed seeds, to pick the best one (often not the last).
compare:
  lora_dir: {lora_dir}   # the folder the backend loads LoRAs from
  weights: [0.7, 1.0]
  seed: 1234
  # prompts: ["a faery, walking in a meadow"]   # default: each set's caption
  # image_score: openai/clip-vit-base-patch32   # likeness and pull per checkpoint (onelazy[score])
"""


@dataclass(frozen=True)
class InitResult:
    """What ``init`` wrote and which values are left for the person, with their line numbers."""

    path: Path
    to_fill: dict[str, int]

    def describe(self) -> list[str]:
        lines = [f"Wrote {self.path}."]
        if self.to_fill:
            lines.append(f"Fill in these {len(self.to_fill)} values, then run `onelazy run`:")
            for key, line in self.to_fill.items():
                lines.append(f"  line {line}: {key}: {FILL_IN_KEYS[key]}")
        else:
            lines.append("Every value is filled in; run `onelazy run`.")
        return lines


def init_project(
    directory: str | os.PathLike[str] = ".",
    *,
    name: str | None = None,
    preset: str = "lazy-sd15",
    backend: str = DEFAULT_KIND,
    url: str | None = None,
    model: str | None = None,
    prompt: str | None = None,
    lora_dir: str | None = None,
    onetrainer: str | None = None,
    force: bool = False,
) -> InitResult:
    """Write a commented ``onelazy.yaml`` into ``directory`` with the recipe's defaults.

    Values not given stay ``FILL IN`` (:data:`FILL_IN_KEYS`); an existing file is kept unless ``force``.
    """
    import json

    folder = Path(directory).expanduser()
    target = folder / PROJECT_FILE
    if target.exists() and not force:
        raise UsageError(f"{target}: already exists; edit it, or pass --force to start over")
    default_url = kind_facts(backend).default_url
    if preset.startswith("onetrainer:"):
        raise UsageError(f"preset {preset!r}: start from a onelazy preset (lazy-sd15, lazy-sdxl, ...)")
    # A file that cannot run is not written: the preset and URL are checked here, not at `run`.
    from onelazy.backends.urls import normalize_url
    from onelazy.presets import load_preset

    load_preset(preset)
    if url is not None:
        normalize_url(url)
    project_name = name or _name_from(folder)
    import re

    if not re.match(NAME_PATTERN, project_name):
        raise UsageError(f"name {project_name!r}: use letters, digits, '.', '_' and '-' (pass --name)")
    from onelazy.culling import DEFAULT_NEAR_DISTANCE
    facts = preset_facts(preset)
    side = facts.render_side
    ot = onetrainer if onetrainer is not None else os.environ.get("ONETRAINER_DIR", "")
    # given relative to where the command runs, but the file's paths are relative to its folder
    ot = _from_here(ot) if ot else ot
    lora_dir = _from_here(lora_dir) if lora_dir else lora_dir
    if lora_dir and not Path(lora_dir).expanduser().is_dir():  # found now, not at compare after training
        exists = Path(lora_dir).expanduser().exists()
        raise UsageError(
            f"--lora-dir {lora_dir}: {'is a file, not a folder' if exists else 'no such folder'}; give the "
            "folder the backend loads LoRAs from"
        )

    def scalar(value: str | None) -> str:
        return FILL_IN if value is None else json.dumps(value, ensure_ascii=False)

    text = _TEMPLATE.format(
        name=project_name,
        preset=preset,
        base_model=facts.base_model,
        onetrainer=json.dumps(ot) if ot else "",
        backend=backend,
        url=url or default_url,
        model=scalar(model),
        prompt=scalar(prompt),
        lora_dir=scalar(lora_dir),
        width=side,
        height=side,
        narrow=side,
        wide=side * 3 // 2,
        min_side=side,
        near_distance=DEFAULT_NEAR_DISTANCE,  # cull's own default, not a second copy of it
        steps_per_image=facts.steps_per_image,  # the family's default, not a copy
        steps=facts.render.steps,
        cfg=f"{facts.render.cfg:g}",
        model_comment=(
            "the diffusion model (ComfyUI: models/diffusion_models), as the backend lists it"
            if facts.render.loader == "unet"
            else "the checkpoint name as the backend lists it"
        ),
        model_files=_model_files_lines(facts),
    )
    lines = text.splitlines()
    to_fill: dict[str, int] = {}
    markers = {
        "generate.sets.0.prompt": "prompt: &prompt",
        "generate.model": "model:",
        "compare.lora_dir": "lora_dir:",
    }
    for key, marker in markers.items():
        for number, line in enumerate(lines, start=1):
            if line.strip().startswith(marker) and FILL_IN in line:
                to_fill[key] = number
                break
    atomic_write_text(target, text)
    return InitResult(path=target, to_fill=to_fill)


def _model_files_lines(facts: PresetFacts) -> str:
    """A family shipped as separate files: its text encoders and VAE, commented (ComfyUI's names)."""
    rec = facts.render
    if rec.loader != "unet":
        return ""
    encoders = ", ".join(rec.text_encoders)
    return (
        f"  # text_encoders: [{encoders}]   # ComfyUI: models/text_encoders; default: these\n"
        f"  # vae: {rec.vae}   # ComfyUI: models/vae; default: this\n"
    )


@dataclass(frozen=True)
class PresetFacts:
    """What ``init`` and the project file take from a preset: its family's defaults."""

    base_model: str
    """The base model the preset names (OneTrainer's choice for the family)."""
    render_side: int
    """The side of a square image the family renders natively (512 for SD 1.5, else 1024)."""
    steps_per_image: int
    """The plan's default for the family."""
    render: ComfyRecipe
    """How the family renders (loaders, steps, cfg, sampler), the same for both backends."""


def preset_facts(preset: str) -> PresetFacts:
    """The family defaults of ``preset``, from its rendering (a preset of no family: SD 1.5/SDXL rules)."""
    from onelazy.families import family_of_model_type, family_of_preset
    from onelazy.onetrainer import model_type_info
    from onelazy.plan import default_steps_per_image
    from onelazy.presets import resolve_preset

    config = resolve_preset(preset)
    info = model_type_info(config.model_type)
    owner = family_of_preset(preset) or family_of_model_type(config.model_type.value)
    steps = owner.steps_per_image if owner else default_steps_per_image(not (info.is_sd1x or info.is_sd2x))
    from onelazy.backends.comfyui_graphs import recipe

    return PresetFacts(
        config.base_model_name,
        max(info.native_width, info.native_height),
        steps,
        recipe(owner.key if owner else None),
    )


def preset_base_model(preset: str) -> str:
    """The base model ``preset`` trains on when the project file names none."""
    return preset_facts(preset).base_model


def _from_here(value: str) -> str:
    """A path typed on the command line, absolute (``~`` kept: it means the same from anywhere)."""
    if value.startswith("~") or Path(value).is_absolute():
        return value
    return os.path.abspath(value)


def _name_from(folder: Path) -> str:
    import re

    base = folder.resolve().name or "lora"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-._") or "lora"
    return cleaned[:64]
