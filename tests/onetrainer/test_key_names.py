"""Only ``onelazy/onetrainer/`` spells OneTrainer's key names: elsewhere a config is read and
written through the typed models and the helpers of that package, so a key OneTrainer renames
is changed in one place. An AST scan of every other module finds string literals that are a
OneTrainer key; a name that is also another program's or onelazy's own word is listed below,
with why."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

from pydantic import BaseModel

from onelazy.onetrainer.models import ConceptConfig, SampleConfig, SecretsConfig, TrainConfig

SRC = Path(__file__).resolve().parents[2] / "src" / "onelazy"

#: (module, literal): why that literal is not OneTrainer's key there.
NOT_ONETRAINER_KEYS = {
    ("backends/comfyui_graphs.py", "batch_size"): "an input of ComfyUI's empty latent nodes",
    ("backends/comfyui_graphs.py", "weight_dtype"): "an input of ComfyUI's UNETLoader node",
    ("cli/config_files.py", "onetrainer_dir"): "the click parameter of --onetrainer",
    ("cli/launch.py", "onetrainer_dir"): "the click parameter of --onetrainer",
    ("generation/settings.py", "model_type"): "a pydantic error type",
    ("project.py", "model_type"): "a pydantic error type",
    # the plan's own names (make_plan's parameters, TrainingPlan's fields): its errors name the
    # argument that is wrong; the plan's values become OneTrainer's keys in onetrainer.run_config
    ("plan.py", "batch_size"): "make_plan's parameter",
    ("plan.py", "gradient_accumulation_steps"): "make_plan's parameter",
    ("plan.py", "validate_after"): "TrainingPlan's field",
}


def _key_names() -> set[str]:
    """Every key of OneTrainer's files, nested ones too (dotted and bare), that is not a plain word."""
    names: set[str] = set()
    seen: set[tuple[type[BaseModel], str]] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        seen.add((model, prefix))
        for name, info in model.model_fields.items():
            key = info.alias or name
            names.update({key, f"{prefix}{key}"})
            stack = [info.annotation]
            while stack:
                annotation = stack.pop()
                stack.extend(typing.get_args(annotation))
                nested = f"{prefix}{key}."
                is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
                if is_model and (annotation, nested) not in seen:
                    walk(annotation, nested)

    for model in (TrainConfig, ConceptConfig, SampleConfig, SecretsConfig):
        walk(model, "")
    return {name for name in names if "_" in name.strip("_") or "." in name}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_no_module_outside_onetrainer_spells_a_onetrainer_key() -> None:
    keys = _key_names()
    assert {"base_model_name", "save_every_unit", "optimizer.optimizer", "text.prompt_source"} <= keys
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        if module.startswith("onetrainer/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in keys
                and id(node) not in docstrings
                and (module, node.value) not in NOT_ONETRAINER_KEYS
            ):
                found.append(f"{module}:{node.lineno}: {node.value!r}")
    assert not found, "OneTrainer key names outside onelazy/onetrainer/:\n" + "\n".join(found)


def test_the_exceptions_are_still_there() -> None:
    """An entry that no longer matches anything is removed, so the list cannot hide a new key."""
    for module, literal in NOT_ONETRAINER_KEYS:
        assert repr(literal) in (SRC / module).read_text(encoding="utf-8") or f'"{literal}"' in (
            SRC / module
        ).read_text(encoding="utf-8"), (module, literal)
