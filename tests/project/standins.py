"""Image servers whose LoRA list is a real folder, as on a real install.

The generation stand-ins keep their LoRA names in memory; checkpoint comparison copies files into
the backend's LoRA folder, so here the list comes from that folder: ComfyUI rescans it on every
request (it caches folder lists by mtime), SwarmUI only on ``TriggerRefresh``.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.generation.standins import ComfyStandin, SwarmHandler, SwarmStandin


def scan_loras(folder: Path) -> list[str]:
    """LoRA names as a server lists them: relative, '/'-separated, hidden files skipped."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*.safetensors")
        if path.is_file() and not path.name.startswith(".")
    )


class FolderComfy(ComfyStandin):
    """ComfyUI whose ``/models/loras`` (and ``LoraLoader`` validation) reads ``lora_dir``."""

    def __init__(self, lora_dir: Path, **options: Any) -> None:
        self.lora_dir = lora_dir
        super().__init__(**options)

    @property  # type: ignore[override]
    def lora_names(self) -> list[str]:
        return scan_loras(self.lora_dir)

    @lora_names.setter
    def lora_names(self, _value: list[str]) -> None:
        """The base class sets a fixed list; the folder decides."""


class _RefreshingSwarmHandler(SwarmHandler):
    def route_triggerrefresh(self, session: str, body: dict[str, Any]) -> None:
        standin: FolderSwarm = self.standin
        standin.listed_loras = scan_loras(standin.lora_dir)
        standin.refreshes += 1
        self.send_json(200, {"success": True})


class FolderSwarm(SwarmStandin):
    """SwarmUI whose LoRA list is the folder as of the last ``TriggerRefresh`` (or start)."""

    def __init__(self, lora_dir: Path, **options: Any) -> None:
        self.lora_dir = lora_dir
        self.listed_loras = scan_loras(lora_dir)
        self.refreshes = 0
        super().__init__(**options)

    @property  # type: ignore[override]
    def lora_names(self) -> list[str]:
        return self.listed_loras

    @lora_names.setter
    def lora_names(self, _value: list[str]) -> None:
        """The base class sets a fixed list; the folder decides."""

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _RefreshingSwarmHandler
