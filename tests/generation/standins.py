"""Protocol-faithful stand-ins for SwarmUI and ComfyUI: real HTTP (and websocket) servers on
127.0.0.1 with the routes, reply shapes and traps of the real servers, rendering small
deterministic PNGs after a configurable delay, and failing on cue.

Cues are queued with ``server.fail(<cue>)`` and consumed by the next request that can fail that
way. The code under test only sees HTTP.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import io
import json
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from PIL import Image, PngImagePlugin

from tests.generation.comfy_nodes import OBJECT_INFO, object_info, validate_prompt

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B85"


def render_png(key: str, width: int, height: int, text_chunks: dict[str, str] | None = None) -> bytes:
    """A small PNG whose pixels depend only on ``key`` (so equal requests give equal files)."""
    digest = hashlib.sha256(key.encode()).digest()
    w, h = max(8, width // 16), max(8, height // 16)
    image = Image.new("RGB", (w, h), tuple(digest[:3]))
    pixels = image.load()
    assert pixels is not None
    for y in range(h):
        for x in range(w):
            byte = digest[(x * 7 + y * 13) % 32]
            pixels[x, y] = (byte, digest[(x + y) % 32], (byte * 3 + x) % 256)
    info = PngImagePlugin.PngInfo()
    for name, value in (text_chunks or {}).items():
        info.add_text(name, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


class WebSocket:
    """The server end of one websocket (RFC 6455 framing, text frames, ping/pong, close)."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self.sock = handler.connection
        self.rfile = handler.rfile
        self.lock = threading.Lock()
        self.open = True

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def _send(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        with self.lock:
            if not self.open:
                return
            try:
                self.sock.sendall(header + payload)
            except OSError:
                self.open = False

    def serve(self) -> None:
        """Read client frames until close; answer pings."""
        try:
            while self.open:
                head = self.rfile.read(2)
                if len(head) < 2:
                    break
                opcode, length = head[0] & 0x0F, head[1] & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", self.rfile.read(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", self.rfile.read(8))
                mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
                if opcode == 0x8:
                    self._send(0x8, data[:2])
                    break
                if opcode == 0x9:
                    self._send(0xA, data)
        except (OSError, struct.error):
            pass
        finally:
            self.open = False


class StandinServer:
    """A threaded HTTP server on 127.0.0.1 that can stop, drop every connection and come back
    on the same port (a restart)."""

    def __init__(self, *, render_seconds: float = 0.0, slots: int = 1) -> None:
        self.render_seconds = render_seconds
        self.slots = threading.BoundedSemaphore(slots)
        self.port = 0
        self.lock = threading.RLock()
        self.cues: collections.deque[str] = collections.deque()
        self.log: list[tuple[str, str]] = []
        self.renders = 0
        self.generation = 0  # bumped by every restart
        self._httpd: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    # -- life cycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StandinServer:
        standin = self
        handler_class = self.handler_class()

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def process_request(self, request: Any, client_address: Any) -> None:
                with standin.lock:
                    standin._connections.add(request)
                super().process_request(request, client_address)

            def shutdown_request(self, request: Any) -> None:
                with standin.lock:
                    standin._connections.discard(request)
                super().shutdown_request(request)

        httpd = Server(("127.0.0.1", self.port), handler_class)
        httpd.standin = self  # type: ignore[attr-defined]
        self.port = httpd.server_address[1]
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self.lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def restart(self, downtime: float = 0.3) -> None:
        """Stop, forget what a real server forgets on restart, come back on the same port."""
        self.stop()
        with self.lock:
            self.generation += 1
            self.on_restart()
        time.sleep(downtime)
        self.start()

    def restart_in_background(self, downtime: float = 0.3) -> None:
        threading.Thread(target=self.restart, args=(downtime,), daemon=True).start()

    def on_restart(self) -> None:
        """Drop the state the real server keeps only in memory."""

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- cues
    def fail(self, *cues: str) -> None:
        with self.lock:
            self.cues.extend(cues)

    def take_cue(self, *allowed: str) -> str | None:
        with self.lock:
            if self.cues and self.cues[0] in allowed:
                return self.cues.popleft()
        return None

    def render(
        self, key: str, width: int, height: int, chunks: dict[str, str] | None = None, should_stop: Any = None
    ) -> bytes | None:
        """Hold one render slot for ``render_seconds``; None when ``should_stop()`` turned true."""
        with self.slots:
            end = time.monotonic() + self.render_seconds
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    break
                if should_stop is not None and should_stop():
                    return None
                time.sleep(min(left, 0.01))
            with self.lock:
                self.renders += 1
        return render_png(key, width, height, chunks)


class BaseHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def setup(self) -> None:
        super().setup()
        # like aiohttp and Kestrel: no Nagle delay between the headers and the body
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def standin(self) -> Any:
        return self.server.standin

    def send_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(value).encode(), "application/json; charset=utf-8", headers)

    def send_bytes(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def drop(self) -> None:
        """Close the connection without answering (a crash, a proxy reset)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def upgrade_websocket(self) -> WebSocket | None:
        key = self.headers.get("Sec-WebSocket-Key")
        if self.headers.get("Upgrade", "").lower() != "websocket" or not key:
            self.send_json(400, {"error": "expected a websocket upgrade"})
            return None
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        return WebSocket(self)


# =============================================================================== SwarmUI


SWARM_PARAMS = [
    "fluxguidancescale",
    "sigmashift",
    "prompt",
    "negativeprompt",
    "model",
    "seed",
    "steps",
    "cfgscale",
    "width",
    "height",
    "sampler",
    "scheduler",
    "batchsize",
    "loras",
    "loraweights",
    "donotsave",
    "images_unused_marker",
]


class SwarmStandin(StandinServer):
    """SwarmUI: ``POST /API/<Route>`` JSON, sessions that survive restarts, errors in HTTP 200
    bodies, fuzzy model matching, unknown parameters silently ignored, ``GET /View/...``."""

    def __init__(
        self,
        *,
        render_seconds: float = 0.0,
        slots: int = 1,
        token: str | None = None,
        models: list[str] | None = None,
        loras: list[str] | None = None,
        params: list[str] | None = None,
    ) -> None:
        super().__init__(render_seconds=render_seconds, slots=slots)
        self.token = token
        self.sessions: dict[str, set[str]] = {}  # session -> its running request ids (persisted)
        self.interrupted: set[str] = set()
        self.models = models or [
            "SD15/tiny_sd15.safetensors",
            "SDXL/juggernaut_xl.safetensors",
            "SDXL/juggernaut_xl_lightning.safetensors",
        ]
        self.lora_names = loras or ["faery_style.safetensors", "chars/elf.safetensors"]
        self.param_ids = [p for p in (params or SWARM_PARAMS) if p != "images_unused_marker"]
        self.samplers = ["euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_sde"]
        self.schedulers = ["normal", "karras", "simple"]
        self.files: dict[str, bytes] = {}  # the output folder (on disk: survives restarts)
        self.ignored_params: list[str] = []
        self.generate_bodies: list[dict[str, Any]] = []
        self.counter = 0
        self.reverse_order = False

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return SwarmHandler

    def fuzzy_model(self, name: str, listed: list[str]) -> str | None:
        def key(text: str) -> str:
            text = text.lower().replace(" ", "")
            return text[: -len(".safetensors")] if text.endswith(".safetensors") else text

        for entry in listed:
            if key(entry) == key(name):
                return entry
        containing = sorted((e for e in listed if key(name) in key(e)), key=len)
        return containing[0] if containing else None


class SwarmHandler(BaseHandler):
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.standin.log.append(("GET", path))
        if path.lower().startswith("/api/"):
            self.send_response(302)
            self.send_header("Location", "/Error/BasicAPI")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path.startswith("/View/"):
            relative = unquote(path[1:])
            if any(part == ".." for part in relative.split("/")):
                self.send_json(400, {"error_id": "bad_path", "error": "bad path"})
                return
            data = self.standin.files.get(relative)
            if data is None:
                self.send_json(404, {"error_id": "file_not_found", "error": "file not found"})
                return
            content_type = "image/png" if data.startswith(b"\x89PNG") else "text/html"
            self.send_bytes(200, data, content_type, {"Cache-Control": "private"})
            return
        self.send_bytes(404, b"<html>404</html>", "text/html")

    def do_POST(self) -> None:
        standin: SwarmStandin = self.standin
        path = urlsplit(self.path).path
        standin.log.append(("POST", path))
        if not path.lower().startswith("/api/"):
            self.send_bytes(404, b"<html>404</html>", "text/html")
            return
        route = path[5:].lower()
        raw = self.read_body()
        if route == "generatetext2image":
            cue = standin.take_cue("http500", "drop", "restart")
            if cue == "http500":
                self.send_bytes(500, b"Internal Server Error", "text/plain")
                return
            if cue == "drop":
                self.drop()
                return
            if cue == "restart":
                self.drop()
                standin.restart_in_background()
                return
        if "json" not in self.headers.get("Content-Type", "") or not raw:
            self.send_json(400, {"error_id": "basic_api", "error": "bad content type or length"})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error_id": "basic_api", "error": "invalid json"})
            return
        if route == "getnewsession":
            cookie = self.headers.get("Cookie", "")
            if standin.token is not None and f"swarm_token={standin.token}" not in cookie:
                self.send_json(200, {"error": "Invalid or unauthorized."})
                return
            session = uuid.uuid4().hex + uuid.uuid4().hex[:8]
            with standin.lock:
                standin.sessions[session] = set()
            self.send_json(
                200,
                {
                    "session_id": session,
                    "user_id": "local",
                    "output_append_user": True,
                    "version": "0.9.7.0-standin",
                    "server_id": str(uuid.uuid4()),
                    "permissions": ["*"],
                },
            )
            return
        session = body.get("session_id") or self.headers.get("X-Session-ID")
        if not session:
            self.send_json(400, {"error_id": "basic_api", "error": "missing session id"})
            return
        if route == "generatetext2image" and standin.take_cue("invalid_session"):
            with standin.lock:
                standin.sessions.pop(session, None)
        if session not in standin.sessions:
            self.send_json(
                401,
                {
                    "error": "Invalid session ID. You may need to refresh the page.",
                    "error_id": "invalid_session_id",
                },
            )
            return
        if route == "generatetext2image":
            cue = standin.take_cue("bad_permissions", "internal_error")
            if cue == "bad_permissions":
                self.send_json(
                    400, {"error": "You lack permissions for this route.", "error_id": "bad_permissions"}
                )
                return
            if cue == "internal_error":
                self.send_json(400, {"error_id": "internal_error", "error": "An internal error occurred"})
                return
        handler = getattr(self, f"route_{route}", None)
        if handler is None:
            self.send_json(400, {"error_id": "bad_route", "error": "Unknown API route."})
            return
        handler(session, body)

    def route_getcurrentstatus(self, session: str, body: dict[str, Any]) -> None:
        self.send_json(
            200,
            {
                "status": {"waiting_gens": 0, "loading_models": 0, "waiting_backends": 0, "live_gens": 0},
                "backend_status": {"status": "running", "class": "", "message": "", "any_loading": False},
                "supported_features": ["comfyui"],
            },
        )

    def route_listmodels(self, session: str, body: dict[str, Any]) -> None:
        subtype = body.get("subtype", "Stable-Diffusion")
        names = self.standin.models if subtype == "Stable-Diffusion" else self.standin.lora_names
        files = [
            {
                "name": n,
                "title": n.rsplit("/", 1)[-1],
                "architecture": "stable-diffusion-v1",
                "class": "",
                "standard_width": 512,
                "standard_height": 512,
                "local": True,
            }
            for n in names
        ]
        folders = sorted({n.split("/")[0] for n in names if "/" in n})
        self.send_json(200, {"folders": folders, "files": files})

    def route_listt2iparams(self, session: str, body: dict[str, Any]) -> None:
        standin: SwarmStandin = self.standin
        entries = []
        for param_id in standin.param_ids:
            entry: dict[str, Any] = {"id": param_id, "name": param_id.title(), "type": "text", "default": ""}
            if param_id == "sampler":
                entry.update(type="dropdown", values=standin.samplers, value_names=standin.samplers)
            if param_id == "scheduler":
                entry.update(type="dropdown", values=standin.schedulers, value_names=standin.schedulers)
            entries.append(entry)
        self.send_json(
            200,
            {
                "list": entries,
                "groups": [],
                "models": {"Stable-Diffusion": [[m, "stable-diffusion-v1"] for m in standin.models]},
                "wildcards": [],
                "param_edits": None,
            },
        )

    def route_interruptall(self, session: str, body: dict[str, Any]) -> None:
        with self.standin.lock:
            self.standin.interrupted.add(session)
        self.send_json(200, {"success": True})

    def route_generatetext2image(self, session: str, body: dict[str, Any]) -> None:
        standin: SwarmStandin = self.standin
        standin.generate_bodies.append(body)
        cue = standin.take_cue("error200", "bad_path", "absolute_url", "not_image", "slow", "data_url")
        if cue == "error200":
            self.send_json(200, {"error": "No backends available!"})
            return
        if "images" not in body:
            self.send_json(200, {"error": "Missing required parameter 'images'"})
            return
        for key in body:
            if key not in ("session_id", "images") and key not in standin.param_ids:
                standin.ignored_params.append(key)
        model = standin.fuzzy_model(str(body.get("model", "")), standin.models)
        if model is None:
            self.send_json(
                200,
                {
                    "error": f"Invalid model value for param Model - '{body.get('model')}' - are you "
                    "sure that model name is correct?"
                },
            )
            return
        for name in ("sampler", "scheduler"):
            allowed = standin.samplers if name == "sampler" else standin.schedulers
            if name in body and body[name] not in allowed:
                self.send_json(
                    200, {"error": f"Invalid value for parameter {name.title()}: not a known value"}
                )
                return
        loras = body.get("loras") or []
        if isinstance(loras, str):
            loras = loras.split(",")
        weights = body.get("loraweights") or []
        images, batch = int(body["images"]), int(body.get("batchsize", 1))
        seed = int(body.get("seed", -1))
        if seed == -1:
            seed = int.from_bytes(uuid.uuid4().bytes[:4], "big") % (2**31 - 1)
        width, height = int(body.get("width", 512)), int(body.get("height", 512))
        results = []
        generation = standin.generation
        for job in range(images):
            job_seed = seed + job * batch
            for k in range(batch):
                key = json.dumps(
                    [
                        body.get("prompt"),
                        body.get("negativeprompt"),
                        model,
                        job_seed,
                        k,
                        body.get("steps"),
                        body.get("cfgscale"),
                        loras,
                        weights,
                        width,
                        height,
                    ]
                )
                params = {
                    "sui_image_params": {
                        "prompt": body.get("prompt"),
                        "seed": job_seed,
                        "model": model,
                        "loras": loras,
                        "loraweights": weights,
                    }
                }
                if cue == "slow":
                    time.sleep(0.5)
                png = standin.render(
                    key,
                    width,
                    height,
                    {"parameters": json.dumps(params)},
                    should_stop=lambda: session in standin.interrupted or standin.generation != generation,
                )
                if png is None or standin.generation != generation:
                    standin.interrupted.discard(session)
                    self.send_json(200, {"error": "Generation session interrupted."})
                    return
                with standin.lock:
                    standin.counter += 1
                    name = (
                        f"View/local/raw/2026-11-24/{standin.counter:07d}-{str(body.get('prompt'))[:40]}"
                        f"-{model.rsplit('/', 1)[-1].split('.')[0]}.png"
                    )
                    standin.files[name] = b"<html>not an image</html>" if cue == "not_image" else png
                results.append(name)
        if cue == "data_url":  # donotsave, SaveFiles off, or a save failure: the image inline
            results[0] = "data:image/png;base64," + base64.b64encode(standin.files[results[0]]).decode()
        if cue == "bad_path":
            results[0] = "View/local/../../../etc/passwd"
        if cue == "absolute_url":
            results[0] = "http://198.51.100.7/View/x.png"
        if standin.reverse_order:
            results.reverse()
        self.send_json(200, {"images": results})


# =============================================================================== ComfyUI

COMFY_SAMPLERS = ["euler", "euler_ancestral", "heun", "dpmpp_2m", "dpmpp_2m_sde", "ddim", "uni_pc"]
COMFY_SCHEDULERS = ["simple", "sgm_uniform", "karras", "exponential", "normal", "beta"]
LATENT_NODES = ("EmptyLatentImage", "EmptySD3LatentImage", "EmptyFlux2LatentImage")
MODEL_LOADERS = ("CheckpointLoaderSimple", "UNETLoader")


class ComfyStandin(StandinServer):
    """ComfyUI: one worker, one prompt at a time; ``/prompt`` validation with ``node_errors``;
    ``/ws`` events; history written after the success event; identical graphs served from cache;
    queue and history lost on restart; ``/view`` with traversal guards."""

    def __init__(
        self,
        *,
        render_seconds: float = 0.0,
        history_lag: float = 0.0,
        websocket: bool = True,
        checkpoints: list[str] | None = None,
        loras: list[str] | None = None,
        bearer: str | None = None,
        diffusion_models: list[str] | None = None,
        text_encoders: list[str] | None = None,
        vaes: list[str] | None = None,
    ) -> None:
        if not OBJECT_INFO.is_file():
            pytest.skip(f"{OBJECT_INFO} is missing: the ComfyUI node definitions live in ../shared")
        super().__init__(render_seconds=render_seconds, slots=1)
        self.bearer = bearer  # a reverse proxy in front that wants this bearer token
        self.history_lag = history_lag
        self.websocket = websocket
        self.checkpoints = checkpoints or ["tiny_sd15.safetensors", "sub/juggernaut_xl.safetensors"]
        self.lora_names = loras or ["faery_style.safetensors", "chars/elf.safetensors"]
        # separate model files, as the newer families ship (names as in ComfyUI's examples)
        self.diffusion_models = diffusion_models or [
            "flux1-dev.safetensors", "flux2_dev_fp8mixed.safetensors", "chroma1-hd.safetensors",
            "z_image_bf16.safetensors", "z_image_turbo_bf16.safetensors", "qwen_image_fp8_e4m3fn.safetensors",
        ]  # fmt: skip
        self.text_encoders = text_encoders or [
            "clip_l.safetensors", "clip_g.safetensors", "t5xxl_fp16.safetensors", "qwen_3_4b.safetensors",
            "qwen_2.5_vl_7b_fp8_scaled.safetensors", "mistral_3_small_flux2_bf16.safetensors",
        ]  # fmt: skip
        self.vaes = vaes or ["ae.safetensors", "qwen_image_vae.safetensors", "flux2-vae.safetensors"]
        self.queue: list[list[Any]] = []  # [number, prompt_id, graph, extra_data, outputs]
        self.running: list[Any] | None = None
        self.history: dict[str, Any] = {}
        self.sockets: dict[str, WebSocket] = {}
        self.files: dict[tuple[str, str], bytes] = {}  # (subfolder, filename) -> bytes, on "disk"
        self.prefix_counters: collections.Counter[str] = collections.Counter()
        self.cache: dict[str, list[dict[str, str]]] = {}
        self.number = 0
        self.interrupt_flag = False
        self.graphs: list[dict[str, Any]] = []
        self.work = threading.Condition(self.lock)
        threading.Thread(target=self._worker, daemon=True).start()

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return ComfyHandler

    def on_restart(self) -> None:
        self.queue.clear()
        self.running = None
        self.history.clear()
        self.cache.clear()
        self.sockets.clear()

    def send(self, client_id: str | None, kind: str, data: dict[str, Any]) -> None:
        with self.lock:
            targets = list(self.sockets.values()) if client_id is None else [self.sockets.get(client_id)]
        for ws in targets:
            if ws is not None:
                ws.send_text(json.dumps({"type": kind, "data": data}))

    def status_message(self) -> dict[str, Any]:
        remaining = len(self.queue) + (1 if self.running else 0)
        return {"status": {"exec_info": {"queue_remaining": remaining}}}

    # -- the worker thread: one prompt at a time
    def _worker(self) -> None:
        while True:
            with self.work:
                while not self.queue:
                    self.work.wait()
                self.queue.sort(key=lambda item: item[0])
                item = self.queue.pop(0)
                self.running = item
                self.interrupt_flag = False
                generation = self.generation
            try:
                self._execute(item, generation)
            except Exception:  # a crashed worker would hang every test; keep serving
                import traceback

                traceback.print_exc()

    def _finish(
        self, item: list[Any], generation: int, status: dict[str, Any], outputs: dict[str, Any]
    ) -> None:
        prompt_id, client_id = item[1], item[3].get("client_id")
        if self.history_lag:
            time.sleep(self.history_lag)
        with self.lock:
            if self.generation != generation:
                return
            self.history[prompt_id] = {"prompt": item, "outputs": outputs, "status": status, "meta": {}}
            self.running = None
        self.send(client_id, "executing", {"node": None, "display_node": None, "prompt_id": prompt_id})
        self.send(None, "status", self.status_message())

    def _execute(self, item: list[Any], generation: int) -> None:
        _number, prompt_id, graph, extra, _ = item
        client_id = extra.get("client_id")
        now = lambda: int(time.time() * 1000)  # noqa: E731
        messages: list[Any] = [["execution_start", {"prompt_id": prompt_id, "timestamp": now()}]]
        self.send(client_id, "execution_start", {"prompt_id": prompt_id, "timestamp": now()})
        cue = self.take_cue("runtime_error", "view_traversal", "restart", "slow")
        if cue == "restart":
            self.restart_in_background()
            time.sleep(0.05)
            return
        canonical = json.dumps(graph, sort_keys=True)
        cached = self.cache.get(canonical)
        self.send(
            client_id,
            "execution_cached",
            {"nodes": list(graph) if cached else [], "prompt_id": prompt_id, "timestamp": now()},
        )
        save_id = next(node_id for node_id, node in graph.items() if node["class_type"] == "SaveImage")
        if cue == "runtime_error":
            error = {
                "prompt_id": prompt_id,
                "node_id": "4",
                "node_type": "CheckpointLoaderSimple",
                "executed": [],
                "exception_message": "Error while deserializing header: HeaderTooLarge",
                "exception_type": "safetensors_rust.SafetensorError",
                "traceback": ["..."],
                "current_inputs": {},
                "current_outputs": {},
                "timestamp": now(),
            }
            self.send(client_id, "execution_error", error)
            messages.append(["execution_error", error])
            self._finish(
                item, generation, {"status_str": "error", "completed": False, "messages": messages}, {}
            )
            return
        if cached is None:
            sampler = next(node for node in graph.values() if node["class_type"] == "KSampler")["inputs"]
            latent = next(node for node in graph.values() if node["class_type"] in LATENT_NODES)["inputs"]
            texts = [
                node["inputs"]["text"] for node in graph.values() if node["class_type"] == "CLIPTextEncode"
            ]
            loras = [
                [n["inputs"]["lora_name"], n["inputs"]["strength_model"]]
                for n in graph.values()
                if n["class_type"] in ("LoraLoader", "LoraLoaderModelOnly")
            ]
            loader = next(node for node in graph.values() if node["class_type"] in MODEL_LOADERS)["inputs"]
            model_name = loader.get("ckpt_name") or loader.get("unet_name")
            prefix = graph[save_id]["inputs"]["filename_prefix"]
            self.send(client_id, "executing", {"node": "3", "display_node": "3", "prompt_id": prompt_id})
            if cue == "slow":
                time.sleep(0.5)
            images = []
            for k in range(int(latent["batch_size"])):
                key = json.dumps(
                    [
                        texts,
                        model_name,
                        sampler["seed"],
                        k,
                        latent["batch_size"],
                        sampler["steps"],
                        sampler["cfg"],
                        sampler["sampler_name"],
                        loras,
                        latent["width"],
                        latent["height"],
                    ]
                )
                png = self.render(
                    key,
                    int(latent["width"]),
                    int(latent["height"]),
                    {"prompt": json.dumps(graph)},
                    should_stop=lambda: self.interrupt_flag or self.generation != generation,
                )
                if self.generation != generation:
                    return
                if png is None:
                    data = {
                        "prompt_id": prompt_id,
                        "node_id": "3",
                        "node_type": "KSampler",
                        "executed": [],
                        "timestamp": now(),
                    }
                    self.send(None, "execution_interrupted", data)
                    messages.append(["execution_interrupted", data])
                    self._finish(
                        item,
                        generation,
                        {"status_str": "error", "completed": False, "messages": messages},
                        {},
                    )
                    return
                self.send(
                    client_id,
                    "progress",
                    {"value": k + 1, "max": latent["batch_size"], "prompt_id": prompt_id, "node": "3"},
                )
                subfolder, _, base = prefix.rpartition("/")
                with self.lock:
                    self.prefix_counters[prefix] += 1
                    filename = f"{base}_{self.prefix_counters[prefix]:05d}_.png"
                    self.files[(subfolder, filename)] = png
                images.append({"filename": filename, "subfolder": subfolder, "type": "output"})
            cached = images
            self.cache[canonical] = images
        outputs_images = [dict(image) for image in cached]
        if cue == "view_traversal":
            outputs_images[0]["filename"] = "../../../etc/passwd"
        outputs = {save_id: {"images": outputs_images}}
        self.send(
            client_id,
            "executed",
            {"node": save_id, "display_node": save_id, "output": outputs[save_id], "prompt_id": prompt_id},
        )
        self.send(client_id, "execution_success", {"prompt_id": prompt_id, "timestamp": now()})
        messages.append(["execution_success", {"prompt_id": prompt_id, "timestamp": now()}])
        self._finish(
            item, generation, {"status_str": "success", "completed": True, "messages": messages}, outputs
        )

    # -- validation of a posted graph, with ComfyUI's error shapes
    def model_files(self) -> dict[str, list[str]]:
        """The stand-in's model folders, as ``GET /models/<folder>`` lists them."""
        return {
            "checkpoints": list(self.checkpoints),
            "loras": list(self.lora_names),
            "diffusion_models": list(self.diffusion_models),
            "text_encoders": list(self.text_encoders),
            "vae": list(self.vaes),
        }

    def object_info(self) -> dict[str, Any]:
        """The real ComfyUI's node definitions with this stand-in's files in the file choices
        (built again only when a file list changed: a copy of ~480 node definitions per prompt
        would slow the stand-in down on a loaded machine)."""
        files = self.model_files()
        key = json.dumps(files, sort_keys=True)
        if getattr(self, "_info_key", None) != key:
            self._info = object_info(files)
            self._info_key = key
        return self._info

    def validate(self, graph: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        return validate_prompt(graph, self.object_info())


class ComfyHandler(BaseHandler):
    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        bearer = self.standin.bearer
        if bearer is not None and self.headers.get("Authorization") != f"Bearer {bearer}":
            self.close_connection = True
            self.send_bytes(401, b"401 Unauthorized (proxy)", "text/plain")
            return False
        return True

    def route(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith("/api/"):
            path = path[4:]
        return path, parse_qs(parts.query)

    def do_GET(self) -> None:
        standin: ComfyStandin = self.standin
        path, query = self.route()
        standin.log.append(("GET", path))
        if path == "/ws":
            if not standin.websocket:
                self.send_bytes(404, b"404: Not Found", "text/plain")
                return
            ws = self.upgrade_websocket()
            if ws is None:
                return
            client_id = (query.get("clientId") or [uuid.uuid4().hex])[0]
            with standin.lock:
                standin.sockets[client_id] = ws
                status = standin.status_message()
            ws.send_text(json.dumps({"type": "status", "data": {**status, "sid": client_id}}))
            ws.serve()
            with standin.lock:
                if standin.sockets.get(client_id) is ws:
                    del standin.sockets[client_id]
            return
        if path == "/system_stats":
            self.send_json(
                200,
                {
                    "system": {
                        "os": "posix",
                        "ram_total": 1,
                        "ram_free": 1,
                        "comfyui_version": "0.8.0",
                        "python_version": "3.11",
                        "pytorch_version": "2.5",
                        "argv": ["main.py"],
                    },
                    "devices": [
                        {"name": "cpu", "type": "cpu", "index": None, "vram_total": 0, "vram_free": 0}
                    ],
                },
            )
        elif path.startswith("/models/") and path[len("/models/") :] in standin.model_files():
            self.send_json(200, standin.model_files()[path[len("/models/") :]])
        elif path == "/object_info":
            self.send_json(200, standin.object_info())
        elif path.startswith("/object_info/"):
            info = standin.object_info()
            name = unquote(path[len("/object_info/") :])
            self.send_json(200, {name: info[name]} if name in info else {})
        elif path.startswith("/history/"):
            prompt_id = path[len("/history/") :]
            with standin.lock:
                entry = standin.history.get(prompt_id)
            self.send_json(200, {prompt_id: entry} if entry else {})
        elif path == "/queue":
            with standin.lock:
                running = [standin.running] if standin.running else []
                self.send_json(200, {"queue_running": running, "queue_pending": list(standin.queue)})
        elif path == "/prompt":
            with standin.lock:
                self.send_json(200, {"exec_info": {"queue_remaining": len(standin.queue)}})
        elif path == "/view":
            self.view(query)
        else:
            self.send_bytes(404, b"404: Not Found", "text/plain")

    def view(self, query: dict[str, list[str]]) -> None:
        standin: ComfyStandin = self.standin
        filename = (query.get("filename") or [""])[0]
        subfolder = (query.get("subfolder") or [""])[0]
        kind = (query.get("type") or ["output"])[0]
        if kind not in ("output", "temp", "input"):
            self.send_bytes(400, b"invalid type", "text/plain")
            return
        if ".." in filename or filename.startswith("/"):
            self.send_bytes(400, b"invalid filename", "text/plain")
            return
        if ".." in subfolder.split("/") or subfolder.startswith("/"):
            self.send_bytes(403, b"Forbidden", "text/plain")
            return
        data = standin.files.get((subfolder, filename.rsplit("/", 1)[-1]))
        if data is None:
            self.send_bytes(404, b"404: Not Found", "text/plain")
            return
        self.send_bytes(200, data, "image/png")

    def do_POST(self) -> None:
        standin: ComfyStandin = self.standin
        path, _ = self.route()
        standin.log.append(("POST", path))
        raw = self.read_body()
        if path == "/prompt":
            cue = standin.take_cue("http500", "drop", "node_errors_200")
            if cue == "http500":
                self.send_bytes(
                    500, b"500 Internal Server Error\n\nServer got itself in trouble", "text/plain"
                )
                return
            if cue == "drop":
                self.drop()
                return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self.send_bytes(500, b"500 Internal Server Error\n\nServer got itself in trouble", "text/plain")
            return
        if path == "/prompt":
            self.post_prompt(body, cue)
        elif path == "/queue":
            with standin.lock:
                if body.get("clear"):
                    standin.queue.clear()
                delete = set(body.get("delete") or [])
                standin.queue[:] = [item for item in standin.queue if item[1] not in delete]
            self.send_bytes(200, b"", "text/plain")
        elif path == "/interrupt":
            with standin.lock:
                target = body.get("prompt_id")
                if standin.running and (target is None or standin.running[1] == target):
                    standin.interrupt_flag = True
            self.send_bytes(200, b"", "text/plain")
        else:
            self.send_bytes(404, b"404: Not Found", "text/plain")

    def post_prompt(self, body: dict[str, Any], cue: str | None) -> None:
        standin: ComfyStandin = self.standin
        if "prompt" not in body:
            self.send_json(
                400,
                {
                    "error": {
                        "type": "no_prompt",
                        "message": "No prompt provided",
                        "details": "",
                        "extra_info": {},
                    },
                    "node_errors": {},
                },
            )
            return
        graph = body["prompt"]
        error, node_errors = standin.validate(graph)
        if error is not None:
            self.send_json(400, {"error": error, "node_errors": node_errors})
            return
        if cue == "node_errors_200":
            self.send_json(
                200,
                {
                    "prompt_id": body.get("prompt_id"),
                    "number": 0,
                    "node_errors": {
                        "12": {
                            "class_type": "SaveImageWebsocket",
                            "dependent_outputs": ["12"],
                            "errors": [
                                {
                                    "type": "required_input_missing",
                                    "message": "Required input is missing",
                                    "details": "images",
                                    "extra_info": {"input_name": "images"},
                                }
                            ],
                        }
                    },
                },
            )
            return
        prompt_id = body.get("prompt_id") or str(uuid.uuid4())
        with standin.work:
            standin.graphs.append(graph)
            number = standin.number
            standin.number += 1
            outputs = [node_id for node_id, node in graph.items() if node["class_type"] == "SaveImage"]
            standin.queue.append([number, prompt_id, graph, {"client_id": body.get("client_id")}, outputs])
            standin.work.notify()
            status = standin.status_message()
        self.send_json(200, {"prompt_id": prompt_id, "number": number, "node_errors": {}})
        standin.send(None, "status", status)
