"""OneTrainer's recorded output, as the launcher splits and parses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onelazy.training.events import Phase, Progress, TrainingWarning
from onelazy.training.output import MAX_SEGMENT, LineSplitter, OutputParser, strip_ansi


def parse_recorded(logs: Path, run: str) -> tuple[OutputParser, list[object]]:
    config = json.loads((logs / f"{run}.config.json").read_text())
    parser = OutputParser(
        root=Path("/opt/OneTrainer"),
        workspace_dir=Path(config["workspace_dir"]),
        output_model_destination=Path(config["output_model_destination"]),
    )
    events: list[object] = []
    for stream in ("stderr", "stdout"):
        splitter = LineSplitter()
        data = (logs / f"{run}.{stream}").read_bytes()
        for segment in splitter.feed(data) + splitter.flush():
            text = strip_ansi(segment).decode("utf-8")
            events.extend(parser.feed(stream, text, 1.0))  # type: ignore[arg-type]
    return parser, events


def pending(parser: OutputParser) -> list[tuple[str, str, int | None, int | None, int | None]]:
    return [(p.path.name, p.kind, p.global_step, p.epoch, p.epoch_step) for p in parser._pending]


def test_finished_run(onetrainer_facts: Path) -> None:
    parser, events = parse_recorded(onetrainer_facts / "logs", "finished")
    assert (parser.epoch, parser.epochs, parser.step, parser.steps, parser.global_step) == (2, 2, 4, 4, 8)
    assert (parser.loss, parser.smooth_loss) == (0.99, 1.13)
    assert pending(parser) == [
        ("2026-11-24_21-05-13-save-2-0-2.safetensors", "save", 2, 0, 2),
        ("2026-11-24_21-05-15-save-5-1-1.safetensors", "save", 5, 1, 1),
        ("2026-11-24_21-05-16-backup-8-2-0", "backup", 8, 2, 0),
        ("faery.safetensors", "final", 8, 2, 0),
    ]
    phases = [e.name for e in events if isinstance(e, Phase)]
    assert phases == ["caching", "training", "saving"]
    assert parser.error_line is None


def test_interrupted_run_knows_how_far_it_got(onetrainer_facts: Path) -> None:
    parser, _ = parse_recorded(onetrainer_facts / "logs", "interrupted")
    assert (parser.epoch, parser.epochs, parser.global_step) == (3, 50, 12)
    assert pending(parser)[0][1:] == ("backup", 12, 3, 0)
    assert pending(parser)[1][1:] == ("final", 12, 3, 0)


def test_bad_values_are_config_warnings(onetrainer_facts: Path) -> None:
    _, events = parse_recorded(onetrainer_facts / "logs", "bad-values")
    config = [e for e in events if isinstance(e, TrainingWarning) and e.category == "config"]
    assert [(w.key, w.value) for w in config] == [("learning_rate", "abc"), ("optimizer", "NOT_AN_OPTIMIZER")]


def test_traceback_last_line_is_the_error(onetrainer_facts: Path) -> None:
    parser, _ = parse_recorded(onetrainer_facts / "logs", "missing-concept-dir")
    assert parser.error_line == (
        "FileNotFoundError: [Errno 2] No such file or directory: '/home/user/faery/does-not-exist'"
    )


def test_progress_from_a_step_bar() -> None:
    parser = OutputParser(root=Path("/"), workspace_dir=None, output_model_destination=None)
    list(parser.feed("stderr", "epoch:   0%|          | 0/10 [00:00<?, ?it/s]", 0.0))
    line = "step:  12%|█▏        | 12/100 [00:10<01:15,  1.17it/s, loss=0.0812, smooth loss=0.0911]"
    (event,) = [e for e in parser.feed("stderr", line, 5.0) if isinstance(e, Progress)]
    assert (event.epoch, event.epochs, event.step, event.steps) == (0, 10, 12, 100)
    assert (event.loss, event.smooth_loss, event.rate) == (0.0812, 0.0911, 1.17)
    assert event.remaining == pytest.approx((10 * 100 - 12) / 1.17)
    slow = "step:  12%|█▏        | 12/100 [00:10<01:15,  2.50s/it, loss=1.5e-5, smooth loss=2e-05]"
    (event,) = [e for e in parser.feed("stderr", slow, 6.0) if isinstance(e, Progress)]
    assert (event.rate, event.loss) == (0.4, 1.5e-5)


def test_splitter_cuts_at_cr_and_lf_and_bounds_memory() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\rb\nc") == [b"a", b"b"]
    assert splitter.feed(b"d\r\n\x1b[A\re") == [b"cd", b"\x1b[A"]
    assert splitter.flush() == [b"e"]
    big = splitter.feed(b"x" * (3 * MAX_SEGMENT + 10))
    assert [len(s) for s in big] == [MAX_SEGMENT] * 3
    assert splitter.flush() == [b"x" * 10]


def test_strip_ansi() -> None:
    assert strip_ansi(b"\x1b[Astep: 1\x1b[0m") == b"step: 1"


def test_a_nan_loss_is_valid_json() -> None:
    parser = OutputParser(root=Path("/"), workspace_dir=None, output_model_destination=None)
    line = "step:  50%|█████     | 50/100 [10:00<10:00, 12.00s/it, loss=nan, smooth loss=inf]"
    (event,) = [e for e in parser.feed("stderr", line, 1.0) if isinstance(e, Progress)]
    data = json.loads(json.dumps(event.to_dict(), allow_nan=False))
    assert (data["loss"], data["smooth_loss"], data["event"]) == ("nan", "inf", "progress")
