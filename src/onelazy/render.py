"""Render settings: everything besides the prompt that decides an image.

The checkpoint, the LoRAs and their weights, the size, the sampling (steps, cfg, sampler,
scheduler) and the seed. ``generate`` renders each prompt set with them, ``compare`` renders every
checkpoint with them, a backend request carries them (:class:`onelazy.backends.GenerationRequest`
is a :class:`RenderSettings` with a prompt), and ``onelazy.yaml`` says them in layers: the
``generate:`` section's values, a prompt set's own, the ``compare:`` section's
(:class:`onelazy.generation.RenderValues` is one layer). This module imports nothing heavy, so
every stage and the backends can share the type.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from onelazy.errors import UsageError

__all__ = ["RENDER_FIELDS", "RenderSettings"]


@dataclass(frozen=True, kw_only=True)
class RenderSettings:
    """How an image is rendered, every value decided (``sampler``/``scheduler`` None: the backend's
    default). ``loras`` is a sequence of ``(name, weight)`` pairs, applied in order."""

    model: str
    width: int = 512
    height: int = 512
    steps: int = 20
    cfg: float = 7.0
    sampler: str | None = None
    scheduler: str | None = None
    seed: int = 0
    loras: tuple[tuple[str, float], ...] = ()
    family: str | None = None
    """The model family (:mod:`onelazy.families` key): which loaders and nodes a backend renders it
    with; None renders ``model`` as one SD checkpoint."""
    text_encoders: tuple[str, ...] = ()
    """Text encoder files, for families shipped as separate files; empty: the family's usual ones."""
    vae: str | None = None
    """The VAE file of such a family; None: the family's usual one."""

    #: How a refused value's message starts (a request says "generation request").
    _what: ClassVar[str] = "render settings"

    def __post_init__(self) -> None:
        for ok, message in self._checks():
            if not ok:
                raise UsageError(f"{self._what}: {message}")
        object.__setattr__(self, "loras", tuple((str(name), float(weight)) for name, weight in self.loras))
        object.__setattr__(self, "text_encoders", tuple(str(name) for name in self.text_encoders))

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (self.width >= 64 and self.height >= 64, "width and height must be at least 64"),
            (self.width % 8 == 0 and self.height % 8 == 0, "width and height must be multiples of 8"),
            (self.steps >= 1, "steps must be at least 1"),
            (0 <= self.cfg <= 100, "cfg must be between 0 and 100"),
            (self.seed >= 0, "seed must be 0 or more"),
            (bool(self.model.strip()), "a model (checkpoint) name is required"),
        ]

    def render_settings(self) -> RenderSettings:
        """Only the render settings (a request's, without its prompt)."""
        return RenderSettings(**{name: getattr(self, name) for name in RENDER_FIELDS})

    def with_values(self, **values: Any) -> RenderSettings:
        """These settings with some values replaced (validated again)."""
        return dataclasses.replace(self, **values)


#: The names of the render settings, as ``onelazy.yaml``, the flags and a request spell them.
RENDER_FIELDS: tuple[str, ...] = tuple(item.name for item in dataclasses.fields(RenderSettings))
