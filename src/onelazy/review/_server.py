"""The review server: stdlib HTTP on 127.0.0.1, serving one page and the dataset's images, nothing else.

Guard rails, because any web page the person has open could try to talk to a local server:
- only the images cull would look at, inside the dataset folder, are served or moved (a path is
  looked up in the listing made at start, never joined blindly);
- a request naming another Host (DNS rebinding), carrying another Origin, or marked cross-site by
  ``Sec-Fetch-Site`` is refused with 403;
- requests that change something must be JSON and carry the per-run token the page was served with;
- methods other than GET/HEAD (and POST on the two action paths) get 405.
"""

from __future__ import annotations

import hmac
import io
import json
import os
import secrets
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from onelazy.culling import reject_by_hand, restore_by_hand
from onelazy.culling._store import REVIEW_WRITES, check_dataset, list_images
from onelazy.dataset import CONTENT_TYPES
from onelazy.dataset.cull_report import read_cull_report
from onelazy.errors import UsageError
from onelazy.review._page import PAGE

_CAPTION_EXTENSIONS = (".txt", ".caption")
_POST_PATHS = ("/api/reject", "/api/undo")
_MAX_BODY = 64 * 1024
_THUMB_SIDE = 256


class ReviewSession:
    """The dataset being reviewed: its images, who was rejected this session, and the undo stack."""

    def __init__(self, dataset: Path) -> None:
        self.root = check_dataset(dataset, writable=True, writes=REVIEW_WRITES)
        images, _ = list_images(self.root)
        self.files = images
        self.known = set(images)
        self.rejected: set[str] = set()
        self.undo_stack: list[str] = []
        self.lock = threading.Lock()
        self.thumbs: dict[str, bytes] = {}

    def rejected_total(self) -> int:
        record = read_cull_report(self.root)
        return 0 if record is None else len(record.rejected)

    def caption(self, relative: str) -> str:
        stem = os.path.splitext(relative)[0]
        for extension in _CAPTION_EXTENSIONS:
            try:
                return (self.root / (stem + extension)).read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                continue
        return ""

    def state(self) -> dict[str, Any]:
        with self.lock:
            files = [
                {"file": f, "caption": self.caption(f), "rejected": f in self.rejected} for f in self.files
            ]
            return {"files": files, "rejected_total": self.rejected_total()}

    def image_path(self, relative: str) -> Path | None:
        """The on-disk path of a dataset image still in place, or None for anything else."""
        if relative not in self.known or relative in self.rejected:
            return None
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def reject(self, relative: str) -> dict[str, Any]:
        with self.lock:
            if self.image_path(relative) is None:
                raise LookupError(f"{relative}: not an image of this dataset (or already rejected)")
            reject_by_hand(self.root, relative)
            self.rejected.add(relative)
            self.undo_stack.append(relative)
            return {"file": relative, "rejected_total": self.rejected_total()}

    def undo(self) -> dict[str, Any]:
        with self.lock:
            if not self.undo_stack:
                return {"file": None, "rejected_total": self.rejected_total()}
            relative = self.undo_stack[-1]
            restore_by_hand(self.root, relative)
            self.undo_stack.pop()
            self.rejected.discard(relative)
            return {"file": relative, "rejected_total": self.rejected_total()}

    def thumbnail(self, path: Path, relative: str) -> bytes:
        cached = self.thumbs.get(relative)
        if cached is not None:
            return cached
        from PIL import Image

        with Image.open(path) as im:
            im.draft("RGB", (_THUMB_SIDE, _THUMB_SIDE))
            im.thumbnail((_THUMB_SIDE, _THUMB_SIDE))
            buffer = io.BytesIO()
            im.convert("RGB").save(buffer, "JPEG", quality=80)
        data = buffer.getvalue()
        if len(self.thumbs) < 5000:
            self.thumbs[relative] = data
        return data


class ReviewServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer bound to 127.0.0.1 that serves one :class:`ReviewSession`."""

    daemon_threads = True

    def __init__(self, dataset: str | os.PathLike[str], *, port: int = 0) -> None:
        self.session = ReviewSession(Path(dataset))
        self.token = secrets.token_urlsafe(32)
        try:
            super().__init__(("127.0.0.1", port), _Handler)
        except OSError as exc:  # mostly: the port is taken
            raise UsageError(
                f"port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); "
                "give another port, or none for a free one"
            ) from exc
        self.port = int(self.server_address[1])
        self.allowed_hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        self.allowed_origins = {f"http://{host}" for host in self.allowed_hosts}
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        """Serve in a background thread (``close()`` stops it)."""
        self._thread = threading.Thread(target=self.serve_forever, name="onelazy-review", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "onelazy-review"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows only what onelazy prints."""

    # ------------------------------------------------------------------ responses

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps({"error": message}).encode("utf-8"), "application/json", extra)

    def _method_not_allowed(self) -> None:
        allow = "GET, HEAD, POST" if urlsplit(self.path).path in _POST_PATHS else "GET, HEAD"
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"method {self.command} not allowed", {"Allow": allow})

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler answers unknown methods with 501; every method we do not serve is a 405.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    # ------------------------------------------------------------------ guards

    def _same_origin(self) -> bool:
        host = self.headers.get("Host", "")
        if host not in self.server.allowed_hosts:
            self._error(HTTPStatus.FORBIDDEN, "wrong Host header")
            return False
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.allowed_origins:
            self._error(HTTPStatus.FORBIDDEN, "cross-origin request refused")
            return False
        site = self.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            self._error(HTTPStatus.FORBIDDEN, "cross-site request refused")
            return False
        return True

    # ------------------------------------------------------------------ GET

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._same_origin():
            return
        path = urlsplit(self.path).path
        session = self.server.session
        if path == "/":
            nonce = secrets.token_urlsafe(16)
            page = (
                PAGE.replace("__TOKEN__", self.server.token)
                .replace("__NONCE__", nonce)
                .replace("__DATASET__", _html_text(session.root.name))
            )
            csp = (
                f"default-src 'none'; img-src 'self'; connect-src 'self'; "
                f"script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'"
            )
            self._send(
                HTTPStatus.OK,
                page.encode("utf-8"),
                "text/html; charset=utf-8",
                {"Content-Security-Policy": csp},
            )
        elif path == "/api/state":
            self._json(HTTPStatus.OK, session.state())
        elif path.startswith(("/image/", "/thumb/")):
            kind, _, quoted = path[1:].partition("/")
            relative = unquote(quoted)
            file_path = session.image_path(relative)
            if file_path is None:
                self._error(HTTPStatus.NOT_FOUND, "no such image in this dataset")
                return
            try:
                if kind == "thumb":
                    body, content_type = session.thumbnail(file_path, relative), "image/jpeg"
                else:
                    body = file_path.read_bytes()
                    content_type = CONTENT_TYPES.get(file_path.suffix.lower(), "application/octet-stream")
            except Exception as exc:  # a file that does not decode gets no thumbnail, not a dead thread
                self._error(HTTPStatus.NOT_FOUND, f"cannot read this image: {exc}")
                return
            self._send(HTTPStatus.OK, body, content_type)
        elif path in _POST_PATHS:
            self._method_not_allowed()
        else:
            self._error(HTTPStatus.NOT_FOUND, "not found")

    # ------------------------------------------------------------------ POST

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path not in _POST_PATHS:
            self._method_not_allowed()
            return
        if not self._same_origin():
            return
        token = self.headers.get("X-Review-Token", "")
        if not hmac.compare_digest(token.encode(), self.server.token.encode()):
            self._error(HTTPStatus.FORBIDDEN, "missing or wrong review token")
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON")
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self._error(HTTPStatus.BAD_REQUEST, "bad Content-Length")
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "body is not JSON")
            return
        if not isinstance(body, dict):
            self._error(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
            return
        from onelazy.errors import OnelazyError

        session = self.server.session
        try:
            if path == "/api/reject":
                relative = body.get("file")
                if not isinstance(relative, str):
                    self._error(HTTPStatus.BAD_REQUEST, "key 'file' must be a string")
                    return
                result = session.reject(relative)
            else:
                result = session.undo()
        except LookupError as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc))
            return
        except OnelazyError as exc:
            self._error(HTTPStatus.CONFLICT, str(exc))
            return
        self._json(HTTPStatus.OK, result)


def _html_text(text: str) -> str:
    import html

    return html.escape(text)


def review(
    path: str | os.PathLike[str],
    *,
    port: int = 0,
    open_browser: bool = True,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve the review page for the dataset at ``path`` until Ctrl+C.

    ``announce`` (a callable taking one line) is told the address; the browser is opened on it
    unless ``open_browser`` is false.
    """
    server = ReviewServer(path, port=port)
    try:
        if announce is not None:
            announce(f"Reviewing {len(server.session.files)} images at {server.url} (Ctrl+C to stop)")
        if open_browser:
            import webbrowser

            webbrowser.open(server.url)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
