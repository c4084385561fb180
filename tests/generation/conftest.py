"""Stand-in servers for the generation tests, started on free ports and stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from onelazy.backends import RetryPolicy
from tests.generation.standins import ComfyStandin, SwarmStandin

#: retries fast enough for tests, patient enough to ride out a 0.3 s restart
FAST_RETRY = RetryPolicy(attempts=6, first_delay=0.05, max_delay=0.4)


@pytest.fixture
def comfy() -> Iterator[ComfyStandin]:
    server = ComfyStandin(render_seconds=0.01).start()
    yield server
    server.stop()


@pytest.fixture
def swarm() -> Iterator[SwarmStandin]:
    server = SwarmStandin(render_seconds=0.01).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWARM_TOKEN", raising=False)
    monkeypatch.delenv("ONELAZY_BACKEND_TOKEN", raising=False)
