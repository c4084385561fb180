"""Package attributes imported on first use (PEP 562), so importing a package stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, table: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` resolving ``name`` from ``table[name]`` (the module defining it).

    A name that is the module itself (``"errors": "onelazy.errors"``) gives the module. The value is
    stored in ``namespace`` (the package's globals) so the next access skips this function.
    """

    def __getattr__(name: str) -> Any:
        module_name = table.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(module_name)
        value = module if module.__name__.endswith(f".{name}") else getattr(module, name)
        namespace[name] = value
        return value

    return __getattr__
