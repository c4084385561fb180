"""Checking a backend URL, and showing one without its credentials.

Kept apart from the HTTP client so that reading ``onelazy.yaml`` (which checks every URL in it)
imports no HTTP library.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from onelazy.errors import UsageError

#: environment variable holding a SwarmUI auth token (sent as the ``swarm_token`` cookie)
SWARM_TOKEN_ENV = "SWARM_TOKEN"
#: environment variable holding a bearer token for a reverse proxy in front of either backend
BEARER_TOKEN_ENV = "ONELAZY_BACKEND_TOKEN"


def redacted(url: str) -> str:
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
    shown = repr(redacted(text))
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
