"""``cull()``: measure every image once, decide, move the rejects, write the report."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

from onelazy._files import atomic_write_bytes
from onelazy.dataset import IMAGE_EXTENSIONS, deeper_image_folders, natural_key
from onelazy.dataset.cull_report import (
    MANUAL_REASON,
    REASONS,
    REJECTED_DIR,
    REPORT_NAME,
    CullEntry,
    CullRecord,
    read_cull_report,
    write_cull_report,
)
from onelazy.dataset.manifest import MANIFEST_NAME, update_manifest
from onelazy.errors import DatasetError, EverythingRejected, StorageError

from ._measure import MEASURE_SIDE, Measure, measure_many
from ._store import (
    HTML_NAME,
    REVIEW_WRITES,
    MoveBatch,
    check_dataset,
    companions_of,
    files_by_stem,
    list_images,
    move_with_companions,
    rejected_target,
    remove_empty_dirs,
    there,
    write_html,
)

#: Near-duplicate distance (pHash bits out of 64) used unless told otherwise; see docs/cull.md.
DEFAULT_NEAR_DISTANCE = 10
#: Blurry: sharpness under this fraction of the dataset's median sharpness.
DEFAULT_BLUR_RATIO = 0.33
#: Flat: contrast under this fraction of the dataset's median contrast ...
DEFAULT_FLAT_RATIO = 0.1
#: ... or under this many grey levels whatever the dataset (an all-flat dataset stays caught).
FLAT_FLOOR = 1.0
#: Shorter side under this many pixels is too small (SD 1.5's training resolution).
DEFAULT_MIN_SIDE = 512
#: Checks that can be switched off with ``skip``.
CHECKS: tuple[str, ...] = ("too-small", "aspect", "flat", "blurry", "duplicate", "near-duplicate")
#: Reasons cull's own checks give (not review's "manual"): a rerun decides these files afresh.
CHECK_REASONS: frozenset[str] = frozenset({"unreadable", *CHECKS})

ProgressCallback = Callable[[str, int, int], None]

#: How a message names each option of :func:`cull`: its ``onelazy cull`` flag. ``run`` passes the
#: onelazy.yaml keys instead (``cull.min_side``), so a hint names what the person can change.
OPTION_NAMES: dict[str, str] = {
    "min_side": "--min-size",
    "aspect": "--aspect",
    "near_distance": "--near-distance",
    "blur_ratio": "--blur-ratio",
    "blur_threshold": "--blur-threshold",
    "flat_ratio": "--flat-ratio",
    "flat_threshold": "--flat-threshold",
    "skip": "--skip",
}


#: What cull decided about one file, and why: an entry of ``cull-report.json``.
Decision = CullEntry


@dataclass
class CullReport:
    """The outcome of one :func:`cull` run (also what ``cull-report.json`` holds)."""

    dataset: Path
    decisions: list[Decision]
    thresholds: dict[str, Any]
    dry_run: bool
    notes: list[str] = field(default_factory=list)
    """Where a check could not work as configured (a degenerate dataset), in words."""
    by_hand: list[str] = field(default_factory=list)
    """Files rejected by hand in review: not measured again, they stay rejected."""

    @property
    def kept(self) -> list[Decision]:
        return [d for d in self.decisions if d.status == "kept"]

    @property
    def rejected(self) -> list[Decision]:
        return [d for d in self.decisions if d.status == "rejected"]

    def counts(self) -> dict[str, int]:
        """Rejected files per reason (in check order), plus ``kept``."""
        counts = {"kept": len(self.kept)}
        for reason in REASONS:
            n = sum(1 for d in self.rejected if d.reason == reason)
            if n:
                counts[reason] = n
        return counts


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _workers(requested: int | None) -> int:
    if requested is not None:
        return max(1, requested)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _measure_all(
    root: Path, images: list[str], workers: int, progress: ProgressCallback | None
) -> Generator[Measure, None, None]:
    """Measures in input order; a process pool when there is enough work to pay for starting it."""
    batch = 8
    batches = [images[i : i + batch] for i in range(0, len(images), batch)]
    done = 0
    if workers <= 1 or len(images) < 4 * batch:
        for chunk in batches:
            results = measure_many(str(root), chunk)
            done += len(chunk)
            if progress:
                progress("measure", done, len(images))
            yield from results
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        try:
            for results in pool.map(measure_many, repeat(str(root)), batches):
                done += len(results)
                if progress:
                    progress("measure", done, len(images))
                yield from results
        except BrokenProcessPool as exc:
            raise StorageError(
                f"{root}: a decoding process died (out of memory, or a decoder crashed on a file); "
                f"nothing was moved; `onelazy cull {root} --workers 1` decodes one file at a time and "
                "names the one that fails"
            ) from exc
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _quality_key(m: Measure) -> tuple[float, int, tuple[tuple[int, int | str], ...]]:
    """Best first: sharpest, then largest, then first by name."""
    return (-m.sharpness, -(m.width * m.height), natural_key(m.file))


def _decide(
    measures: list[Measure],
    *,
    min_side: int,
    aspect: tuple[float, float] | None,
    near_distance: int,
    blur_ratio: float,
    blur_threshold: float | None,
    flat_ratio: float,
    flat_threshold: float | None,
    skip: frozenset[str],
    names: dict[str, str],
) -> tuple[list[Decision], dict[str, Any], list[str]]:
    from ._search import near_pairs

    decisions: dict[str, Decision] = {}

    def reject(m: Measure, reason: str, message: str, **extra: Any) -> None:
        decisions[m.file] = Decision(m.file, "rejected", reason, message, measures=_measures(m), **extra)

    candidates: list[Measure] = []
    for m in measures:
        if not m.readable:
            reject(m, "unreadable", f"unreadable: {m.error}")
        elif "too-small" not in skip and min(m.width, m.height) < min_side:
            reject(m, "too-small", f"too small: {m.width}x{m.height}, shorter side under {min_side} px")
        elif aspect is not None and "aspect" not in skip and not aspect[0] <= m.width / m.height <= aspect[1]:
            ratio = m.width / m.height
            reject(m, "aspect", f"aspect ratio {ratio:.2f} is outside {aspect[0]:g}-{aspect[1]:g}")
        else:
            candidates.append(m)

    notes: list[str] = []
    contrast_median = _median([m.contrast for m in candidates])
    flat_limit, flat_basis = _flat_limit(
        candidates, contrast_median, flat_ratio, flat_threshold, skip, notes, names
    )
    remaining: list[Measure] = []
    for m in candidates:
        if "flat" not in skip and m.contrast < flat_limit:
            reject(
                m,
                "flat",
                f"flat: grey standard deviation {m.contrast:.1f} under {flat_limit:.1f}{flat_basis}",
            )
        else:
            remaining.append(m)

    sharpness_median = _median([m.sharpness for m in remaining])
    blur_limit = blur_threshold if blur_threshold is not None else blur_ratio * sharpness_median
    blur_basis = (
        ""
        if blur_threshold is not None
        else f" ({blur_ratio:g} x the dataset's median {sharpness_median:.1f})"
    )
    if blur_threshold is None and "blurry" not in skip and remaining and blur_limit <= 0:
        notes.append(
            f"blurry: not checked: most images have no edges at all (median sharpness "
            f"{sharpness_median:.1f}), so {names['blur_ratio']} has nothing to compare with; "
            f"give {names['blur_threshold']} to check them"
        )
    sharp: list[Measure] = []
    for m in remaining:
        if "blurry" not in skip and m.sharpness < blur_limit:
            reject(m, "blurry", f"blurry: sharpness {m.sharpness:.1f} under {blur_limit:.1f}{blur_basis}")
        else:
            sharp.append(m)

    sharp.sort(key=_quality_key)  # best first: the first of each group is the one kept
    unique: list[Measure] = []
    if "duplicate" not in skip:
        keeper_of: dict[str, Measure] = {}
        for m in sharp:
            keeper = keeper_of.setdefault(m.pixel_digest, m)
            if keeper is m:
                unique.append(m)
            else:
                reject(
                    m,
                    "duplicate",
                    f"duplicate of {keeper.file} (same pixels)",
                    keeper=keeper.file,
                    distance=0,
                )
    else:
        unique = sharp

    kept = unique
    if "near-duplicate" not in skip and len(unique) > 1:
        import numpy as np

        hashes = np.array([m.phash for m in unique], dtype=np.uint64)
        left, right, distance = near_pairs(hashes, near_distance)
        neighbours: dict[int, list[tuple[int, int]]] = {}
        for a, b, d in zip(left.tolist(), right.tolist(), distance.tolist(), strict=True):
            neighbours.setdefault(a, []).append((b, d))
            neighbours.setdefault(b, []).append((a, d))
        taken = [False] * len(unique)
        kept = []
        for index, m in enumerate(unique):  # best first
            if taken[index]:
                continue
            taken[index] = True
            kept.append(m)
            for other, d in sorted(neighbours.get(index, []), key=lambda pair: pair[0]):
                if not taken[other]:
                    taken[other] = True
                    o = unique[other]
                    reject(
                        o,
                        "near-duplicate",
                        f"near-duplicate of {m.file} (distance {d})",
                        keeper=m.file,
                        distance=d,
                    )

    for m in kept:
        decisions[m.file] = Decision(m.file, "kept", measures=_measures(m))
    thresholds = {
        "min_side": min_side if "too-small" not in skip else None,
        "aspect": list(aspect) if aspect is not None and "aspect" not in skip else None,
        "flat_contrast": round(flat_limit, 3) if "flat" not in skip else None,
        "blur_sharpness": round(blur_limit, 3) if "blurry" not in skip else None,
        "near_distance": near_distance if "near-duplicate" not in skip else None,
        "median_contrast": round(contrast_median, 3),
        "median_sharpness": round(sharpness_median, 3),
        "measure_side": MEASURE_SIDE,
    }
    ordered = [decisions[m.file] for m in measures]
    return ordered, thresholds, notes


def _flat_limit(
    candidates: list[Measure],
    median: float,
    ratio: float,
    threshold: float | None,
    skip: frozenset[str],
    notes: list[str],
    names: dict[str, str],
) -> tuple[float, str]:
    """The contrast under which an image is flat, and the words that say where that number comes from.

    Relative to the dataset's median, but never under :data:`FLAT_FLOOR`: when most of the dataset
    is flat itself its median is no yardstick (0.1 x 0.0 would pass a blank image), so the floor
    decides and the message says so instead of quoting a product that does not add up.
    """
    if threshold is not None:
        return threshold, f" ({names['flat_threshold']})"
    relative = ratio * median
    if relative >= FLAT_FLOOR:
        return relative, f" ({ratio:g} x the dataset's median {median:.1f})"
    if median >= FLAT_FLOOR:
        return FLAT_FLOOR, (
            f", the minimum for any image ({ratio:g} x the dataset's median {median:.1f} would be only "
            f"{relative:.1f})"
        )
    if "flat" not in skip and candidates:  # none measured (all rejected before): nothing to say
        flat = sum(1 for m in candidates if m.contrast < FLAT_FLOOR)
        notes.append(
            f"flat: {flat} of {len(candidates)} images are a single flat colour (grey standard deviation "
            f"under {FLAT_FLOOR:g}); with most of the dataset flat, its median ({median:.1f}) is no "
            f"yardstick for {names['flat_ratio']}, so only the fixed minimum {FLAT_FLOOR:g} was applied"
        )
    return FLAT_FLOOR, (
        f", the minimum for any image (most of this dataset is flat, so its median {median:.1f} "
        "gives nothing to compare with)"
    )


def _measures(m: Measure) -> dict[str, Any]:
    if not m.readable:
        return {}
    return {
        "width": m.width,
        "height": m.height,
        "format": m.format,
        "sharpness": round(m.sharpness, 3),
        "contrast": round(m.contrast, 3),
        "phash": f"{m.phash:016x}",
    }


def cull(
    path: str | os.PathLike[str],
    *,
    min_side: int = DEFAULT_MIN_SIDE,
    aspect: tuple[float, float] | None = None,
    near_distance: int = DEFAULT_NEAR_DISTANCE,
    blur_ratio: float = DEFAULT_BLUR_RATIO,
    blur_threshold: float | None = None,
    flat_ratio: float = DEFAULT_FLAT_RATIO,
    flat_threshold: float | None = None,
    skip: Sequence[str] = (),
    dry_run: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    option_names: Mapping[str, str] | None = None,
) -> CullReport:
    """Check every image in ``path`` and move the rejects to ``path/.rejected/<reason>/``.

    Checks, in order (a file gets the first reason that applies): unreadable, too-small (shorter
    side under ``min_side``), aspect (width/height outside ``aspect``; off unless given), flat,
    blurry, duplicate (same decoded pixels), near-duplicate (pHash within ``near_distance`` bits).
    Flat and blurry compare against the dataset's own median unless an absolute threshold is given.
    Of each duplicate group the sharpest, then largest, then first-named file is kept.

    With ``dry_run`` nothing on disk changes. Otherwise the rejects move (with their captions),
    ``cull-report.json`` and ``cull-report.html`` are written and ``manifest.jsonl`` (if any) is
    updated; if any move fails, the moves already made are reversed and :class:`StorageError` raised.

    When every image is rejected, the moves are made and :class:`EverythingRejected` is raised
    (it holds the report), naming the thresholds that rejected them as ``option_names`` says
    (default: the ``onelazy cull`` flags, :data:`OPTION_NAMES`).
    """
    names = {**OPTION_NAMES, **(option_names or {})}
    unknown = sorted(set(skip) - set(CHECKS))
    if unknown:
        raise DatasetError(f"skip: unknown check {', '.join(unknown)}; allowed: {', '.join(CHECKS)}")
    if aspect is not None and not 0 < aspect[0] <= aspect[1]:
        raise DatasetError(f"aspect: {aspect[0]:g}:{aspect[1]:g} is not a range MIN:MAX with 0 < MIN <= MAX")
    if near_distance < 0 or near_distance > 64:
        raise DatasetError(f"near_distance: {near_distance} is outside 0-64 (bits of a 64-bit pHash)")
    root = check_dataset(Path(path), writable=not dry_run)
    images, _by_stem = list_images(root)
    previous = read_cull_report(root)
    # An earlier cull's own rejects are measured again where they lie and decided afresh under
    # their first names: a change of threshold puts back what now passes. Rejects by hand stay.
    again = _earlier_automatic_rejects(root, previous, set(images))
    if not images and not again:
        kept_out = _still_rejected(root, previous)
        if kept_out:  # rejected by hand in review, every one of them
            raise DatasetError(
                f"{root}: no images left: all {len(kept_out)} are in {REJECTED_DIR}/ (see "
                f"{root / HTML_NAME}); `onelazy cull {root} --undo` puts them back"
            )
        raise DatasetError(
            f"{root}: no images in this folder (looked for {', '.join(sorted(IMAGE_EXTENSIONS))},"
            f" in it and in the folders directly inside it, skipping hidden ones like {REJECTED_DIR})"
        )
    where = {relative: relative for relative in images}
    where.update((entry.file, str(entry.moved_to)) for entry in again)
    order = sorted(where, key=natural_key)
    measures: list[Measure] = []
    # closing(): on an error the pool is shut down now, not whenever the traceback is dropped
    placed = [where[name] for name in order]
    with contextlib.closing(_measure_all(root, placed, _workers(workers), progress)) as measured:
        for name, m in zip(order, measured, strict=True):
            if m.missing:
                raise StorageError(f"{root / m.file}: {m.error}; nothing was moved, run cull again")
            measures.append(dataclasses.replace(m, file=name))
    decisions, thresholds, notes = _decide(
        measures,
        min_side=min_side,
        aspect=aspect,
        near_distance=near_distance,
        blur_ratio=blur_ratio,
        blur_threshold=blur_threshold,
        flat_ratio=flat_ratio,
        flat_threshold=flat_threshold,
        skip=frozenset(skip),
        names=names,
    )
    deeper = deeper_image_folders(root)
    if deeper:
        shown = ", ".join(deeper[:3]) + (f" and {len(deeper) - 3} more" if len(deeper) > 3 else "")
        notes.append(
            f"not culled: images in folders deeper than {root.name}/<set>/ ({shown}); they are not part "
            "of the dataset, and OneTrainer trains on them only with build-config --recursive"
        )
    by_hand = sorted((e.file for e in _still_rejected(root, previous) if e.by_hand), key=natural_key)
    report = CullReport(root, decisions, thresholds, dry_run, notes, by_hand=by_hand)
    if not dry_run:
        if progress:
            progress("move", 0, len(report.rejected))
        _apply(root, report, previous, again)
    if not report.kept:
        given = {
            "min_side": min_side,
            "aspect": f"{aspect[0]:g}:{aspect[1]:g}" if aspect is not None else None,
            "near_distance": near_distance,
            "flat_threshold": flat_threshold,
            "flat_ratio": flat_ratio,
            "blur_threshold": blur_threshold,
            "blur_ratio": blur_ratio,
        }
        raise EverythingRejected(_everything_rejected(report, names, given), report=report)
    return report




#: the option (a key of :data:`OPTION_NAMES`) whose value rejected an image for each reason
_DECIDED_BY = {
    "too-small": ("min_side",),
    "aspect": ("aspect",),
    "flat": ("flat_threshold", "flat_ratio"),
    "blurry": ("blur_threshold", "blur_ratio"),
    "near-duplicate": ("near_distance",),
}


def _everything_rejected(report: CullReport, names: dict[str, str], given: dict[str, Any]) -> str:
    """Why nothing is left: each reason with its count, the threshold behind it, and the way back."""
    counts = {reason: n for reason, n in report.counts().items() if reason != "kept"}
    total = len(report.decisions)
    parts, settings = [], []
    for reason, count in counts.items():
        option = next((o for o in _DECIDED_BY.get(reason, ()) if given.get(o) is not None), None)
        if option == "flat_ratio" and report.thresholds.get("flat_contrast") == FLAT_FLOOR:
            # the fixed minimum decided, not the ratio (see _flat_limit)
            settings.append(f"{names['flat_threshold']} under {FLAT_FLOOR:g}")
            parts.append(f"{reason} {count} by the fixed minimum contrast {FLAT_FLOOR:g}")
            continue
        if option is None:  # unreadable: no threshold decides that
            parts.append(f"{reason} {count}")
            continue
        name = names[option]
        settings.append(f"{name} {given[option]}" if name.startswith("-") else f"{name}: {given[option]}")
        parts.append(f"{reason} {count} by {settings[-1]}")
    verb = "would reject" if report.dry_run else "rejected"
    text = f"cull {verb} every image ({total} of {total}: {', '.join(parts)}), so nothing is left to train on"
    if settings:
        text += f"; loosen it ({', '.join(settings)}), or switch the check off with {names['skip']}"
    if report.dry_run:
        return text + "; nothing was moved"
    return (
        f"{text}; the images are in {report.dataset / REJECTED_DIR}/ (see {report.dataset / HTML_NAME}), "
        f"`onelazy cull {report.dataset} --undo` puts them back"
    )



def _still_rejected(root: Path, previous: CullRecord | None) -> list[CullEntry]:
    """The earlier report's rejects whose file is still where it was moved to."""
    return [
        entry
        for entry in (previous.rejected if previous is not None else [])
        if entry.moved_to is not None and there(root / entry.moved_to)
    ]


def _earlier_automatic_rejects(root: Path, previous: CullRecord | None, images: set[str]) -> list[CullEntry]:
    """Rejects an earlier cull made by its checks (not by hand) that can go back to their place."""
    return [
        entry
        for entry in _still_rejected(root, previous)
        if entry.reason in CHECK_REASONS and entry.file not in images and not there(root / entry.file)
    ]


def _apply(root: Path, report: CullReport, previous: CullRecord | None, again: list[CullEntry]) -> None:
    """Put the earlier automatic rejects back, move this run's rejects, write the report files;
    all or nothing."""
    taken: set[str] = set()
    with _all_or_nothing(root) as batch:
        for entry in again:
            _move_back(batch, root, entry)
        _images, by_stem = list_images(root)
        for decision in report.rejected:
            assert decision.reason is not None
            target = rejected_target(root, decision.reason, decision.file, taken)
            decision.companions = move_with_companions(
                batch, decision.file, target, companions_of(decision.file, by_stem)
            )
            decision.moved_to = target
        current = {d.file for d in report.decisions}
        carried = [entry for entry in _still_rejected(root, previous) if entry.file not in current]
        record = CullRecord(root.name, report.thresholds, report.notes, carried + list(report.decisions))
        moves = {
            d.file: {"reason": str(d.reason), "to": str(d.moved_to), "companions": d.companions}
            for d in report.rejected
        }
        _record(root, record, rejected=moves, restored=[entry.file for entry in again])
    if again:
        remove_empty_dirs(root / REJECTED_DIR)


class _SavedFiles:
    """The report and manifest as they were, to put back if a batch of moves has to be reversed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.saved: dict[str, bytes | None] = {}
        for name in (REPORT_NAME, MANIFEST_NAME):
            try:
                self.saved[name] = (root / name).read_bytes()
            except FileNotFoundError:
                self.saved[name] = None
            except OSError as exc:
                raise StorageError(f"{root / name}: cannot read: {exc.strerror or exc}") from exc

    def restore(self) -> None:
        for name, content in self.saved.items():
            with contextlib.suppress(OSError, StorageError):
                if content is None:
                    (self.root / name).unlink(missing_ok=True)
                else:
                    atomic_write_bytes(self.root / name, content)


@contextlib.contextmanager
def _all_or_nothing(root: Path) -> Generator[MoveBatch, None, None]:
    """A batch of moves with the report and manifest saved first: if anything inside fails or is
    interrupted, the moves are reversed and both files put back, so all of it happens or none."""
    batch = MoveBatch(root)
    saved = _SavedFiles(root)
    try:
        yield batch
    except BaseException:
        batch.rollback()
        saved.restore()
        raise


def _record(
    root: Path, record: CullRecord, *, rejected: dict[str, dict[str, Any]], restored: Sequence[str]
) -> None:
    """Write down what a batch of moves did: the report, the manifest's entries, the contact sheet."""
    from ._html import render_contact_sheet

    data = write_cull_report(root, record)
    update_manifest(root, rejected, restored=restored)
    write_html(root, render_contact_sheet(data, root.name))


def undo_cull(path: str | os.PathLike[str]) -> list[str]:
    """Put back every file cull or review moved to ``.rejected`` (with its captions); returns them.

    Checks first that every original place is free, so either everything goes back or nothing does.
    """
    root = check_dataset(Path(path), writable=True, writes=f"--undo moves the files in {REJECTED_DIR}/ back")
    record = read_cull_report(root)
    if record is None:
        raise DatasetError(f"{root}: no {REPORT_NAME} here, so there is nothing to undo")
    entries = [e for e in record.rejected if e.moved_to]
    for entry in entries:
        if there(root / entry.file):
            raise StorageError(
                f"{root / entry.file}: a file is back in the place of a reject; move it away first"
            )
    restored: list[str] = []
    with _all_or_nothing(root) as batch:
        for entry in entries:
            if not there(root / str(entry.moved_to)):
                continue  # already put back by hand
            _move_back(batch, root, entry)
            restored.append(entry.file)
        for entry in entries:
            _mark_restored(entry)
        _record(root, record, rejected={}, restored=[e.file for e in entries])
    remove_empty_dirs(root / REJECTED_DIR)
    return restored


def _move_back(batch: MoveBatch, root: Path, entry: CullEntry) -> None:
    """Move a reject back to its place, with each caption whose place is still free."""
    batch.move(str(entry.moved_to), entry.file)
    for companion in entry.companions:
        if there(root / companion["to"]) and not there(root / companion["from"]):
            batch.move(companion["to"], companion["from"])


def _mark_restored(entry: CullEntry) -> None:
    """Turn a reject's report entry into a kept one that still says why it had been rejected."""
    entry.status = "kept"
    entry.message = f"restored (was rejected: {entry.reason})"
    entry.reason = None
    entry.moved_to = None
    entry.companions = []


def _companions_of_one(root: Path, relative: str) -> list[str]:
    folder = relative.rsplit("/", 1)[0] if "/" in relative else ""
    return companions_of(relative, files_by_stem(root, [folder]))


def reject_by_hand(path: str | os.PathLike[str], relative: str) -> dict[str, Any]:
    """Move one image (and its captions) to ``.rejected/manual/`` and record it in the report at once."""
    root = check_dataset(Path(path), writable=True, writes=REVIEW_WRITES)
    if not there(root / relative) or (root / relative).is_dir():
        raise DatasetError(f"{root / relative}: no such image in the dataset")
    with _all_or_nothing(root) as batch:
        target = rejected_target(root, MANUAL_REASON, relative, set())
        companions = move_with_companions(batch, relative, target, _companions_of_one(root, relative))
        record = read_cull_report(root) or CullRecord(root.name)
        old = record.entry(relative)
        entry = CullEntry(
            relative,
            "rejected",
            MANUAL_REASON,
            "rejected by hand in review",
            moved_to=target,
            companions=companions,
            measures=old.measures if old is not None else {},
        )
        record.entries = [e for e in record.entries if e.file != relative] + [entry]
        moves = {relative: {"reason": MANUAL_REASON, "to": target, "companions": companions}}
        _record(root, record, rejected=moves, restored=())
    return entry.to_json()


def restore_by_hand(path: str | os.PathLike[str], relative: str) -> dict[str, Any]:
    """Put back one rejected image (and its captions) and record that in the report."""
    root = check_dataset(Path(path), writable=True, writes=REVIEW_WRITES)
    record = read_cull_report(root)
    entry = next((e for e in (record.rejected if record else []) if e.file == relative), None)
    if record is None or entry is None or not entry.moved_to:
        raise DatasetError(f"{relative}: not a rejected file of this dataset, nothing to restore")
    if there(root / relative):
        raise StorageError(f"{root / relative}: a file is back in its place; move it away first")
    with _all_or_nothing(root) as batch:
        _move_back(batch, root, entry)  # its "file" is ``relative``
        _mark_restored(entry)
        _record(root, record, rejected={}, restored=[relative])
    remove_empty_dirs(root / REJECTED_DIR)
    return entry.to_json()


__all__ = [
    "CHECKS",
    "DEFAULT_BLUR_RATIO",
    "DEFAULT_FLAT_RATIO",
    "DEFAULT_MIN_SIDE",
    "DEFAULT_NEAR_DISTANCE",
    "HTML_NAME",
    "CullReport",
    "Decision",
    "cull",
    "reject_by_hand",
    "restore_by_hand",
    "undo_cull",
]
