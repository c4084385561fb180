"""The review server's guard rails over real HTTP, and the page driven by keys in a real headless Chromium."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from onelazy.culling import REPORT_NAME, undo_cull
from onelazy.review import ReviewServer
from tests.culling.corpus import generated_looking

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NAMES = ["img1.png", "img2.jpg", "img3.png", "img10.webp", "sub/img4.png"]


@pytest.fixture()
def small_dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "dataset"
    (folder / "sub").mkdir(parents=True)
    for index, name in enumerate(NAMES):
        generated_looking(40 + index, 96).save(folder / name)
        (folder / name).with_suffix(".txt").write_text(f"caption of {name}")
    (tmp_path / "outside.png").write_bytes((folder / "img1.png").read_bytes())
    return folder


@pytest.fixture()
def server(small_dataset: Path) -> Iterator[ReviewServer]:
    running = ReviewServer(small_dataset)
    running.start()
    yield running
    running.close()


def _request(
    server: ReviewServer,
    method: str,
    path: str,
    *,
    body: object | None = None,
    headers: dict[str, str] | None = None,
    token: bool = True,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    sent = {"Host": f"127.0.0.1:{server.port}"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
        if token:
            sent["X-Review-Token"] = server.token
    sent.update(headers or {})
    connection.request(method, path, body=payload, headers=sent)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), data


def test_serves_the_page_state_and_images(server: ReviewServer, small_dataset: Path) -> None:
    status, headers, page = _request(server, "GET", "/")
    assert status == 200 and server.token.encode() in page
    assert "script-src 'nonce-" in headers["Content-Security-Policy"]
    assert server.token not in json.dumps(headers)
    status, _, state = _request(server, "GET", "/api/state")
    files = json.loads(state)["files"]
    assert [f["file"] for f in files] == ["img1.png", "img2.jpg", "img3.png", "img10.webp", "sub/img4.png"]
    assert files[4]["caption"] == "caption of sub/img4.png"
    status, headers, image = _request(server, "GET", "/image/sub/img4.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert image == (small_dataset / "sub/img4.png").read_bytes()
    status, headers, thumb = _request(server, "GET", "/thumb/img2.jpg")
    assert status == 200 and thumb.startswith(b"\xff\xd8")


@pytest.mark.parametrize(
    "path",
    [
        "/image/../outside.png",
        "/image/..%2Foutside.png",
        "/image/%2Fetc%2Fpasswd",
        "/image/img1.txt",
        "/image/" + "%2E%2E/" * 8 + "etc/passwd",
        "/etc/passwd",
    ],
)
def test_refuses_paths_outside_the_dataset_images(server: ReviewServer, path: str) -> None:
    status, _, _ = _request(server, "GET", path)
    assert status == 404


def test_refuses_other_hosts_origins_and_cross_site_requests(
    server: ReviewServer, small_dataset: Path
) -> None:
    assert _request(server, "GET", "/api/state", headers={"Host": "evil.example:80"})[0] == 403
    assert _request(server, "GET", "/", headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    reject = {"file": "img1.png"}
    assert _request(server, "POST", "/api/reject", body=reject, token=False)[0] == 403
    bad_token = {"X-Review-Token": "x" * 43}
    assert _request(server, "POST", "/api/reject", body=reject, token=False, headers=bad_token)[0] == 403
    assert (
        _request(server, "POST", "/api/reject", body=reject, headers={"Origin": "http://evil.example"})[0]
        == 403
    )
    assert (
        _request(server, "POST", "/api/reject", body=reject, headers={"Sec-Fetch-Site": "same-site"})[0]
        == 403
    )
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert _request(server, "POST", "/api/reject", body=reject, headers=form)[0] == 415
    assert _request(server, "POST", "/api/reject", body={"file": "../outside.png"})[0] == 404
    assert (small_dataset / "img1.png").is_file() and (small_dataset.parent / "outside.png").is_file()
    assert not (small_dataset / ".rejected").exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/"),
        ("DELETE", "/api/reject"),
        ("PATCH", "/image/img1.png"),
        ("OPTIONS", "/api/undo"),
        ("BREW", "/"),
        ("GET", "/api/reject"),
        ("POST", "/"),
        ("POST", "/image/img1.png"),
    ],
)
def test_methods_it_does_not_need_get_405(server: ReviewServer, method: str, path: str) -> None:
    status, headers, _ = _request(server, method, path)
    assert status == 405
    assert headers["Allow"] in ("GET, HEAD", "GET, HEAD, POST")


def test_reject_and_undo_over_http_record_the_report_at_once(
    server: ReviewServer, small_dataset: Path
) -> None:
    status, _, body = _request(server, "POST", "/api/reject", body={"file": "sub/img4.png"})
    assert status == 200 and json.loads(body) == {"file": "sub/img4.png", "rejected_total": 1}
    assert (small_dataset / ".rejected/manual/sub/img4.png").is_file()
    assert (small_dataset / ".rejected/manual/sub/img4.txt").read_text() == "caption of sub/img4.png"
    report = json.loads((small_dataset / REPORT_NAME).read_text())
    assert [(e["file"], e["status"], e["reason"]) for e in report["files"]] == [
        ("sub/img4.png", "rejected", "manual")
    ]
    assert _request(server, "GET", "/image/sub/img4.png")[0] == 404  # rejected: no longer served
    status, _, body = _request(server, "POST", "/api/undo", body={})
    assert json.loads(body)["file"] == "sub/img4.png"
    assert (small_dataset / "sub/img4.png").is_file() and (small_dataset / "sub/img4.txt").is_file()
    assert not (small_dataset / ".rejected").exists()


# --------------------------------------------------------------------------- the page in Chromium


def _chromium_or_skip() -> None:
    problem = None
    if not os.path.exists(CHROMIUM):
        problem = f"{CHROMIUM} is missing (Debian package 'chromium'; .ci/run installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install -e '.[test]')"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.browser
def test_review_page_with_keys_in_headless_chromium(server: ReviewServer, small_dataset: Path) -> None:
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(server.url)
            page.wait_for_selector("body[data-ready='1']")

            def until(expression: str) -> None:  # polled from Python: the page's CSP forbids eval
                _wait_for(lambda: bool(page.evaluate(expression)), expression)

            def settle() -> None:
                until("document.body.dataset.pending !== '1'")

            def shown() -> str:
                return str(page.evaluate("document.body.dataset.current"))

            assert page.inner_text("#counter") == "kept 5 \u00b7 rejected 0"
            assert page.inner_text("#caption") == "caption of img1.png"
            until("document.getElementById('main').naturalWidth === 96")
            page.keyboard.press("ArrowRight")
            assert shown() == "img2.jpg" and page.inner_text("#caption") == "caption of img2.jpg"

            page.keyboard.press("Delete")  # reject img2.jpg
            settle()
            assert (small_dataset / ".rejected/manual/img2.jpg").is_file()
            assert (small_dataset / ".rejected/manual/img2.txt").is_file()
            assert not (small_dataset / "img2.jpg").exists()
            assert page.inner_text("#counter") == "kept 4 \u00b7 rejected 1"
            assert shown() == "img3.png"

            page.keyboard.press("x")  # reject img3.png
            settle()
            assert (small_dataset / ".rejected/manual/img3.png").is_file()
            report = json.loads((small_dataset / REPORT_NAME).read_text())
            assert sorted(e["file"] for e in report["files"] if e["status"] == "rejected") == [
                "img2.jpg",
                "img3.png",
            ]

            page.keyboard.press("u")  # undo the last reject
            settle()
            _wait_for(lambda: (small_dataset / "img3.png").is_file(), "img3.png back in place")
            assert shown() == "img3.png"
            assert page.inner_text("#counter") == "kept 4 \u00b7 rejected 1"

            page.keyboard.press("ArrowLeft")
            assert shown() == "img1.png"
            page.keyboard.press("g")
            page.wait_for_selector("#grid figure")
            assert page.locator("#grid figure").count() == 4
            until("[...document.querySelectorAll('#grid img')].every(i => i.complete && i.naturalWidth > 0)")
            page.locator("#grid figure").nth(3).click()  # sub/img4.png
            assert shown() == "sub/img4.png"
            assert page.evaluate("document.body.classList.contains('grid')") is False
        finally:
            browser.close()
    assert undo_cull(small_dataset) == ["img2.jpg"]
    assert sorted(p.relative_to(small_dataset).as_posix() for p in small_dataset.rglob("*.*")) == sorted(
        [*NAMES, *(str(Path(n).with_suffix(".txt")) for n in NAMES), "cull-report.html", "cull-report.json"]
    )
    shutil.rmtree(small_dataset)


def test_the_review_command_serves_until_ctrl_c(small_dataset: Path) -> None:
    import signal
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "onelazy", "review", str(small_dataset), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Reviewing 5 images at http://127.0.0.1:") and "(Ctrl+C to stop)" in line
        url = line.split(" at ")[1].split(" ")[0]
        connection = http.client.HTTPConnection(url.split("//")[1].rstrip("/"), timeout=10)
        connection.request("GET", "/api/state")
        assert connection.getresponse().status == 200
        connection.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)  # generous: CI machines can be loaded
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out.strip() == "Stopped." and "Traceback" not in err


def test_a_taken_port_is_one_line_and_exit_2(small_dataset: Path) -> None:
    import socket

    from click.testing import CliRunner

    from onelazy.cli import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["review", str(small_dataset), "--port", str(port), "--no-browser"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: port {port}: cannot listen on 127.0.0.1:{port} (")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
