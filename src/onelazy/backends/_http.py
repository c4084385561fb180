"""What both backend clients share: retries with bounded backoff, auth headers, and never trusting a
server with a local path.

Servers restart, proxies hiccup and GPUs stall, so every call is retried a bounded number of times
before onelazy gives up with one line naming the URL. Tokens go into headers or cookies only and
are never part of a message, a ``repr`` or a log line.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import random
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from onelazy.errors import BackendInterrupted, BackendProtocolError, BackendUnreachable, UsageError

#: environment variable holding a SwarmUI auth token (sent as the ``swarm_token`` cookie)
SWARM_TOKEN_ENV = "SWARM_TOKEN"
#: environment variable holding a bearer token for a reverse proxy in front of either backend
BEARER_TOKEN_ENV = "ONELAZY_BACKEND_TOKEN"

#: the largest image onelazy accepts from a server (a data: URL or a download)
MAX_IMAGE_BYTES = 256 * 1024 * 1024

_RETRY_STATUS = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing call is retried: ``attempts`` tries in all, the wait
    doubling from ``first_delay`` up to ``max_delay`` seconds (with a little jitter). The default
    waits about 30 s in all: long enough for a ComfyUI restart (~10 s until its port opens)."""

    attempts: int = 8
    first_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.first_delay * 2.0 ** (attempt - 1))
        return float(base * (0.85 + 0.3 * random.random()))


def _redacted(url: str) -> str:
    """``url`` with any ``user:password@``, query and fragment replaced by ``***``, so a message never
    shows a credential (some proxies take their token as ``?token=...``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    cut = min((i for i in map(tail.find, "?#") if i >= 0), default=-1)
    if cut >= 0:
        tail = tail[: cut + 1] + "***"
    return f"{scheme}{sep}{authority}{tail}"


def normalize_url(url: str) -> str:
    """``url`` without a trailing slash, after checking it is an http(s) URL with a host and a valid port.

    A URL carrying ``user:password@`` is refused (without echoing it): tokens come from the
    environment only, so they never end up in a config file, a log or an error message.
    """
    text = url.strip()
    shown = repr(_redacted(text))
    expected = "expected http://host:port (for example http://127.0.0.1:8188)"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range 0-65535", a non-numeric port
        raise UsageError(f"{shown} is not a backend URL ({exc}); {expected}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{shown} is not a backend URL; {expected}")
    if port == 0:
        raise UsageError(f"{shown}: port 0 is not a server's port; {expected}")
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"{shown}: a backend URL carries no user or password; put a token in {SWARM_TOKEN_ENV} "
            f"(SwarmUI) or {BEARER_TOKEN_ENV} (a bearer token for a proxy)"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"{shown}: a backend URL has no query or fragment")
    return text.rstrip("/")


def auth_from_env(kind: str) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, cookies) carrying the optional tokens from the environment; never logged."""
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    bearer = os.environ.get(BEARER_TOKEN_ENV, "").strip()
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    swarm_token = os.environ.get(SWARM_TOKEN_ENV, "").strip()
    if kind == "swarmui" and swarm_token:
        cookies["swarm_token"] = swarm_token
    return headers, cookies


def describe_transport_error(exc: Exception) -> str:
    """A short reason for a failed connection, without URLs, headers or tokens."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host not found"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server dropped the connection"
    return type(exc).__name__


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every client (loading the CA store takes ~20 ms each time)."""
    return ssl.create_default_context()


class HttpClient:
    """An ``httpx.Client`` for one backend URL with bounded retries and an abort switch.

    Thread-safe: the pipeline calls it from several worker threads at once.
    """

    def __init__(
        self,
        base_url: str,
        *,
        kind: str,
        retry: RetryPolicy,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.kind = kind
        self.retry = retry
        self.timeout = timeout
        self._closed = threading.Event()
        self.client = httpx.Client(
            base_url=base_url + "/",
            verify=_ssl_context(),
            headers=dict(headers or {}),
            cookies=dict(cookies or {}),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def __repr__(self) -> str:
        return f"HttpClient({self.base_url!r})"

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """Make waiting and future calls raise BackendInterrupted; connections close with the client."""
        self._closed.set()

    def release(self) -> None:
        """Close the connection pool (after every user of it has stopped)."""
        self._closed.set()
        self.client.close()

    def sleep(self, seconds: float) -> None:
        """Wait, but stop at once (raising :class:`BackendInterrupted`) when the client is closed."""
        if self._closed.wait(seconds):
            raise BackendInterrupted("stopped", url=self.base_url)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        timeout: float | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """Send a request to ``base_url/path``; retry connection failures and HTTP 5xx.

        Any other status is returned for the caller to judge (SwarmUI reports errors with HTTP 200,
        ComfyUI with 400 and a JSON body).
        """
        attempts = self.retry.attempts if retry else 1
        last_reason = ""
        for attempt in range(1, attempts + 1):
            if self._closed.is_set():
                raise BackendInterrupted("stopped", url=self.base_url)
            try:
                response = self.client.request(
                    method,
                    path.lstrip("/"),
                    json=json,
                    params=params,
                    timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
                )
            except httpx.TransportError as exc:
                if self._closed.is_set():
                    raise BackendInterrupted("stopped", url=self.base_url) from None
                last_reason = describe_transport_error(exc)
            except RuntimeError as exc:  # httpx raises this when the client was closed mid-call
                raise BackendInterrupted("stopped", url=self.base_url) from exc
            else:
                if response.status_code not in _RETRY_STATUS:
                    return response
                last_reason = f"HTTP {response.status_code} from {method} /{path.lstrip('/')}"
            if attempt < attempts:
                self.sleep(self.retry.delay(attempt))
        raise BackendUnreachable(
            f"{self.kind} not usable after {attempts} attempt{'s' if attempts > 1 else ''}: {last_reason}",
            url=self.base_url,
        )


def json_body(response: httpx.Response, *, url: str, what: str) -> Any:
    """The JSON of ``response``, or a protocol error naming ``what`` was asked."""
    try:
        return response.json()
    except ValueError:
        snippet = response.text[:80].replace("\n", " ")
        raise BackendProtocolError(
            f"{what} answered HTTP {response.status_code} with non-JSON {snippet!r}", url=url
        ) from None


# --------------------------------------------------------------------------- untrusted names


def sniff_image_extension(data: bytes) -> str | None:
    """``png``/``jpg``/``webp`` from the file's magic bytes, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check_image_bytes(data: bytes, *, url: str, source: str) -> str:
    """The extension of a downloaded image, or a protocol error when it is not an image."""
    if len(data) > MAX_IMAGE_BYTES:
        raise BackendProtocolError(f"{source}: image larger than {MAX_IMAGE_BYTES} bytes", url=url)
    extension = sniff_image_extension(data)
    if extension is None:
        raise BackendProtocolError(f"{source}: the download is not a PNG, JPEG or WebP image", url=url)
    return extension


def has_unsafe_segment(text: str) -> bool:
    """True for a server-supplied name that could climb out of a folder or name an absolute path."""
    if not text:
        return False
    if "\x00" in text or "\\" in text or text.startswith("/") or ":" in text.split("/")[0]:
        return True
    return any(part in ("..", ".") for part in text.split("/"))


def decode_data_url(value: str, *, url: str) -> bytes:
    """The bytes of a ``data:image/...;base64,`` URL from a server, size-capped."""
    head, _, payload = value.partition(",")
    if not head.startswith("data:image/") or not head.endswith(";base64"):
        raise BackendProtocolError(f"unexpected data URL kind {head[:40]!r}", url=url)
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise BackendProtocolError(f"data URL image larger than {MAX_IMAGE_BYTES} bytes", url=url)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BackendProtocolError("a data URL image is not valid base64", url=url) from None


def quote_relative_path(path: str) -> str:
    """Percent-encode each segment of a relative server path (spaces, ``#`` and ``?`` occur)."""
    return "/".join(quote(segment, safe="") for segment in path.split("/"))
