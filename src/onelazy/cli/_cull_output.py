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
    """One line per reject (what would happen, on a dry run), then kept / rejected by reason."""
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    for decision in report.rejected:
        where = f" -> {decision.moved_to}" if decision.moved_to else ""
        verb = "would reject" if report.dry_run else "rejected"
        console.print(f"{verb} {decision.file}{where}: {decision.message}", markup=False, soft_wrap=True)
    table = Table(title="dry run: nothing was moved" if report.dry_run else "cull")
    table.add_column("outcome")
    table.add_column("files", justify="right")
    for name, count in report.counts().items():
        table.add_row(name if name == "kept" else f"rejected: {name}", str(count))
    table.add_row("total", str(len(report.decisions)))
    console.print(table)
    if not report.dry_run:
        console.print(
            f"Report: {report.dataset / 'cull-report.json'}, contact sheet: "
            f"{report.dataset / 'cull-report.html'}",
            markup=False,
            soft_wrap=True,
        )
