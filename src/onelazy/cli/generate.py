"""``onelazy generate`` and ``onelazy backends check``: training images through SwarmUI or ComfyUI."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from onelazy.cli._options import backend_option, render_options


@click.command("generate")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--dataset",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: the file's dataset:, else ./dataset).",
)
@backend_option()
@click.option("--url", "urls", multiple=True, help="Backend URL (repeat to share the work).")
@click.option("--model", help="Checkpoint name exactly as the backend lists it.")
@click.option("--prompt", help="Prompt of the one set (without a CONFIG file).")
@click.option("--negative", help="Negative prompt of the one set.")
@click.option("--caption", help="Caption written for training (default: the prompt).")
@click.option("--name", default="images", show_default=True, help="Set name: the subfolder.")
@click.option("--count", type=click.IntRange(min=1), help="Images per set (raise it later to add more).")
@render_options
@click.option("--seed", type=click.IntRange(min=0), help="Base seed: image i gets seed + i.")
@click.option(
    "--batch", type=click.IntRange(min=1), help="Images per backend job (not reproducible one by one)."
)
@click.option(
    "--captions",
    type=click.Choice(["image", "set", "none"]),
    help="A .txt per image, one <set>.prompt.txt per set, or none.",
)
@click.option("--in-flight", type=click.IntRange(min=1), help="Requests in flight per URL.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Seconds one render may take.",
)
@click.option(
    "--replace-stale",
    is_flag=True,
    help="Move images made with other settings (prompt, model, size...) than their set now asks for "
    "to DATASET/.rejected/stale/ and make them again.",
)
def generate_command(
    config: Path | None, dataset: Path | None, timeout: float, replace_stale: bool, **flags: Any
) -> None:
    """Render prompt sets into DATASET/<set>/NNNN.png with captions and a manifest.

    Seeds are the base seed + the image's index, so rerunning skips the images already made
    and makes exactly the missing ones; Ctrl+C or a backend restart loses nothing. After a
    prompt (or model, size...) changed, --replace-stale moves the old images aside and makes
    them again. Several
    --url (or urls: in the file) share the work. Tokens come from SWARM_TOKEN (SwarmUI) and
    ONELAZY_BACKEND_TOKEN (a bearer token for a proxy), never from flags or files.

    \b
    Example:
        onelazy generate --backend comfyui --url http://127.0.0.1:8188 \\
            --model sd15.safetensors --prompt "photo of a faery, forest" --count 100
        onelazy generate onelazy.yaml
    \b
    with onelazy.yaml:
        generate:
          backend: comfyui
          urls: [http://127.0.0.1:8188, http://gpu2:8188]
          model: sd15.safetensors
          width: 512
          height: 768
          seed: 1000
          sets:
            - name: front
              prompt: photo of a faery, front view, forest
              caption: a faery
              count: 100
            - name: side
              prompt: photo of a faery, side view, meadow
              negative: blurry, lowres
              count: 50
              steps: 30
    """
    from onelazy.generation import config_from_mapping, generate

    overrides = _shared_overrides(flags)
    if config is not None:
        if flags["prompt"] is not None:
            raise click.UsageError(
                "--prompt describes one set; with a CONFIG file, put sets in its generate: section"
            )
        source: Any = config
    else:
        required = {
            "--backend": "kind",
            "--url": "urls",
            "--model": "model",
            "--prompt": "prompt",
            "--count": "count",
        }
        missing = [flag for flag, key in required.items() if not flags[key]]
        if missing:
            raise click.UsageError(f"without a CONFIG file, give {', '.join(missing)}")
        one_set = {"name": flags["name"], "prompt": flags["prompt"], "count": flags["count"]}
        one_set.update({k: flags[k] for k in ("negative", "caption") if flags[k] is not None})
        overrides.pop("count", None)
        source = config_from_mapping({**overrides, "sets": [one_set]}, source="flags", names=_FLAG_NAMES)
        overrides = {}
    progress = _Progress()
    try:
        summary = generate(
            source,
            dataset,
            overrides=overrides,
            on_progress=progress.update,
            timeout=timeout,
            override_names=_FLAG_NAMES,
            replace_stale=replace_stale,
        )
    except KeyboardInterrupt:
        progress.close()
        click.echo(progress.interrupted_message(), err=True)
        raise click.exceptions.Exit(130) from None
    finally:
        progress.close()
    click.echo(
        f"Made {summary.made} images ({summary.skipped} already there) in {summary.elapsed:.1f} s, "
        f"{summary.per_minute:.1f}/min, into {summary.dataset}"
    )
    for line in summary.notes():
        click.echo(line)


#: the generate: key each flag sets (flag parameter name -> key)
_FLAG_KEYS = {
    "kind": "backend",
    "urls": "urls",
    "model": "model",
    "width": "width",
    "height": "height",
    "steps": "steps",
    "cfg": "cfg",
    "sampler": "sampler",
    "scheduler": "scheduler",
    "seed": "seed",
    "batch": "batch",
    "captions": "captions",
    "in_flight": "in_flight",
    "count": "count",
}
#: flags spelled otherwise than their parameter
_FLAG_SPELLING = {"urls": "url", "kind": "backend"}
#: how an error names a key the flags gave (the one set's keys are dotted)
_FLAG_NAMES = {
    **{key: "--" + _FLAG_SPELLING.get(flag, flag.replace("_", "-")) for flag, key in _FLAG_KEYS.items()},
    **{f"sets.0.{key}": f"--{key}" for key in ("name", "prompt", "negative", "caption", "count")},
}


def _shared_overrides(flags: dict[str, Any]) -> dict[str, Any]:
    overrides = {key: flags[flag] for flag, key in _FLAG_KEYS.items() if flags[flag] not in (None, ())}
    if "urls" in overrides:
        overrides["urls"] = list(overrides["urls"])
    return overrides


class _Progress:
    """A rich progress bar on a terminal, a plain line every few seconds otherwise."""

    def __init__(self) -> None:
        self.interactive = sys.stdout.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._last_line = 0.0
        self.last: Any = None

    def update(self, state: Any) -> None:
        self.last = state
        eta = "?" if state.eta_seconds is None else f"{state.eta_seconds:.0f} s"
        text = f"{state.per_minute:.1f}/min, ETA {eta}, failures {state.failures}, skipped {state.skipped}"
        if state.retried:
            text += f", rendered again {state.retried}"
        if state.retry:  # as it happens, not only in the summary
            if self._bar is not None:
                self._bar.console.print(f"note: {state.retry}", markup=False, highlight=False)
            else:
                click.echo(f"note: {state.retry}", err=self.interactive)
        if self.interactive:
            if self._bar is None:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

                self._bar = Progress(
                    TextColumn("generate"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"),
                    transient=False,
                )
                self._bar.start()
                self._task = self._bar.add_task("generate", total=state.total, info=text)
            self._bar.update(self._task, completed=state.done, total=state.total, info=text)
            return
        now = time.monotonic()
        if now - self._last_line >= 5.0 or state.done == state.total:
            self._last_line = now
            click.echo(f"{state.done}/{state.total} images, {text}")

    def interrupted_message(self) -> str:
        """What Ctrl+C leaves: the images this run saved (kept), and that a rerun continues."""
        state = self.last
        if state is None:
            return "Interrupted before any image was made; rerun the same command to start."
        made = f"{state.done} image{'' if state.done == 1 else 's'}"
        left = state.total - state.done
        return (
            f"Interrupted: {made} made in this run and kept ({left} still to make); "
            "rerun the same command to continue."
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@click.group("backends")
def backends_group() -> None:
    """Check the image servers onelazy renders through.

    \b
    Example:
        onelazy backends check http://127.0.0.1:7801 --backend swarmui
    """


@backends_group.command("check")
@click.argument("url")
@backend_option("Expected backend: swarmui or comfyui (default: detect it; --kind is the older name).")
def check_command(url: str, kind: str | None) -> None:
    """Is the server up, which models, LoRAs and samplers does it have (ComfyUI: also its
    diffusion models, text encoders and VAEs, for generate.model/text_encoders/vae).

    \b
    Example:
        onelazy backends check http://127.0.0.1:8188 --backend comfyui
    """
    from onelazy.backends import KIND_FACTS, check_backend

    report = check_backend(url, kind)
    health = report.health
    name = KIND_FACTS[health.kind].display_name
    state = (
        "ready"
        if health.ready
        else f"not ready ({health.status}{': ' + health.message if health.message else ''})"
    )
    devices = f" on {', '.join(health.devices)}" if health.devices else ""
    click.echo(f"{health.url}: {name} {health.version or ''}".rstrip() + f", {state}{devices}")
    for label, values in (
        ("models", report.models),
        ("LoRAs", report.loras),
        *report.files.items(),
        ("samplers", report.samplers.samplers),
        ("schedulers", report.samplers.schedulers),
    ):
        click.echo(f"{label} ({len(values)}): {', '.join(values) if values else '-'}")
    if not health.ready:
        from onelazy.errors import BackendError

        raise BackendError("answers but cannot render yet", url=health.url)
