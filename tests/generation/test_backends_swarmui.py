"""The SwarmUI client against the stand-in: sessions, errors in HTTP 200, fuzzy names, paths."""

from __future__ import annotations

import threading
import time

import pytest

from onelazy.backends import GenerationRequest
from onelazy.backends.swarmui import SwarmUIBackend
from onelazy.errors import (
    BackendError,
    BackendInterrupted,
    BackendProtocolError,
    BackendRejected,
)
from tests.generation.conftest import FAST_RETRY
from tests.generation.standins import SWARM_PARAMS, ComfyStandin, SwarmStandin

PNG = b"\x89PNG\r\n\x1a\n"


def request(**changes: object) -> GenerationRequest:
    values: dict[str, object] = {"prompt": "photo of a faery", "model": "SD15/tiny_sd15", "seed": 40}
    values.update(changes)
    return GenerationRequest(**values)  # type: ignore[arg-type]


def backend_for(server: SwarmStandin) -> SwarmUIBackend:
    return SwarmUIBackend(server.url, retry=FAST_RETRY, timeout=30.0)


def test_sends_checked_flat_parameters_and_downloads_view_paths(swarm: SwarmStandin) -> None:
    with backend_for(swarm) as backend:
        images = backend.generate(
            request(
                sampler="dpmpp_2m",
                scheduler="karras",
                steps=25,
                cfg=6.5,
                loras=(("faery_style", 0.8), ("chars/elf", 0.5)),
            )
        )
    assert len(images) == 1 and images[0].data.startswith(PNG) and images[0].seed == 40
    body = swarm.generate_bodies[0]
    assert body["model"] == "SD15/tiny_sd15.safetensors"  # the exact listed name, not a guess
    assert body["loras"] == ["faery_style.safetensors", "chars/elf.safetensors"]
    assert body["loraweights"] == [0.8, 0.5]
    assert (body["cfgscale"], body["steps"], body["negativeprompt"], body["images"]) == (6.5, 25, "", 1)
    assert swarm.ignored_params == []  # nothing the server would silently drop
    assert any(
        path.startswith("/View/local/raw/") and "photo%20of%20a%20faery" in path for _, path in swarm.log
    )


def test_images_in_completion_order_are_put_in_seed_order(swarm: SwarmStandin) -> None:
    swarm.reverse_order = True
    with backend_for(swarm) as backend:
        images = backend.generate(request(images=3))
    assert [i.seed for i in images] == [40, 41, 42]
    swarm.reverse_order = False
    with backend_for(swarm) as backend:
        again = backend.generate(request(images=3))
    assert [i.data for i in again] == [i.data for i in images]


def test_an_invalid_session_gets_a_new_one_and_one_retry(swarm: SwarmStandin) -> None:
    with backend_for(swarm) as backend:
        backend.generate(request())
        swarm.fail("invalid_session")
        assert len(backend.generate(request(seed=41))) == 1
    assert swarm.log.count(("POST", "/API/GetNewSession")) == 2
    assert len(swarm.generate_bodies) == 2  # the refused call never reached the generator


def test_an_error_in_an_http_200_body_is_an_error(swarm: SwarmStandin) -> None:
    swarm.fail("error200")
    with backend_for(swarm) as backend, pytest.raises(BackendError) as caught:
        backend.generate(request())
    assert str(caught.value) == f"{swarm.url}: GenerateText2Image: No backends available!"
    assert not isinstance(caught.value, BackendRejected)  # worth retrying later


def test_a_fuzzy_model_name_is_refused_before_generating(swarm: SwarmStandin) -> None:
    with backend_for(swarm) as backend:
        with pytest.raises(
            BackendRejected,
            match=r"'juggernaut' is not an exact name .* did you mean: "
            r"SDXL/juggernaut_xl.safetensors, SDXL/juggernaut_xl_lightning",
        ):
            backend.generate(request(model="juggernaut"))
        with pytest.raises(
            BackendRejected, match=r"model 'nothing' not found; the server has: SD15/tiny_sd15"
        ):
            backend.generate(request(model="nothing"))
        with pytest.raises(BackendRejected, match=r"LoRA 'faery' is not an exact name"):
            backend.generate(request(loras=(("faery", 1.0),)))
    assert swarm.generate_bodies == []


def test_a_parameter_the_server_would_ignore_is_refused() -> None:
    params = [p for p in SWARM_PARAMS if p != "scheduler"]
    with SwarmStandin(params=params) as server, SwarmUIBackend(server.url, retry=FAST_RETRY) as backend:
        with pytest.raises(
            BackendRejected, match="does not know parameter 'scheduler' and would silently ignore"
        ):
            backend.generate(request(scheduler="karras"))
        with pytest.raises(BackendRejected, match=r"sampler 'euler_a' is not one .* allowed: euler, "):
            backend.generate(request(sampler="euler_a"))
        assert server.generate_bodies == []


@pytest.mark.parametrize("cue", ["http500", "drop", "restart"])
def test_connection_failures_and_restarts_are_retried(swarm: SwarmStandin, cue: str) -> None:
    with backend_for(swarm) as backend:
        backend.generate(request())
        swarm.fail(cue)
        images = backend.generate(request(seed=41))
    assert len(images) == 1
    assert len(swarm.sessions) == 1  # sessions survive a restart


@pytest.mark.parametrize(
    ("cue", "message"),
    [
        ("bad_path", "refusing image path 'View/local/../../../etc/passwd'"),
        ("absolute_url", "refusing image path 'http://198.51.100.7/View/x.png'"),
        ("not_image", "not a PNG, JPEG or WebP image"),
    ],
)
def test_untrusted_result_paths_and_contents_are_refused(swarm: SwarmStandin, cue: str, message: str) -> None:
    swarm.fail(cue)
    with backend_for(swarm) as backend, pytest.raises(BackendProtocolError, match=message):
        backend.generate(request())
    assert not [p for _, p in swarm.log if "etc" in p or "198.51" in p]


def test_auth_token_comes_from_the_environment_and_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    with SwarmStandin(token="tok.en.value") as server:
        with backend_for(server) as backend, pytest.raises(BackendRejected) as caught:
            backend.health()
        assert "set SWARM_TOKEN" in str(caught.value) and "tok.en" not in str(caught.value)
        monkeypatch.setenv("SWARM_TOKEN", "tok.en.value")
        with backend_for(server) as backend:
            assert backend.health().ready
            assert len(backend.generate(request())) == 1
            assert "tok.en" not in repr(backend)


def test_interrupt_ends_this_sessions_generation() -> None:
    with SwarmStandin(render_seconds=3.0) as server, backend_for(server) as backend:
        errors: list[BaseException] = []

        def run() -> None:
            try:
                backend.generate(request())
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 5
        while not server.generate_bodies and time.monotonic() < deadline:
            time.sleep(0.02)
        backend.interrupt()
        thread.join(5)
        assert not thread.is_alive()
        assert isinstance(errors[0], BackendInterrupted)


def test_health_discovery_and_kind(swarm: SwarmStandin, comfy: ComfyStandin) -> None:
    with backend_for(swarm) as backend:
        health = backend.health()
        assert (health.kind, health.ready, health.status) == ("swarmui", True, "running")
        assert backend.models() == swarm.models
        assert backend.loras() == swarm.lora_names
        assert backend.samplers().schedulers == ("normal", "karras", "simple")
    with (
        SwarmUIBackend(comfy.url, retry=FAST_RETRY) as backend,
        pytest.raises(
            BackendProtocolError, match="not a SwarmUI server: POST /API/GetNewSession answered HTTP 404"
        ),
    ):
        backend.health()


@pytest.mark.parametrize(
    ("cue", "kind", "message"),
    [
        (
            "bad_permissions",
            BackendRejected,
            "GenerateText2Image: You lack permissions for this route. "
            "(the user of SWARM_TOKEN needs that permission)",
        ),
        (
            "internal_error",
            BackendError,
            "GenerateText2Image: An internal error occurred; see the SwarmUI log",
        ),
    ],
)
def test_error_ids_become_one_clear_line(swarm: SwarmStandin, cue: str, kind: type, message: str) -> None:
    swarm.fail(cue)
    with backend_for(swarm) as backend, pytest.raises(kind) as caught:
        backend.generate(request())
    assert str(caught.value) == f"{swarm.url}: {message}"


def test_a_request_without_a_session_is_a_protocol_error_not_a_retry_loop(swarm: SwarmStandin) -> None:
    import httpx

    reply = httpx.post(f"{swarm.url}/API/ListModels", json={"path": ""})
    assert reply.json()["error_id"] == "basic_api"  # the stand-in's shape, which the client never triggers
    with backend_for(swarm) as backend, pytest.raises(BackendProtocolError, match=r"bad_route"):
        backend.call("NoSuchRoute")


def test_an_inline_data_url_image_is_accepted(swarm: SwarmStandin) -> None:
    with backend_for(swarm) as backend:
        saved = backend.generate(request())
        swarm.fail("data_url")
        inline = backend.generate(request())
    assert inline[0].data == saved[0].data and inline[0].extension == "png"
    assert len([p for _, p in swarm.log if p.startswith("/View/")]) == 1  # the inline one was not downloaded


def test_a_request_that_cannot_be_valid_is_a_usage_error() -> None:
    from onelazy.errors import UsageError

    with pytest.raises(UsageError, match="width and height must be multiples of 8"):
        request(width=500)
    with pytest.raises(UsageError, match="a model"):
        request(model=" ")
    assert request(loras=[("a", 1)]).loras == (("a", 1.0),)  # type: ignore[arg-type]
