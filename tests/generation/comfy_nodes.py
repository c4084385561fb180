"""ComfyUI's node definitions as a real server gives them, and its validation of a posted graph.

``object_info-0.3.64.json`` in the shared facts is what a real ComfyUI 0.3.64 answered on
``GET /object_info``. The stand-in answers from it, with its own files in the file choice lists
(checkpoints, diffusion models, text encoders, VAEs, LoRAs), and validates ``POST /prompt`` the way
ComfyUI's ``execution.validate_prompt`` does: an unknown class is ``invalid_prompt``; for each node
an output depends on, a missing required input is ``required_input_missing``, a link to an output
of another type ``return_type_mismatch``, a value of the wrong type ``invalid_input_type``, a number
out of range ``value_smaller_than_min`` / ``value_bigger_than_max``, a choice not offered
``value_not_in_list``.

Nodes newer than 0.3.64 that a family needs (Flux.2's ``EmptyFlux2LatentImage`` and ``CLIPLoader``
type ``flux2``) are added as ComfyUI's Flux.2 documentation describes them.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from tests.conftest import SHARED

OBJECT_INFO = SHARED / "backends" / "comfyui" / "object_info-0.3.64.json"

#: Which stand-in file list fills which combo input.
FILE_INPUTS = {
    ("CheckpointLoaderSimple", "ckpt_name"): "checkpoints",
    ("UNETLoader", "unet_name"): "diffusion_models",
    ("CLIPLoader", "clip_name"): "text_encoders",
    ("DualCLIPLoader", "clip_name1"): "text_encoders",
    ("DualCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name1"): "text_encoders",
    ("TripleCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name3"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name1"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name2"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name3"): "text_encoders",
    ("QuadrupleCLIPLoader", "clip_name4"): "text_encoders",
    ("VAELoader", "vae_name"): "vae",
    ("LoraLoader", "lora_name"): "loras",
    ("LoraLoaderModelOnly", "lora_name"): "loras",
}

#: From ComfyUI's Flux.2 documentation (newer than 0.3.64).
_NEWER_NODES: dict[str, Any] = {
    "EmptyFlux2LatentImage": {
        "input": {
            "required": {
                "width": ["INT", {"default": 1024, "min": 16, "max": 16384, "step": 16}],
                "height": ["INT", {"default": 1024, "min": 16, "max": 16384, "step": 16}],
                "batch_size": ["INT", {"default": 1, "min": 1, "max": 4096}],
            }
        },
        "input_order": {"required": ["width", "height", "batch_size"]},
        "output": ["LATENT"],
        "output_is_list": [False],
        "output_name": ["LATENT"],
        "name": "EmptyFlux2LatentImage",
        "display_name": "Empty Flux 2 Latent",
        "description": "",
        "python_module": "comfy_extras.nodes_flux",
        "category": "latent",
        "output_node": False,
    }
}


@cache
def _real_object_info() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(OBJECT_INFO).read_text(encoding="utf-8"))
    data.update(copy.deepcopy(_NEWER_NODES))
    clip_types = data["CLIPLoader"]["input"]["required"]["type"][0]
    if "flux2" not in clip_types:
        clip_types.append("flux2")
    return data


def object_info(files: dict[str, list[str]]) -> dict[str, Any]:
    """The real node definitions with ``files`` (folder → names) in the file choice lists."""
    data = copy.deepcopy(_real_object_info())
    for (class_type, name), folder in FILE_INPUTS.items():
        spec = data[class_type]["input"]["required"][name]
        names = list(files.get(folder, []))
        if spec[0] == "COMBO":
            spec[1]["options"] = names
        else:
            spec[0] = names
    return data


def choices(spec: list[Any]) -> list[Any] | None:
    """The allowed values of a combo input in either encoding; None when it is not a combo."""
    if isinstance(spec[0], list):
        return list(spec[0])
    if spec[0] == "COMBO":
        return list((spec[1] if len(spec) > 1 else {}).get("options", []))
    return None


def validate_prompt(graph: Any, info: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """``(error, node_errors)`` as ComfyUI's ``POST /prompt`` answers them; ``(None, {})`` when valid."""
    if not isinstance(graph, dict):
        return _error("invalid_prompt", "Invalid prompt"), {}
    for node_id, node in graph.items():
        if not isinstance(node, dict) or "class_type" not in node:
            return _error(
                "invalid_prompt",
                "Cannot execute because a node is missing the class_type property.",
                f"Node ID '#{node_id}'",
            ), {}
        if node["class_type"] not in info:
            return _error(
                "invalid_prompt",
                f"Cannot execute because node {node['class_type']} does not exist.",
                f"Node ID '#{node_id}'",
            ), {}
    outputs = [node_id for node_id, node in graph.items() if info[node["class_type"]].get("output_node")]
    if not outputs:
        return _error("prompt_no_outputs", "Prompt has no outputs"), {}
    node_errors: dict[str, Any] = {}
    for output in outputs:
        seen: set[str] = set()
        failing: list[str] = []
        _validate_node(graph, info, output, seen, failing, node_errors, output)
    if node_errors:
        return _error("prompt_outputs_failed_validation", "Prompt outputs failed validation"), node_errors
    return None, {}


def _validate_node(
    graph: dict[str, Any],
    info: dict[str, Any],
    node_id: str,
    seen: set[str],
    failing: list[str],
    node_errors: dict[str, Any],
    output: str,
) -> None:
    if node_id in seen:
        return
    seen.add(node_id)
    node = graph[node_id]
    definition = info[node["class_type"]]
    inputs = node.get("inputs", {})
    errors: list[dict[str, Any]] = []

    def bad(kind: str, message: str, name: str, value: Any, details: str = "") -> None:
        errors.append(
            {
                "type": kind,
                "message": message,
                "details": details or name,
                "extra_info": {"input_name": name, "input_config": spec, "received_value": value},
            }
        )

    declared = {
        **definition["input"].get("required", {}),
        **definition["input"].get("optional", {}),
    }
    for name in definition["input"].get("required", {}):
        if name not in inputs:
            errors.append(
                {
                    "type": "required_input_missing",
                    "message": "Required input is missing",
                    "details": name,
                    "extra_info": {"input_name": name},
                }
            )
    for name, value in inputs.items():
        spec = declared.get(name)
        if spec is None:
            continue  # ComfyUI ignores inputs a node does not declare
        kind = spec[0]
        options = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
        if isinstance(value, list):
            if len(value) != 2 or not isinstance(value[0], str) or not isinstance(value[1], int):
                bad(
                    "bad_linked_input",
                    "Bad linked input, must be a length-2 list of [string, int]",
                    name,
                    value,
                )
                continue
            source_id, slot = value
            if source_id not in graph:
                bad("bad_linked_input", f"Linked node {source_id} does not exist", name, value)
                continue
            produced = info[graph[source_id]["class_type"]]["output"]
            if not 0 <= slot < len(produced):
                bad("exception_during_inner_validation", f"Output {slot} does not exist", name, value)
                continue
            expected = kind if isinstance(kind, str) else "COMBO"
            if produced[slot] != expected and "*" not in (produced[slot], expected):
                bad(
                    "return_type_mismatch",
                    "Return type mismatch between linked nodes",
                    name,
                    value,
                    f"{name}, received_type({produced[slot]}) mismatch input_type({expected})",
                )
                continue
            _validate_node(graph, info, source_id, seen, [], node_errors, output)
            continue
        allowed = choices(spec)
        if allowed is not None:
            if value not in allowed:
                bad(
                    "value_not_in_list",
                    "Value not in list",
                    name,
                    value,
                    f"{name}: '{value}' not in {allowed}",
                )
            continue
        if kind in ("INT", "FLOAT"):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or (kind == "INT" and isinstance(value, float) and not value.is_integer())
            ):
                bad("invalid_input_type", f"Failed to convert an input value to a {kind} value", name, value)
                continue
            if "min" in options and value < options["min"]:
                bad(
                    "value_smaller_than_min",
                    f"Value {value} smaller than min of {options['min']}",
                    name,
                    value,
                )
            if "max" in options and value > options["max"]:
                bad(
                    "value_bigger_than_max", f"Value {value} bigger than max of {options['max']}", name, value
                )
        elif kind == "STRING" and not isinstance(value, str):
            bad("invalid_input_type", "Failed to convert an input value to a STRING value", name, value)
        elif kind == "BOOLEAN" and not isinstance(value, bool):
            bad("invalid_input_type", "Failed to convert an input value to a BOOLEAN value", name, value)
        elif kind not in ("INT", "FLOAT", "STRING", "BOOLEAN"):
            bad("bad_linked_input", f"{kind} input must be linked to another node's output", name, value)
    if errors:
        entry = node_errors.setdefault(
            node_id, {"errors": [], "dependent_outputs": [], "class_type": node["class_type"]}
        )
        entry["errors"] = errors
        if output not in entry["dependent_outputs"]:
            entry["dependent_outputs"].append(output)


def _error(kind: str, message: str, details: str = "") -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": {}}
