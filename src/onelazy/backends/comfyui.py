"""ComfyUI client: queue an API-format graph per job, learn of completion over ``/ws``, read
``/history``, download through ``/view``.

ComfyUI's traps, and what this client does about them:

* ``POST /prompt`` can answer HTTP 200 with a non-empty ``node_errors``: that is a failure, reported
  by node, input and message, like the HTTP 400 validation error;
* ``/history/<id>`` is written *after* the completion events: the client waits for
  ``executing`` with ``node: null`` and then polls history until the entry appears;
* an identical graph is served from cache without a new file: every job gets its own
  ``filename_prefix``, so each one saves a fresh image;
* a restart empties the queue and history: a prompt that is neither queued nor in history is
  submitted again (bounded);
* ``/view`` names come from the server: only plain names inside the output folders are fetched,
  and never used as local names;
* no websocket (a proxy without upgrade support, a dropped socket): poll ``/history`` instead.
"""

from __future__ import annotations

import difflib
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from httpx_ws import HTTPXWSException, WebSocketUpgradeError, connect_ws
from wsproto.events import TextMessage

from onelazy.backends import BackendHealth, BackendKind, GeneratedImage, GenerationRequest, SamplerChoices
from onelazy.backends._http import (
    HttpClient,
    auth_from_env,
    check_image_bytes,
    has_unsafe_segment,
    json_body,
)
from onelazy.backends.comfyui_graphs import FOLDERS
from onelazy.backends.comfyui_graphs import SAVE_NODE as _SAVE_NODE
from onelazy.backends.retry import RetryPolicy
from onelazy.backends.urls import BEARER_TOKEN_ENV, normalize_url
from onelazy.errors import (
    BackendError,
    BackendInterrupted,
    BackendProtocolError,
    BackendRejected,
    BackendUnreachable,
    UnknownBackendName,
)

_WS_MAX_MESSAGE = 32 * 1024 * 1024


@dataclass
class _Waiter:
    """What the websocket listener learned about one queued prompt."""

    wake: threading.Event = field(default_factory=threading.Event)
    finished: bool = False
    interrupted: bool = False
    error: dict[str, Any] | None = None


class _PromptLost(Exception):
    """The prompt is neither queued nor in history: the server restarted and forgot it."""


def combo_options(spec: Any) -> list[str]:
    """Options of a combo input in either ``object_info`` encoding (legacy or V3 ``COMBO``)."""
    if isinstance(spec, list) and spec:
        head = spec[0]
        if isinstance(head, list):
            return [str(option) for option in head]
        if head == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
            return [str(option) for option in spec[1].get("options", [])]
    return []


def format_node_errors(node_errors: dict[str, Any]) -> str:
    """``node 3 (KSampler) input steps: Value 0 smaller than min of 1`` for each reported error."""
    parts = []
    for node_id, info in node_errors.items():
        info = info if isinstance(info, dict) else {}
        class_type = info.get("class_type", "?")
        for error in info.get("errors") or [{}]:
            extra = error.get("extra_info") or {}
            input_name = extra.get("input_name") or error.get("details") or "?"
            message = error.get("message", "invalid")
            received = extra.get("received_value")
            suffix = f" (got {received!r})" if received is not None else ""
            parts.append(f"node {node_id} ({class_type}) input {input_name}: {message}{suffix}")
    return "; ".join(parts)


def build_graph(
    request: GenerationRequest, *, seed: int, filename_prefix: str, sampler: str, scheduler: str
) -> dict[str, Any]:
    """The txt2img API-format graph for one job of the request's family (see :mod:`.comfyui_graphs`)."""
    from onelazy.backends.comfyui_graphs import family_graph, recipe

    rec = recipe(request.family)
    return family_graph(
        family=request.family,
        model=request.model,
        text_encoders=request.text_encoders or rec.text_encoders,
        vae=request.vae or rec.vae,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        width=request.width,
        height=request.height,
        batch_size=request.batch_size,
        steps=request.steps,
        cfg=request.cfg,
        seed=seed,
        sampler=sampler,
        scheduler=scheduler,
        loras=request.loras,
        filename_prefix=filename_prefix,
    )


class ComfyUIBackend:
    """A ComfyUI server at ``url`` (default port 8188). One client id per instance."""

    kind: BackendKind = "comfyui"

    def __init__(self, url: str, *, retry: RetryPolicy | None = None, timeout: float = 600.0) -> None:
        self.url = normalize_url(url)
        headers, _ = auth_from_env("comfyui")
        self._http = HttpClient(
            self.url, kind="ComfyUI", retry=retry or RetryPolicy(), timeout=timeout, headers=headers
        )
        self.render_timeout = timeout
        self.client_id = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._waiters: dict[str, _Waiter] = {}
        self._listener: threading.Thread | None = None
        self._ws_up = threading.Event()
        self._ws_settled = threading.Event()  # first connect attempt done (up, refused or unsupported)
        self._lists: dict[str, list[str]] = {}
        self._sampler_choices: SamplerChoices | None = None

    def __repr__(self) -> str:
        return f"ComfyUIBackend({self.url!r})"

    def __enter__(self) -> ComfyUIBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------- plain calls

    def _get_json(self, path: str, *, params: dict[str, str] | None = None) -> Any:
        response = self._http.request("GET", path, params=params)
        if response.status_code in (401, 403):
            raise BackendRejected(
                f"GET /{path} refused with HTTP {response.status_code} (a proxy token? "
                f"set {BEARER_TOKEN_ENV})",
                url=self.url,
            )
        if response.status_code != 200:
            raise BackendProtocolError(
                f"not a ComfyUI server? GET /{path} answered HTTP {response.status_code}", url=self.url
            )
        return json_body(response, url=self.url, what=f"GET /{path}")

    def health(self) -> BackendHealth:
        data = self._get_json("api/system_stats")
        system = data.get("system") if isinstance(data, dict) else None
        if not isinstance(system, dict):
            raise BackendProtocolError(
                "GET /api/system_stats has no 'system'; is this ComfyUI?", url=self.url
            )
        devices = tuple(str(d.get("name", "?")) for d in data.get("devices") or [] if isinstance(d, dict))
        version = system.get("comfyui_version")
        return BackendHealth(
            kind="comfyui",
            url=self.url,
            ready=True,
            version=str(version) if version is not None else None,
            status="running",
            devices=devices,
        )

    def _folder(self, folder: str, *, refresh: bool = False) -> list[str]:
        if refresh or folder not in self._lists:
            data = self._get_json(f"api/models/{folder}")
            if not isinstance(data, list):
                raise BackendProtocolError(f"GET /api/models/{folder} is not a list", url=self.url)
            self._lists[folder] = [str(name) for name in data]
        return list(self._lists[folder])

    def models(self) -> list[str]:
        return self._folder("checkpoints", refresh=True)

    def loras(self) -> list[str]:
        return self._folder("loras", refresh=True)

    def model_files(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        parts = (("diffusion models", "unet"), ("text encoders", "text_encoders"), ("VAEs", "vae"))
        for label, part in parts:
            try:
                found[label] = self._folder(FOLDERS[part], refresh=True)
            except BackendProtocolError:  # a ComfyUI older than the folder (text_encoders was clip)
                continue
        return found

    def samplers(self) -> SamplerChoices:
        if self._sampler_choices is None:
            data = self._get_json("api/object_info/KSampler")
            try:
                required = data["KSampler"]["input"]["required"]
            except (KeyError, TypeError):
                raise BackendProtocolError(
                    "object_info/KSampler has no required inputs", url=self.url
                ) from None
            self._sampler_choices = SamplerChoices(
                samplers=tuple(combo_options(required.get("sampler_name"))),
                schedulers=tuple(combo_options(required.get("scheduler"))),
            )
        return self._sampler_choices

    # ----------------------------------------------------------------------------- checking names

    def _resolve(self, name: str, folder: str, what: str) -> str:
        for refresh in (False, True):
            listed = self._folder(folder, refresh=refresh)
            if name in listed:
                return name
            with_suffix = [entry for entry in listed if entry == f"{name}.safetensors"]
            if with_suffix:
                return with_suffix[0]
        close = difflib.get_close_matches(name, listed, n=3, cutoff=0.5)
        hint = (
            f"; did you mean: {', '.join(close)}?"
            if close
            else f"; the server has: {', '.join(listed[:8]) or 'none'}"
        )
        raise UnknownBackendName(f"{what} {name!r} not found{hint}", url=self.url)

    def _choice(self, value: str | None, allowed: tuple[str, ...], default: str, what: str) -> str:
        chosen = value or default
        if allowed and chosen not in allowed:
            raise UnknownBackendName(
                f"{what} {chosen!r} is not one this server accepts; allowed: {', '.join(allowed)}",
                url=self.url,
            )
        return chosen

    def check_request(self, request: GenerationRequest) -> GenerationRequest:
        """``request`` with names exactly as the server lists them; refuses unknown ones up front."""
        from onelazy.backends.comfyui_graphs import FOLDERS, recipe

        choices = self.samplers()
        rec = recipe(request.family)
        separate = rec.loader == "unet"
        model_folder = FOLDERS[rec.loader]
        return replace(
            request,
            model=self._resolve(request.model, model_folder, "diffusion model" if separate else "checkpoint"),
            loras=tuple((self._resolve(name, "loras", "LoRA"), weight) for name, weight in request.loras),
            sampler=self._choice(request.sampler, choices.samplers, rec.sampler, "sampler"),
            scheduler=self._choice(request.scheduler, choices.schedulers, rec.scheduler, "scheduler"),
            text_encoders=tuple(
                self._resolve(name, FOLDERS["text_encoders"], "text encoder")
                for name in (request.text_encoders or rec.text_encoders)
            )
            if separate
            else (),
            vae=self._resolve(request.vae or rec.vae or "", FOLDERS["vae"], "VAE") if separate else None,
        )

    # ----------------------------------------------------------------------------- websocket

    def _ensure_listener(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name=f"comfyui-ws {self.url}", daemon=True
                )
                self._listener.start()
        self._ws_settled.wait(5.0)

    def _wake_all(self) -> None:
        with self._lock:
            for waiter in self._waiters.values():
                waiter.wake.set()

    def _listen(self) -> None:
        ws_url = f"{self.url}/ws?clientId={self.client_id}"
        delay = 0.1
        while not self._http.closed:
            try:
                ws: Any
                with connect_ws(
                    ws_url,
                    self._http.client,
                    max_message_size_bytes=_WS_MAX_MESSAGE,
                    keepalive_ping_interval_seconds=20.0,
                    keepalive_ping_timeout_seconds=20.0,
                ) as ws:
                    self._ws_up.set()
                    self._ws_settled.set()
                    self._wake_all()
                    delay = 0.1
                    while not self._http.closed:
                        try:
                            event = ws.receive(timeout=0.05)
                        except queue.Empty:
                            continue
                        if isinstance(event, TextMessage):
                            self._on_message(event.data)
            except WebSocketUpgradeError as exc:
                if exc.response.status_code in (400, 403, 404, 405, 426):
                    # no websocket here (a proxy, an old server): poll /history instead
                    self._ws_up.clear()
                    self._ws_settled.set()
                    self._wake_all()
                    return
            except (HTTPXWSException, httpx.HTTPError, OSError, RuntimeError):
                pass
            self._ws_up.clear()
            self._ws_settled.set()
            self._wake_all()
            if self._http.closed:
                return
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _on_message(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
            return
        kind, data = message.get("type"), message["data"]
        with self._lock:
            waiter = self._waiters.get(str(data.get("prompt_id")))
        if waiter is None:
            return
        if kind == "executing" and data.get("node") is None:
            waiter.finished = True
        elif kind == "execution_error":
            waiter.error = data
        elif kind == "execution_interrupted":
            waiter.interrupted = True
        else:
            return
        waiter.wake.set()

    # ----------------------------------------------------------------------------- one job

    def _submit(self, graph: dict[str, Any], prompt_id: str) -> None:
        with self._lock:
            self._waiters[prompt_id] = _Waiter()
        body = {"prompt": graph, "client_id": self.client_id, "prompt_id": prompt_id}
        response = self._http.request("POST", "api/prompt", json=body)
        if response.status_code in (401, 403):
            raise BackendRejected(
                f"POST /prompt refused with HTTP {response.status_code} (a proxy token? "
                f"set {BEARER_TOKEN_ENV})",
                url=self.url,
            )
        if response.status_code == 404:
            raise BackendProtocolError("POST /api/prompt answered HTTP 404; is this ComfyUI?", url=self.url)
        data = json_body(response, url=self.url, what="POST /api/prompt")
        if not isinstance(data, dict):
            raise BackendProtocolError("POST /api/prompt answered a non-object", url=self.url)
        node_errors = data.get("node_errors") or {}
        if response.status_code == 400 or node_errors:
            error = data.get("error")
            head = error.get("message", "rejected") if isinstance(error, dict) else str(error or "rejected")
            detail = format_node_errors(node_errors) if isinstance(node_errors, dict) else ""
            raise BackendRejected(
                f"the graph was refused: {head}" + (f": {detail}" if detail else ""), url=self.url
            )
        if response.status_code != 200:
            raise BackendProtocolError(f"POST /api/prompt answered HTTP {response.status_code}", url=self.url)
        if data.get("prompt_id") not in (None, prompt_id):
            raise BackendProtocolError("POST /api/prompt answered with another prompt_id", url=self.url)

    def _history(self, prompt_id: str) -> dict[str, Any] | None:
        data = self._get_json(f"api/history/{prompt_id}")
        if not isinstance(data, dict):
            raise BackendProtocolError("GET /api/history/<id> is not an object", url=self.url)
        entry = data.get(prompt_id)
        return entry if isinstance(entry, dict) else None

    def _queued(self, prompt_id: str) -> bool:
        data = self._get_json("api/queue")
        if not isinstance(data, dict):
            raise BackendProtocolError("GET /api/queue is not an object", url=self.url)
        items = [*(data.get("queue_running") or []), *(data.get("queue_pending") or [])]
        return any(isinstance(item, list) and len(item) > 1 and item[1] == prompt_id for item in items)

    def _wait(self, prompt_id: str, deadline: float) -> dict[str, Any]:
        """The history entry of a finished prompt; raises _PromptLost when the server forgot it."""
        with self._lock:
            waiter = self._waiters[prompt_id]
        poll_delay = 0.05
        while True:
            ws_up = self._ws_up.is_set()
            patient = ws_up and not waiter.finished and waiter.error is None and not waiter.interrupted
            waiter.wake.wait(2.0 if patient else poll_delay)
            waiter.wake.clear()
            if self._http.closed:
                raise BackendInterrupted("stopped", url=self.url)
            if waiter.interrupted:
                raise BackendInterrupted("the prompt was interrupted", url=self.url)
            if waiter.error is not None:
                raise self._execution_error(waiter.error)
            # Woken by an event, a reconnect, or the periodic check: history is the truth.
            entry = self._history(prompt_id)
            if entry is not None:
                return entry
            if not waiter.finished and not self._queued(prompt_id):
                entry = self._history(prompt_id)
                if entry is not None:
                    return entry
                raise _PromptLost(prompt_id)
            if time.monotonic() > deadline:
                self._cancel([prompt_id])
                raise BackendError(f"no result within {self.render_timeout:.0f} s", url=self.url)
            poll_delay = min(poll_delay * 1.5, 1.0)

    def _execution_error(self, data: dict[str, Any]) -> BackendError:
        node = f"node {data.get('node_id', '?')} ({data.get('node_type', '?')})"
        lines = str(data.get("exception_message", "")).strip().splitlines()
        kind = data.get("exception_type", "error")
        return BackendRejected(
            f"{node} failed while running: {kind}: {lines[0] if lines else ''}", url=self.url
        )

    def _images_of(self, prompt_id: str, entry: dict[str, Any]) -> list[tuple[bytes, str]]:
        status: dict[str, Any] = entry["status"] if isinstance(entry.get("status"), dict) else {}
        if status.get("status_str") == "error":
            for event, data in status.get("messages") or []:
                if event == "execution_error" and isinstance(data, dict):
                    raise self._execution_error(data)
                if event == "execution_interrupted":
                    raise BackendInterrupted("the prompt was interrupted", url=self.url)
            raise BackendError("the prompt ended with an error", url=self.url)
        outputs: dict[str, Any] = entry["outputs"] if isinstance(entry.get("outputs"), dict) else {}
        saved: dict[str, Any] = outputs[_SAVE_NODE] if isinstance(outputs.get(_SAVE_NODE), dict) else {}
        refs = saved.get("images")
        if not isinstance(refs, list) or not refs:
            raise BackendProtocolError(f"history of {prompt_id} lists no saved images", url=self.url)
        return [self._download(ref) for ref in refs]

    def _download(self, ref: Any) -> tuple[bytes, str]:
        if not isinstance(ref, dict):
            raise BackendProtocolError("an output image entry is not an object", url=self.url)
        filename, subfolder, kind = (str(ref.get(key, "")) for key in ("filename", "subfolder", "type"))
        if (
            not filename
            or "/" in filename
            or has_unsafe_segment(filename)
            or has_unsafe_segment(subfolder)
            or kind not in ("output", "temp")
        ):
            raise BackendProtocolError(
                f"refusing output name {filename[:80]!r} in {subfolder[:80]!r} ({kind[:10]!r}): "
                "not a plain name inside the output folder",
                url=self.url,
            )
        response = self._http.request(
            "GET", "api/view", params={"filename": filename, "subfolder": subfolder, "type": kind}
        )
        if response.status_code != 200:
            raise BackendError(
                f"GET /view of {filename[:80]!r} answered HTTP {response.status_code}", url=self.url
            )
        return response.content, check_image_bytes(response.content, url=self.url, source=filename[:80])

    def _cancel(self, prompt_ids: list[str]) -> None:
        if not prompt_ids or self._http.closed:
            return
        try:
            self._http.request("POST", "api/queue", json={"delete": prompt_ids}, timeout=10.0, retry=False)
            for prompt_id in prompt_ids:
                self._http.request(
                    "POST", "api/interrupt", json={"prompt_id": prompt_id}, timeout=10.0, retry=False
                )
        except (BackendUnreachable, BackendInterrupted):
            pass

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        request = self.check_request(request)
        assert request.sampler is not None and request.scheduler is not None
        self._ensure_listener()
        started = time.monotonic()
        seeds = request.job_seeds()
        live: dict[int, str] = {}
        graphs: dict[int, dict[str, Any]] = {}
        try:
            for job, seed in enumerate(seeds):
                prompt_id = uuid.uuid4().hex
                graphs[job] = build_graph(
                    request,
                    seed=seed,
                    filename_prefix=f"onelazy/{prompt_id[:16]}",
                    sampler=request.sampler,
                    scheduler=request.scheduler,
                )
                self._submit(graphs[job], prompt_id)
                live[job] = prompt_id
            images: list[GeneratedImage] = []
            for job, seed in enumerate(seeds):
                retries: list[str] = []
                blobs = self._finish(job, live, graphs[job], started, retries)
                if len(blobs) != request.batch_size:
                    raise BackendProtocolError(
                        f"a job saved {len(blobs)} images, expected {request.batch_size}", url=self.url
                    )
                elapsed = time.monotonic() - started
                for batch_index, (data, extension) in enumerate(blobs):
                    images.append(
                        GeneratedImage(
                            data=data,
                            extension=extension,
                            index=job * request.batch_size + batch_index,
                            seed=seed,
                            batch_index=batch_index,
                            elapsed=elapsed,
                            backend_url=self.url,
                            model=request.model,
                            loras=request.loras,
                            retries=tuple(retries),
                        )
                    )
            return images
        except BaseException:
            self._cancel(list(live.values()))
            raise
        finally:
            with self._lock:
                for prompt_id in live.values():
                    self._waiters.pop(prompt_id, None)

    def _finish(
        self, job: int, live: dict[int, str], graph: dict[str, Any], started: float, retries: list[str]
    ) -> list[tuple[bytes, str]]:
        """Wait for one job, submitting it again (bounded) when a restart made the server forget it;
        ``retries`` gets a reason for each time."""
        deadline = started + self.render_timeout * (len(live) + 1)
        for attempt in range(1, self._http.retry.attempts + 1):
            prompt_id = live[job]
            try:
                return self._images_of(prompt_id, self._wait(prompt_id, deadline))
            except _PromptLost:
                if attempt == self._http.retry.attempts:
                    break
                with self._lock:
                    self._waiters.pop(prompt_id, None)
                retries.append("queued again: the server forgot the job (it restarted)")
                new_id = uuid.uuid4().hex
                graph[_SAVE_NODE]["inputs"]["filename_prefix"] = f"onelazy/{new_id[:16]}"
                self._submit(graph, new_id)
                live[job] = new_id
        raise BackendError("the server kept losing the queued prompt (restarting?)", url=self.url)

    def interrupt(self) -> None:
        """Remove this client's queued prompts and stop its running one; other clients' work stays."""
        with self._lock:
            prompt_ids = list(self._waiters)
            for waiter in self._waiters.values():
                waiter.interrupted = True
                waiter.wake.set()
        self._cancel(prompt_ids)

    def close(self) -> None:
        """Stop waiting calls, close the websocket (its reader threads end with it), then HTTP."""
        self._http.close()
        self._wake_all()
        listener = self._listener
        if listener is not None and listener is not threading.current_thread():
            listener.join(5.0)
        self._http.release()
