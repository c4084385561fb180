"""SwarmUI client: ``POST /API/<Route>`` with a session, errors in HTTP 200 bodies, fuzzy names.

SwarmUI's traps, and what this client does about them:

* a reply is an error when it has an ``error`` key, whatever the HTTP status;
* ``invalid_session_id``: get a new session and retry once;
* model and LoRA names are fuzzy-matched by the server, so a typo can pick another model: names are
  checked against ``ListModels`` first and an inexact or ambiguous one is refused;
* unknown parameter ids are silently ignored, so the ids onelazy sends are checked against
  ``ListT2IParams`` once, as are sampler and scheduler values;
* result paths are server-supplied: only ``View/`` or ``Output/`` paths without ``..`` (or size-capped
  ``data:`` URLs) are fetched, and never used as local names.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from io import BytesIO
from typing import Any

from onelazy.backends import BackendHealth, BackendKind, GeneratedImage, GenerationRequest, SamplerChoices
from onelazy.backends._http import (
    HttpClient,
    auth_from_env,
    check_image_bytes,
    decode_data_url,
    has_unsafe_segment,
    json_body,
    quote_relative_path,
)
from onelazy.backends.retry import RetryPolicy
from onelazy.backends.urls import SWARM_TOKEN_ENV, normalize_url
from onelazy.errors import (
    BackendError,
    BackendInterrupted,
    BackendProtocolError,
    BackendRejected,
    BackendUnreachable,
    UnknownBackendName,
)

_MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")
# Generation errors that say "try again later", not "your request is wrong".
_TRANSIENT_ERRORS = (
    "No backends available",
    "Timeout!",
    "No backend has responded",
    "Something went wrong",
    "No images were generated",
)


def model_key(name: str) -> str:
    """How SwarmUI compares names exactly: case- and space-insensitive, extension optional."""
    key = name.replace("\\", "/").strip().lower().replace(" ", "")
    for suffix in _MODEL_SUFFIXES:
        if key.endswith(suffix):
            return key[: -len(suffix)]
    return key


def family_params(request: GenerationRequest) -> dict[str, Any]:
    """What a family needs beyond the shared parameters: Flux's guidance (``fluxguidancescale``,
    with cfg 1), the sampling shift of SD 3, Z-Image and Qwen-Image (``sigmashift``), and the
    family's sampler and scheduler where the request names none. SwarmUI picks the text encoders
    and VAE of a family itself. The values are the ComfyUI recipe's, so both backends render alike.
    """
    if request.family is None:
        return {}
    from onelazy.backends.comfyui_graphs import recipe

    rec = recipe(request.family)
    params: dict[str, Any] = {}
    if rec.guidance is not None:
        params["fluxguidancescale"] = rec.guidance
    if rec.sampling is not None and "shift" in rec.sampling[1]:
        params["sigmashift"] = rec.sampling[1]["shift"]
    if rec.loader == "unet" or rec.sampling is not None:  # SD 1.5 / SDXL keep SwarmUI's defaults
        params["sampler"] = rec.sampler
        params["scheduler"] = rec.scheduler
    return params


class SwarmUIBackend:
    """A SwarmUI server at ``url`` (default port 7801)."""

    kind: BackendKind = "swarmui"

    def __init__(self, url: str, *, retry: RetryPolicy | None = None, timeout: float = 600.0) -> None:
        self.url = normalize_url(url)
        headers, cookies = auth_from_env("swarmui")
        self._http = HttpClient(
            self.url,
            kind="SwarmUI",
            retry=retry or RetryPolicy(),
            timeout=timeout,
            headers=headers,
            cookies=cookies,
        )
        self._lock = threading.Lock()
        self._session_id: str | None = None
        self._version: str | None = None
        self._params: dict[str, dict[str, Any]] | None = None
        self._model_lists: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        return f"SwarmUIBackend({self.url!r})"

    def __enter__(self) -> SwarmUIBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------- transport

    def _reply(self, route: str, response: Any) -> dict[str, Any]:
        if 300 <= response.status_code < 400:
            raise BackendProtocolError(f"POST /API/{route} was redirected; is this SwarmUI?", url=self.url)
        if response.status_code in (404, 405):
            raise BackendProtocolError(
                f"not a SwarmUI server: POST /API/{route} answered HTTP {response.status_code}", url=self.url
            )
        data = json_body(response, url=self.url, what=f"POST /API/{route}")
        if not isinstance(data, dict):
            raise BackendProtocolError(f"POST /API/{route} answered a non-object", url=self.url)
        return data

    def _new_session(self) -> str:
        response = self._http.request("POST", "API/GetNewSession", json={})
        data = self._reply("GetNewSession", response)
        if "error" in data:
            text = str(data["error"])
            if "unauthorized" in text.lower():
                raise BackendRejected(
                    f"SwarmUI refused a session ({text}); set {SWARM_TOKEN_ENV} to a Swarm auth token "
                    "from the User tab",
                    url=self.url,
                )
            raise BackendRejected(f"GetNewSession: {text}", url=self.url)
        session_id = data.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise BackendProtocolError(
                "GetNewSession answered without a session_id; is this SwarmUI?", url=self.url
            )
        version = data.get("version")
        self._version = str(version) if version is not None else None
        return session_id

    def _session(self) -> str:
        with self._lock:
            if self._session_id is None:
                self._session_id = self._new_session()
            return self._session_id

    def _drop_session(self, stale: str) -> None:
        with self._lock:
            if self._session_id == stale:
                self._session_id = None

    def call(
        self,
        route: str,
        body: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        retried: list[str] | None = None,
    ) -> dict[str, Any]:
        """POST ``/API/<route>`` with the session; any ``error`` in the reply becomes an exception.

        ``retried`` gets the reason of each time the request was sent again."""
        for attempt in (1, 2):
            session_id = self._session()
            response = self._http.request(
                "POST",
                f"API/{route}",
                json={**(body or {}), "session_id": session_id},
                timeout=timeout,
                retried=retried,
            )
            data = self._reply(route, response)
            if data.get("error_id") == "invalid_session_id":
                self._drop_session(session_id)
                if attempt == 1:
                    continue
                raise BackendRejected(
                    f"{route}: the server refused two fresh sessions in a row", url=self.url
                )
            if "error" in data:
                self._raise_error(route, data)
            return data
        raise AssertionError("unreachable")

    def _raise_error(self, route: str, data: dict[str, Any]) -> None:
        text = str(data.get("error"))
        error_id = data.get("error_id")
        if error_id == "bad_permissions":
            raise BackendRejected(
                f"{route}: {text} (the user of {SWARM_TOKEN_ENV} needs that permission)", url=self.url
            )
        if error_id in ("basic_api", "bad_route", "bad_request_method"):
            raise BackendProtocolError(f"{route}: {text} ({error_id})", url=self.url)
        if error_id == "internal_error":
            raise BackendError(f"{route}: {text}; see the SwarmUI log", url=self.url)
        if text.startswith("Generation session interrupted"):
            raise BackendInterrupted(f"{route}: {text}", url=self.url)
        if text.startswith(_TRANSIENT_ERRORS):
            raise BackendError(f"{route}: {text}", url=self.url)
        raise BackendRejected(f"{route}: {text}", url=self.url)

    # ----------------------------------------------------------------------------- discovery

    def health(self) -> BackendHealth:
        data = self.call("GetCurrentStatus")  # opens the session first, which records the version
        backend_status = data.get("backend_status")
        if not isinstance(backend_status, dict):
            raise BackendProtocolError(
                "GetCurrentStatus has no backend_status; is this SwarmUI?", url=self.url
            )
        status = str(backend_status.get("status", ""))
        return BackendHealth(
            kind="swarmui",
            url=self.url,
            ready=status in ("running", "some_loading", "idle"),
            version=self._version,
            status=status,
            message=str(backend_status.get("message", "")),
        )

    def _list_models(self, subtype: str, *, refresh: bool = False) -> list[str]:
        if refresh or subtype not in self._model_lists:
            data = self.call("ListModels", {"path": "", "depth": 10, "subtype": subtype})
            files = data.get("files")
            if not isinstance(files, list):
                raise BackendProtocolError(f"ListModels ({subtype}) answered without 'files'", url=self.url)
            self._model_lists[subtype] = [str(entry["name"]) for entry in files if isinstance(entry, dict)]
        return list(self._model_lists[subtype])

    def models(self) -> list[str]:
        return self._list_models("Stable-Diffusion", refresh=True)

    def model_files(self) -> dict[str, list[str]]:
        """SwarmUI lists diffusion models among its models and picks text encoders and VAEs itself."""
        return {}

    def loras(self) -> list[str]:
        return self._list_models("LoRA", refresh=True)

    def _t2i_params(self) -> dict[str, dict[str, Any]]:
        if self._params is None:
            data = self.call("ListT2IParams")
            entries = data.get("list")
            if not isinstance(entries, list):
                raise BackendProtocolError("ListT2IParams answered without 'list'", url=self.url)
            self._params = {str(e["id"]): e for e in entries if isinstance(e, dict) and "id" in e}
        return self._params

    def samplers(self) -> SamplerChoices:
        params = self._t2i_params()
        return SamplerChoices(
            samplers=tuple(str(v) for v in params.get("sampler", {}).get("values") or ()),
            schedulers=tuple(str(v) for v in params.get("scheduler", {}).get("values") or ()),
        )

    def resolve_name(self, name: str, subtype: str) -> str:
        """The listed name ``name`` exactly means; refuses a name SwarmUI would only fuzzy-match."""
        what = "model" if subtype == "Stable-Diffusion" else "LoRA"
        for refresh in (False, True):
            if refresh:  # a file added since the last listing shows up only after a rescan
                with contextlib.suppress(BackendError):
                    self.call("TriggerRefresh", {"strong": True})
            listed = self._list_models(subtype, refresh=refresh)
            exact = [entry for entry in listed if model_key(entry) == model_key(name)]
            if len(exact) == 1:
                return exact[0]
            if len(exact) > 1:
                raise UnknownBackendName(f"{what} {name!r} is ambiguous: {', '.join(exact)}", url=self.url)
        near = [entry for entry in listed if model_key(name) in model_key(entry)]
        if near:
            raise UnknownBackendName(
                f"{what} {name!r} is not an exact name (SwarmUI would guess); "
                f"did you mean: {', '.join(near[:5])}?",
                url=self.url,
            )
        shown = ", ".join(listed[:8]) + (" …" if len(listed) > 8 else "")
        raise UnknownBackendName(
            f"{what} {name!r} not found; the server has: {shown or 'none'}", url=self.url
        )

    def _check_params(self, body: dict[str, Any]) -> None:
        params = self._t2i_params()
        for key, value in body.items():
            if key in ("images", "session_id"):
                continue
            entry = params.get(key)
            if entry is None:
                raise BackendRejected(
                    f"this SwarmUI does not know parameter {key!r} and would silently ignore it", url=self.url
                )
            allowed = entry.get("values")
            if (
                key in ("sampler", "scheduler")
                and isinstance(allowed, list)
                and allowed
                and value not in allowed
            ):
                raise UnknownBackendName(
                    f"{key} {value!r} is not one this server accepts; "
                    f"allowed: {', '.join(map(str, allowed))}",
                    url=self.url,
                )

    # ----------------------------------------------------------------------------- generation

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The flat ``GenerateText2Image`` body for ``request``, with checked names."""
        body: dict[str, Any] = {
            "images": request.images,
            "prompt": request.prompt,
            "negativeprompt": request.negative_prompt,
            "model": self.resolve_name(request.model, "Stable-Diffusion"),
            "seed": request.seed,
            "steps": request.steps,
            "cfgscale": request.cfg,
            "width": request.width,
            "height": request.height,
        }
        if request.batch_size > 1:
            body["batchsize"] = request.batch_size
        body.update(family_params(request))
        if request.sampler:
            body["sampler"] = request.sampler
        if request.scheduler:
            body["scheduler"] = request.scheduler
        if request.loras:
            body["loras"] = [self.resolve_name(name, "LoRA") for name, _ in request.loras]
            body["loraweights"] = [weight for _, weight in request.loras]
        self._check_params(body)
        return body

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        body = self.build_body(request)
        started = time.monotonic()
        expected = request.images * request.batch_size
        retried: list[str] = []  # a dropped or failed render is asked for again: say so
        data = self.call(
            "GenerateText2Image", body, timeout=self._http.timeout * request.images, retried=retried
        )
        refs = data.get("images")
        if not isinstance(refs, list) or not all(isinstance(ref, str) for ref in refs):
            raise BackendProtocolError("GenerateText2Image answered without an 'images' list", url=self.url)
        if len(refs) < expected:
            raise BackendError(f"GenerateText2Image returned {len(refs)} of {expected} images", url=self.url)
        blobs = [self._fetch(ref) for ref in refs]
        blobs = _order_by_seed(blobs)[:expected]
        elapsed = time.monotonic() - started
        images = []
        for index, (data_bytes, extension) in enumerate(blobs):
            job, batch_index = divmod(index, request.batch_size)
            images.append(
                GeneratedImage(
                    data=data_bytes,
                    extension=extension,
                    index=index,
                    seed=request.seed + job * request.batch_size,
                    batch_index=batch_index,
                    elapsed=elapsed,
                    backend_url=self.url,
                    model=str(body["model"]),
                    loras=tuple(zip(body.get("loras", ()), body.get("loraweights", ()), strict=True)),
                    retries=tuple(f"asked again: {reason}" for reason in retried),
                )
            )
        return images

    def _fetch(self, ref: str) -> tuple[bytes, str]:
        if ref.startswith("data:"):
            data = decode_data_url(ref, url=self.url)
            return data, check_image_bytes(data, url=self.url, source="data URL")
        first = ref.split("/", 1)[0]
        if "://" in ref or has_unsafe_segment(ref) or first not in ("View", "Output"):
            raise BackendProtocolError(
                f"refusing image path {ref[:120]!r}: expected View/… or Output/… without '..'", url=self.url
            )
        response = self._http.request("GET", quote_relative_path(ref))
        if response.status_code != 200:
            raise BackendError(
                f"downloading {ref[:120]!r} answered HTTP {response.status_code}", url=self.url
            )
        return response.content, check_image_bytes(response.content, url=self.url, source=ref[:120])

    def interrupt(self) -> None:
        """Cancel every generation of this client's session (its own session, nobody else's)."""
        if self._session_id is None or self._http.closed:
            return
        try:
            response = self._http.request(
                "POST",
                "API/InterruptAll",
                json={"session_id": self._session_id, "other_sessions": False},
                timeout=10.0,
                retry=False,
            )
            self._reply("InterruptAll", response)
        except (BackendUnreachable, BackendProtocolError, BackendInterrupted):
            pass

    def close(self) -> None:
        self._http.release()


def _png_seed(data: bytes) -> int | None:
    """The seed SwarmUI recorded in a PNG's ``parameters`` chunk, if any."""
    from PIL import Image

    try:
        with Image.open(BytesIO(data)) as image:
            text = image.info.get("parameters")
        params = json.loads(text)["sui_image_params"] if isinstance(text, str) else None
        seed = params.get("seed") if isinstance(params, dict) else None
        return int(seed) if seed is not None else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _order_by_seed(blobs: list[tuple[bytes, str]]) -> list[tuple[bytes, str]]:
    """SwarmUI lists images in completion order; put them in seed order when every one says its seed."""
    if len(blobs) < 2:
        return blobs
    seeds = [_png_seed(data) for data, _ in blobs]
    if any(seed is None for seed in seeds):
        return blobs
    order = sorted(range(len(blobs)), key=lambda i: seeds[i] or 0)
    return [blobs[i] for i in order]
