"""The ComfyUI client against the stand-in: graphs, completion, every error shape, restarts."""

from __future__ import annotations

import io
import threading
import time

import pytest
from PIL import Image

from onelazy.backends import GenerationRequest, RetryPolicy, open_backend
from onelazy.backends.comfyui import ComfyUIBackend
from onelazy.errors import (
    BackendInterrupted,
    BackendProtocolError,
    BackendRejected,
    BackendUnreachable,
)
from tests.generation.conftest import FAST_RETRY
from tests.generation.standins import ComfyStandin, SwarmStandin

PNG = b"\x89PNG\r\n\x1a\n"


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def request(**changes: object) -> GenerationRequest:
    values: dict[str, object] = {"prompt": "photo of a faery", "model": "tiny_sd15.safetensors", "seed": 7}
    values.update(changes)
    return GenerationRequest(**values)  # type: ignore[arg-type]


def backend_for(server: ComfyStandin, **kwargs: object) -> ComfyUIBackend:
    return ComfyUIBackend(server.url, retry=FAST_RETRY, timeout=30.0, **kwargs)  # type: ignore[arg-type]


def test_renders_one_image_per_seed_with_a_lora_chain(comfy: ComfyStandin) -> None:
    with backend_for(comfy) as backend:
        images = backend.generate(
            request(images=3, loras=(("faery_style", 0.8), ("chars/elf.safetensors", 0.5)))
        )
    assert [(i.index, i.seed, i.batch_index, i.extension) for i in images] == [
        (0, 7, 0, "png"),
        (1, 8, 0, "png"),
        (2, 9, 0, "png"),
    ]
    assert all(i.data.startswith(PNG) for i in images)
    assert len({i.data for i in images}) == 3
    graph = comfy.graphs[0]
    assert graph["10"]["inputs"]["lora_name"] == "faery_style.safetensors"  # resolved to the listed name
    assert graph["11"]["inputs"] == {
        "model": ["10", 0],
        "clip": ["10", 1],
        "lora_name": "chars/elf.safetensors",
        "strength_model": 0.5,
        "strength_clip": 0.5,
    }
    assert graph["3"]["inputs"]["model"] == ["11", 0]
    assert graph["6"]["inputs"]["clip"] == graph["7"]["inputs"]["clip"] == ["11", 1]
    assert graph["3"]["inputs"]["sampler_name"] == "euler" and graph["3"]["inputs"]["scheduler"] == "normal"


def test_the_same_request_twice_gives_a_fresh_file_not_the_cached_one(comfy: ComfyStandin) -> None:
    with backend_for(comfy) as backend:
        first = backend.generate(request())
        second = backend.generate(request())
    assert pixels(first[0].data) == pixels(second[0].data)  # deterministic
    assert comfy.renders == 2  # but rendered again, so a new file exists on the server
    assert len(comfy.files) == 2


def test_a_batch_is_one_job_with_one_seed(comfy: ComfyStandin) -> None:
    with backend_for(comfy) as backend:
        images = backend.generate(request(batch_size=3))
    assert [(i.index, i.seed, i.batch_index) for i in images] == [(0, 7, 0), (1, 7, 1), (2, 7, 2)]
    assert len(comfy.graphs) == 1 and comfy.graphs[0]["5"]["inputs"]["batch_size"] == 3


def test_history_written_after_the_events_is_waited_for() -> None:
    with ComfyStandin(render_seconds=0.01, history_lag=0.3) as server, backend_for(server) as backend:
        images = backend.generate(request(images=2))
    assert len(images) == 2


def test_without_a_websocket_history_is_polled() -> None:
    with ComfyStandin(render_seconds=0.05, websocket=False) as server, backend_for(server) as backend:
        images = backend.generate(request(images=2))
        assert len(images) == 2
        assert ("GET", "/ws") in server.log and any(p.startswith("/history/") for _, p in server.log)


def test_a_restart_mid_render_is_resubmitted(comfy: ComfyStandin) -> None:
    comfy.fail("restart")
    with backend_for(comfy) as backend:
        images = backend.generate(request(images=2))
    assert [i.seed for i in images] == [7, 8]
    assert comfy.generation == 1
    assert len(comfy.graphs) >= 3  # the lost prompts were posted again


@pytest.mark.parametrize("cue", ["http500", "drop"])
def test_a_failed_post_is_retried(comfy: ComfyStandin, cue: str) -> None:
    comfy.fail(cue)
    with backend_for(comfy) as backend:
        assert len(backend.generate(request())) == 1


def test_validation_errors_name_node_input_and_message(comfy: ComfyStandin) -> None:
    with backend_for(comfy) as backend:
        backend.models()
        backend.generate(request())  # lists cached
        comfy.checkpoints.remove("tiny_sd15.safetensors")  # deleted on the server after listing
        with pytest.raises(BackendRejected) as caught:
            backend.generate(request(seed=99))
    message = str(caught.value)
    assert message.startswith(comfy.url)
    assert (
        "node 4 (CheckpointLoaderSimple) input ckpt_name: Value not in list (got 'tiny_sd15.safetensors')"
        in message
    )


def test_node_errors_in_an_http_200_are_a_failure(comfy: ComfyStandin) -> None:
    comfy.fail("node_errors_200")
    with (
        backend_for(comfy) as backend,
        pytest.raises(BackendRejected, match=r"node 12 \(SaveImageWebsocket\)"),
    ):
        backend.generate(request())


def test_a_runtime_error_names_the_node_and_exception(comfy: ComfyStandin) -> None:
    comfy.fail("runtime_error")
    with backend_for(comfy) as backend, pytest.raises(BackendRejected) as caught:
        backend.generate(request())
    assert "node 4 (CheckpointLoaderSimple) failed while running: safetensors_rust.SafetensorError" in str(
        caught.value
    )


def test_a_view_name_that_climbs_out_is_never_fetched(comfy: ComfyStandin) -> None:
    comfy.fail("view_traversal")
    with backend_for(comfy) as backend, pytest.raises(BackendProtocolError, match="refusing output name"):
        backend.generate(request())
    assert not [p for m, p in comfy.log if p == "/view"]


def test_unknown_names_are_refused_before_queueing(comfy: ComfyStandin) -> None:
    with backend_for(comfy) as backend:
        with pytest.raises(
            BackendRejected,
            match=r"checkpoint 'tiny_sd16.safetensors' not found; did you mean: "
            r"tiny_sd15.safetensors",
        ):
            backend.generate(request(model="tiny_sd16.safetensors"))
        with pytest.raises(BackendRejected, match=r"sampler 'euler_a' .* allowed: euler, "):
            backend.generate(request(sampler="euler_a"))
        with pytest.raises(BackendRejected, match="LoRA 'nope' not found"):
            backend.generate(request(loras=(("nope", 1.0),)))
    assert comfy.graphs == []


def test_interrupt_cancels_queued_and_running_work() -> None:
    with ComfyStandin(render_seconds=2.0) as server, backend_for(server) as backend:
        errors: list[BaseException] = []
        thread = threading.Thread(
            target=lambda: _capture(errors, lambda: backend.generate(request(images=3)))
        )
        thread.start()
        deadline = time.monotonic() + 5
        while server.running is None and time.monotonic() < deadline:
            time.sleep(0.02)
        backend.interrupt()
        thread.join(5)
        assert not thread.is_alive()
        assert isinstance(errors[0], BackendInterrupted)
        time.sleep(0.1)
        assert server.queue == [] and server.running is None
        assert server.renders == 0


def _capture(errors: list[BaseException], call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except BaseException as exc:
        errors.append(exc)


def test_health_and_discovery(comfy: ComfyStandin) -> None:
    with backend_for(comfy) as backend:
        health = backend.health()
        assert (health.kind, health.ready, health.version, health.devices) == (
            "comfyui",
            True,
            "0.8.0",
            ("cpu",),
        )
        assert backend.models() == comfy.checkpoints
        assert backend.loras() == comfy.lora_names
        choices = backend.samplers()  # sampler_name legacy combo, scheduler V3 COMBO
        assert "dpmpp_2m" in choices.samplers and "karras" in choices.schedulers


def test_a_swarm_server_is_not_taken_for_comfyui(swarm: SwarmStandin) -> None:
    with (
        open_backend("comfyui", swarm.url, retry=FAST_RETRY) as backend,
        pytest.raises(BackendProtocolError, match="not a ComfyUI server"),
    ):
        backend.health()


def test_an_unreachable_server_is_named_after_bounded_retries() -> None:
    server = ComfyStandin().start()
    url = server.url
    server.stop()
    retry = RetryPolicy(attempts=3, first_delay=0.05)
    with open_backend("comfyui", url, retry=retry) as backend, pytest.raises(BackendUnreachable) as caught:
        backend.health()
    assert (
        str(caught.value)
        == f"{url}: ComfyUI not usable after 3 attempts: connection refused or host not found"
    )  # the attempt count bounds the wait; no wall-clock assertion


def test_a_proxy_token_comes_from_the_environment_and_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    with ComfyStandin(bearer="s3cret-token") as server:
        with backend_for(server) as backend, pytest.raises(BackendRejected) as caught:
            backend.health()
        assert "ONELAZY_BACKEND_TOKEN" in str(caught.value) and "s3cret" not in str(caught.value)
        monkeypatch.setenv("ONELAZY_BACKEND_TOKEN", "s3cret-token")
        with backend_for(server) as backend:
            assert backend.health().ready
            assert len(backend.generate(request())) == 1
            assert "s3cret" not in repr(backend)
