"""Backend URLs as people mistype them: one line, exit 2, never a traceback or a shown credential."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from onelazy.backends.urls import normalize_url
from onelazy.cli import cli
from onelazy.errors import UsageError


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1", "Invalid IPv6 URL"),
        ("http://127.0.0.1:99999", "out of range"),
        ("http://127.0.0.1:abc", "abc"),
        ("http://127.0.0.1:0", "port 0"),
        ("notaurl", "expected http://host:port"),
    ],
)
def test_a_malformed_url_is_a_usage_error_naming_it(url: str, reason: str) -> None:
    with pytest.raises(UsageError, match=reason):
        normalize_url(url)

    result = CliRunner().invoke(cli, ["backends", "check", url])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.startswith("Error: ") and url in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("url", ["http://alice:hunter2@127.0.0.1:8188", "ftp://alice:hunter2@x"])
def test_a_url_with_a_password_is_refused_without_showing_it(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        normalize_url(url)
    assert "hunter2" not in str(caught.value) and "alice" not in str(caught.value)
    assert "***@" in str(caught.value)

    result = CliRunner().invoke(cli, ["backends", "check", url])
    assert result.exit_code == 2
    assert "hunter2" not in result.output


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8188/?token=s3cret", "'http://127.0.0.1:8188/?***'"),
        ("http://127.0.0.1:8188?token=s3cret", "'http://127.0.0.1:8188?***'"),
        ("https://gpu.example/comfy#s3cret", "'https://gpu.example/comfy#***'"),
    ],
)
def test_a_url_with_a_query_token_is_refused_without_showing_it(url: str, shown: str) -> None:
    with pytest.raises(UsageError) as caught:
        normalize_url(url)
    assert str(caught.value) == f"{shown}: a backend URL has no query or fragment"

    result = CliRunner().invoke(cli, ["backends", "check", url])
    assert result.exit_code == 2
    assert shown in result.output and "s3cret" not in result.output


def test_good_urls_keep_their_host_port_and_path() -> None:
    assert normalize_url(" http://[::1]:8188/ ") == "http://[::1]:8188"
    assert normalize_url("https://gpu.example/comfy/") == "https://gpu.example/comfy"


def test_detection_behind_a_token_proxy_asks_for_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from onelazy.backends import check_backend
    from onelazy.errors import BackendRejected
    from tests.generation.standins import ComfyStandin

    monkeypatch.delenv("ONELAZY_BACKEND_TOKEN", raising=False)
    with ComfyStandin(bearer="s3cret-token") as server:
        with pytest.raises(BackendRejected, match=r"HTTP 401 \(a proxy token\? set ONELAZY_BACKEND_TOKEN\)"):
            check_backend(server.url)
        monkeypatch.setenv("ONELAZY_BACKEND_TOKEN", "s3cret-token")
        assert check_backend(server.url).health.kind == "comfyui"
