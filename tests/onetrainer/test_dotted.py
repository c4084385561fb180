"""``--set KEY=VALUE``: keys checked against the model, values typed by it."""

from __future__ import annotations

from typing import Any

import pytest

from onelazy.errors import ConfigError
from onelazy.onetrainer import SampleConfig, apply_dotted, coerce_dotted, load_train_config, parse_assignment


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("optimizer.d_coef", "2", 2.0),
        ("optimizer.growth_rate", "inf", "inf"),
        ("lora_rank", "32", 32),
        ("unet.train", "off", False),
        ("text_encoder.train", "YES", True),
        ("clip_grad_norm", "null", None),
        ("optimizer.optimizer", "PRODIGY", "PRODIGY"),
        ("resolution", "768", "768"),
        ("samples", "[]", []),
        ("concepts", "null", None),
        ("optimizer_defaults.ADAMW.beta1", "0.9", 0.9),
        ("concepts", '[{"path": "/d", "seed": 1}]', [{"path": "/d", "seed": 1}]),
    ],
)
def test_values_are_typed_by_the_model(key: str, raw: str, value: Any) -> None:
    assert coerce_dotted(key, raw) == value


def test_the_coerced_values_load() -> None:
    data: dict[str, Any] = {"__version": 11}
    for assignment in ["optimizer.optimizer=PRODIGY", "optimizer.d_coef=2", "unet.train=false", "samples=[]"]:
        key, raw = parse_assignment(assignment)
        apply_dotted(data, key, coerce_dotted(key, raw))
    config = load_train_config(data)
    assert (config.optimizer.d_coef, config.unet.train, config.samples) == (2.0, False, [])


def test_unknown_key_did_you_mean() -> None:
    with pytest.raises(ConfigError) as raised:
        coerce_dotted("lora_rnak", "4")
    assert raised.value.key == "lora_rnak" and "did you mean 'lora_rank'?" in str(raised.value)
    with pytest.raises(ConfigError) as nested:
        coerce_dotted("optimizer.beta", "0.9")
    assert nested.value.key == "optimizer.beta"


def test_enum_values_list_what_is_allowed() -> None:
    with pytest.raises(ConfigError) as raised:
        coerce_dotted("ema", "ON")
    assert raised.value.allowed == ("OFF", "GPU", "CPU")
    assert "'ON' is not an EMA mode" in str(raised.value)


@pytest.mark.parametrize(
    ("key", "raw", "fragment"),
    [
        ("epochs", "1.5", "not a whole number"),
        ("learning_rate", "fast", "not a number"),
        ("unet.train", "maybe", "not true or false"),
        ("samples", "[oops", "not JSON"),
        ("ema.decay", "0.9", "did you mean 'ema_decay'?"),
        ("concepts.0.path", "/x", "cannot be set inside it"),
        ("base_model_name", "null", None),
    ],
)
def test_bad_values(key: str, raw: str, fragment: str | None) -> None:
    if fragment is None:  # a non-nullable string takes "null" literally
        assert coerce_dotted(key, raw) == "null"
        return
    with pytest.raises(ConfigError, match=fragment.replace("?", r"\?")):
        coerce_dotted(key, raw)


def test_other_models() -> None:
    assert coerce_dotted("cfg_scale", "3", model=SampleConfig) == 3.0


def test_parse_and_apply() -> None:
    assert parse_assignment("a.b=c=d") == ("a.b", "c=d")
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        parse_assignment("novalue")
    data: dict[str, Any] = {"unet": {"train": True}, "ema": "OFF"}
    apply_dotted(data, "unet.learning_rate", 1e-4)
    apply_dotted(data, "optimizer.beta1", 0.9)
    assert data == {"unet": {"train": True, "learning_rate": 1e-4}, "ema": "OFF", "optimizer": {"beta1": 0.9}}
    with pytest.raises(ConfigError, match="not an object"):
        apply_dotted(data, "ema.decay", 1)
