"""``DATASET/cull-report.json``: what cull and review decided about each image, as typed objects.

cull writes it, review adds its rejects by hand, undo turns rejects back into kept entries, and
status counts it; each goes through :func:`read_cull_report` and :func:`write_cull_report`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from onelazy._files import atomic_write_json
from onelazy.dataset import natural_key
from onelazy.errors import DatasetError

__all__ = [
    "MANUAL_REASON",
    "REASONS",
    "REJECTED_DIR",
    "REPORT_FORMAT",
    "REPORT_NAME",
    "CullEntry",
    "CullRecord",
    "read_cull_report",
    "write_cull_report",
]

REPORT_NAME = "cull-report.json"
REPORT_FORMAT = "onelazy-cull-report"
REPORT_VERSION = 1
#: Where rejects go: ``DATASET/.rejected/<reason>/<their path>`` (hidden: never part of the dataset).
REJECTED_DIR = ".rejected"
#: The reason of a reject made by hand in review (not measured again by a later cull).
MANUAL_REASON = "manual"
#: Every reason a file can be rejected for, in the order the checks apply.
REASONS: tuple[str, ...] = (
    "unreadable",
    "too-small",
    "aspect",
    "flat",
    "blurry",
    "duplicate",
    "near-duplicate",
    MANUAL_REASON,
)


@dataclass
class CullEntry:
    """What cull (or review) decided about one file, and why; one element of the report's ``files``."""

    file: str
    status: str  # "kept" or "rejected"
    reason: str | None = None
    message: str = ""
    moved_to: str | None = None
    companions: list[dict[str, str]] = field(default_factory=list)
    keeper: str | None = None
    distance: int | None = None
    measures: dict[str, Any] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"

    @property
    def by_hand(self) -> bool:
        return self.rejected and self.reason == MANUAL_REASON

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file": self.file,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
        }
        if self.moved_to:
            data["moved_to"] = self.moved_to
        if self.companions:
            data["companions"] = self.companions
        if self.keeper is not None:
            data["keeper"] = self.keeper
        if self.distance is not None:
            data["distance"] = self.distance
        data["measures"] = self.measures
        return data

    @classmethod
    def from_json(cls, data: Any) -> CullEntry | None:
        """The entry a report holds, or None for an element that is not one (left out on rewrite)."""
        if not isinstance(data, dict):
            return None
        file, status = data.get("file"), data.get("status")
        if not isinstance(file, str) or status not in ("kept", "rejected"):
            return None
        reason, moved_to = data.get("reason"), data.get("moved_to")
        keeper, distance = data.get("keeper"), data.get("distance")
        companions = [
            {"from": c["from"], "to": c["to"]}
            for c in data.get("companions") or []
            if isinstance(c, dict) and isinstance(c.get("from"), str) and isinstance(c.get("to"), str)
        ]
        measures = data.get("measures")
        return cls(
            file,
            str(status),
            str(reason) if reason is not None else None,
            str(data.get("message") or ""),
            moved_to if isinstance(moved_to, str) and moved_to else None,
            companions,
            keeper if isinstance(keeper, str) else None,
            distance if isinstance(distance, int) and not isinstance(distance, bool) else None,
            measures if isinstance(measures, dict) else {},
        )


@dataclass
class CullRecord:
    """The whole report: the dataset's name, the thresholds and notes of the last cull, every entry."""

    dataset: str
    thresholds: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    entries: list[CullEntry] = field(default_factory=list)

    @property
    def kept(self) -> list[CullEntry]:
        return [entry for entry in self.entries if not entry.rejected]

    @property
    def rejected(self) -> list[CullEntry]:
        return [entry for entry in self.entries if entry.rejected]

    @property
    def by_hand(self) -> list[CullEntry]:
        return [entry for entry in self.entries if entry.by_hand]

    def entry(self, file: str) -> CullEntry | None:
        return next((entry for entry in self.entries if entry.file == file), None)

    def summary(self) -> dict[str, Any]:
        """``kept``, ``rejected`` and ``rejected_by_reason`` (in check order), as the file says them."""
        by_reason: dict[str, int] = {}
        for entry in self.rejected:
            by_reason[str(entry.reason)] = by_reason.get(str(entry.reason), 0) + 1
        ordered = {reason: by_reason[reason] for reason in REASONS if reason in by_reason}
        return {"kept": len(self.kept), "rejected": len(self.rejected), "rejected_by_reason": ordered}

    def to_json(self) -> dict[str, Any]:
        entries = sorted(self.entries, key=lambda entry: natural_key(entry.file))
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "dataset": self.dataset,
            "updated": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "thresholds": self.thresholds,
            "notes": self.notes,
            "files": [entry.to_json() for entry in entries],
            "summary": self.summary(),
        }


def read_cull_report(root: Path) -> CullRecord | None:
    """The dataset's report, or None when there is none yet; :class:`DatasetError` when it is not
    one onelazy wrote (say so rather than overwrite someone's file)."""
    path = root / REPORT_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a cull report onelazy can read ({exc}); move it aside") from exc
    if (
        not isinstance(data, dict)
        or data.get("format") != REPORT_FORMAT
        or not isinstance(data.get("files"), list)
    ):
        raise DatasetError(
            f"{path}: not a cull report written by onelazy (key 'format' must be {REPORT_FORMAT!r})"
        )
    entries = [entry for entry in map(CullEntry.from_json, data["files"]) if entry is not None]
    thresholds = data.get("thresholds")
    notes = data.get("notes")
    return CullRecord(
        str(data.get("dataset") or root.name),
        thresholds if isinstance(thresholds, dict) else {},
        [str(note) for note in notes] if isinstance(notes, list) else [],
        entries,
    )


def write_cull_report(root: Path, record: CullRecord) -> dict[str, Any]:
    """Write the report atomically; the JSON written (the contact sheet is drawn from it)."""
    data = record.to_json()
    atomic_write_json(root / REPORT_NAME, data, indent=1)
    return data
