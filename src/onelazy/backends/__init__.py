"""Image backends: one :class:`Backend` protocol, spoken by the SwarmUI and ComfyUI clients.

``onelazy generate`` renders training images through it, and checkpoint comparison renders each
saved LoRA through it, so a request carries everything both need: prompt, model, size, sampling
settings, seed and LoRAs with weights. Only this package speaks HTTP to an image backend.

    from onelazy.backends import GenerationRequest, open_backend

    with open_backend("comfyui", "http://127.0.0.1:8188") as backend:
        images = backend.generate(GenerationRequest(prompt="photo of a faery", model="sd15.safetensors"))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, get_args, runtime_checkable

from onelazy.backends.retry import RetryPolicy
from onelazy.errors import BackendError, BackendProtocolError, BackendRejected, UsageError
from onelazy.render import RenderSettings

if TYPE_CHECKING:
    from onelazy.backends.comfyui import ComfyUIBackend
    from onelazy.backends.swarmui import SwarmUIBackend

__all__ = [
    "DEFAULT_KIND",
    "KINDS",
    "KIND_FACTS",
    "Backend",
    "BackendHealth",
    "BackendKind",
    "BackendReport",
    "GeneratedImage",
    "GenerationRequest",
    "KindFacts",
    "RetryPolicy",
    "SamplerChoices",
    "check_backend",
    "detect_kind",
    "kind_facts",
    "names_match",
    "open_backend",
    "require_ready",
]

#: The backend kinds, as ``onelazy.yaml``'s ``backend:`` and ``--backend`` spell them: the one place
#: they are written; everything else uses this type, :data:`KINDS` or :data:`KIND_FACTS`.
BackendKind = Literal["swarmui", "comfyui"]
KINDS: tuple[BackendKind, ...] = get_args(BackendKind)
#: The kind ``onelazy init`` writes when none is asked for.
DEFAULT_KIND: BackendKind = KINDS[0]


@dataclass(frozen=True)
class KindFacts:
    """What onelazy knows of a backend kind beyond its client."""

    display_name: str
    default_url: str
    in_flight: int
    """Requests each URL gets at once: ComfyUI renders one at a time, so two more queued hide the
    download and the next submit; SwarmUI may fan out over several GPUs."""


KIND_FACTS: dict[BackendKind, KindFacts] = {
    "swarmui": KindFacts("SwarmUI", "http://127.0.0.1:7801", in_flight=4),
    "comfyui": KindFacts("ComfyUI", "http://127.0.0.1:8188", in_flight=3),
}


def kind_facts(kind: str) -> KindFacts:
    """:data:`KIND_FACTS` of ``kind``; a usage error naming the allowed kinds when it is none."""
    for known, facts in KIND_FACTS.items():
        if known == kind:
            return facts
    raise UsageError(f"backend kind {kind!r} is not known; allowed: {', '.join(KINDS)}")


@dataclass(frozen=True, kw_only=True)
class GenerationRequest(RenderSettings):
    """One txt2img job: a prompt with its render settings. ``images`` renders with seeds
    ``seed + j * batch_size``, each of ``batch_size`` images in one latent batch.

    ``batch_size`` 1 gives one image per seed, which is reproducible one by one; on ComfyUI image
    *k* of a batch is *not* the image a single render with seed + k gives.
    """

    prompt: str
    negative_prompt: str = ""
    images: int = 1
    batch_size: int = 1

    _what: ClassVar[str] = "generation request"

    @classmethod
    def rendering(
        cls,
        settings: RenderSettings,
        *,
        prompt: str,
        negative_prompt: str = "",
        images: int = 1,
        batch_size: int = 1,
    ) -> GenerationRequest:
        """``prompt`` rendered with ``settings``."""
        return cls(
            prompt=prompt,
            negative_prompt=negative_prompt,
            images=images,
            batch_size=batch_size,
            model=settings.model,
            width=settings.width,
            height=settings.height,
            steps=settings.steps,
            cfg=settings.cfg,
            sampler=settings.sampler,
            scheduler=settings.scheduler,
            seed=settings.seed,
            loras=settings.loras,
            family=settings.family,
            text_encoders=settings.text_encoders,
            vae=settings.vae,
        )

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (self.images >= 1, "images must be at least 1"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            *super()._checks(),
        ]

    def job_seeds(self) -> list[int]:
        """The seed of each backend job, in order."""
        return [self.seed + job * self.batch_size for job in range(self.images)]


@dataclass(frozen=True)
class GeneratedImage:
    """One finished image, already downloaded and checked to be a PNG, JPEG or WebP.

    ``index`` is its place in the request (job * batch_size + batch_index); ``seed`` is the seed
    of its job. ``extension`` comes from the bytes, never from a server-supplied name. ``retries``
    says why the client had to ask for it again (the server restarted and forgot the queued job,
    the connection dropped during the render): the render was done again, nothing is missing.
    """

    data: bytes
    extension: str
    index: int
    seed: int
    batch_index: int
    elapsed: float
    backend_url: str
    model: str
    """The checkpoint as the server names it (``sd15`` asked may render as ``sd15.safetensors``)."""
    loras: tuple[tuple[str, float], ...] = ()
    """The LoRAs and weights, named as the server names them."""
    retries: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackendHealth:
    """What ``health()`` found: ``ready`` is False when the server answers but cannot render yet."""

    kind: BackendKind
    url: str
    ready: bool
    version: str | None = None
    status: str = ""
    message: str = ""
    devices: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class SamplerChoices:
    """The sampler and scheduler names a backend accepts."""

    samplers: tuple[str, ...]
    schedulers: tuple[str, ...]


@runtime_checkable
class Backend(Protocol):
    """An image server onelazy can render through. Methods are safe to call from several threads."""

    kind: BackendKind
    url: str

    def health(self) -> BackendHealth:
        """Is the server up and of this kind; raises BackendUnreachable / BackendProtocolError."""
        ...

    def models(self) -> list[str]:
        """Checkpoint names as the server spells them."""
        ...

    def loras(self) -> list[str]:
        """LoRA names as the server spells them."""
        ...

    def model_files(self) -> dict[str, list[str]]:
        """The other files a family's recipe names, by what they are (``"diffusion models"``,
        ``"text encoders"``, ``"VAEs"``), as the server spells them; empty where the server picks
        them itself (SwarmUI)."""
        ...

    def samplers(self) -> SamplerChoices:
        """Accepted sampler and scheduler names."""
        ...

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        """Render ``request`` and return its images in index order; blocks until done."""
        ...

    def interrupt(self) -> None:
        """Cancel this client's queued and running work (never other clients' work)."""
        ...

    def close(self) -> None:
        """Interrupt waiting calls and release connections."""
        ...


def open_backend(
    kind: str,
    url: str,
    *,
    retry: RetryPolicy | None = None,
    timeout: float = 600.0,
) -> SwarmUIBackend | ComfyUIBackend:
    """A client for the server at ``url``; ``kind`` is ``swarmui`` or ``comfyui``.

    ``timeout`` bounds one render (seconds); ``retry`` bounds how connection failures are retried.
    Tokens come from the environment (``SWARM_TOKEN``, ``ONELAZY_BACKEND_TOKEN``), never arguments.
    """
    policy = retry or RetryPolicy()
    if kind == "swarmui":
        from onelazy.backends.swarmui import SwarmUIBackend

        return SwarmUIBackend(url, retry=policy, timeout=timeout)
    if kind == "comfyui":
        from onelazy.backends.comfyui import ComfyUIBackend

        return ComfyUIBackend(url, retry=policy, timeout=timeout)
    kind_facts(kind)  # raises: not a kind
    raise AssertionError(kind)


def names_match(kind: str, named: str, asked: str) -> bool:
    """Does ``named`` (a model or LoRA as a server named it) mean what ``asked`` asks for, by the
    rule of that kind of server? ComfyUI completes ``.safetensors``; SwarmUI also ignores case,
    spaces and the file extension. So a manifest line names the file the server rendered with, and
    a setting that says the same in another spelling does not make its images stale."""
    if named == asked:
        return True
    if kind == "swarmui":
        from onelazy.backends.swarmui import model_key

        return model_key(named) == model_key(asked)
    return named == f"{asked}.safetensors"


def require_ready(kind: str, url: str) -> None:
    """Raise unless the server at ``url`` answers as ``kind`` and is ready to render.

    Asked with short retries before work starts, so a wrong or dead URL fails in about a second
    instead of after the patient retries a run gives its renders to ride out a restart.
    """
    with open_backend(kind, url, retry=RetryPolicy(attempts=2, first_delay=0.3), timeout=30.0) as backend:
        health = backend.health()
    if not health.ready:
        raise BackendError(f"not ready: {health.status} {health.message}".strip(), url=health.url)


def detect_kind(url: str, *, retry: RetryPolicy | None = None) -> BackendKind:
    """Which kind of server answers at ``url``: ComfyUI's ``/api/system_stats``, else SwarmUI's
    ``/API/GetNewSession``; a protocol error when it is neither."""
    from onelazy.backends._http import HttpClient, auth_from_env
    from onelazy.backends.urls import BEARER_TOKEN_ENV, normalize_url

    base = normalize_url(url)
    headers, cookies = auth_from_env("swarmui")
    http = HttpClient(
        base,
        kind="server",
        retry=retry or RetryPolicy(attempts=2, first_delay=0.3),
        timeout=15.0,
        headers=headers,
        cookies=cookies,
    )
    refused: list[str] = []
    try:
        comfy = http.request("GET", "api/system_stats")
        if comfy.status_code == 200 and "json" in comfy.headers.get("content-type", ""):
            data = comfy.json()
            if isinstance(data, dict) and isinstance(data.get("system"), dict):
                return "comfyui"
        if comfy.status_code in (401, 403):
            refused.append(f"GET /api/system_stats refused with HTTP {comfy.status_code}")
        swarm = http.request("POST", "API/GetNewSession", json={})
        if "json" in swarm.headers.get("content-type", ""):
            data = swarm.json()
            if isinstance(data, dict) and ("session_id" in data or "error" in data):
                return "swarmui"
        if swarm.status_code in (401, 403):
            refused.append(f"POST /API/GetNewSession refused with HTTP {swarm.status_code}")
    except ValueError:
        pass
    finally:
        http.release()
    if refused:  # something in front (a proxy) wants a token: that, not the kind, is the problem
        raise BackendRejected(f"{refused[0]} (a proxy token? set {BEARER_TOKEN_ENV})", url=base)
    raise BackendProtocolError(
        "answers HTTP but is neither ComfyUI (/api/system_stats) nor SwarmUI (/API/GetNewSession)", url=base
    )


@dataclass(frozen=True)
class BackendReport:
    """What ``onelazy backends check`` shows: health and what the server can render with."""

    health: BackendHealth
    models: tuple[str, ...]
    loras: tuple[str, ...]
    samplers: SamplerChoices
    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """What ``Backend.model_files`` lists: the diffusion models, text encoders and VAEs that
    ``generate.model``, ``generate.text_encoders`` and ``generate.vae`` name for the newer families."""


def check_backend(url: str, kind: str | None = None, *, retry: RetryPolicy | None = None) -> BackendReport:
    """Is the server at ``url`` up (and of ``kind``, when given); its models, LoRAs, samplers and
    the other model files the family recipes name."""
    policy = retry or RetryPolicy(attempts=2, first_delay=0.5)
    chosen = kind or detect_kind(url, retry=policy)
    with open_backend(chosen, url, retry=policy, timeout=30.0) as backend:
        health = backend.health()
        return BackendReport(
            health=health,
            models=tuple(backend.models()),
            loras=tuple(backend.loras()),
            samplers=backend.samplers(),
            files={label: tuple(names) for label, names in backend.model_files().items()},
        )
