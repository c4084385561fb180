"""The suggestion rule of onelazy.evidence: the lowest validation loss, unless within the noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from onelazy.evidence import (
    Scalar,
    TrainingLog,
    TrainingSample,
    measure,
    suggest,
    validation_noise,
)


def log_of(validation: dict[int, float], train: dict[int, float] | None = None) -> TrainingLog:
    train = train if train is not None else {step: 0.2 for step in range(41)}
    return TrainingLog(
        folders=(),
        train_loss=tuple(Scalar(s, v) for s, v in sorted(train.items())),
        smooth_loss=tuple(Scalar(s, v / 2) for s, v in sorted(train.items())),
        learning_rates={"unet": tuple(Scalar(s, 1e-4) for s in sorted(train))},
        validation_losses={"validation": tuple(Scalar(s, v) for s, v in sorted(validation.items()))},
    )


def saves(log: TrainingLog, steps: list[int]) -> list:  # type: ignore[type-arg]
    return [measure(f"step {s}", "save", s, Path(f"{s}.safetensors"), log) for s in steps]


def test_noise_is_the_wobble_around_the_line_through_the_neighbours() -> None:
    # a straight descent has no wobble; one point off the line by 0.01 has
    assert validation_noise(log_of({0: 0.5, 10: 0.4, 20: 0.3, 30: 0.2})) == pytest.approx(0.0)
    assert validation_noise(log_of({0: 0.5, 10: 0.41, 20: 0.3})) == pytest.approx(0.01)
    assert validation_noise(log_of({0: 0.5, 10: 0.4})) is None


def test_a_clear_minimum_is_suggested_with_its_numbers() -> None:
    log = log_of({0: 0.30, 10: 0.22, 20: 0.14, 30: 0.10, 40: 0.16})
    evidence = saves(log, [20, 30, 40])
    suggestion = suggest(evidence, log)
    assert suggestion.step == 30
    assert "step 30 0.1000, next step 20 0.1400" in suggestion.reason
    assert suggestion.noise == pytest.approx(0.02)  # the median of 0.00, 0.02, 0.05


def test_differences_within_the_noise_leave_the_choice_to_the_person() -> None:
    # alternating wobble of 0.02 around 0.1: every difference is within it
    log = log_of({0: 0.12, 10: 0.08, 20: 0.12, 30: 0.08, 40: 0.12})
    suggestion = suggest(saves(log, [20, 30, 40]), log)
    assert suggestion.step is None and "does not separate" in suggestion.reason
    assert "noise of 0.0400" in suggestion.reason


def test_no_validation_or_only_one_says_so() -> None:
    log = log_of({})
    assert suggest(saves(log, [20, 30]), log).step is None
    assert "No checkpoint has a validation loss" in suggest(saves(log, [20, 30]), log).reason
    log = log_of({20: 0.1})
    assert "Only step 20" in suggest(saves(log, [20, 30]), log).reason


def test_a_checkpoint_takes_the_validation_within_a_step_and_the_train_loss_around_it() -> None:
    train = {step: float(step) for step in range(100)}
    log = log_of({0: 0.3, 50: 0.2}, train)
    samples = [TrainingSample("0 - faery", 50, Path("a.png")), TrainingSample("0 - faery", 0, Path("b.png"))]
    item = measure("step 49", "save", 49, Path("x"), log, samples)
    assert (item.validation_step, item.validation_loss) == (50, 0.2)
    # within 5 % of the step (at least 2 steps) on either side: 47..51
    assert item.train_loss_steps == (47, 51) and item.train_loss == pytest.approx(49.0)
    assert item.smooth_loss == pytest.approx(48 / 2) and item.learning_rate == 1e-4
    assert [s.path.name for s in item.samples] == ["a.png"]
    final = measure("final", "final", 100, Path("y"), log, samples)
    assert final.validation_loss is None and final.samples == ()


def test_without_the_reader_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    from onelazy.errors import EvidenceError
    from onelazy.evidence import read_training_log

    assert read_training_log(tmp_path).folders == ()  # no logs yet: nothing to read, no reader needed
    folder = tmp_path / "tensorboard" / "faery-2026-12-03_10-00-00"
    folder.mkdir(parents=True)
    writer = EventFileWriter(str(folder))
    value = Summary.Value(tag="loss/train_step", simple_value=0.5)
    writer.add_event(Event(step=0, summary=Summary(value=[value])))
    writer.close()
    monkeypatch.setitem(sys.modules, "tensorboard.backend.event_processing.event_accumulator", None)
    with pytest.raises(EvidenceError, match=r"pip install 'onelazy\[evidence\]'"):
        read_training_log(tmp_path)
