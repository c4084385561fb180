"""Reading YAML files so that every problem is one line naming ``file:line:column``.

``onelazy.yaml``, a ``generate`` YAML file and preset files are all read here: a file that cannot be
read, is not UTF-8 or is not YAML is one line, and :func:`place` turns a pydantic error location
into the line and column of the YAML node that said it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from onelazy.errors import OnelazyError


def read_text(file: Path, error: type[OnelazyError], *, missing_hint: str = "") -> str:
    """The file's text; unreadable or non-UTF-8 is ``error`` naming the file.

    ``missing_hint`` follows "no such file" when the file is not there (what writes one).
    """
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if not missing_hint:
            raise error(f"{file}: cannot read: {exc.strerror or exc}") from None
        raise error(f"{file}: no such file; {missing_hint}") from None
    except OSError as exc:
        raise error(f"{file}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{file}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def parse(file: Path, text: str, error: type[OnelazyError]) -> tuple[Any, Any]:
    """``(root node, data)`` of ``text``: the composed node tree gives :func:`place` its marks.

    Invalid YAML is ``error`` with the line and column where the parser stopped.
    """
    import yaml

    # libyaml's loader where PyYAML has it: ten times faster, the same data and marks.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(file)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{where}: not valid YAML: {problem}") from None
    return root, data


def load(file: Path, error: type[OnelazyError]) -> tuple[Any, Any]:
    """:func:`read_text` then :func:`parse`."""
    return parse(file, read_text(file, error), error)


def node_at(root: Any, loc: Sequence[Any], *, at_key: bool = False) -> Any:
    """The deepest YAML node along ``loc`` (for its line and column); ``root`` is a composed node.

    With ``at_key`` the last step gives the key's node (for an unknown key), not its value's.
    """
    import yaml

    node = root
    for number, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if pair is None:
                return node
            node = pair[0] if at_key and number == len(loc) - 1 else pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def place(file: Path, root: Any, loc: Sequence[Any], *, at_key: bool = False) -> str:
    """``file:line:column`` of the node at ``loc``; just ``file`` when there is no node (empty file)."""
    node = node_at(root, loc, at_key=at_key) if root is not None else None
    if node is None:
        return str(file)
    return f"{file}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"
