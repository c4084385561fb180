"""``build_config()``: a folder of images and a few choices into the OneTrainer files of one run.

Everything is decided and validated in memory first (:func:`build_config` returns a
:class:`BuiltConfig` that holds the text of every file); :meth:`BuiltConfig.write` then writes them
atomically. So a mistake in the input is reported before anything is written.

What a run folder gets::

    RUN_DIR/config.json      the whole TrainConfig (concepts and samples inline, or beside it)
    RUN_DIR/concepts.json    with separate_files
    RUN_DIR/samples.json     with separate_files
    RUN_DIR/prompts.txt      the prompts given inline, for prompt_source "concept"
    RUN_DIR/secrets.json     the Hugging Face token, mode 0600, only when one is given
    RUN_DIR/train/<set>/     with validation (the default): the images trained on, hard links
    RUN_DIR/validation/<set>/  the held-out images, OneTrainer's VALIDATION concept (hard links)
    RUN_DIR/workspace/ and RUN_DIR/cache/ are OneTrainer's (created by OneTrainer)

Every path in the files is absolute (OneTrainer resolves relative ones against its own working
directory), and every machine-dependent value (``train_device``, seeds, the embedding uuid) is
written out.
"""

from __future__ import annotations

import copy
import functools
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onelazy._files import atomic_write_text, check_writable, file_in_the_way
from onelazy.dataset import (
    CAPTION_EXTENSION,
    IMAGE_EXTENSIONS,
    SIDECAR_SUFFIXES,
    concept_folders,
    find_images,
)
from onelazy.errors import ConfigError, DatasetError, StorageError, WrongModelFamily
from onelazy.plan import ConceptCount, TrainingPlan, default_steps_per_image, make_plan
from onelazy.run_folder import RunFolder

if TYPE_CHECKING:
    from onelazy.families import Family
    from onelazy.onetrainer import ConceptConfig, SampleConfig, SecretsConfig, TrainConfig

PROMPT_SOURCES = ("concept", "sample", "filename")
#: How many sample prompts are rendered during training, and their seeds.
SAMPLE_COUNT = 3
SAMPLE_SEED = 42
_MISSING_SHOWN = 5
#: The VALIDATION concept's name, which is also its TensorBoard label (``loss/validation_step/<name>``).
VALIDATION_CONCEPT = "validation"


@dataclass(frozen=True)
class ConceptScan:
    """One image folder as found on disk."""

    name: str
    path: Path
    images: tuple[Path, ...]
    sizes: tuple[tuple[int, int], ...]
    prompt_source: str
    recursive: bool


@dataclass
class BuiltConfig:
    """A run's OneTrainer files, decided and validated but not yet written."""

    run_dir: Path
    config: TrainConfig
    concepts: list[ConceptConfig]
    samples: list[SampleConfig]
    secrets: SecretsConfig | None
    plan: TrainingPlan
    files: dict[Path, str]
    """Every file :meth:`write` writes, path → text."""
    notes: list[str] = field(default_factory=list)
    """Things the person should know (a resolution override, the prompt source chosen)."""
    links: dict[Path, dict[Path, Path]] = field(default_factory=dict)
    """Folders :meth:`write` makes afresh, each as link → the dataset file it links (with validation
    on: the training images and the held-out images, with their captions)."""

    @property
    def config_path(self) -> Path:
        return RunFolder(self.run_dir).config

    @property
    def secrets_path(self) -> Path | None:
        return RunFolder(self.run_dir).secrets if self.secrets is not None else None

    def write(self) -> list[Path]:
        """Write every file atomically (``secrets.json`` with mode 0600); the paths written.

        Every target is checked before the first is written, and ``config.json`` is written last,
        so a failure never leaves a config pointing at files that were not written.
        """
        for path in self.files:
            check_writable(path)
        for folder in self.links:
            check_writable(folder / "any")
        order = sorted(self.files, key=lambda path: path == self.config_path)
        written = []
        for folder, links in self.links.items():
            written.append(_write_link_folder(folder, links))
        for path in order:
            mode = 0o600 if path == self.secrets_path else None
            written.append(atomic_write_text(path, self.files[path], mode=mode))
        return written

    def launch_command(self, onetrainer: str | None = None) -> str:
        """The ``onelazy launch`` command that trains this run (``--onetrainer`` when it is known)."""
        parts = ["onelazy", "launch", str(self.config_path)]
        where = onetrainer or os.environ.get("ONETRAINER_DIR")
        if where:
            parts += ["--onetrainer", str(Path(where).expanduser().resolve())]
        if self.secrets_path is not None:
            parts += ["--secrets", str(self.secrets_path)]
        return shlex.join(parts)

    def describe(self) -> list[str]:
        """The plan and the notes, as lines for the person."""
        return [*self.plan.describe(), *self.notes]


def build_config(
    images: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    preset: str,
    base_model: str,
    output: str | os.PathLike[str],
    name: str | None = None,
    prompts: Sequence[str] = (),
    prompt_file: str | os.PathLike[str] | None = None,
    prompt_source: str | None = None,
    steps_per_image: int | None = None,
    total_steps: int | None = None,
    set_values: Sequence[str] = (),
    project_values: Mapping[str, Any] | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    separate_files: bool = False,
    recursive: bool = False,
    train_device: str = "cuda",
    hf_token: str | None = None,
    sample_prompts: Sequence[str] | None = None,
    intermediate_saves: bool = True,
    validation: bool = True,
) -> BuiltConfig:
    """Decide every file of a training run; nothing is written (call :meth:`BuiltConfig.write`).

    ``images`` is one image folder or several (one concept each). Captions come from
    ``prompt_source``: ``"concept"`` (one prompt file, one prompt per line: ``prompts`` given inline
    are written to ``RUN_DIR/prompts.txt``, or ``prompt_file``), ``"sample"`` (a ``.txt`` beside each
    image) or ``"filename"``; by default ``"concept"`` when prompts are given, else ``"sample"``.
    The target is ``steps_per_image`` (default: the family's, 40 for SD 1.5, 100 for SDXL and
    larger) or ``total_steps``. ``hf_token`` defaults to ``$HF_TOKEN``. With ``validation`` (the
    default) some images are held out of training as OneTrainer's VALIDATION concept
    (:mod:`onelazy.heldout`) and validated at every save; too few images to spare them is an error
    that says how many are needed.
    """
    from onelazy.families import family_of_model_type, family_of_preset
    from onelazy.onetrainer import check_train_config, load_train_config, parse_assignment, to_onetrainer_json
    from onelazy.onetrainer.problems import raise_first
    from onelazy.onetrainer.run_config import (
        PLAN_KEYS,
        concept,
        decided_by_folders,
        plan_values,
        run_values,
        secrets_config,
        with_lists,
        without_lists,
    )
    from onelazy.presets import apply_set_values, layered_dict, load_preset

    load_preset(preset)  # an unknown preset is reported before any folder is looked at
    # a base model of another family than the preset, before the images are looked at either
    refuse_wrong_family(family_of_preset(preset), base_model, key="--base-model")
    folders = [images] if isinstance(images, (str, os.PathLike)) else list(images)
    if not folders:
        raise DatasetError("no image folder given")
    for expression in set_values:
        key, _ = parse_assignment(expression)
        if key in PLAN_KEYS:
            raise ConfigError(
                "is decided by the plan",
                file="--set",
                key=key,
                hint="use --steps-per-image or --total-steps to change how long training runs",
            )
        if decided_by_folders(key):
            raise ConfigError(
                "comes from the image folders (one concept each); --set would replace them",
                file="--set",
                key=key,
                hint="give each image folder as an argument",
            )
    output_path = Path(output).expanduser().resolve()
    if output_path.suffix.lower() != ".safetensors":
        raise ConfigError(f"{output_path}: a LoRA file name ends in .safetensors", key="--output")
    blocker = file_in_the_way(output_path)
    if blocker is not None:  # OneTrainer would only fail when it saves, hours later
        raise ConfigError(f"{output_path}: {blocker} is a file, not a folder", key="--output")
    run_name = name or output_path.stem
    if not run_name.strip():
        raise ConfigError("must not be empty", key="--name")
    if run_name in (".", "..") or "/" in run_name or "\\" in run_name:
        raise ConfigError(
            f"{run_name!r} is not a plain name; it names the run folder and the save files, "
            "so it has no / or \\ and is not . or ..",
            key="--name",
        )
    run = Path(run_dir).expanduser().resolve() if run_dir is not None else Path.cwd() / "runs" / run_name
    if run.exists() and not run.is_dir():
        raise ConfigError(f"{run}: exists and is not a folder", key="--run-dir")

    prompt_lines = _prompt_lines(prompts)
    prompt_path = Path(prompt_file).expanduser().resolve() if prompt_file is not None else None
    if prompt_lines and prompt_path is not None:
        raise ConfigError("give prompts inline or as a file, not both", key="--prompt-file")
    if prompt_path is not None:
        prompt_lines = _read_prompt_file(prompt_path)
    source = _choose_prompt_source(prompt_source, has_prompts=bool(prompt_lines))
    if source == "concept" and not prompt_lines:
        raise ConfigError(
            "prompt source 'concept' needs prompts",
            key="--prompt-source",
            hint="give --prompt TEXT or --prompt-file FILE (one prompt per line)",
        )
    if prompt_lines and source != "concept":
        raise ConfigError(
            f"prompts are used only with prompt source 'concept', not {source!r}", key="--prompt-source"
        )

    scans = [
        scan for folder in folders for scan in _scan_folder(Path(folder), source=source, recursive=recursive)
    ]
    names = [scan.name for scan in scans]
    if len(set(names)) != len(names):
        raise DatasetError(f"two image folders share the name {_first_duplicate(names)!r}; rename one")

    # The layers under the run's own values, read once: validated with --set for the plan (which
    # needs the batch size), then the run's values go on top and --set again so that it still wins.
    split = None
    if validation:
        from onelazy.heldout import split_held_out

        split = split_held_out(
            {scan.name: scan.images for scan in scans}, {scan.name: scan.path for scan in scans}
        )
    data = layered_dict(preset, train_device=train_device, project_values=project_values)
    layered = copy.deepcopy(data)
    apply_set_values(layered, set_values)
    config = load_train_config(layered, source=f"preset {preset}", strict=True)
    if family_of_preset(preset) is None:  # a preset of no family: the family of its model type
        refuse_wrong_family(family_of_model_type(config.model_type.value), base_model, key="--base-model")
    info = _model_facts(config)
    if steps_per_image is None and total_steps is None:
        steps_per_image = info.steps_per_image
    trained = {scan.name: split.training[scan.name] if split else scan.images for scan in scans}
    plan = make_plan(
        [ConceptCount(scan.name, len(trained[scan.name])) for scan in scans],
        batch_size=config.batch_size,
        steps_per_image=steps_per_image,
        total_steps=total_steps,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        intermediate_saves=intermediate_saves,
        validation_images=split.count if split else 0,
    )

    notes: list[str] = []
    files: dict[Path, str] = {}
    if source == "concept" and prompt_path is None:
        prompt_path = RunFolder(run).prompts
        files[prompt_path] = "\n".join(prompt_lines) + "\n"
    train_resolution = _largest_side(config.resolution)
    family_label = _family_label(config.model_type.value)
    concepts = []
    checked = []  # the same concepts at the dataset folders: the link folders exist only once written
    links: dict[Path, dict[Path, Path]] = {}
    # (concept name, dataset folder, image sizes, include subfolders, link folder or None)
    groups: list[tuple[str, Path, tuple[tuple[int, int], ...], bool, str | None]] = []
    for scan in scans:
        if split is None:
            groups.append((scan.name, scan.path, scan.sizes, scan.recursive, None))
            continue
        size_of = dict(zip(scan.images, scan.sizes, strict=True))
        folder = RunFolder(run).train / scan.name
        kept = trained[scan.name]
        links.setdefault(RunFolder(run).train, {}).update(_links(scan.path, kept, folder))
        groups.append((scan.name, scan.path, tuple(size_of[i] for i in kept), scan.recursive, str(folder)))
    if split is not None:
        held_sizes: list[tuple[int, int]] = []
        validation_links: dict[Path, Path] = {}
        for scan in scans:
            images = split.held_out.get(scan.name, ())
            size_of = dict(zip(scan.images, scan.sizes, strict=True))
            held_sizes += [size_of[i] for i in images]
            validation_links.update(_links(scan.path, images, RunFolder(run).validation / scan.name))
        links[RunFolder(run).validation] = validation_links
        validation_folder = str(RunFolder(run).validation)
        groups.append((VALIDATION_CONCEPT, scans[0].path, tuple(held_sizes), True, validation_folder))
        notes.append(
            f"Validation: {split.count} images held out of training (the same ones on every run), "
            f"in {run / 'validation'}: {_held_out_listing(split.held_out)}."
        )
    for name, path, sizes, recursive, link_folder in groups:
        # Rendered at another size than the family trains at (SDXL's 1024 px for an SD 1.5 LoRA,
        # Flux's 1024 for its 768 px preset, 512 px images for a 1024 px family): say so, explicitly.
        other = sum(1 for width, height in sizes if min(width, height) != train_resolution)
        override = other * 2 > len(sizes)
        if override:
            notes.append(
                f"Concept {name!r}: {other} of {len(sizes)} images were rendered at another size than "
                f"the {config.resolution} px {family_label} trains at (e.g. {_size(sizes)}); "
                f"resolution override on at {config.resolution}."
            )

        folder_concept = functools.partial(
            concept,
            name=name,
            include_subdirectories=recursive,
            prompt_source=source,
            prompt_path=prompt_path,
            validation=name == VALIDATION_CONCEPT and link_folder is not None,
            resolution_override=config.resolution if override else None,
        )
        checked.append(folder_concept(path=path))
        # the seed is part of OneTrainer's cache key: derived from the folder trained on
        concepts.append(folder_concept(path=link_folder if link_folder is not None else path))
    samples = _samples(
        sample_prompts if sample_prompts is not None else _default_sample_prompts(prompt_lines, scans),
        info.sample_template,
    )

    data.update(plan_values(plan))
    data.update(
        run_values(
            base_model=_base_model(base_model),
            output=output_path,
            workspace=RunFolder(run).workspace,
            cache=RunFolder(run).cache,
            train_device=train_device,
            save_prefix=f"{run_name}-",
            concepts_file=RunFolder(run).concepts,
            samples_file=RunFolder(run).samples,
        )
    )
    source_name = str(RunFolder(run).config)
    check_data = with_lists(data, checked, samples)
    apply_set_values(check_data, set_values)
    raise_first(
        check_train_config(load_train_config(check_data, source=source_name, strict=True), source=source_name)
    )
    data = with_lists(data, concepts, samples)
    apply_set_values(data, set_values)
    final = load_train_config(data, source=source_name, strict=True)
    if separate_files:
        # Checked with the lists inline (the files do not exist yet); written with them beside it.
        final = load_train_config(without_lists(data), source=source_name, strict=True)

    files[RunFolder(run).config] = to_onetrainer_json(final)
    if separate_files:
        files[RunFolder(run).concepts] = to_onetrainer_json(concepts)
        files[RunFolder(run).samples] = to_onetrainer_json(samples)
    token = hf_token if hf_token is not None else os.environ.get("HF_TOKEN", "")
    secrets = None
    if token:
        secrets = secrets_config(token)
        files[RunFolder(run).secrets] = to_onetrainer_json(secrets)
    notes.insert(0, f"Captions: prompt source {source!r}" + _source_detail(source, prompt_path))
    return BuiltConfig(run, final, concepts, samples, secrets, plan, files, notes, links)


# --------------------------------------------------------------------------- the held-out split


def _links(root: Path, images: Sequence[Path], folder: Path) -> dict[Path, Path]:
    """Link → source for ``images`` of the set at ``root`` under ``folder``, with the files
    OneTrainer reads beside each (caption, mask, conditioning image)."""
    links: dict[Path, Path] = {}
    for image in images:
        inside = image.relative_to(root)
        links[folder / inside] = image
        for companion in (
            image.with_suffix(CAPTION_EXTENSION),
            *(image.with_name(image.stem + suffix + ".png") for suffix in SIDECAR_SUFFIXES),
        ):
            if companion.is_file():
                links[folder / inside.with_name(companion.name)] = companion
    return links


def _write_link_folder(folder: Path, links: Mapping[Path, Path]) -> Path:
    """Make ``folder`` afresh from ``links`` (hard links, copies across file systems), built beside
    it and swapped in, so a failure never leaves a half-made folder in its place."""
    import shutil

    partial = folder.with_name(folder.name + ".partial")
    old = folder.with_name(folder.name + ".old")
    try:
        for stale in (partial, old):
            if stale.exists():
                shutil.rmtree(stale)
        partial.mkdir(parents=True)
        for link, source in links.items():
            target = partial / link.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
        if folder.exists():
            folder.rename(old)
        partial.rename(folder)
        if old.exists():
            shutil.rmtree(old)
    except OSError as exc:
        raise StorageError(f"{folder}: cannot write: {exc.strerror or exc}") from None
    return folder


def _held_out_listing(held_out: Mapping[str, Sequence[Path]]) -> str:
    return ", ".join(f"{len(images)} from {name!r}" for name, images in held_out.items())


# --------------------------------------------------------------------------- images and captions


def _scan_folder(folder: Path, *, source: str, recursive: bool) -> list[ConceptScan]:
    """The concepts of one folder given: the folder itself when it holds images (with its
    subfolders when ``recursive``), else each of its set folders (``DATASET/<set>/``, as generate
    writes them)."""
    path = folder.expanduser().resolve()
    if not path.exists():
        raise DatasetError(f"{path}: no such folder")
    if not path.is_dir():
        raise DatasetError(f"{path}: not a folder")
    found = concept_folders(path) if not recursive else [path] if find_images(path, depth=None) else []
    if not found:
        where = "or its subfolders " if recursive else "or the folders directly inside it "
        hint = "" if recursive else " (use --recursive to look deeper)"
        raise DatasetError(
            f"{path}: no images in the folder {where}({', '.join(sorted(IMAGE_EXTENSIONS))}){hint}"
        )
    scans = []
    for concept in found:
        images = [concept / relative for relative in find_images(concept, depth=None if recursive else 0)]
        if source == "sample":
            _check_captions(concept, images)
        sizes = tuple(_image_size(image) for image in images)
        scans.append(ConceptScan(concept.name, concept, tuple(images), sizes, source, recursive))
    return scans


def _check_captions(folder: Path, images: Sequence[Path]) -> None:
    """Every image needs a UTF-8 ``.txt`` caption: OneTrainer trains a missing one on an empty prompt
    without a word, and stops with a traceback at a caption that is not UTF-8."""
    missing: list[Path] = []
    not_utf8: list[Path] = []
    for image in images:
        caption = image.with_suffix(CAPTION_EXTENSION)
        try:
            caption.read_bytes().decode("utf-8")
        except FileNotFoundError:
            missing.append(caption)
        except UnicodeDecodeError:
            not_utf8.append(caption)
        except OSError as exc:
            raise DatasetError(f"{caption}: cannot read: {exc.strerror or exc}") from None
    if missing:
        other = "; or give --prompt/--prompt-file for one prompt file" if len(missing) == len(images) else ""
        raise DatasetError(
            f"{folder}: prompt source 'sample' needs a .txt caption beside every image; "
            f"{len(missing)} of {len(images)} missing: {_listing(folder, missing)}{other}"
        )
    if not_utf8:
        raise DatasetError(
            f"{folder}: captions must be UTF-8 text (OneTrainer stops at the first other one); "
            f"{len(not_utf8)} are not: {_listing(folder, not_utf8)}"
        )


def _listing(folder: Path, paths: Sequence[Path]) -> str:
    shown = ", ".join(str(path.relative_to(folder)) for path in paths[:_MISSING_SHOWN])
    more = f" and {len(paths) - _MISSING_SHOWN} more" if len(paths) > _MISSING_SHOWN else ""
    return shown + more


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, UnidentifiedImageError) as exc:
        raise DatasetError(f"{path}: not a readable image ({exc})") from None
    return int(width), int(height)


def _prompt_lines(prompts: Sequence[str]) -> list[str]:
    lines: list[str] = []
    for prompt in prompts:
        lines.extend(line.strip() for line in prompt.splitlines() if line.strip())
    return lines


def _read_prompt_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", key="--prompt-file") from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path}: not UTF-8 text (OneTrainer reads prompts as UTF-8)", key="--prompt-file"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}", key="--prompt-file") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ConfigError(f"{path}: has no prompt (one prompt per line)", key="--prompt-file")
    return lines


def _choose_prompt_source(given: str | None, *, has_prompts: bool) -> str:
    if given is None:
        return "concept" if has_prompts else "sample"
    if given not in PROMPT_SOURCES:
        raise ConfigError(
            f"{given!r} is not a prompt source",
            key="--prompt-source",
            allowed=PROMPT_SOURCES,
            hint=f"one of {', '.join(PROMPT_SOURCES)}",
        )
    return given


def _source_detail(source: str, prompt_path: Path | None) -> str:
    if source == "concept":
        return f" (a random line of {prompt_path} for every image)."
    if source == "sample":
        return " (the .txt file beside each image)."
    return " (each image's file name)."


def _default_sample_prompts(prompt_lines: Sequence[str], scans: Sequence[ConceptScan]) -> list[str]:
    """The first few prompts the run trains on: concept prompts, else captions, else file names."""
    if prompt_lines:
        return list(prompt_lines[:SAMPLE_COUNT])
    chosen: list[str] = []
    for scan in scans:
        for image in scan.images:
            if len(chosen) == SAMPLE_COUNT:
                return chosen
            if scan.prompt_source == "sample":
                text = (
                    image.with_suffix(CAPTION_EXTENSION).read_text(encoding="utf-8", errors="replace").strip()
                )
                line = next((row.strip() for row in text.splitlines() if row.strip()), "")
            else:
                line = image.stem
            if line and line not in chosen:
                chosen.append(line)
    return chosen


def _samples(prompts: Sequence[str], template: SampleConfig) -> list[SampleConfig]:
    from onelazy.onetrainer.run_config import sample

    return [sample(template, prompt=prompt, seed=SAMPLE_SEED + index) for index, prompt in enumerate(prompts)]


# --------------------------------------------------------------------------- small helpers


@dataclass(frozen=True)
class _ModelFacts:
    steps_per_image: int
    """The family's default target."""
    sample_template: SampleConfig


def _model_facts(config: TrainConfig) -> _ModelFacts:
    """What the plan and the samples need to know about the model being trained."""
    from onelazy.families import family_of_model_type
    from onelazy.onetrainer import default_sample_config, model_type_info

    info = model_type_info(config.model_type)
    owner = family_of_model_type(config.model_type.value)
    # Each family has its own default; a model type of no family: 40 for SD 1.x/2.x, else SDXL's 100.
    steps = owner.steps_per_image if owner else default_steps_per_image(not (info.is_sd1x or info.is_sd2x))
    return _ModelFacts(steps, default_sample_config(config.model_type))


def refuse_wrong_family(owner: Family | None, base_model: str, *, key: str, file: str | None = None) -> None:
    """Raise :class:`WrongModelFamily` when ``base_model`` is of another family than ``owner``.

    Only what can be told without loading the model counts (see :func:`onelazy.families.detect_family`);
    a base model of unknown family passes.
    """
    from onelazy.families import check_base_model

    if owner is None:
        return
    problem = check_base_model(owner, base_model)
    if problem is not None:
        raise WrongModelFamily(problem, key=key, file=file)


def _family_label(model_type: str) -> str:
    from onelazy.families import family_of_model_type

    owner = family_of_model_type(model_type)
    return owner.label if owner else "this model"


def _largest_side(resolution: str) -> int:
    numbers = [int(part) for part in resolution.replace("x", ",").split(",") if part.strip().isdigit()]
    return max(numbers) if numbers else 0


def _size(sizes: Sequence[tuple[int, int]]) -> str:
    width, height = max(sizes, key=lambda size: size[0] * size[1])
    return f"{width}\N{MULTIPLICATION SIGN}{height}"


def _base_model(value: str) -> str:
    """A local model path made absolute; a Hugging Face repo id as given."""
    text = value.strip()
    if not text:
        raise ConfigError("must name a model (a Hugging Face repo id or a local path)", key="--base-model")
    local = Path(text).expanduser()
    if local.exists():
        return str(local.resolve())
    return text


def _first_duplicate(names: Sequence[str]) -> str:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return ""
