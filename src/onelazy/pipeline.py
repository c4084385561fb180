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
``<workspace>/earlier/<time>/`` (:func:`onelazy.run_folder.set_aside_earlier_training`).

``project_status()`` shows each stage as done, stale (inputs changed, or output incomplete) or
pending, with counts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from onelazy._files import atomic_write_json, hash_file_into
from onelazy._stages import STAGES
from onelazy.dataset import CAPTION_EXTENSION, find_images
from onelazy.dataset.manifest import MANIFEST_NAME, read_manifest
from onelazy.errors import DatasetError, StorageError
from onelazy.project import Project, load_project
from onelazy.render import RENDER_FIELDS
from onelazy.run_folder import RunFolder

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

STATE_DIR = ".onelazy"
STATE_FILE = "state.json"

StageState = Literal["done", "stale", "pending", "optional"]
Echo = Callable[[str], None]


# =============================================================================== state


class _State:
    """``.onelazy/state.json``: read once per command, written whenever a stage is recorded."""

    def __init__(self, project: Project) -> None:
        self.path = project.folder / STATE_DIR / STATE_FILE
        self.stages = _read_state(self.path)

    def get(self, stage: str) -> dict[str, Any] | None:
        entry = self.stages.get(stage)
        return entry if isinstance(entry, dict) else None

    def finished_as(self, stage: str) -> str:
        """The recorded run of ``stage`` as the stages after it see it: fingerprint and time (a
        stage that ran again with the same inputs still made new output)."""
        entry = self.get(stage)
        if entry is None:
            return "none"
        return f"{entry.get('fingerprint')}@{entry.get('finished')}"

    def record(self, stage: str, inputs: Mapping[str, Any], **facts: Any) -> None:
        self.stages[stage] = {
            "fingerprint": _fingerprint(inputs),
            "inputs": dict(inputs),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **facts,
        }
        self._write()

    def forget(self, stage: str) -> None:
        if self.stages.pop(stage, None) is not None:
            self._write()

    def _write(self) -> None:
        atomic_write_json(self.path, {"version": 1, "stages": self.stages}, indent=2)


def _read_state(path: Path) -> dict[str, Any]:
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


# =============================================================================== the table
#
# Each stage says what it reads (its inputs: their fingerprint is recorded when it completes), how
# its output is known to be complete, and how it runs. `run`, `status` and `--stop-after` all walk
# the one table below, and each stage's check is computed once per decision.


@dataclass(frozen=True)
class _Output:
    """What a stage's output looks like on disk now."""

    complete: bool
    detail: str
    incomplete_reason: str = ""
    started: bool = False
    """Some output exists although the stage never completed (it was interrupted)."""


@dataclass(frozen=True)
class _Check:
    """A stage's current inputs and output: the facts one decision about it rests on."""

    stage: str
    inputs: dict[str, Any]
    output: _Output
    fingerprint: str


def _verdict(check: _Check, recorded: Mapping[str, Any] | None) -> tuple[StageState, str]:
    if recorded is None:
        if check.output.started and not check.output.complete:
            return "pending", f"not finished: {check.output.incomplete_reason}"
        return "pending", "not run yet"
    if recorded.get("fingerprint") != check.fingerprint:
        return "stale", _why_changed(recorded.get("inputs") or {}, check.inputs)
    if not check.output.complete:
        return "stale", check.output.incomplete_reason or "its output is incomplete"
    return "done", ""


@dataclass(frozen=True)
class _Ran:
    """What running a stage gave: the detail to show (None: its output's detail after the work),
    facts for the state file (the detail too, under ``detail_as``), the lines to say instead of
    ``stage: done (detail)``, and ``stopped`` when the stage did not complete (the run ends there)."""

    detail: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    detail_as: str | None = None
    said: list[str] | None = None
    stopped: Literal["interrupted", "failed"] | None = None


@dataclass(frozen=True)
class Stage:
    """One row of the pipeline: a stage, what it reads, how "done" is known, and how it runs."""

    name: str
    inputs: Callable[[Project, _State], dict[str, Any]]
    """The part of ``onelazy.yaml`` and of the stages before it that the stage reads."""
    output: Callable[[Project, _State, Mapping[str, Any]], _Output]
    """Its output as it is now (given the inputs, for the details that depend on them)."""
    run: Callable[[_Run, _Check], _Ran]
    optional: bool = False
    """Runs only when asked for (review), and never makes the stages after it stale."""
    configured: Callable[[Project], bool] = lambda _project: True
    unconfigured: str = ""
    """What ``status`` says when the file does not configure the stage."""

    def check(self, project: Project, state: _State) -> _Check:
        inputs = self.inputs(project, state)
        return _Check(self.name, inputs, self.output(project, state, inputs), _fingerprint(inputs))


# ------------------------------------------------------------------------------- generate


def _generate_inputs(project: Project, _state: _State) -> dict[str, Any]:
    # where and how fast the images are made does not change them: URLs and in_flight are left out
    section = project.generate.model_dump(exclude={"in_flight", "dataset", "urls"})
    return {"dataset": str(project.dataset), **dict(_flat(section, "generate"))}


def _generate_output(project: Project, _state: _State, _inputs: Mapping[str, Any]) -> _Output:
    have = sum(_manifest_counts(project).values())
    want = sum(spec.count for spec in project.generate.sets)
    return _Output(have >= want, f"{have}/{want} images", f"{want - have} images missing", started=have > 0)


def _manifest_counts(project: Project) -> dict[str, int]:
    """Images per set that are made (:meth:`ManifestEntry.made`, culled ones included), for
    indexes below the set's count."""
    counts = {spec.name: set() for spec in project.generate.sets}  # type: dict[str, set[int]]
    wanted = {spec.name: spec.count for spec in project.generate.sets}
    try:
        manifest = read_manifest(project.dataset / MANIFEST_NAME)
    except StorageError:  # status shows an unreadable manifest as no images, never fails on it
        manifest = None
    for entry in manifest.entries() if manifest is not None else ():
        if entry is None or entry.set not in counts or not 0 <= entry.index < wanted[entry.set]:
            continue
        if entry.made(project.dataset):
            counts[entry.set].add(entry.index)
    return {name: len(indexes) for name, indexes in counts.items()}


def _run_generate(run: _Run, check: _Check) -> _Ran:
    from onelazy.generation import GenerateProgress, generate

    # a changed prompt (or model, size...) asks for images of the new settings: the old ones go aside
    recorded = run.state.get("generate")
    replace_stale = recorded is not None and recorded.get("fingerprint") != check.fingerprint

    def report(state: GenerateProgress) -> None:
        if state.retry:  # at once: the backend lost a render and made it again
            run.say(f"generate: {state.retry}")
        run.progress("generate", f"{state.done}/{state.total} images ({state.skipped} already there)")

    project = run.project
    summary = generate(
        project.generate_config(), project.dataset, on_progress=report, replace_stale=replace_stale
    )
    for line in summary.notes():
        run.say(f"generate: {line}")
    return _Ran(detail_as="images")


# ------------------------------------------------------------------------------- cull


def _cull_inputs(project: Project, state: _State) -> dict[str, Any]:
    return {"generate": state.finished_as("generate"), **dict(_flat(project.cull.model_dump(), "cull"))}


def _cull_output(project: Project, _state: _State, _inputs: Mapping[str, Any]) -> _Output:
    counts = _cull_counts(project)
    if counts is None:
        return _Output(False, "no report yet", "no cull report")
    by_hand = f", {counts['by_hand']} by hand" if counts["by_hand"] else ""
    return _Output(True, f"kept {counts['kept']}, rejected {counts['rejected']}{by_hand}", "no cull report")


def _cull_counts(project: Project) -> dict[str, int] | None:
    from onelazy.dataset.cull_report import read_cull_report

    try:
        record = read_cull_report(project.dataset)
    except DatasetError:  # status shows a report it cannot read as none yet, never fails on it
        return None
    if record is None:
        return None
    return {"kept": len(record.kept), "rejected": len(record.rejected), "by_hand": len(record.by_hand)}


def _run_cull(run: _Run, _check: _Check) -> _Ran:
    from onelazy.culling import cull

    def report(step: str, done: int, total: int) -> None:
        run.progress("cull", f"{step} {done}/{total}")

    from onelazy.culling import OPTION_NAMES

    # hints name the onelazy.yaml keys (cull.min_side): run has no cull flags
    names = {key: f"cull.{key}" for key in OPTION_NAMES}
    cull(run.project.dataset, progress=report, option_names=names, **run.project.cull.options())
    return _Ran()


# ------------------------------------------------------------------------------- review


def _review_inputs(project: Project, state: _State) -> dict[str, Any]:
    return {"cull": _fingerprint(_cull_inputs(project, state))}


def _review_output(_project: Project, state: _State, inputs: Mapping[str, Any]) -> _Output:
    reviewed = (state.get("review") or {}).get("fingerprint") == _fingerprint(inputs)
    detail = "looked through by hand" if reviewed else "onelazy run --review, or onelazy review DATASET"
    return _Output(True, detail)


def _run_review(run: _Run, _check: _Check) -> _Ran:
    from onelazy.review import review as serve_review

    run.say("review: look through the images; press Ctrl+C in this terminal when done to continue")
    serve_review(run.project.dataset, open_browser=run.open_browser, announce=run.say)
    return _Ran(detail="", said=[])


# ------------------------------------------------------------------------------- build-config


def _dataset_digest(project: Project) -> tuple[str, int]:
    """What training will see: every image and caption in the set folders (name, size, mtime)."""
    digest = hashlib.sha256()
    images = 0
    for folder in project.set_folders:
        found = find_images(folder)
        captions = [os.path.splitext(name)[0] + CAPTION_EXTENSION for name in found]
        for name in sorted({*found, *(c for c in captions if (folder / c).is_file())}):
            try:
                stat = (folder / name).lstat()  # a link to nothing is still a file of the set
            except OSError:
                continue
            digest.update(f"{folder.name}/{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        images += len(found)
    return digest.hexdigest()[:24], images


def _build_inputs(project: Project, _state: _State) -> dict[str, Any]:
    dataset, images = _dataset_digest(project)
    return {
        "name": project.name,
        "preset": project.preset,
        "base_model": project.base_model,
        "output": str(project.output),
        "run_dir": str(project.run_dir),
        "dataset.files": dataset,
        "dataset.images": images,
        **dict(_flat(project.train.model_dump(exclude={"allow_config_warnings"}), "train")),
    }


def _build_output(project: Project, state: _State, inputs: Mapping[str, Any]) -> _Output:
    recorded = state.get("build-config") or {}
    detail = str(recorded.get("plan", "")) or f"{inputs['dataset.images']} images to train on"
    return _Output(RunFolder(project.run_dir).config.is_file(), detail, "no config.json")


def _run_build(run: _Run, _check: _Check) -> _Ran:
    from onelazy.build import build_config

    project, say = run.project, run.say
    folders = [folder for folder in project.set_folders if find_images(folder)]
    skipped = [folder.name for folder in project.set_folders if folder not in folders]
    if not folders:
        raise DatasetError(
            f"{project.dataset}: no images left to train on (cull and review rejected them all); see "
            f"{project.dataset / 'cull-report.html'}, loosen cull: in onelazy.yaml (e.g. min_side), "
            f"then `onelazy cull {project.dataset} --undo` and run again"
        )
    if skipped:
        say(f"  sets with no images left after culling, not trained on: {', '.join(skipped)}")
    built = build_config(
        folders or project.set_folders,
        preset=project.preset,
        base_model=project.base_model,
        output=project.output,
        name=project.name,
        prompt_source=project.train.prompt_source,
        steps_per_image=project.train.steps_per_image,
        total_steps=project.train.total_steps,
        project_values=project.train.set,
        run_dir=project.run_dir,
        separate_files=project.train.separate_files,
        train_device=project.train.train_device,
        sample_prompts=project.train.sample_prompts,
        validation=project.train.validation != "none",
    )
    built.write()
    for line in built.describe():
        say(f"  {line}")
    plan = f"{built.plan.total_steps} steps, {built.plan.epochs} epochs, {len(built.plan.saves)} checkpoints"
    return _Ran(detail=plan, detail_as="plan")


# ------------------------------------------------------------------------------- launch


def _file_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path.exists():
            hash_file_into(digest, path)
        else:  # a dangling link counts as missing too
            digest.update(b"\0missing")
    return digest.hexdigest()[:24]


def _launch_inputs(project: Project, _state: _State) -> dict[str, Any]:
    from onelazy.errors import OnelazyError
    from onelazy.run_folder import read_run

    folder = RunFolder(project.run_dir)
    onetrainer = project.onetrainer
    where = str(onetrainer) if onetrainer else None
    if folder.config.is_file():
        try:  # the run as this command reads it once: the fingerprint hashes the same bytes
            config = read_run(project.run_dir).config_bytes
        except OnelazyError:  # not a config: hashed as it is
            pass
        else:
            digest = hashlib.sha256(config)
            for path in (folder.concepts, folder.samples):
                if path.exists():
                    hash_file_into(digest, path)
                else:
                    digest.update(b"\0missing")
            return {"config": digest.hexdigest()[:24], "onetrainer": where}
    return {"config": _file_digest([folder.config, folder.concepts, folder.samples]), "onetrainer": where}


def _launch_output(project: Project, state: _State, inputs: Mapping[str, Any]) -> _Output:
    finished = state.get("launch") or {}
    attempt = state.get("launch-attempt") or {}
    last = finished or (attempt if attempt.get("fingerprint") == _fingerprint(inputs) else {})
    detail = (
        f"{last.get('outcome', '?')} at step {last.get('global_step', '?')}" if last else "not trained yet"
    )
    output = project.output
    return _Output(
        output.is_file() and finished.get("outcome") == "finished",
        detail,
        "training did not finish; `onelazy run` continues it" if last else f"no final model at {output}",
        started=bool(last),
    )


def _find_onetrainer(project: Project) -> Any:
    """The project's OneTrainer; when there is none, the error names the file's key (``run`` has no
    ``--onetrainer``)."""
    from onelazy.onetrainer.install import find_onetrainer

    return find_onetrainer(
        project.onetrainer,
        python=project.python,
        given_as=f"{project.file.name}: onetrainer",
        how_to_give=f"set onetrainer: in {project.file.name}",
        python_given_as=f"{project.file.name}: python",
    )


def _run_launch(run: _Run, check: _Check) -> _Ran:
    from onelazy.training import launch

    project, say = run.project, run.say
    _find_onetrainer(project)
    config = _resume_config(run, check)
    if config is not None:
        say(f"launch: continuing from OneTrainer's last backup ({config.name})")
    else:
        config = RunFolder(project.run_dir).config
        _set_aside_earlier_training(project, say)
    secrets = RunFolder(project.run_dir).secrets
    result = launch(
        config,
        onetrainer=project.onetrainer,
        python=project.python,
        secrets_path=secrets if secrets.is_file() else None,
        on_event=run.on_training_event,
        allow_config_warnings=project.train.allow_config_warnings,
        run_dir=project.run_dir,
    )
    facts = {"outcome": result.outcome, "global_step": result.global_step, "epochs_done": result.epochs_done}
    if result.outcome == "finished":
        return _Ran(detail=f"finished at step {result.global_step}", facts=facts)
    # Not done: the next run continues it (from OneTrainer's backup when it made one).
    run.state.record("launch-attempt", check.inputs, **facts)
    run.state.forget("launch")
    if result.outcome == "interrupted":
        backup = any(item.kind == "backup" for item in result.saved)
        say(
            "launch: interrupted; OneTrainer saved a backup. `onelazy run` again continues training."
            if backup
            else "launch: interrupted before OneTrainer saved a backup; `onelazy run` again starts "
            "training from the beginning."
        )
        return _Ran(detail=result.error or "", stopped="interrupted")
    say(f"launch: failed: {result.error or 'see ' + str(result.log_path)}")
    return _Ran(detail=result.error or "", stopped="failed")


# ------------------------------------------------------------------------------- compare


def _compare_inputs(project: Project, state: _State) -> dict[str, Any]:
    options = project.compare_options()
    render = options.pop("render")
    del options["keep"]  # where the LoRA copies stay does not change the images
    # the family's fields count where they change the graph: SD 1.5 and SDXL (one checkpoint) render
    # as before families existed, so a finished comparison of theirs stays done after an upgrade
    family_fields = ("family", "text_encoders", "vae")
    plain = render.family in (None, "sd15", "sdxl") and not render.text_encoders and render.vae is None
    settings = {
        **options,
        **{
            name: getattr(render, name)
            for name in RENDER_FIELDS
            if name != "loras" and not (plain and name in family_fields)
        },
        **({"loras": [list(lora) for lora in render.loras]} if render.loras else {}),
    }
    return {"launch": state.finished_as("launch"), **dict(_flat(settings, "compare"))}


def _compare_output(project: Project, state: _State, _inputs: Mapping[str, Any]) -> _Output:
    from onelazy.comparison import picked_label

    recorded = state.get("compare")
    detail = (
        f"{recorded.get('checkpoints', '?')} checkpoints, {recorded.get('images', '?')} images"
        if recorded
        else "nothing rendered yet"
    )
    if recorded:
        folder = RunFolder(project.run_dir)
        picked = picked_label(project.run_dir) if folder.config.is_file() else None
        detail += f"; picked: {picked}" if picked else "; picked: none yet (the LoRA is the final model)"
    return _Output(RunFolder(project.run_dir).grid.is_file(), detail, "no grid")


def _run_compare(run: _Run, _check: _Check) -> _Ran:
    from onelazy.comparison import CompareProgress, compare

    def report(state: CompareProgress) -> None:
        if state.stage == "load":
            run.progress("compare", f"loading the image model {state.current}")
        else:
            run.progress("compare", f"{state.done}/{state.total} images {state.current}".rstrip())

    compared = compare(run.project.run_dir, on_progress=report, **run.project.compare_options())
    run.checkpoints = compared.checkpoints
    return _Ran(
        detail=f"{len(compared.checkpoints)} checkpoints",
        facts={"checkpoints": len(compared.checkpoints), "images": len(compared.cells)},
        said=[f"compare: {line}" for line in compared.describe()],
    )


#: The pipeline, in order.
PIPELINE: tuple[Stage, ...] = (
    Stage("generate", _generate_inputs, _generate_output, _run_generate),
    Stage("cull", _cull_inputs, _cull_output, _run_cull),
    Stage("review", _review_inputs, _review_output, _run_review, optional=True),
    Stage("build-config", _build_inputs, _build_output, _run_build),
    Stage("launch", _launch_inputs, _launch_output, _run_launch),
    Stage(
        "compare",
        _compare_inputs,
        _compare_output,
        _run_compare,
        configured=lambda project: project.compare is not None,
        unconfigured="no compare: section in the file",
    ),
)
assert tuple(stage.name for stage in PIPELINE) == STAGES


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


def project_status(path: str | os.PathLike[str] = "onelazy.yaml") -> list[StageStatus]:
    """Each stage of the project: done, stale (and why), pending, with counts."""
    project = load_project(path)
    state = _State(project)
    statuses = []
    upstream_not_done = False
    for stage in PIPELINE:
        if not stage.configured(project):
            statuses.append(StageStatus(stage.name, "optional", stage.unconfigured))
            continue
        check = stage.check(project, state)
        verdict, reason = _verdict(check, state.get(stage.name))
        if stage.optional:
            statuses.append(
                StageStatus(stage.name, "done" if verdict == "done" else "optional", check.output.detail)
            )
            continue
        if verdict == "done" and upstream_not_done:
            verdict, reason = "stale", "a stage before it will run again"
        if verdict != "done":
            upstream_not_done = True
        statuses.append(StageStatus(stage.name, verdict, check.output.detail, reason))
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


@dataclass
class _Run:
    """One ``onelazy run``: the project, its state, and where its lines and events go."""

    project: Project
    state: _State
    say: Echo
    progress: Callable[[str, str], None]
    on_training_event: Callable[[Any], None] | None
    open_browser: bool
    checkpoints: Sequence[Checkpoint] | None = None
    """The checkpoints compare found, when it ran."""


def _stages_up_to(stop_after: str | None) -> tuple[Stage, ...]:
    """The stages a run goes through: all, or up to ``stop_after`` and the optional ones after it
    (``--stop-after cull --review`` still pauses for the review)."""
    if stop_after is None:
        return PIPELINE
    if stop_after not in STAGES:
        from onelazy.errors import UsageError

        raise UsageError(f"stop_after: {stop_after!r} is not a stage; allowed: {', '.join(STAGES)}")
    last = STAGES.index(stop_after)
    while last + 1 < len(PIPELINE) and PIPELINE[last + 1].optional:
        last += 1
    return PIPELINE[: last + 1]


def _refuse_wrong_family(project: Project) -> None:
    from onelazy.build import refuse_wrong_family
    from onelazy.families import family_of_model_type, family_of_preset
    from onelazy.presets import resolve_preset

    owner = family_of_preset(project.preset)
    if owner is None:  # a preset of no family (a copy under another name): its model type's
        owner = family_of_model_type(resolve_preset(project.preset).model_type.value)
    refuse_wrong_family(owner, project.base_model, key="base_model", file=str(project.file))


def _require_score_packages(project: Project) -> None:
    from onelazy.comparison.image_score import missing_packages
    from onelazy.errors import ImageScoreError

    missing = missing_packages()
    if missing:
        raise ImageScoreError(
            f"{project.file}: compare.image_score: the image score needs {' and '.join(missing)}: "
            "pip install 'onelazy[score]', or remove compare.image_score"
        )


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
    stages = _stages_up_to(stop_after)
    project = load_project(path)
    state = _State(project)
    summary = RunSummary(project=project.file)
    if any(stage.name in ("build-config", "launch") for stage in stages):
        # a base model of another family than the preset is refused now, not by a OneTrainer
        # traceback after the images are made
        _refuse_wrong_family(project)
    if any(stage.name == "launch" for stage in stages) and state.get("launch") is None:
        # a wrong OneTrainer folder is found now, not after hours of generating images
        _find_onetrainer(project)
    if any(stage.name == "compare" for stage in stages) and project.image_score_model() is not None:
        # and the image score's packages now, not after the training
        _require_score_packages(project)
    run = _Run(
        project,
        state,
        say,
        on_progress or (lambda _stage, _text: None),
        on_training_event,
        open_browser,
    )
    for stage in stages:
        if not stage.configured(project):
            say(f"{stage.name}: skipped ({stage.unconfigured})")
            summary.results.append(StageResult(stage.name, "skipped", "not configured"))
            continue
        check = stage.check(project, state)
        verdict, reason = _verdict(check, state.get(stage.name))
        if stage.optional:
            if not review or verdict == "done":
                continue
            reason = "asked with --review"
        elif verdict == "done":
            say(f"{stage.name}: skipped (done: {check.output.detail})")
            summary.results.append(StageResult(stage.name, "skipped", "done", check.output.detail))
            continue
        else:
            say(f"{stage.name}: runs ({reason})")
        ran = stage.run(run, check)
        if ran.stopped is not None:
            summary.results.append(StageResult(stage.name, "stopped", ran.stopped, ran.detail or ""))
            summary.outcome = ran.stopped
            return summary
        detail = ran.detail
        if detail is None:  # the output as the work left it
            detail = stage.output(project, state, check.inputs).detail
        facts = {**ran.facts, **({ran.detail_as: detail} if ran.detail_as else {})}
        state.record(stage.name, check.inputs, **facts)
        summary.results.append(StageResult(stage.name, "ran", reason, detail))
        for line in [f"{stage.name}: done ({detail})"] if ran.said is None else ran.said:
            say(line)
        if stage.name == "compare":
            summary.compare_grid = RunFolder(project.run_dir).grid
    if summary.compare_grid is None and any(s.name == "compare" and s.configured(project) for s in stages):
        summary.compare_grid = RunFolder(project.run_dir).grid
    if summary.compare_grid is not None:
        steps = ", ".join(_checkpoint_steps(project, run.checkpoints))
        say(
            f"Look at {summary.compare_grid}, then keep the best: onelazy compare {project.run_dir} "
            f"--pick STEP (steps: {steps}), or --pick best for the one the validation loss points to"
        )
    return summary


def _checkpoint_steps(project: Project, checkpoints: Sequence[Checkpoint] | None) -> list[str]:
    """The steps ``--pick`` takes: every save's, and the final model's (a pick can go back to it).

    ``checkpoints`` are the ones compare just found, or None to look (hashing every checkpoint file)."""
    if checkpoints is None:
        from onelazy.comparison import find_checkpoints

        checkpoints = find_checkpoints(project.run_dir)
    return [
        f"{c.step} (final)" if c.kind == "final" else str(c.step)
        for c in checkpoints
        if c.kind in ("save", "final") and c.step is not None
    ]


# =============================================================================== stages


def _resume_config(run: _Run, check: _Check) -> Path | None:
    """``config.resume.json`` (``continue_last_backup`` on) when the last attempt of this very config
    was interrupted after OneTrainer made a backup; None to start from the beginning."""
    attempt = run.state.get("launch-attempt")
    if attempt is None or attempt.get("fingerprint") != check.fingerprint:
        return None
    from onelazy.run_folder import read_run

    project = run.project
    trained = read_run(project.run_dir)
    if not trained.backups.is_dir() or not any(entry.is_dir() for entry in trained.backups.iterdir()):
        return None
    from onelazy._files import atomic_write_text
    from onelazy.onetrainer import to_onetrainer_json

    config = trained.config.model_copy(deep=True)
    config.continue_last_backup = True  # an assignment the model validates
    return atomic_write_text(trained.folder.resume_config, to_onetrainer_json(config))


def _set_aside_earlier_training(project: Project, say: Echo) -> None:
    """A fresh training starts clean: the earlier training's saves, backups and LoRA move to
    ``<workspace>/earlier/<time>/`` (nothing deleted), so compare shows only this training's
    checkpoints and OneTrainer overwrites no picked LoRA. Under the workspace lock: never while
    another launch trains there."""
    from onelazy.run_folder import read_run, set_aside_earlier_training
    from onelazy.training.preflight import WorkspaceLock

    trained = read_run(project.run_dir)
    if trained.config.continue_last_backup:
        return  # the file itself asks OneTrainer to continue the earlier training
    lock = WorkspaceLock(trained.workspace)
    lock.acquire()
    try:
        moved = set_aside_earlier_training(trained)
    finally:
        lock.release()
    for line in moved.describe():
        say(f"launch: {line}")
