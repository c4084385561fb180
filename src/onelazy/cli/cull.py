"""``onelazy cull`` and ``onelazy review``: throw out the bad images, then look through the rest."""

from __future__ import annotations

from typing import Any

import click

# Stated here (not imported) so ``--help`` loads no image libraries; a test keeps them equal to the library's.
_DEFAULT_NEAR_DISTANCE = 10
_DEFAULT_BLUR_RATIO = 0.33
_DEFAULT_FLAT_RATIO = 0.1
_DEFAULT_MIN_SIDE = 512
_CHECKS = ("too-small", "aspect", "flat", "blurry", "duplicate", "near-duplicate")


def _parse_aspect(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[float, float] | None:
    if value is None:
        return None
    low, sep, high = value.partition(":")
    try:
        if not sep:
            raise ValueError
        parsed = (float(low), float(high))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not MIN:MAX, e.g. 0.5:2") from None
    if not 0 < parsed[0] <= parsed[1]:
        raise click.BadParameter(f"{value!r}: need 0 < MIN <= MAX")
    return parsed


@click.command()
@click.argument("dataset", type=click.Path(file_okay=True, dir_okay=True, path_type=str))
@click.option("--dry-run", is_flag=True, help="Only print what would be rejected; change nothing on disk.")
@click.option("--undo", is_flag=True, help="Put back every file cull or review moved to .rejected/.")
@click.option(
    "--min-size",
    "min_side",
    type=click.IntRange(min=1),
    default=_DEFAULT_MIN_SIDE,
    show_default=True,
    help="Reject images whose shorter side is under this many pixels (the training resolution).",
)
@click.option(
    "--aspect",
    callback=_parse_aspect,
    metavar="MIN:MAX",
    help="Reject images whose width/height is outside MIN:MAX (off unless given), e.g. 0.5:2.",
)
@click.option(
    "--near-distance",
    type=click.IntRange(0, 64),
    default=_DEFAULT_NEAR_DISTANCE,
    show_default=True,
    help="Near-duplicate: pHash distance (bits of 64) at or under this. 10 is measured: copies "
    "re-encoded, resized, cropped by up to 5 % or brightness-shifted came within 10 of their original "
    "(crops are the farthest), unrelated images stayed at 14 or more; above 12 unrelated images match.",
)
@click.option(
    "--blur-ratio",
    type=click.FloatRange(min=0),
    default=_DEFAULT_BLUR_RATIO,
    show_default=True,
    help="Blurry: sharpness under this fraction of the dataset's median.",
)
@click.option(
    "--blur-threshold",
    type=click.FloatRange(min=0),
    help="Blurry: an absolute sharpness (99.9th percentile of |Laplacian|, 256 px) instead of --blur-ratio.",
)
@click.option(
    "--flat-ratio",
    type=click.FloatRange(min=0),
    default=_DEFAULT_FLAT_RATIO,
    show_default=True,
    help="Flat: grey standard deviation under this fraction of the dataset's median.",
)
@click.option(
    "--flat-threshold",
    type=click.FloatRange(min=0),
    help="Flat: an absolute grey standard deviation instead of --flat-ratio.",
)
@click.option(
    "--skip",
    multiple=True,
    type=click.Choice(_CHECKS),
    help="Switch a check off (repeatable). Unreadable files are always rejected.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Processes to decode with [default: all cores].")
def cull(dataset: str, dry_run: bool, undo: bool, **options: Any) -> None:
    """Reject broken, too small, flat, blurry and duplicated images; nothing is deleted.

    Rejects move to DATASET/.rejected/<reason>/ with their captions; every decision goes to
    DATASET/cull-report.json, a contact sheet to DATASET/cull-report.html, and manifest.jsonl
    entries get a "rejected" key. --undo puts everything back. Run again (after changing a
    threshold), cull measures its own earlier rejects again and puts back what now passes;
    rejects made by hand in review stay rejected.

    \b
    Example:
        onelazy cull ./dataset --dry-run
        onelazy cull ./dataset --min-size 1024
        onelazy cull ./dataset --undo
    """
    from onelazy.cli._cull_output import print_report, progress_printer
    from onelazy.culling import cull as run_cull
    from onelazy.culling import undo_cull

    if undo:
        restored = undo_cull(dataset)
        click.echo(f"Put back {len(restored)} file(s).")
        return
    from onelazy.errors import EverythingRejected

    try:
        with progress_printer() as progress:
            report = run_cull(dataset, dry_run=dry_run, progress=progress, **options)
    except EverythingRejected as exc:  # the decisions first, then the one line of why it failed
        print_report(exc.report)  # type: ignore[arg-type]
        raise
    print_report(report)


@click.command()
@click.argument("dataset", type=click.Path(path_type=str))
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port on 127.0.0.1 [default: a free one]."
)
@click.option("--no-browser", is_flag=True, help="Do not open a browser; just print the address.")
def review(dataset: str, port: int, no_browser: bool) -> None:
    """Go through the images in a browser and reject by hand (Ctrl+C stops).

    Keys: left/right arrow move, Del or X reject, U undo, G grid of thumbnails. A reject moves the
    file to DATASET/.rejected/manual/ and into cull-report.json at once.

    \b
    Example:
        onelazy review ./dataset
    """
    from onelazy.review import review as run_review

    run_review(dataset, port=port, open_browser=not no_browser, announce=lambda line: click.echo(line))
    click.echo("Stopped.")
