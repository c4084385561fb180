"""Every family's ComfyUI graph passes a stand-in built from a real ComfyUI's node definitions.

The stand-in answers ``/object_info`` from what ComfyUI 0.3.64 answered (with its own files in the
file lists) and validates ``POST /prompt`` as ComfyUI does; these tests send what onelazy sends for
generate (no LoRA) and for compare (the checkpoint as a LoRA), per family, and show that a broken
graph is refused with HTTP 400 and ``node_errors``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from onelazy.backends import GenerationRequest
from onelazy.backends.comfyui import ComfyUIBackend, build_graph
from onelazy.backends.comfyui_graphs import RECIPES, recipe
from onelazy.backends.swarmui import SwarmUIBackend
from onelazy.errors import UnknownBackendName
from onelazy.families import FAMILIES
from tests.generation.comfy_nodes import object_info
from tests.generation.conftest import FAST_RETRY
from tests.generation.standins import ComfyStandin, SwarmStandin

CHECKPOINTS = [
    "tiny_sd15.safetensors",
    *(r.example_model for r in RECIPES.values() if r.loader == "checkpoint"),
]


@pytest.fixture
def comfy() -> Any:
    with ComfyStandin(checkpoints=CHECKPOINTS) as server:
        yield server


def family_request(key: str, **changes: Any) -> GenerationRequest:
    rec = recipe(key)
    values: dict[str, Any] = {
        "prompt": "photo of a faery",
        "negative_prompt": "blurry",
        "model": rec.example_model,
        "family": key,
        "width": 64,
        "height": 96,
        "steps": rec.steps,
        "cfg": rec.cfg,
        "seed": 3,
    }
    values.update(changes)
    return GenerationRequest(**values)


def test_every_family_has_a_recipe() -> None:
    assert set(RECIPES) == {family.key for family in FAMILIES}


@pytest.mark.parametrize("key", sorted(RECIPES))
@pytest.mark.parametrize("stage", ["generate", "compare"])
def test_the_stand_in_accepts_what_onelazy_sends_for_each_family(comfy: Any, key: str, stage: str) -> None:
    loras = (("faery_style.safetensors", 0.8),) if stage == "compare" else ()
    with ComfyUIBackend(comfy.url, retry=FAST_RETRY, timeout=30.0) as backend:
        images = backend.generate(family_request(key, loras=loras))
    assert len(images) == 1 and images[0].data.startswith(b"\x89PNG")
    graph = comfy.graphs[-1]
    classes = {node["class_type"] for node in graph.values()}
    rec = recipe(key)
    if rec.loader == "unet":
        assert {"UNETLoader", rec.clip_loader, "VAELoader"} <= classes
        assert "CheckpointLoaderSimple" not in classes
    else:
        assert "CheckpointLoaderSimple" in classes
    assert rec.latent in classes
    if rec.guidance is not None:
        assert "FluxGuidance" in classes
    if rec.sampling is not None:
        assert rec.sampling[0] in classes
    if loras:
        assert rec.lora_loader in classes
        lora = next(node for node in graph.values() if node["class_type"] == rec.lora_loader)["inputs"]
        assert (lora["lora_name"], lora["strength_model"]) == ("faery_style.safetensors", 0.8)
    sampler = next(node for node in graph.values() if node["class_type"] == "KSampler")["inputs"]
    assert (sampler["sampler_name"], sampler["scheduler"]) == (rec.sampler, rec.scheduler)


def test_object_info_is_the_real_servers_with_the_stand_ins_files(comfy: Any) -> None:
    with httpx.Client(base_url=comfy.url) as client:
        everything = client.get("/object_info").json()
        unet = client.get("/object_info/UNETLoader").json()
    assert len(everything) > 400  # the real server's node classes, not a handful
    assert unet["UNETLoader"]["input"]["required"]["unet_name"][0] == comfy.diffusion_models
    clip_types = everything["CLIPLoader"]["input"]["required"]["type"][0]
    assert {"chroma", "lumina2", "qwen_image", "flux2"} <= set(clip_types)


def _post(comfy: Any, graph: dict[str, Any]) -> httpx.Response:
    with httpx.Client(base_url=comfy.url) as client:
        return client.post("/prompt", content=json.dumps({"prompt": graph, "client_id": "test"}))


def _graph(key: str = "flux1") -> dict[str, Any]:
    rec = recipe(key)
    request = family_request(key, text_encoders=rec.text_encoders, vae=rec.vae)
    return build_graph(
        request, seed=1, filename_prefix="onelazy/x", sampler=rec.sampler, scheduler=rec.scheduler
    )


def _error_types(response: httpx.Response) -> set[str]:
    return {error["type"] for node in response.json()["node_errors"].values() for error in node["errors"]}


def test_a_sound_graph_posted_by_hand_is_accepted(comfy: Any) -> None:
    response = _post(comfy, _graph())
    assert response.status_code == 200 and response.json()["node_errors"] == {}


def test_an_unknown_class_is_refused(comfy: Any) -> None:
    graph = _graph()
    graph["5"]["class_type"] = "EmptyFluxLatentImageTypo"
    response = _post(comfy, graph)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_prompt"
    assert "EmptyFluxLatentImageTypo does not exist" in response.json()["error"]["message"]


def test_a_missing_required_input_is_refused(comfy: Any) -> None:
    graph = _graph()
    del graph["33"]["inputs"]["guidance"]  # FluxGuidance without its guidance
    response = _post(comfy, graph)
    assert response.status_code == 400
    assert response.json()["node_errors"]["33"]["class_type"] == "FluxGuidance"
    assert _error_types(response) == {"required_input_missing"}


@pytest.mark.parametrize(
    ("node", "name", "value", "kind"),
    [
        ("3", "steps", "many", "invalid_input_type"),
        ("3", "steps", 0, "value_smaller_than_min"),
        ("3", "sampler_name", "euler_typo", "value_not_in_list"),
        ("30", "type", "sdxl_typo", "value_not_in_list"),
        ("4", "unet_name", "not-on-the-server.safetensors", "value_not_in_list"),
        ("3", "model", ["30", 0], "return_type_mismatch"),  # a CLIP where the MODEL goes
    ],
)
def test_a_wrong_value_is_refused_with_node_errors(
    comfy: Any, node: str, name: str, value: Any, kind: str
) -> None:
    graph = _graph()
    graph[node]["inputs"][name] = value
    response = _post(comfy, graph)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "prompt_outputs_failed_validation"
    assert _error_types(response) == {kind}
    error = response.json()["node_errors"][node]["errors"][0]
    assert error["extra_info"]["input_name"] == name


def test_a_text_encoder_the_server_lacks_is_refused_before_anything_is_queued(comfy: Any) -> None:
    request = family_request("flux1", text_encoders=("clip_l.safetensors", "missing_t5.safetensors"))
    with (
        ComfyUIBackend(comfy.url, retry=FAST_RETRY, timeout=30.0) as backend,
        pytest.raises(UnknownBackendName) as caught,
    ):
        backend.generate(request)
    assert "text encoder 'missing_t5.safetensors' not found" in str(caught.value)
    assert comfy.graphs == []


@pytest.mark.parametrize("key", sorted(RECIPES))
@pytest.mark.parametrize("stage", ["generate", "compare"])
def test_swarmui_gets_each_familys_parameters(key: str, stage: str) -> None:
    rec = recipe(key)
    loras = (("faery_style", 0.8),) if stage == "compare" else ()
    with SwarmStandin(models=[f"{key}/{rec.example_model}"]) as server:
        # SwarmUI offers its ComfyUI backend's samplers and schedulers: the real server's lists
        ksampler = object_info({})["KSampler"]["input"]["required"]
        server.samplers, server.schedulers = ksampler["sampler_name"][0], ksampler["scheduler"][0]
        with SwarmUIBackend(server.url, retry=FAST_RETRY, timeout=30.0) as backend:
            images = backend.generate(family_request(key, model=f"{key}/{rec.example_model}", loras=loras))
        body = server.generate_bodies[-1]
    assert len(images) == 1
    assert body["model"] == f"{key}/{rec.example_model}"
    assert (body["steps"], body["cfgscale"]) == (rec.steps, rec.cfg)
    assert body.get("fluxguidancescale") == rec.guidance
    assert body.get("sigmashift") == (rec.sampling[1]["shift"] if rec.sampling else None)
    if rec.loader == "unet" or rec.sampling is not None:
        assert (body["sampler"], body["scheduler"]) == (rec.sampler, rec.scheduler)
    assert server.ignored_params == []
    if loras:
        assert body["loras"] == ["faery_style.safetensors"] and body["loraweights"] == [0.8]
    else:
        assert "loras" not in body
