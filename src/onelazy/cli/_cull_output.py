"""What ``onelazy cull`` shows: progress while measuring, then the decisions and a summary table."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from onelazy.culling import CullReport

Progress = Callable[[str, int, int], None]


@contextmanager
def progress_printer() -> Iterator[Progress]:
    """A rich progress bar on a terminal; a line every 10 % otherwise."""
    if not sys.stdout.isatty():
        last = [-1]

        def plain(stage: str, done: int, total: int) -> None:
            if stage != "measure" or total == 0:
                return
            tenth = done * 10 // total
            if tenth != last[0]:
                last[0] = tenth
                click.echo(f"measured {done}/{total} images")

        yield plain
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("measuring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
    ) as bar:
        task = bar.add_task("measure", total=None)

        def rich_progress(stage: str, done: int, total: int) -> None:
            if stage == "measure":
                bar.update(task, completed=done, total=total)

        yield rich_progress


def print_report(report: CullReport) -> None:
    """One line per reject (what would happen, on a dry run), then kept / rejected by reason: a rich
    table on a terminal, plain ``outcome: files`` lines otherwise (logs, pipes, CI)."""
    verb = "would reject" if report.dry_run else "rejected"
    title = "dry run: nothing was moved" if report.dry_run else "cull"
    rows = [
        (name if name == "kept" else f"rejected: {name}", count) for name, count in report.counts().items()
    ]
    rows.append(("total", len(report.decisions)))
    where = (
        f"Report: {report.dataset / 'cull-report.json'}, contact sheet: {report.dataset / 'cull-report.html'}"
    )
    by_hand = (
        f"still rejected by hand in review (not measured again): {', '.join(report.by_hand)}"
        if report.by_hand
        else ""
    )
    if not sys.stdout.isatty():
        for decision in report.rejected:
            moved = f" -> {decision.moved_to}" if decision.moved_to else ""
            click.echo(f"{verb} {decision.file}{moved}: {decision.message}")
        for note in report.notes:
            click.echo(f"note: {note}")
        if by_hand:
            click.echo(by_hand)
        click.echo(f"{title}:")
        for outcome, count in rows:
            click.echo(f"  {outcome}: {count}")
        if not report.dry_run:
            click.echo(where)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for decision in report.rejected:
        moved = f" -> {decision.moved_to}" if decision.moved_to else ""
        console.print(f"{verb} {decision.file}{moved}: {decision.message}", markup=False, soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True, style="yellow")
    if by_hand:
        console.print(by_hand, markup=False, soft_wrap=True)
    table = Table(title=title)
    table.add_column("outcome")
    table.add_column("files", justify="right")
    for outcome, count in rows:
        table.add_row(outcome, str(count))
    console.print(table)
    if not report.dry_run:
        console.print(where, markup=False, soft_wrap=True)
