"""Reading ``DATASET/manifest.jsonl`` the one lenient way every stage should.

``generate`` appends one line per image and fsyncs it, so a kill can leave at most the LAST line
torn: no newline after it, possibly cut in the middle of a UTF-8 character. Readers must not crash
on that (nor on a line some editor broke); they get the complete lines, each parsed if it is a JSON
object, and the torn tail as raw bytes so a rewrite can keep or drop it on purpose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onelazy.errors import StorageError

MANIFEST_NAME = "manifest.jsonl"
#: The ``rejected`` value of a line whose image ``generate --replace-stale`` moved to
#: ``.rejected/stale/`` (made with other settings than its set asks for now; its index was made
#: again). Not a cull reason: cull's report and undo leave such lines alone.
STALE_REASON = "stale"


@dataclass(frozen=True)
class ManifestLine:
    """One complete line: its bytes (without the newline) and the JSON object it holds, if it is one."""

    raw: bytes
    entry: dict[str, Any] | None


@dataclass(frozen=True)
class Manifest:
    """The complete lines of a manifest, in order, and the torn tail (``b""`` when there is none).

    ``unterminated`` is True when anything follows the last newline, even only blanks: a reader
    that rewrites the file to tidy it (generate) wants to know, one that keeps it (cull) need not."""

    lines: tuple[ManifestLine, ...]
    torn_tail: bytes
    unterminated: bool = False


def read_manifest(path: Path) -> Manifest | None:
    """The manifest at ``path``, or None when there is no such file; :class:`StorageError` when it
    cannot be read. Blank lines are left out; a line that is not UTF-8 JSON has ``entry`` None."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    *complete, tail = raw.split(b"\n")  # ``tail`` is b"" when the file ends with a newline
    lines: list[ManifestLine] = []
    for line in complete:
        if not line.strip():
            continue
        try:
            parsed = json.loads(line)
        except ValueError:  # UnicodeDecodeError included
            parsed = None
        lines.append(ManifestLine(line, parsed if isinstance(parsed, dict) else None))
    return Manifest(tuple(lines), tail if tail.strip() else b"", unterminated=bool(tail))
