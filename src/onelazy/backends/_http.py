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
import ssl
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from onelazy.backends.retry import RetryPolicy
from onelazy.backends.urls import BEARER_TOKEN_ENV, SWARM_TOKEN_ENV
from onelazy.errors import BackendInterrupted, BackendProtocolError, BackendUnreachable

#: the largest image onelazy accepts from a server (a data: URL or a download)
MAX_IMAGE_BYTES = 256 * 1024 * 1024

_RETRY_STATUS = frozenset({500, 502, 503, 504})


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
        retried: list[str] | None = None,
    ) -> httpx.Response:
        """Send a request to ``base_url/path``; retry connection failures and HTTP 5xx.

        Any other status is returned for the caller to judge (SwarmUI reports errors with HTTP 200,
        ComfyUI with 400 and a JSON body). ``retried`` gets the reason of each try that failed and
        was sent again, for a caller whose request does work (a render done twice is worth a word).
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
                if retried is not None:
                    retried.append(last_reason)
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
