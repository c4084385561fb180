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
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

from onelazy._files import atomic_write_bytes, atomic_write_text, file_in_the_way
from onelazy.backends import (
    KIND_FACTS,
    Backend,
    GeneratedImage,
    GenerationRequest,
    RetryPolicy,
    names_match,
    open_backend,
    require_ready,
)
from onelazy.dataset.manifest import (
    MANIFEST_NAME,
    STALE_REASON,
    ManifestEntry,
    ManifestWriter,
    read_made,
    remove_stale_temporaries,
    rewrite_manifest,
    update_manifest,
)
from onelazy.errors import (
    BackendError,
    BackendRejected,
    BackendUnreachable,
    DatasetError,
)
from onelazy.generation.settings import GenerateConfig, PromptSet, config_from_mapping, load_generate_config

_T = TypeVar("_T")
_I = TypeVar("_I")

LOCK_NAME = ".generate.lock"
#: tries per image before it counts as failed in this run (a rerun tries again)
ATTEMPTS_PER_IMAGE = 3


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
    render = config.set_render(spec)
    request = GenerationRequest.rendering(render, prompt=spec.prompt, negative_prompt=spec.negative)
    return _SetPlan(spec=spec, caption=spec.caption or spec.prompt, base_seed=render.seed, request=request)


def plan_seeds(base_seed: int, count: int, batch: int = 1) -> list[tuple[int, int, int]]:
    """``(first index, batch size, job seed)`` of every job of a set: seed + first index, so image
    *i* of an unbatched set always has seed ``base_seed + i``."""
    return [(first, min(batch, count - first), base_seed + first) for first in range(0, count, batch)]


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
    retried: int = 0
    """Images the backend had to render again (a restart forgot the job, a dropped connection)."""
    retry: str | None = None
    """Set on the update that follows such an image: which one, where and why, to show at once."""

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
    retried: dict[str, int] = field(default_factory=dict)
    """Images rendered again by the backend, by what happened (``URL: reason``); they are made."""

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
        for why, count in self.retried.items():
            lines.append(
                f"Rendered {_images(count)} again that the backend lost ({why}); "
                "they are in the dataset, none is missing."
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
    existing, replaced_lines, rewrite = read_made(folder)
    if rewrite:
        rewrite_manifest(folder, existing, replaced_lines)
    replaced = 0
    if replace_stale:
        moved = _move_stale_aside(folder, config, plans, existing)
        for key in moved:
            del existing[key]
        replaced = len(moved)
    units = list(_missing_units(config, plans, existing))
    for name in plans:
        remove_stale_temporaries(folder / name)
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
        if entry.rejected is None and not _made_as_planned(entry.data, plans[name], index, config)
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
    writer: ManifestWriter | None = None
    stop = threading.Event()
    try:
        writer = ManifestWriter(folder / MANIFEST_NAME)
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
    existing: Mapping[tuple[str, int], ManifestEntry],
) -> list[tuple[str, int]]:
    """Move every image made with other settings than its set asks for now (and its caption) to
    ``.rejected/stale/<its path>`` and point its manifest line there, as cull does with a reject:
    nothing is deleted, and its index is made again. All moves or none. Images cull already moved
    under ``.rejected/`` stay where they are (cull's undo puts them back), so they are not remade."""
    from onelazy.culling._store import (
        MoveBatch,
        move_with_companions,
        rejected_target,
        remove_empty_dirs,
    )
    from onelazy.dataset.cull_report import REJECTED_DIR

    stale = [
        (key, entry)
        for key, entry in existing.items()
        if key[0] in plans
        and key[1] < plans[key[0]].spec.count
        and entry.rejected is None
        and not _made_as_planned(entry.data, plans[key[0]], key[1], config)
    ]
    if not stale:
        return []
    batch = MoveBatch(folder)
    taken: set[str] = set()
    moves: dict[str, dict[str, Any]] = {}
    try:
        for _key, entry in stale:
            file = Path(entry.file).as_posix()
            caption = entry.data.get("caption_file")
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
            and names_match(config.backend, entry["model"], request.model)
            and (entry["width"], entry["height"], entry["steps"])
            == (request.width, request.height, request.steps)
            and float(entry["cfg"]) == request.cfg
            and len(entry["loras"]) == len(request.loras)
            and all(
                names_match(config.backend, name, asked) and float(weight) == asked_weight
                for (name, weight), (asked, asked_weight) in zip(entry["loras"], request.loras, strict=False)
            )
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
    writer: ManifestWriter,
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
    depth = config.in_flight or KIND_FACTS[config.backend].in_flight
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
    writer: ManifestWriter,
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
    retried: dict[str, int] = {}
    retry: str | None = None
    last_file: str | None = None
    per_backend: dict[str, int] = {backend.url: 0 for backend in backends}
    last_error: BaseException | None = None
    down: dict[str, BaseException] = {}

    def progress(last_file: str | None = None, retry: str | None = None) -> GenerateProgress:
        """The counts as they are now."""
        return GenerateProgress(
            done=done,
            total=total,
            skipped=skipped,
            failures=failures,
            elapsed=time.monotonic() - started,
            last_file=last_file,
            retried=sum(retried.values()),
            retry=retry,
        )

    try:
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
                        if image.retries:
                            why = f"{image.backend_url}: {'; '.join(dict.fromkeys(image.retries))}"
                            retried[why] = retried.get(why, 0) + 1
                            retry = f"{unit.set_name}/{index:04d} was rendered again ({why})"
                        per_backend[result.url] = per_backend.get(result.url, 0) + 1
                        if on_progress and len(result.images) > 1:
                            # each saved image reported at once, so a Ctrl+C mid-batch counts it
                            on_progress(progress(retry=retry))
                            retry = None
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
                            f"every backend failed; {done} images made this run, rerun to continue: "
                            f"{last_error}"
                        )
                if unit.attempts + 1 < ATTEMPTS_PER_IMAGE or result.kind == "down":
                    jobs.put(dataclasses.replace(unit, attempts=unit.attempts + 1))
                else:
                    outstanding -= 1
                    given_up += len(unit.missing)
            if on_progress:
                on_progress(progress(last_file=last_file, retry=retry))
            retry = None
    except KeyboardInterrupt:
        # the count as it is now: the last update may predate an image saved since
        if on_progress:
            on_progress(progress())
        raise
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
        retried=retried,
    )


def _save(
    folder: Path,
    config: GenerateConfig,
    plan: _SetPlan,
    index: int,
    image: GeneratedImage,
    batch_size: int,
    writer: ManifestWriter,
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
            "model": image.model,
            "width": request.width,
            "height": request.height,
            "steps": request.steps,
            "cfg": request.cfg,
            "sampler": request.sampler,
            "scheduler": request.scheduler,
            "loras": [list(lora) for lora in image.loras],
            "backend": config.backend,
            "url": image.backend_url,
            "elapsed": round(image.elapsed, 3),
            "sha256": hashlib.sha256(image.data).hexdigest(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
    )
