"""``generate()``: prompt sets into training images through SwarmUI or ComfyUI.

Each set renders ``count`` images with seeds ``seed + index``, into ``DATASET/<set>/NNNN.<ext>``
with a caption beside each (or one prompt file per set), and one line per image in
``DATASET/manifest.jsonl``. Rerunning asks for exactly the same images and skips every one
already in the manifest with a matching file and hash, so a crash, Ctrl+C or a backend restart
loses nothing and duplicates nothing, and ``count`` can be raised later.

Every image is written in the same order: caption (temporary name, fsync, rename), image
(temporary name, fsync, rename), then the manifest line (append, fsync). A crash between any two
steps leaves no partial file; the image is made again on the next run.

Work is pipelined: each backend URL gets several requests in flight, so the server always has
the next job queued while finished images download and are written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from onelazy._files import atomic_write_bytes, atomic_write_text, file_in_the_way, sha256_file
from onelazy._manifest import MANIFEST_NAME, STALE_REASON, read_manifest
from onelazy.backends import (
    Backend,
    GeneratedImage,
    GenerationRequest,
    RetryPolicy,
    open_backend,
    require_ready,
)
from onelazy.errors import (
    BackendError,
    BackendRejected,
    BackendUnreachable,
    DatasetError,
    ProjectFileError,
    StorageError,
    UsageError,
)

__all__ = [
    "GenerateConfig",
    "GenerateProgress",
    "GenerateSummary",
    "LoraWeight",
    "PromptSet",
    "generate",
    "load_generate_config",
    "plan_seeds",
]

_T = TypeVar("_T")
_I = TypeVar("_I")

LOCK_NAME = ".generate.lock"
SET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: how many requests each URL gets at once, by backend kind: ComfyUI renders one at a time, so two
#: more queued hide the download and the next submit; SwarmUI may fan out over several GPUs.
DEFAULT_IN_FLIGHT = {"comfyui": 3, "swarmui": 4}
#: tries per image before it counts as failed in this run (a rerun tries again)
ATTEMPTS_PER_IMAGE = 3


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


class _RenderSettings(_Strict):
    """Settings a prompt set may override; None means "use the shared value"."""

    model: str | None = None
    width: int | None = Field(default=None, ge=64, le=16384, multiple_of=8)
    height: int | None = Field(default=None, ge=64, le=16384, multiple_of=8)
    steps: int | None = Field(default=None, ge=1, le=500)
    cfg: float | None = Field(default=None, ge=0, le=100)
    sampler: str | None = None
    scheduler: str | None = None
    seed: int | None = Field(default=None, ge=0, le=2**63)
    loras: list[LoraWeight] | None = None


class PromptSet(_RenderSettings):
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

    backend: Literal["swarmui", "comfyui"]
    urls: list[str] = Field(min_length=1)
    model: str = Field(min_length=1)
    width: int = Field(default=512, ge=64, le=16384, multiple_of=8)
    height: int = Field(default=512, ge=64, le=16384, multiple_of=8)
    steps: int = Field(default=20, ge=1, le=500)
    cfg: float = Field(default=7.0, ge=0, le=100)
    sampler: str | None = None
    scheduler: str | None = None
    seed: int = Field(default=0, ge=0, le=2**63)
    loras: list[LoraWeight] = Field(default_factory=list)
    batch: int = Field(default=1, ge=1, le=64)
    captions: Literal["image", "set", "none"] = "image"
    in_flight: int | None = Field(default=None, ge=1, le=64)
    dataset: str | None = None
    sets: list[PromptSet] = Field(min_length=1)

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
        from onelazy.backends._http import normalize_url

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
    error = exc.errors()[0]
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


# =============================================================================== planning


@dataclass(frozen=True)
class _Unit:
    """One backend job: ``size`` images of one set from ``first`` on, of which ``missing`` are wanted."""

    set_name: str
    first: int
    size: int
    missing: tuple[int, ...]
    request: GenerationRequest
    attempts: int = 0


@dataclass(frozen=True)
class _SetPlan:
    spec: PromptSet
    caption: str
    base_seed: int
    request: GenerationRequest  # seed and batch filled per unit


def _plan_set(config: GenerateConfig, spec: PromptSet) -> _SetPlan:
    def pick(name: str) -> Any:
        value = getattr(spec, name)
        return getattr(config, name) if value is None else value

    loras = spec.loras if spec.loras is not None else config.loras
    request = GenerationRequest(
        prompt=spec.prompt,
        negative_prompt=spec.negative,
        model=pick("model"),
        width=pick("width"),
        height=pick("height"),
        steps=pick("steps"),
        cfg=pick("cfg"),
        sampler=pick("sampler"),
        scheduler=pick("scheduler"),
        loras=tuple((lora.name, lora.weight) for lora in loras),
    )
    return _SetPlan(spec=spec, caption=spec.caption or spec.prompt, base_seed=pick("seed"), request=request)


def plan_seeds(base_seed: int, count: int, batch: int = 1) -> list[tuple[int, int, int]]:
    """``(first index, batch size, job seed)`` of every job of a set: seed + first index, so image
    *i* of an unbatched set always has seed ``base_seed + i``."""
    return [(first, min(batch, count - first), base_seed + first) for first in range(0, count, batch)]


# =============================================================================== the manifest


def _sha256(path: Path) -> str | None:
    """The file's hash, or None when it cannot be read (then its manifest line is dropped)."""
    try:
        return sha256_file(path)
    except StorageError:
        return None


def _read_manifest(
    dataset: Path,
) -> tuple[dict[tuple[str, int], dict[str, Any]], list[dict[str, Any]], bool]:
    """Valid entries by (set, index), the lines of images ``replace_stale`` moved aside (records
    only: their index was made again), and whether the file needs rewriting (a torn last line,
    duplicates, or entries whose image is gone or changed)."""
    manifest = read_manifest(dataset / MANIFEST_NAME)
    if manifest is None:
        return {}, [], False
    entries: dict[tuple[str, int], dict[str, Any]] = {}
    replaced: list[dict[str, Any]] = []
    # bytes after the last newline are a torn append: dropped, the image is made again
    rewrite = manifest.unterminated
    for line in manifest.lines:
        entry = line.entry
        if entry is None:  # not a JSON object
            rewrite = True
            continue
        try:
            key = (str(entry["set"]), int(entry["index"]))
            file, digest = str(entry["file"]), str(entry["sha256"])
        except (ValueError, KeyError, TypeError):
            rewrite = True
            continue
        image = dataset / file
        # ``file`` may point under .rejected/ (cull moves files and updates their lines): any place
        # inside the dataset with the recorded hash counts as done.
        if Path(file).is_absolute() or ".." in Path(file).parts or _sha256(image) != digest:
            rewrite = True
            continue
        if entry.get("rejected") == STALE_REASON:
            replaced.append(entry)
            continue
        if key in entries:
            rewrite = True
        entries[key] = entry
    return entries, replaced, rewrite


def _rewrite_manifest(
    dataset: Path, entries: Mapping[tuple[str, int], dict[str, Any]], replaced: Sequence[dict[str, Any]]
) -> None:
    lines = "".join(json.dumps(entry, ensure_ascii=False) + "\n" for entry in [*replaced, *entries.values()])
    atomic_write_text(dataset / MANIFEST_NAME, lines)


def _remove_stale_temporaries(folder: Path) -> None:
    """Temporary files a killed run left behind (``.NAME.xxxx.tmp``); complete files are never touched."""
    if not folder.is_dir():
        return
    for leftover in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


class _ManifestWriter:
    """Appends one line per image and fsyncs it, so a line is either whole or torn at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None  # opened at the first line: a run that saves nothing makes no file

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StorageError(f"{self.path}: cannot open: {exc.strerror or exc}") from None
        return self._fd

    def append(self, entry: Mapping[str, Any]) -> None:
        data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        fd = self._open()
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
            os.fsync(fd)
        except OSError as exc:
            raise StorageError(
                f"{self.path}: cannot append: {getattr(exc, 'strerror', None) or exc}"
            ) from None

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


# =============================================================================== progress


@dataclass(frozen=True)
class GenerateProgress:
    """Where a run stands: images made / to make in this run, failed tries, rate and ETA."""

    done: int
    total: int
    skipped: int
    failures: int
    elapsed: float
    last_file: str | None = None

    @property
    def per_minute(self) -> float:
        return self.done / self.elapsed * 60 if self.elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        if self.done == 0:
            return None
        return (self.total - self.done) * self.elapsed / self.done


@dataclass(frozen=True)
class GenerateSummary:
    """What a run did. ``made`` + ``skipped`` is the dataset's image count when nothing failed.

    ``stale`` counts skipped images (not culled ones) the manifest says were made with other settings
    (prompt, negative, model, size, steps, cfg, LoRAs or seed) than the set has now: they are kept, not
    remade, unless ``replace_stale`` was given. ``replaced`` counts the images that option moved to
    ``.rejected/stale/`` (with their captions) so their indexes were rendered again.
    """

    dataset: Path
    made: int
    skipped: int
    failures: int
    elapsed: float
    per_backend: dict[str, int] = field(default_factory=dict)
    stale: int = 0
    replaced: int = 0

    @property
    def per_minute(self) -> float:
        return self.made / self.elapsed * 60 if self.elapsed > 0 else 0.0

    def notes(self) -> list[str]:
        """What a person should know beyond the counts: images moved aside, or stale ones kept."""
        lines = []
        if self.replaced:
            lines.append(
                f"Replaced {_images(self.replaced)} made with other settings than their set has now "
                f"(moved to {self.dataset / '.rejected' / STALE_REASON}, nothing deleted)."
            )
        if self.stale:
            lines.append(
                f"Note: {self.stale} of the images already there were made with other settings than the "
                "sets have now (kept, not remade); generate --replace-stale moves them aside and "
                "makes them again."
            )
        return lines


def _images(count: int) -> str:
    return f"{count} image" + ("" if count == 1 else "s")


# =============================================================================== the run


@dataclass
class _Result:
    kind: Literal["done", "failed", "down", "fatal"]
    unit: _Unit | None = None
    images: list[GeneratedImage] = field(default_factory=list)
    error: BaseException | None = None
    url: str = ""


def _worker(
    backend: Backend, jobs: queue.Queue[_Unit | None], results: queue.Queue[_Result], stop: threading.Event
) -> None:
    """Take jobs until told to stop; each worker keeps one request in flight on its backend."""
    while not stop.is_set():
        unit = jobs.get()
        if unit is None or stop.is_set():
            return
        try:
            images = backend.generate(unit.request)
        except BackendRejected as exc:
            results.put(_Result("fatal", unit, error=exc, url=backend.url))
            return
        except BackendUnreachable as exc:
            results.put(_Result("down", unit, error=exc, url=backend.url))
            return
        except BackendError as exc:
            results.put(_Result("failed", unit, error=exc, url=backend.url))
        except Exception as exc:  # a bug must stop the run, not hang it
            results.put(_Result("fatal", unit, error=exc, url=backend.url))
            return
        else:
            results.put(_Result("done", unit, images=images, url=backend.url))


def generate(
    config: GenerateConfig | str | os.PathLike[str],
    dataset: str | os.PathLike[str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    on_progress: Callable[[GenerateProgress], None] | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = 600.0,
    override_names: Mapping[str, str] | None = None,
    replace_stale: bool = False,
) -> GenerateSummary:
    """Render every prompt set into ``dataset`` (default: the config's ``dataset``, else ``./dataset``).

    ``config`` is a :class:`GenerateConfig` or the path of a YAML file with a ``generate:`` section.
    ``override_names`` says how each of ``overrides`` was given (``{"width": "--width"}``), for errors.
    Images already in the manifest with a matching file are skipped; with ``replace_stale`` the ones
    made with other settings than their set has now are moved to ``.rejected/stale/`` (nothing is
    deleted) and made again. Raises a
    :class:`~onelazy.errors.BackendError` when images failed (after the others were saved), and
    lets ``KeyboardInterrupt`` through after cancelling this run's queued work on every backend.
    """
    if not isinstance(config, GenerateConfig):
        config = load_generate_config(config, overrides, override_names=override_names)
    elif overrides:
        config = config_from_mapping(
            {**config.model_dump(), **_expand_overrides(config, overrides)},
            source="overrides",
            names=override_names,
        )
    folder = Path(dataset if dataset is not None else (config.dataset or "dataset"))
    plans = {spec.name: _plan_set(config, spec) for spec in config.sets}
    missing = [folder, *folder.parents]
    created = missing[: next((i for i, path in enumerate(missing) if path.exists()), len(missing))]
    blocker = folder if folder.exists() and not folder.is_dir() else file_in_the_way(folder)
    if blocker is not None:
        raise DatasetError(f"{folder}: cannot create the dataset folder: {blocker} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot create the dataset folder: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK):
        raise DatasetError(f"{folder}: the dataset folder is not writable")
    for name in plans:  # found now, not after the first images were rendered for nothing
        if (folder / name).exists() and not (folder / name).is_dir():
            raise DatasetError(
                f"{folder / name}: is a file where set {name!r} keeps its images; move it or rename the set"
            )

    try:
        with _dataset_lock(folder):
            return _generate_locked(config, folder, plans, on_progress, retry, timeout, replace_stale)
    except BaseException:
        if created:
            _remove_if_still_empty(created, {LOCK_NAME, *(f"{name}.prompt.txt" for name in plans)})
        raise


def _remove_if_still_empty(created: Sequence[Path], own_files: set[str]) -> None:
    """Take back the folders this run created when it failed before saving an image in them
    (an unreachable server, an unknown model): a failed first run leaves nothing behind.
    ``own_files`` (the lock, per-set prompt files) are what the run writes before any image."""
    with contextlib.suppress(OSError):
        names = {entry.name for entry in os.scandir(created[0])}
        if names <= own_files:
            for name in names:
                (created[0] / name).unlink(missing_ok=True)
    for path in created:  # deepest first; rmdir refuses a folder with anything in it
        try:
            path.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def _dataset_lock(folder: Path) -> Iterator[None]:
    """Only one ``generate`` writes to a dataset at a time (two would append the same indexes)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; one run at a time is up to the person
        yield
        return
    path = folder / LOCK_NAME
    try:
        handle = path.open("a+")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise DatasetError(
                f"{folder}: another onelazy generate (pid {holder}) is writing to this dataset"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _generate_locked(
    config: GenerateConfig,
    folder: Path,
    plans: Mapping[str, _SetPlan],
    on_progress: Callable[[GenerateProgress], None] | None,
    retry: RetryPolicy | None,
    timeout: float,
    replace_stale: bool = False,
) -> GenerateSummary:
    existing, replaced_lines, rewrite = _read_manifest(folder)
    if rewrite:
        _rewrite_manifest(folder, existing, replaced_lines)
    replaced = 0
    if replace_stale:
        moved = _move_stale_aside(folder, config, plans, existing)
        for key in moved:
            del existing[key]
        replaced = len(moved)
    units = list(_missing_units(config, plans, existing))
    for name in plans:
        _remove_stale_temporaries(folder / name)
    _write_set_prompt_files(folder, config, plans)
    kept = [
        (key, entry)
        for key, entry in existing.items()
        if key[0] in plans and key[1] < plans[key[0]].spec.count
    ]
    skipped = len(kept)
    # images cull moved under .rejected/ are not trained on, and --replace-stale leaves them be
    stale = sum(
        1
        for (name, index), entry in kept
        if "rejected" not in entry and not _made_as_planned(entry, plans[name], index, config)
    )
    total = sum(len(unit.missing) for unit in units)
    started = time.monotonic()
    if on_progress:
        on_progress(GenerateProgress(done=0, total=total, skipped=skipped, failures=0, elapsed=0.0))
    if not units:
        return GenerateSummary(
            dataset=folder, made=0, skipped=skipped, failures=0, elapsed=0.0, stale=stale, replaced=replaced
        )

    _each(list(config.urls), lambda url: require_ready(config.backend, url))
    backends: list[Backend] = [
        open_backend(config.backend, url, retry=retry, timeout=timeout) for url in config.urls
    ]
    writer: _ManifestWriter | None = None
    stop = threading.Event()
    try:
        writer = _ManifestWriter(folder / MANIFEST_NAME)
        summary = _run(
            config, folder, plans, units, backends, writer, stop, skipped, total, started, on_progress
        )
        return dataclasses.replace(summary, stale=stale, replaced=replaced)
    except BaseException:
        # Ctrl+C or a fatal error: take this run's queued and running work off every server.
        stop.set()
        with contextlib.suppress(Exception):
            _each(backends, lambda backend: backend.interrupt())
        raise
    finally:
        stop.set()
        _each(backends, lambda backend: backend.close())
        if writer is not None:
            writer.close()


def _move_stale_aside(
    folder: Path,
    config: GenerateConfig,
    plans: Mapping[str, _SetPlan],
    existing: Mapping[tuple[str, int], Any],
) -> list[tuple[str, int]]:
    """Move every image made with other settings than its set asks for now (and its caption) to
    ``.rejected/stale/<its path>`` and point its manifest line there, as cull does with a reject:
    nothing is deleted, and its index is made again. All moves or none. Images cull already moved
    under ``.rejected/`` stay where they are (cull's undo puts them back), so they are not remade."""
    from onelazy.culling._store import (
        REJECTED_DIR,
        MoveBatch,
        move_with_companions,
        rejected_target,
        remove_empty_dirs,
        update_manifest,
    )

    stale = [
        (key, entry)
        for key, entry in existing.items()
        if key[0] in plans
        and key[1] < plans[key[0]].spec.count
        and "rejected" not in entry
        and not _made_as_planned(entry, plans[key[0]], key[1], config)
    ]
    if not stale:
        return []
    batch = MoveBatch(folder)
    taken: set[str] = set()
    moves: dict[str, dict[str, Any]] = {}
    try:
        for _key, entry in stale:
            file = Path(entry["file"]).as_posix()
            caption = entry.get("caption_file")
            # only the image's own caption (same stem): a set's shared prompt file stays
            companions = (
                [Path(caption).as_posix()]
                if isinstance(caption, str) and Path(caption).with_suffix("") == Path(file).with_suffix("")
                else []
            )
            target = rejected_target(folder, STALE_REASON, file, taken)
            moved = move_with_companions(batch, file, target, companions)
            moves[file] = {"reason": STALE_REASON, "to": target, "companions": moved}
        update_manifest(folder, moves, restored=())
    except BaseException:
        batch.rollback()
        remove_empty_dirs(folder / REJECTED_DIR)
        raise
    return [key for key, _entry in stale]


def _made_as_planned(entry: Mapping[str, Any], plan: _SetPlan, index: int, config: GenerateConfig) -> bool:
    """Does a manifest line record the settings the set asks for now?"""
    request = plan.request
    try:
        same = (
            entry["prompt"] == request.prompt
            and entry["negative"] == request.negative_prompt
            and entry["model"] == request.model
            and (entry["width"], entry["height"], entry["steps"])
            == (request.width, request.height, request.steps)
            and float(entry["cfg"]) == request.cfg
            and [tuple(lora) for lora in entry["loras"]] == [tuple(lora) for lora in request.loras]
        )
        if entry.get("batch") is None and config.batch == 1:
            same = same and entry["seed"] == plan.base_seed + index
    except (KeyError, TypeError, ValueError):
        return False
    return bool(same)


def _each(items: Sequence[_I], call: Callable[[_I], _T]) -> list[_T]:
    """``call`` on every item at once (health checks and shutdown should not add up per URL)."""
    if len(items) == 1:
        return [call(items[0])]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(call, items))


def _expand_overrides(config: GenerateConfig, overrides: Mapping[str, Any]) -> dict[str, Any]:
    expanded = {key: value for key, value in overrides.items() if key != "count"}
    if "count" in overrides:
        expanded["sets"] = [{**s.model_dump(), "count": overrides["count"]} for s in config.sets]
    return expanded


def _missing_units(
    config: GenerateConfig, plans: Mapping[str, _SetPlan], existing: Mapping[tuple[str, int], Any]
) -> Iterator[_Unit]:
    for name, plan in plans.items():
        for first, size, seed in plan_seeds(plan.base_seed, plan.spec.count, config.batch):
            missing = tuple(i for i in range(first, first + size) if (name, i) not in existing)
            if missing:
                request = dataclasses.replace(plan.request, seed=seed, batch_size=size, images=1)
                yield _Unit(set_name=name, first=first, size=size, missing=missing, request=request)


def _write_set_prompt_files(folder: Path, config: GenerateConfig, plans: Mapping[str, _SetPlan]) -> None:
    """One prompt file per set for OneTrainer's ``concept`` prompt source, when asked for."""
    if config.captions != "set":
        return
    for name, plan in plans.items():
        path = folder / f"{name}.prompt.txt"
        text = plan.caption + "\n"
        with contextlib.suppress(OSError, UnicodeDecodeError):  # unreadable: rewritten below
            if path.read_text(encoding="utf-8") == text:
                continue
        atomic_write_text(path, text)


def _run(
    config: GenerateConfig,
    folder: Path,
    plans: Mapping[str, _SetPlan],
    units: list[_Unit],
    backends: list[Backend],
    writer: _ManifestWriter,
    stop: threading.Event,
    skipped: int,
    total: int,
    started: float,
    on_progress: Callable[[GenerateProgress], None] | None,
) -> GenerateSummary:
    jobs: queue.Queue[_Unit | None] = queue.Queue()
    results: queue.Queue[_Result] = queue.Queue()
    for unit in units:
        jobs.put(unit)
    depth = config.in_flight or DEFAULT_IN_FLIGHT[config.backend]
    live_workers: dict[str, int] = {}
    for backend in backends:
        live_workers[backend.url] = depth
        for number in range(depth):
            threading.Thread(
                target=_worker,
                args=(backend, jobs, results, stop),
                daemon=True,
                name=f"generate {backend.url} #{number}",
            ).start()
    try:
        return _collect(
            config,
            folder,
            plans,
            units,
            backends,
            writer,
            jobs,
            results,
            skipped,
            total,
            started,
            on_progress,
            live_workers,
        )
    finally:
        stop.set()
        for _ in range(depth * len(backends)):
            jobs.put(None)


def _collect(
    config: GenerateConfig,
    folder: Path,
    plans: Mapping[str, _SetPlan],
    units: list[_Unit],
    backends: list[Backend],
    writer: _ManifestWriter,
    jobs: queue.Queue[_Unit | None],
    results: queue.Queue[_Result],
    skipped: int,
    total: int,
    started: float,
    on_progress: Callable[[GenerateProgress], None] | None,
    live_workers: dict[str, int],
) -> GenerateSummary:
    """Write results as they arrive (only this thread writes), requeue failures, report progress."""
    outstanding = len(units)
    done = failures = given_up = 0
    last_file: str | None = None
    per_backend: dict[str, int] = {backend.url: 0 for backend in backends}
    last_error: BaseException | None = None
    down: dict[str, BaseException] = {}
    while outstanding:
        try:
            result = results.get(timeout=0.5)
        except queue.Empty:
            continue
        unit = result.unit
        assert unit is not None
        if result.kind == "done":
            for image in result.images:
                index = unit.first + image.index
                if index in unit.missing:
                    _save(folder, config, plans[unit.set_name], index, image, unit.size, writer)
                    done += 1
                    per_backend[result.url] = per_backend.get(result.url, 0) + 1
                    if on_progress and len(result.images) > 1:
                        # each saved image reported at once, so a Ctrl+C mid-batch counts it
                        on_progress(
                            GenerateProgress(
                                done=done,
                                total=total,
                                skipped=skipped,
                                failures=failures,
                                elapsed=time.monotonic() - started,
                            )
                        )
            outstanding -= 1
            last_file = f"{unit.set_name}/{unit.first:04d}.{result.images[0].extension}"
        elif result.kind == "fatal":
            assert result.error is not None
            raise result.error
        else:
            failures += 1
            last_error = result.error
            last_file = None
            if result.kind == "down":
                live_workers[result.url] -= 1
                down[result.url] = result.error or BackendError("down", url=result.url)
                if not any(live_workers.values()):
                    raise BackendUnreachable(
                        f"every backend failed; {done} images made this run, rerun to continue: {last_error}"
                    )
            if unit.attempts + 1 < ATTEMPTS_PER_IMAGE or result.kind == "down":
                jobs.put(dataclasses.replace(unit, attempts=unit.attempts + 1))
            else:
                outstanding -= 1
                given_up += len(unit.missing)
        if on_progress:
            on_progress(
                GenerateProgress(
                    done=done,
                    total=total,
                    skipped=skipped,
                    failures=failures,
                    elapsed=time.monotonic() - started,
                    last_file=last_file,
                )
            )
    elapsed = time.monotonic() - started
    if given_up:
        raise BackendError(
            f"{given_up} of {total} images could not be made (last error: {last_error}); "
            f"{done} were saved, rerun the same command to retry the rest"
        )
    return GenerateSummary(
        dataset=folder,
        made=done,
        skipped=skipped,
        failures=failures,
        elapsed=elapsed,
        per_backend=per_backend,
    )


def _save(
    folder: Path,
    config: GenerateConfig,
    plan: _SetPlan,
    index: int,
    image: GeneratedImage,
    batch_size: int,
    writer: _ManifestWriter,
) -> None:
    """Caption, then image, then the manifest line; each step complete before the next."""
    set_folder = folder / plan.spec.name
    stem = f"{index:04d}"
    caption_file = None
    if config.captions == "image":
        caption_file = f"{plan.spec.name}/{stem}.txt"
        atomic_write_text(folder / caption_file, plan.caption + "\n")
    image_file = f"{plan.spec.name}/{stem}.{image.extension}"
    atomic_write_bytes(set_folder / f"{stem}.{image.extension}", image.data)
    request = plan.request
    writer.append(
        {
            "set": plan.spec.name,
            "index": index,
            "file": image_file,
            "caption_file": caption_file,
            "prompt": request.prompt,
            "negative": request.negative_prompt,
            "caption": plan.caption,
            "seed": image.seed,
            "batch": {"size": batch_size, "index": image.batch_index} if config.batch > 1 else None,
            "model": request.model,
            "width": request.width,
            "height": request.height,
            "steps": request.steps,
            "cfg": request.cfg,
            "sampler": request.sampler,
            "scheduler": request.scheduler,
            "loras": [list(lora) for lora in request.loras],
            "backend": config.backend,
            "url": image.backend_url,
            "elapsed": round(image.elapsed, 3),
            "sha256": hashlib.sha256(image.data).hexdigest(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )
