"""``run_project()``: every stage of ``onelazy.yaml`` in order, each skipped when already done.

generate → cull → (review, when asked) → build-config → launch → compare. Each stage calls the same
library function as its own command. After a stage completes, a fingerprint of its inputs (the
part of the file it reads, plus what the stage before it produced) is stored in
``.onelazy/state.json`` beside the project file. On the next run a stage is skipped when its
fingerprint is unchanged and its output is complete; a stage whose inputs changed runs again, and
the run says which input changed. A stage that was interrupted was never recorded, so it simply
runs again, and each stage resumes on its own: generate skips the images it has, training
continues from OneTrainer's backup, compare renders only what is missing.
A training that starts afresh first moves the earlier training's saves, backups and LoRA to
``<workspace>/earlier/<time>/`` (:func:`onelazy.comparison.set_aside_earlier_training`).

``project_status()`` shows each stage as done, stale (inputs changed, or output incomplete) or
pending, with counts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from onelazy._files import atomic_write_json, hash_file_into
from onelazy._manifest import MANIFEST_NAME, STALE_REASON, read_manifest
from onelazy.errors import DatasetError, StorageError
from onelazy.project import Project, load_project

if TYPE_CHECKING:
    from onelazy.comparison import Checkpoint

__all__ = [
    "STAGES",
    "RunSummary",
    "StageResult",
    "StageStatus",
    "project_status",
    "run_project",
]

STAGES = ("generate", "cull", "review", "build-config", "launch", "compare")
STATE_DIR = ".onelazy"
STATE_FILE = "state.json"
RESUME_CONFIG = "config.resume.json"
_IMAGE_EXTENSIONS = frozenset({".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".avif"})

StageState = Literal["done", "stale", "pending", "optional"]
Echo = Callable[[str], None]


# =============================================================================== state


def _state_path(project: Project) -> Path:
    return project.folder / STATE_DIR / STATE_FILE


def _read_state(project: Project) -> dict[str, Any]:
    path = _state_path(project)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError:
        return {}  # an unreadable state only costs a check of every stage
    except ValueError as exc:  # not JSON, or not UTF-8
        _set_aside(path, f"not valid JSON ({exc})")
        return {}
    stages = data.get("stages") if isinstance(data, dict) else None
    if not isinstance(stages, dict):
        _set_aside(path, "no 'stages' mapping in it")
        return {}
    return stages


def _set_aside(path: Path, problem: str) -> None:
    """A corrupt state file is kept beside as ``state.json.corrupt`` and said once, not silently
    dropped: without it every stage counts as never run, and that can mean training again."""
    import logging

    aside = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, aside)
    except OSError as exc:
        kept = f"could not move it aside ({exc.strerror or exc})"
    else:
        kept = f"moved it to {aside.name}"
    logging.getLogger(__name__).warning(
        "Warning: %s: %s; %s, and every stage counts as not yet run", path, problem, kept
    )


def _record(project: Project, stage: str, inputs: Mapping[str, Any], **facts: Any) -> None:
    stages = _read_state(project)
    stages[stage] = {
        "fingerprint": _fingerprint(inputs),
        "inputs": dict(inputs),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **facts,
    }
    atomic_write_json(_state_path(project), {"version": 1, "stages": stages}, indent=2)


def _forget(project: Project, stage: str) -> None:
    stages = _read_state(project)
    if stages.pop(stage, None) is not None:
        atomic_write_json(_state_path(project), {"version": 1, "stages": stages}, indent=2)


def _fingerprint(inputs: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _flat(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flat(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        for index, item in enumerate(value):
            yield from _flat(item, f"{prefix}.{index}")
    else:
        yield prefix, value


def _show(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _why_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """``generate.sets.0.count 100 -> 120`` for the first few keys that differ."""
    changes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            if key in STAGES:
                changes.append(f"{key} ran again")
            elif key not in old:
                changes.append(f"{key} added ({_show(new[key])})")
            elif key not in new:
                changes.append(f"{key} removed")
            else:
                changes.append(f"{key} {_show(old[key])} -> {_show(new[key])}")
    shown = "; ".join(changes[:3]) + (f" (and {len(changes) - 3} more)" if len(changes) > 3 else "")
    return shown or "its inputs changed"


# =============================================================================== inputs and outputs


def _generate_inputs(project: Project) -> dict[str, Any]:
    # where and how fast the images are made does not change them: URLs and in_flight are left out
    section = project.generate.model_dump(exclude={"in_flight", "dataset", "urls"})
    return {"dataset": str(project.dataset_dir), **dict(_flat(section, "generate"))}


def _manifest_counts(project: Project) -> dict[str, int]:
    """Images per set the manifest records (culled ones included), for indexes below the set's count."""
    counts = {spec.name: set() for spec in project.generate.sets}  # type: dict[str, set[int]]
    wanted = {spec.name: spec.count for spec in project.generate.sets}
    try:
        manifest = read_manifest(project.dataset_dir / MANIFEST_NAME)
    except StorageError:  # status shows an unreadable manifest as no images, never fails on it
        manifest = None
    entries: list[Any] = [] if manifest is None else [line.entry for line in manifest.lines]
    if manifest is not None and manifest.torn_tail:
        # a last line cut just before its newline is still whole JSON and still records its image
        with contextlib.suppress(ValueError):
            entries.append(json.loads(manifest.torn_tail))
    for entry in entries:
        try:
            name, index, file = str(entry["set"]), int(entry["index"]), str(entry["file"])
        except (ValueError, KeyError, TypeError):
            continue
        if name in counts and index < wanted[name]:
            # a culled image counts as made; one generate replaced as stale does not (its new one does)
            replaced = entry.get("rejected") == STALE_REASON
            there = not replaced and ((project.dataset_dir / file).is_file() or "rejected" in entry)
            if there:
                counts[name].add(index)
    return {name: len(indexes) for name, indexes in counts.items()}


def _cull_inputs(project: Project, generate_fp: str) -> dict[str, Any]:
    return {"generate": generate_fp, **dict(_flat(project.cull.model_dump(), "cull"))}


def _cull_counts(project: Project) -> dict[str, int] | None:
    path = project.dataset_dir / "cull-report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        files = report["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    kept = sum(1 for f in files if isinstance(f, dict) and f.get("status") == "kept")
    rejected = sum(1 for f in files if isinstance(f, dict) and f.get("status") == "rejected")
    return {"kept": kept, "rejected": rejected}


def _dataset_digest(project: Project) -> tuple[str, int]:
    """What training will see: every image and caption in the set folders (name, size, mtime)."""
    digest = hashlib.sha256()
    images = 0
    for folder in project.set_folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            suffix = path.suffix.lower()
            if suffix not in _IMAGE_EXTENSIONS and suffix != ".txt":
                continue
            stat = path.stat()
            digest.update(f"{folder.name}/{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
            images += suffix in _IMAGE_EXTENSIONS
    return digest.hexdigest()[:24], images


def _build_inputs(project: Project) -> dict[str, Any]:
    dataset, images = _dataset_digest(project)
    return {
        "name": project.name,
        "preset": project.preset,
        "base_model": project.base_model_name,
        "output": str(project.output_path),
        "run_dir": str(project.run_path),
        "dataset.files": dataset,
        "dataset.images": images,
        **dict(_flat(project.train.model_dump(exclude={"allow_config_warnings"}), "train")),
    }


def _file_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path.exists():
            hash_file_into(digest, path)
        else:  # a dangling link counts as missing too
            digest.update(b"\0missing")
    return digest.hexdigest()[:24]


def _launch_inputs(project: Project) -> dict[str, Any]:
    run = project.run_path
    files = [run / "config.json", run / "concepts.json", run / "samples.json"]
    onetrainer = project.onetrainer_path
    return {"config": _file_digest(files), "onetrainer": str(onetrainer) if onetrainer else None}


def _compare_inputs(project: Project, launch_fp: str) -> dict[str, Any]:
    settings = {k: v for k, v in project.compare_options().items() if k != "keep"}
    return {"launch": launch_fp, **dict(_flat(settings, "compare"))}


# =============================================================================== status


@dataclass(frozen=True)
class StageStatus:
    """One stage as ``onelazy status`` shows it."""

    stage: str
    state: StageState
    detail: str
    reason: str = ""

    def line(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.stage:<13} {self.state:<8} {self.detail}{why}"


@dataclass
class _Check:
    """A stage's current inputs, and whether its recorded run still stands."""

    stage: str
    inputs: dict[str, Any]
    complete: bool
    detail: str
    incomplete_reason: str = ""
    started: bool = False
    """Some output exists although the stage never completed (it was interrupted)."""

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.inputs)


def _verdict(check: _Check, recorded: Mapping[str, Any] | None) -> tuple[StageState, str]:
    if recorded is None:
        if check.started and not check.complete:
            return "pending", f"not finished: {check.incomplete_reason}"
        return "pending", "not run yet"
    if recorded.get("fingerprint") != check.fingerprint:
        return "stale", _why_changed(recorded.get("inputs") or {}, check.inputs)
    if not check.complete:
        return "stale", check.incomplete_reason or "its output is incomplete"
    return "done", ""


def _checks(project: Project, stages: Mapping[str, Any]) -> list[_Check]:
    """Every stage's check, each chained to the fingerprint the stage before it recorded."""

    def recorded_fp(stage: str) -> str:
        # fingerprint and time: a stage that ran again with the same inputs still made new output
        entry = stages.get(stage)
        if not isinstance(entry, dict):
            return "none"
        return f"{entry.get('fingerprint')}@{entry.get('finished')}"

    checks = []
    counts = _manifest_counts(project)
    want = sum(spec.count for spec in project.generate.sets)
    have = sum(counts.values())
    checks.append(
        _Check(
            "generate",
            _generate_inputs(project),
            have >= want,
            f"{have}/{want} images",
            f"{want - have} images missing",
            started=have > 0,
        )
    )
    cull_counts = _cull_counts(project)
    cull_detail = (
        f"kept {cull_counts['kept']}, rejected {cull_counts['rejected']}" if cull_counts else "no report yet"
    )
    checks.append(
        _Check(
            "cull",
            _cull_inputs(project, recorded_fp("generate")),
            cull_counts is not None,
            cull_detail,
            "no cull report",
        )
    )
    build_inputs = _build_inputs(project)
    config = project.run_path / "config.json"
    build_entry = stages.get("build-config") or {}
    build_detail = str(build_entry.get("plan", "")) or f"{build_inputs['dataset.images']} images to train on"
    checks.append(_Check("build-config", build_inputs, config.is_file(), build_detail, "no config.json"))
    launch_entry = stages.get("launch") or {}
    attempt = stages.get("launch-attempt") or {}
    output = project.output_path
    launch_inputs = _launch_inputs(project)
    last = launch_entry or (attempt if attempt.get("fingerprint") == _fingerprint(launch_inputs) else {})
    launch_detail = (
        f"{last.get('outcome', '?')} at step {last.get('global_step', '?')}" if last else "not trained yet"
    )
    checks.append(
        _Check(
            "launch",
            launch_inputs,
            output.is_file() and launch_entry.get("outcome") == "finished",
            launch_detail,
            "training did not finish; `onelazy run` continues it" if last else f"no final model at {output}",
            started=bool(last),
        )
    )
    if project.compare is not None:
        grid = project.run_path / "compare" / "grid.png"
        compare_entry = stages.get("compare") or {}
        compare_detail = (
            f"{compare_entry.get('checkpoints', '?')} checkpoints, {compare_entry.get('images', '?')} images"
            if compare_entry
            else "nothing rendered yet"
        )
        checks.append(
            _Check(
                "compare",
                _compare_inputs(project, recorded_fp("launch")),
                grid.is_file(),
                compare_detail,
                "no grid",
            )
        )
    return checks


def project_status(path: str | os.PathLike[str] = "onelazy.yaml") -> list[StageStatus]:
    """Each stage of the project: done, stale (and why), pending, with counts."""
    project = load_project(path)
    stages = _read_state(project)
    statuses = []
    upstream_not_done = False
    for check in _checks(project, stages):
        state, reason = _verdict(check, stages.get(check.stage))
        if state == "done" and upstream_not_done:
            state, reason = "stale", "a stage before it will run again"
        if state != "done":
            upstream_not_done = True
        statuses.append(StageStatus(check.stage, state, check.detail, reason))
        if check.stage == "cull":
            review = stages.get("review")
            reviewed = isinstance(review, dict) and review.get("fingerprint") == _fingerprint(
                {"cull": check.fingerprint}
            )
            statuses.append(
                StageStatus(
                    "review",
                    "done" if reviewed else "optional",
                    "looked through by hand"
                    if reviewed
                    else "onelazy run --review, or onelazy review DATASET",
                )
            )
    if project.compare is None:
        statuses.append(StageStatus("compare", "optional", "no compare: section in the file"))
    return statuses


# =============================================================================== run


@dataclass(frozen=True)
class StageResult:
    """What ``run`` did with one stage: ``ran`` (and why) or ``skipped`` (already done)."""

    stage: str
    action: Literal["ran", "skipped", "stopped"]
    reason: str
    detail: str = ""


@dataclass
class RunSummary:
    """The stages in order, what happened to each, and how the run ended."""

    project: Path
    results: list[StageResult] = field(default_factory=list)
    outcome: Literal["finished", "interrupted", "failed", "paused"] = "finished"
    compare_grid: Path | None = None

    @property
    def exit_code(self) -> int:
        return {"finished": 0, "paused": 0, "interrupted": 130, "failed": 1}[self.outcome]


def run_project(
    path: str | os.PathLike[str] = "onelazy.yaml",
    *,
    review: bool = False,
    open_browser: bool = True,
    echo: Echo | None = None,
    on_progress: Callable[[str, str], None] | None = None,
    on_training_event: Callable[[Any], None] | None = None,
    stop_after: str | None = None,
) -> RunSummary:
    """Run every stage of the project that is not already done and up to date.

    ``echo`` gets one line per decision (``generate: skipped (done: 200/200 images)``);
    ``on_progress(stage, text)`` gets progress within a stage; ``on_training_event`` gets
    OneTrainer's events during launch. With ``review`` the run serves the review page after cull
    (once per cull result) and continues when it is stopped with Ctrl+C. ``stop_after`` ends the
    run after the named stage. Ctrl+C anywhere stops the run; running it again continues.
    """
    say: Echo = echo or (lambda _line: None)
    progress = on_progress or (lambda _stage, _text: None)
    if stop_after is not None and stop_after not in STAGES:
        from onelazy.errors import UsageError

        raise UsageError(f"stop_after: {stop_after!r} is not a stage; allowed: {', '.join(STAGES)}")
    project = load_project(path)
    summary = RunSummary(project=project.file)
    trains = stop_after is None or STAGES.index(stop_after) >= STAGES.index("launch")
    if trains and "launch" not in _read_state(project):
        # a wrong OneTrainer folder is found now, not after hours of generating images
        from onelazy.onetrainer.install import find_onetrainer

        find_onetrainer(
            project.onetrainer_path, python=project.python, given_as=f"{project.file.name}: onetrainer"
        )

    def decide(check: _Check) -> tuple[bool, str]:
        recorded = _read_state(project).get(check.stage)
        state, reason = _verdict(check, recorded)
        if state == "done":
            say(f"{check.stage}: skipped (done: {check.detail})")
            summary.results.append(StageResult(check.stage, "skipped", "done", check.detail))
            return False, ""
        say(f"{check.stage}: runs ({reason})")
        return True, reason

    def current(stage: str) -> _Check:
        return next(c for c in _checks(project, _read_state(project)) if c.stage == stage)

    def run_stage(stage: str, work: Callable[[], str | None], recorded_as: str | None = None) -> None:
        """Run ``stage`` unless done; record it with ``work``'s result (or its detail) as ``recorded_as``."""
        run_it, reason = decide(current(stage))
        if run_it:
            detail = work()
            check = current(stage)
            detail = check.detail if detail is None else detail
            _record(project, stage, check.inputs, **({recorded_as: detail} if recorded_as else {}))
            summary.results.append(StageResult(stage, "ran", reason, detail))
            say(f"{stage}: done ({detail})")

    # a changed prompt (or model, size...) asks for images of the new settings: the old ones go aside
    replace_stale = _inputs_changed(project, current("generate"))
    run_stage("generate", lambda: _run_generate(project, progress, say, replace_stale), recorded_as="images")
    if stop_after == "generate":
        return summary
    run_stage("cull", lambda: _run_cull(project, progress))
    cull_fp = current("cull").fingerprint

    # -- review (optional pause)
    review_inputs = {"cull": cull_fp}
    reviewed = (_read_state(project).get("review") or {}).get("fingerprint") == _fingerprint(review_inputs)
    if review and not reviewed:
        from onelazy.review import review as serve_review

        say("review: look through the images; press Ctrl+C in this terminal when done to continue")
        serve_review(project.dataset_dir, open_browser=open_browser, announce=say)
        _record(project, "review", review_inputs)
        summary.results.append(StageResult("review", "ran", "asked with --review"))
    if stop_after in ("cull", "review"):
        return summary

    run_stage("build-config", lambda: _run_build(project, say), recorded_as="plan")
    if stop_after == "build-config":
        return summary

    # -- launch
    check = current("launch")
    run_it, reason = decide(check)
    if run_it:
        result = _run_launch(project, check, say, on_training_event)
        facts = {
            "outcome": result.outcome,
            "global_step": result.global_step,
            "epochs_done": result.epochs_done,
        }
        if result.outcome == "finished":
            _record(project, "launch", check.inputs, **facts)
            summary.results.append(
                StageResult("launch", "ran", reason, f"finished at step {result.global_step}")
            )
            say(f"launch: done (finished at step {result.global_step})")
        else:
            # Not done: the next run continues it (from OneTrainer's backup when it made one).
            _record(project, "launch-attempt", check.inputs, **facts)
            _forget(project, "launch")
            summary.results.append(StageResult("launch", "stopped", result.outcome, result.error or ""))
            summary.outcome = "interrupted" if result.outcome == "interrupted" else "failed"
            if result.outcome == "interrupted":
                backup = any(item.kind == "backup" for item in result.saved)
                say(
                    "launch: interrupted; OneTrainer saved a backup. `onelazy run` again continues training."
                    if backup
                    else "launch: interrupted before OneTrainer saved a backup; `onelazy run` again starts "
                    "training from the beginning."
                )
            else:
                say(f"launch: failed: {result.error or 'see ' + str(result.log_path)}")
            return summary
    if stop_after == "launch":
        return summary

    # -- compare
    if project.compare is None:
        say("compare: skipped (no compare: section in the file)")
        summary.results.append(StageResult("compare", "skipped", "not configured"))
        return summary
    check = current("compare")
    run_it, reason = decide(check)
    grid = project.run_path / "compare" / "grid.png"
    checkpoints: Sequence[Checkpoint] | None = None
    if run_it:
        compared = _run_compare(project, progress)
        checkpoints = compared.checkpoints
        check = current("compare")
        images = len(compared.cells)
        _record(project, "compare", check.inputs, checkpoints=len(compared.checkpoints), images=images)
        summary.results.append(
            StageResult("compare", "ran", reason, f"{len(compared.checkpoints)} checkpoints")
        )
        for line in compared.describe():
            say(f"compare: {line}")
    summary.compare_grid = grid
    steps = ", ".join(_checkpoint_steps(project, checkpoints))
    say(
        f"Look at {grid}, then keep the best: onelazy compare {project.run_path} --pick STEP (steps: {steps})"
    )
    return summary


def _checkpoint_steps(project: Project, checkpoints: Sequence[Checkpoint] | None) -> list[str]:
    """The steps ``--pick`` takes: every save's, and the final model's (a pick can go back to it).

    ``checkpoints`` are the ones compare just found, or None to look (hashing every checkpoint file)."""
    if checkpoints is None:
        from onelazy.comparison import find_checkpoints

        checkpoints = find_checkpoints(project.run_path)
    return [
        f"{c.step} (final)" if c.kind == "final" else str(c.step)
        for c in checkpoints
        if c.kind in ("save", "final") and c.step is not None
    ]


# =============================================================================== stages


def _inputs_changed(project: Project, check: _Check) -> bool:
    """Did the stage run before with other inputs than it has now?"""
    recorded = _read_state(project).get(check.stage)
    return isinstance(recorded, dict) and recorded.get("fingerprint") != check.fingerprint


def _run_generate(
    project: Project, progress: Callable[[str, str], None], say: Echo, replace_stale: bool
) -> None:
    from onelazy.generation import GenerateProgress, generate

    def report(state: GenerateProgress) -> None:
        progress("generate", f"{state.done}/{state.total} images ({state.skipped} already there)")

    summary = generate(
        project.generate_config(), project.dataset_dir, on_progress=report, replace_stale=replace_stale
    )
    for line in summary.notes():
        say(f"generate: {line}")


def _run_cull(project: Project, progress: Callable[[str, str], None]) -> None:
    from onelazy.culling import cull

    def report(step: str, done: int, total: int) -> None:
        progress("cull", f"{step} {done}/{total}")

    cull(project.dataset_dir, progress=report, **project.cull.options())


def _run_build(project: Project, say: Echo) -> str:
    from onelazy.build import build_config

    folders = [folder for folder in project.set_folders if _has_images(folder)]
    skipped = [folder.name for folder in project.set_folders if folder not in folders]
    if not folders:
        raise DatasetError(
            f"{project.dataset_dir}: no images left to train on (cull and review rejected them all); see "
            f"{project.dataset_dir / 'cull-report.html'}, loosen cull: in onelazy.yaml (e.g. min_side), "
            f"then `onelazy cull {project.dataset_dir} --undo` and run again"
        )
    if skipped:
        say(f"  sets with no images left after culling, not trained on: {', '.join(skipped)}")
    built = build_config(
        folders or project.set_folders,
        preset=project.preset,
        base_model=project.base_model_name,
        output=project.output_path,
        name=project.name,
        prompt_source=project.train.prompt_source,
        steps_per_image=project.train.steps_per_image,
        total_steps=project.train.total_steps,
        project_values=project.train.set,
        run_dir=project.run_path,
        separate_files=project.train.separate_files,
        train_device=project.train.train_device,
        sample_prompts=project.train.sample_prompts,
    )
    built.write()
    for line in built.describe():
        say(f"  {line}")
    return f"{built.plan.total_steps} steps, {built.plan.epochs} epochs, {len(built.plan.saves)} checkpoints"


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and any(
        p.suffix.lower() in _IMAGE_EXTENSIONS and not p.name.startswith(".") for p in folder.iterdir()
    )


def _resume_config(project: Project, check: _Check) -> Path | None:
    """``config.resume.json`` (``continue_last_backup`` on) when the last attempt of this very config
    was interrupted after OneTrainer made a backup; None to start from the beginning."""
    attempt = _read_state(project).get("launch-attempt")
    if not isinstance(attempt, dict) or attempt.get("fingerprint") != check.fingerprint:
        return None
    from onelazy.comparison import run_paths

    _config, workspace, _output = run_paths(project.run_path)
    backups = workspace / "backup"
    if not backups.is_dir() or not any(entry.is_dir() for entry in backups.iterdir()):
        return None
    from onelazy._files import atomic_write_text
    from onelazy.onetrainer import read_train_config, to_onetrainer_json

    config = read_train_config(project.run_path / "config.json")
    resumed = config.model_copy(update={"continue_last_backup": True})
    return atomic_write_text(project.run_path / RESUME_CONFIG, to_onetrainer_json(resumed))


def _run_launch(project: Project, check: _Check, say: Echo, on_event: Callable[[Any], None] | None) -> Any:
    from onelazy.training import launch

    config = _resume_config(project, check)
    if config is not None:
        say(f"launch: continuing from OneTrainer's last backup ({config.name})")
    else:
        config = project.run_path / "config.json"
        _set_aside_earlier_training(project, config, say)
    secrets = project.run_path / "secrets.json"
    return launch(
        config,
        onetrainer=project.onetrainer_path,
        python=project.python,
        secrets_path=secrets if secrets.is_file() else None,
        on_event=on_event,
        allow_config_warnings=project.train.allow_config_warnings,
        run_dir=project.run_path,
    )


def _set_aside_earlier_training(project: Project, config: Path, say: Echo) -> None:
    """A fresh training starts clean: the earlier training's saves, backups and LoRA move to
    ``<workspace>/earlier/<time>/`` (nothing deleted), so compare shows only this training's
    checkpoints and OneTrainer overwrites no picked LoRA. Under the workspace lock: never while
    another launch trains there."""
    from onelazy.comparison import run_paths, set_aside_earlier_training
    from onelazy.onetrainer import read_train_config
    from onelazy.training.preflight import WorkspaceLock

    if read_train_config(config).continue_last_backup:
        return  # the file itself asks OneTrainer to continue the earlier training
    _config, workspace, _output = run_paths(project.run_path)
    lock = WorkspaceLock(workspace)
    lock.acquire()
    try:
        moved = set_aside_earlier_training(project.run_path)
    finally:
        lock.release()
    for line in moved.describe():
        say(f"launch: {line}")


def _run_compare(project: Project, progress: Callable[[str, str], None]) -> Any:
    from onelazy.comparison import CompareProgress, compare

    settings = project.compare_options()

    def report(state: CompareProgress) -> None:
        progress("compare", f"{state.done}/{state.total} images {state.current}".rstrip())

    return compare(project.run_path, on_progress=report, **settings)
