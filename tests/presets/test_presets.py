"""The presets: each sets exactly what the recipe says, renders strictly, and stays in sync."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from onelazy import presets as p
from onelazy.errors import ConfigError, PresetError
from onelazy.families import FAMILIES, family_of_preset
from onelazy.onetrainer import load_train_config, to_onetrainer_dict
from onelazy.onetrainer.model_types import model_type_info

#: Every family's lazy and careful presets, by tier, plus OneTrainer's UI presets for SD 1.5/SDXL.
NAMES = sorted([*(name for family in FAMILIES for name in family.preset_names()), "sd15-lora", "sdxl-lora"])
CAREFUL = [name for name in NAMES if name.startswith("nonlazy-")]
LAZY = [name for name in NAMES if name.startswith("lazy-")]
#: OneTrainer's built-in presets the families start from, with their file in its training_presets/.
BUILTINS = {
    "onetrainer:#chroma LoRA 16GB": "Chroma/#chroma LoRA 16GB.json",
    "onetrainer:#chroma LoRA 24GB": "Chroma/#chroma LoRA 24GB.json",
    "onetrainer:#chroma LoRA 8GB": "Chroma/#chroma LoRA 8GB.json",
    "onetrainer:#flux LoRA": "Flux Dev.1/#flux LoRA.json",
    "onetrainer:#flux2 LoRA 16GB": "Flux 2/#flux2 LoRA 16GB.json",
    "onetrainer:#flux2 LoRA 8GB": "Flux 2/#flux2 LoRA 8GB.json",
    "onetrainer:#qwen LoRA 16GB": "QwenImage/#qwen LoRA 16GB.json",
    "onetrainer:#qwen LoRA 24GB": "QwenImage/#qwen LoRA 24GB.json",
    "onetrainer:#sd 1.5 LoRA": "SD1.5/#sd 1.5 LoRA.json",
    "onetrainer:#sd 3 LoRA": "SD3/#sd 3 LoRA.json",
    "onetrainer:#sdxl 1.0 LoRA": "SDXL/#sdxl 1.0 LoRA.json",
    "onetrainer:#z-image DeTurbo LoRA 16GB": "Z-Image/#z-image DeTurbo LoRA 16GB.json",
    "onetrainer:#z-image DeTurbo LoRA 8GB": "Z-Image/#z-image DeTurbo LoRA 8GB.json",
    "onetrainer:#z-image LoRA 16GB": "Z-Image/#z-image LoRA 16GB.json",
    "onetrainer:#z-image LoRA 8GB": "Z-Image/#z-image LoRA 8GB.json",
}
MACHINE = {"train_device", "embedding.uuid"}  # the fixture's machine and random uuid


def text_encoders(name: str) -> tuple[str, ...]:
    return model_type_info(flat(name)["model_type"]).text_encoder_parts


def builtin_of(name: str) -> str:
    return p.preset_chain(name)[0].name


def differing(ours: dict[str, Any], theirs: dict[str, Any]) -> set[str]:
    return {
        key
        for key in set(ours) | set(theirs)
        if key not in MACHINE and not p._same(ours.get(key), theirs.get(key))
    }


def flat(name: str) -> dict[str, Any]:
    return p._flat(p.render_preset(name))


def fixture_flat(path: Path) -> dict[str, Any]:
    return p._flat(json.loads(path.read_text()))


def test_the_presets_are_the_ones_the_recipe_names() -> None:
    assert p.preset_names() == NAMES
    assert p.builtin_names() == sorted(BUILTINS)


@pytest.mark.parametrize("name", NAMES)
def test_each_preset_belongs_to_the_family_of_its_model_type(name: str) -> None:
    family = family_of_preset(name)
    assert family is not None
    assert flat(name)["model_type"] in family.model_types


@pytest.mark.parametrize(("name", "fixture"), sorted(BUILTINS.items()))
def test_each_builtin_renders_exactly_to_onetrainers_resolved_preset(
    onetrainer_facts: Path, name: str, fixture: str
) -> None:
    """A stated built-in is faithful: rendered, it is what train.py --preset-path builds from the file."""
    assert differing(flat(name), fixture_flat(onetrainer_facts / "resolved-presets" / fixture)) == set()


@pytest.mark.parametrize("name", NAMES)
def test_each_preset_renders_strictly_and_round_trips(name: str) -> None:
    rendered = p.render_preset(name)
    model = load_train_config(rendered, source=name, strict=True)
    assert to_onetrainer_dict(model) == rendered
    assert rendered["__version"] == 11
    assert rendered["train_device"] == "cuda"


@pytest.mark.parametrize("name", NAMES)
def test_each_preset_passes_the_cross_field_checks_and_changes_only_real_differences(name: str) -> None:
    assert p.check_preset(name) == []


@pytest.mark.parametrize("name", NAMES)
def test_every_value_a_preset_sets_lands_as_written(name: str) -> None:
    rendered = flat(name)
    for item in p.load_preset(name).values:
        assert p._same(rendered[item.key], p._jsonable(item.value)), item.key


@pytest.mark.parametrize("name", NAMES)
def test_every_value_has_a_reason(name: str) -> None:
    preset = p.load_preset(name)
    assert preset.values
    for item in [*preset.values, *preset.kept]:
        assert len(item.why) > 10, item.key


# --------------------------------------------------------------------------- OneTrainer's own presets


@pytest.mark.parametrize(
    ("name", "fixture"),
    [("sd15-lora", "SD1.5/#sd 1.5 LoRA.json"), ("sdxl-lora", "SDXL/#sdxl 1.0 LoRA.json")],
)
def test_ui_presets_equal_onetrainers_resolved_preset_but_for_the_expanded_filter(
    onetrainer_facts: Path, name: str, fixture: str
) -> None:
    """The built-in YAML states OneTrainer's preset faithfully: rendered == what train.py builds from it."""
    ours = flat(name)
    theirs = fixture_flat(onetrainer_facts / "resolved-presets" / fixture)
    assert differing(ours, theirs) == {"layer_filter"}
    assert theirs["layer_filter"] == ""
    assert ours["layer_filter"] == "attentions"


@pytest.mark.parametrize(
    ("name", "model_type"),
    [("sd15-lora", "STABLE_DIFFUSION_15"), ("sdxl-lora", "STABLE_DIFFUSION_XL_10_BASE")],
)
def test_layer_filter_is_the_ui_expansion_of_attn_mlp(
    onetrainer_facts: Path, name: str, model_type: str
) -> None:
    facts = json.loads((onetrainer_facts / "layer-filter-presets.json").read_text())
    expansion = facts["by_model_type"][model_type]["resolved"]["attn-mlp"]
    values = flat(name)
    assert values["layer_filter"] == expansion["layer_filter"]
    assert values["layer_filter_regex"] is expansion["layer_filter_regex"]
    assert values["layer_filter_preset"] == "attn-mlp"


# --------------------------------------------------------------------------- the recipe, claim by claim


def test_lazy_sd15_is_the_ui_preset_with_rank_32_and_nothing_else() -> None:
    assert flat("lazy-sd15")["lora_rank"] == 32
    assert [key for key, _, _ in p.diff_presets("sd15-lora", "lazy-sd15")] == ["lora_rank"]


def test_lazy_sdxl_is_the_ui_preset_with_rank_96_and_nothing_else() -> None:
    assert flat("lazy-sdxl")["lora_rank"] == 96
    assert [key for key, _, _ in p.diff_presets("sdxl-lora", "lazy-sdxl")] == ["lora_rank"]


@pytest.mark.parametrize("name", [name for name in LAZY if name not in ("lazy-sd15", "lazy-sdxl")])
def test_each_family_lazy_preset_is_onetrainers_preset_with_rank_32_landing_as_written(
    onetrainer_facts: Path, name: str
) -> None:
    """Rendered, a family's lazy preset is OneTrainer's resolved preset with only the recipe's changes."""
    fixture = BUILTINS[builtin_of(name)]
    theirs = fixture_flat(onetrainer_facts / "resolved-presets" / fixture)
    ours = flat(name)
    changes = {"lora_rank": 32}
    if name == "lazy-sd35":  # OneTrainer has the SD 3.5 model type but only an SD 3 preset
        changes |= {
            "model_type": "STABLE_DIFFUSION_35",
            "base_model_name": "stabilityai/stable-diffusion-3.5-medium",
        }
    assert differing(ours, theirs) == set(changes)
    for key, value in changes.items():
        assert ours[key] == value


CAREFUL_RANKS = {"nonlazy-sd15": 64, "nonlazy-sdxl": 96}


@pytest.mark.parametrize(
    ("name", "rank", "encoders"),
    [(name, CAREFUL_RANKS.get(name, 32), text_encoders(name)) for name in CAREFUL],
)
class TestNonLazy:
    def test_prodigy_with_learning_rate_1(self, name: str, rank: int, encoders: list[str]) -> None:
        values = flat(name)
        assert values["optimizer.optimizer"] == "PRODIGY"
        assert values["learning_rate"] == 1.0

    def test_rank(self, name: str, rank: int, encoders: list[str]) -> None:
        assert flat(name)["lora_rank"] == rank

    def test_ema_on_gpu_and_cpu_selectable(self, name: str, rank: int, encoders: list[str]) -> None:
        # The 8 GB tiers offload the model to fit, so their EMA copy stays on the CPU.
        assert flat(name)["ema"] == ("CPU" if name.endswith("-8gb") else "GPU")
        assert p._flat(to_onetrainer_dict(p.resolve_preset(name, set_values=["ema=CPU"])))["ema"] == "CPU"

    def test_text_encoders_not_trained(self, name: str, rank: int, encoders: list[str]) -> None:
        values = flat(name)
        assert encoders
        for part in encoders:
            assert values[f"{part}.train"] is False, part
        denoiser = model_type_info(values["model_type"]).denoiser_part
        assert values[f"{denoiser}.train"] is True

    def test_weight_decay_001(self, name: str, rank: int, encoders: list[str]) -> None:
        assert flat(name)["optimizer.weight_decay"] == 0.01

    def test_bias_correction_off(self, name: str, rank: int, encoders: list[str]) -> None:
        assert flat(name)["optimizer.use_bias_correction"] is False

    def test_safeguard_warmup_on(self, name: str, rank: int, encoders: list[str]) -> None:
        assert flat(name)["optimizer.safeguard_warmup"] is True

    def test_warmup_200_steps(self, name: str, rank: int, encoders: list[str]) -> None:
        assert flat(name)["learning_rate_warmup_steps"] == 200.0

    def test_other_prodigy_values_as_onetrainers_ui_sets_them(
        self, onetrainer_facts: Path, name: str, rank: int, encoders: list[str]
    ) -> None:
        facts = json.loads((onetrainer_facts / "optimizer-defaults.json").read_text())
        ui = facts["optimizers"]["PRODIGY"]["resolved"]
        ours = p.render_preset(name)["optimizer"]
        recipe = {"weight_decay": 0.01, "safeguard_warmup": True}
        for key, value in ui.items():
            expected = recipe.get(key, value)
            assert p._same(ours[key], expected), (key, ours[key], expected)
        assert ours["growth_rate"] == "inf" and math.isinf(float(ours["growth_rate"]))


# --------------------------------------------------------------------------- layering


def test_set_overrides_are_typed_by_the_model() -> None:
    config = p.resolve_preset("lazy-sd15", set_values=["lora_rank=48", "optimizer.d_coef=2", "ema=CPU"])
    assert config.lora_rank == 48
    assert config.optimizer.d_coef == 2.0
    assert config.ema.value == "CPU"


def test_a_misspelt_set_key_fails_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        p.resolve_preset("lazy-sd15", set_values=["lora_rnak=48"])
    assert "lora_rank" in str(info.value)
    assert info.value.exit_code == 2


def test_a_set_value_of_the_wrong_type_fails() -> None:
    with pytest.raises(ConfigError, match="lora_rank"):
        p.resolve_preset("lazy-sd15", set_values=["lora_rank=lots"])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("optimizer=1", "optimizer"),
        ("samples=[1]", "samples[0]"),
        ('optimizer={"optimizer": "ADAMWW"}', "optimizer.optimizer"),
    ],
)
def test_a_bad_json_set_value_is_blamed_on_set_not_on_the_preset(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        p.resolve_preset("lazy-sd15", set_values=[override])
    assert str(info.value).startswith(f"--set: {key}: ")
    assert "preset" not in str(info.value)


def test_set_without_equals_fails_clearly() -> None:
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        p.resolve_preset("lazy-sd15", set_values=["lora_rank"])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("lora_rank=lots", "lora_rank"),
        ("learning_rate=fast", "learning_rate"),
        ("optimizer.optimizer=ADAMWW", "optimizer.optimizer"),
        ("lora_rnak=4", "lora_rnak"),
        ("lora_rank", None),
    ],
)
def test_every_set_mistake_names_the_flag_then_the_key(override: str, key: str | None) -> None:
    """A value of the wrong type said "lora_rank: ..." where every other --set mistake says "--set: ..."."""
    with pytest.raises(ConfigError) as info:
        p.resolve_preset("lazy-sd15", set_values=[override])
    assert str(info.value).startswith("--set: " + (f"{key}: " if key else "")), str(info.value)


def test_layers_apply_in_order_defaults_base_preset_project_set() -> None:
    base = p.resolve_preset("sd15-lora")
    assert base.lora_rank == 16  # OneTrainer's default, kept by its preset
    assert base.batch_size == 4  # OneTrainer's preset over the default 1
    project = p.resolve_preset("lazy-sd15", project_values={"lora_rank": 40, "batch_size": 2})
    assert (project.lora_rank, project.batch_size) == (40, 2)
    both = p.resolve_preset("lazy-sd15", project_values={"lora_rank": 40}, set_values=["lora_rank=8"])
    assert both.lora_rank == 8


# --------------------------------------------------------------------------- generated files


def test_committed_renderings_match_fresh_ones() -> None:
    assert p.render_all(check=True) == []


def test_committed_docs_match_a_fresh_rendering() -> None:
    assert p.write_docs(check=True) == []


def test_docs_table_has_defaults_values_and_reasons() -> None:
    text = p.presets_markdown()
    sd15 = text.split("\n## SD 1.5\n")[1].split("\n## ")[0]
    header = next(line for line in sd15.splitlines() if line.startswith("| key |"))
    assert "`lazy-sd15` | `nonlazy-sd15` | `sd15-lora`" in header
    row = next(line for line in sd15.splitlines() if line.startswith("| `lora_rank` |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "16"  # OneTrainer's default
    assert cells[2:5] == ["**32**", "**64**", "16"]
    assert "lazy-sd15:" in cells[5]
    for family in FAMILIES:
        assert f"\n## {family.label}\n" in text
        for name in family.preset_names():
            assert f"| {family.label} | `{name}` |" in text


def test_render_check_finds_drift(tmp_path: Path) -> None:
    root = _copy_presets(tmp_path)
    assert len(p.render_all(directory=root)) == len(NAMES)  # all missing, now written
    assert p.render_all(check=True, directory=root) == []
    target = root / "rendered" / "lazy-sd15.json"
    target.write_text(target.read_text().replace('"lora_rank": 32', '"lora_rank": 33'))
    (root / "rendered" / "gone.json").write_text("{}")
    drift = p.render_all(check=True, directory=root)
    assert len(drift) == 2 and "lazy-sd15.json" in drift[0] and "gone" in drift[1]
    assert '"lora_rank": 33' in target.read_text()  # check writes nothing
    p.render_all(directory=root)
    assert p.render_all(check=True, directory=root) == []


# --------------------------------------------------------------------------- finding and bad preset files


def test_presets_are_found_in_a_wheel_layout_and_in_a_checkout(tmp_path: Path, repo_root: Path) -> None:
    assert p.presets_dir() == repo_root / "presets"
    package = tmp_path / "site-packages" / "onelazy"
    (package / "_presets" / "onetrainer").mkdir(parents=True)
    assert p.find_presets_dir(package) == package / "_presets"
    with pytest.raises(PresetError, match="preset folder is missing"):
        p.find_presets_dir(tmp_path / "elsewhere" / "onelazy")


def test_the_wheel_ships_the_presets(repo_root: Path) -> None:
    text = (repo_root / "pyproject.toml").read_text()
    assert '"presets" = "onelazy/_presets"' in text


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(PresetError) as info:
        p.load_preset("lazy-sxdl")
    message = str(info.value)
    assert "unknown preset 'lazy-sxdl'" in message and "did you mean 'lazy-sdxl'?" in message
    assert "\n" not in message


def _copy_presets(tmp_path: Path) -> Path:
    root = tmp_path / "presets"
    (root / "onetrainer").mkdir(parents=True)
    (root / "rendered").mkdir()
    source = p.presets_dir()
    for path in [*source.glob("*.yaml"), *source.glob("onetrainer/*.yaml")]:
        target = root / path.relative_to(source)
        target.write_text(path.read_text())
    return root


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("base: sd15-lora\nsummary: x\nvalues:\n  lora_rank: 8\n", "values.lora_rank: must be {value"),
        (
            "base: sd15-lora\nsummary: x\nvalues:\n  lora_rank: {value: 8}\n",
            "values.lora_rank: must be {value",
        ),
        ("base: sd15-lora\nsummary: x\nvaleus: {}\n", "valeus: not a preset key; did you mean 'values'?"),
        ("base: sd15-lora\nsummary: x\nvalues: [\n", "broken.yaml:4:1: not valid YAML"),
        ("summary: x\nvalues: {a: {value: 1, why: because it is}}\n", "base: missing"),
        (
            "base: sd15-lora\nsummary: x\nvalues: {lora_rank: {value: 8, why: smaller}}\n"
            "kept: {lora_rank: also kept}\n",
            "kept.lora_rank: also under values",
        ),
    ],
)
def test_bad_preset_files_give_one_line_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    root = _copy_presets(tmp_path)
    (root / "broken.yaml").write_text(text)
    with pytest.raises(PresetError) as info:
        p.load_preset("broken", directory=root)
    assert message in str(info.value)
    assert "broken.yaml" in str(info.value)


def test_a_value_equal_to_the_base_is_flagged_and_unknown_keys_fail(tmp_path: Path) -> None:
    root = _copy_presets(tmp_path)
    (root / "same.yaml").write_text(
        "base: lazy-sd15\nsummary: x\nvalues: {lora_rank: {value: 32, why: the same as the base}}\n"
        "kept: {no_such_key: nothing}\n"
    )
    problems = p.check_preset("same", directory=root)
    assert any("values.lora_rank: equals the base's value" in line for line in problems)
    assert any("kept.no_such_key: not a OneTrainer key" in line for line in problems)
    (root / "typo.yaml").write_text(
        "base: lazy-sd15\nsummary: x\nvalues: {lora_rnak: {value: 8, why: smaller}}\n"
    )
    with pytest.raises(ConfigError, match="lora_rank"):
        p.resolve_preset("typo", directory=root)


def test_bases_that_loop_or_do_not_exist(tmp_path: Path) -> None:
    root = _copy_presets(tmp_path)
    (root / "a.yaml").write_text("base: b\nsummary: x\nvalues: {lora_rank: {value: 1, why: a loop here}}\n")
    (root / "b.yaml").write_text("base: a\nsummary: x\nvalues: {lora_rank: {value: 2, why: a loop here}}\n")
    with pytest.raises(PresetError, match="loop: a → b → a"):
        p.preset_chain("a", directory=root)
    (root / "c.yaml").write_text(
        "base: 'onetrainer:#sd 9 LoRA'\nsummary: x\nvalues: {lora_rank: {value: 1, why: why not}}\n"
    )
    with pytest.raises(PresetError, match="unknown OneTrainer preset"):
        p.preset_chain("c", directory=root)


def test_show_lists_own_values_kept_values_and_inherited_ones() -> None:
    text = "\n".join(p.describe_preset("nonlazy-sdxl"))
    assert "chain: OneTrainer defaults → onetrainer:#sdxl 1.0 LoRA → sdxl-lora → nonlazy-sdxl" in text
    assert "optimizer.optimizer" in text and "Prodigy estimates its own step size" in text
    assert re.search(r"learning_rate_warmup_steps += 200.0  # 200 warmup steps kept deliberately", text)
    assert "from sdxl-lora:" in text and "layer_filter" in text
    assert "from onetrainer:#sdxl 1.0 LoRA:" in text


def test_an_sdxl_user_finds_the_derivatives_named() -> None:
    """Illustrious, NoobAI and Pony are SDXL for training: the SDXL presets and init's help say so."""
    from onelazy.cli.project import _PRESET_HELP

    for name in ("lazy-sdxl", "nonlazy-sdxl"):
        summary = p.load_preset(name).summary
        assert all(word in summary for word in ("Illustrious", "NoobAI", "Pony")), summary
    assert "SDXL (Illustrious, NoobAI, Pony): lazy-sdxl" in " ".join(_PRESET_HELP.split())
