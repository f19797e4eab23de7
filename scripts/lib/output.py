"""Human output on a terminal (rich), JSON lines otherwise or with --json.

Commands report through one `Output`: `event()` for a step, `table()` for
results, `progress()` for long work. CI reads the JSON lines.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from rich.console import Console
from rich.measure import Measurement
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)
from rich.table import Table


class Output:
    def __init__(self, json_mode: bool | None = None):
        self.json = (not sys.stdout.isatty()) if json_mode is None else json_mode
        self.console = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def event(self, event: str, message: str = "", **fields: Any) -> None:
        if self.json:
            print(json.dumps({"event": event, **fields, **({"message": message} if message else {})},
                             default=str), flush=True)
        else:
            self.console.print(message or event)

    def warn(self, message: str) -> None:
        """A problem that does not stop the command: one `warning:` line on stderr, in either mode."""
        self.err.print(f"warning: {message}", markup=False)

    def result(self, data: Any) -> None:
        """The command's final machine-readable answer (JSON mode only)."""
        if self.json:
            print(json.dumps(data, default=str, indent=None), flush=True)

    def table(self, title: str, columns: list[str], rows: list[list[Any]], key_column: bool = False) -> None:
        """Rows as JSON lines, or a table on a terminal. `key_column`: the first column names the row
        (an endpoint, a gate) and is never cut; when the table does not fit the terminal, each row is
        printed as a block (its name, then one `column: value` line per other column) instead."""
        if self.json:
            for row in rows:
                self.event("row", table=title, **dict(zip(columns, row)))
            return
        cells = [["" if v is None else str(v) for v in row] for row in rows]
        table = Table(title=title, title_justify="left", show_lines=False)
        for i, column in enumerate(columns):
            if key_column and i == 0:
                table.add_column(column, no_wrap=True, min_width=max([len(column)] + [len(r[0]) for r in cells]))
            else:
                table.add_column(column)
        for row in cells:
            table.add_row(*row)
        if key_column and Measurement.get(self.console, self.console.options.update_width(10_000), table).maximum \
                > self.console.width:
            self.console.print(title, style="bold")
            for row in cells:
                self.console.print(row[0], style="bold", markup=False)
                for column, value in zip(columns[1:], row[1:]):
                    self.console.print(f"  {column}: {value or '-'}", markup=False)
            return
        self.console.print(table)

    @contextmanager
    def working(self, description: str, event: str = "working", every_s: float = 5.0, **fields: Any) -> Iterator[None]:
        """Work of unknown length in this thread (an in-process synth): a spinner with the seconds
        on a terminal; otherwise a JSON line every `every_s` seconds, so a CI log shows it is alive."""
        started = time.monotonic()
        if not self.json:
            with self.console.status(description, spinner="dots") as status:
                stop = threading.Event()
                ticker = threading.Thread(target=_tick_status, args=(status, description, started, stop),
                                          daemon=True)
                ticker.start()
                try:
                    yield
                finally:
                    stop.set()
                    ticker.join()
            return
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every_s):
                self.event(event, f"{description} ({time.monotonic() - started:.0f} s)",
                           elapsed_s=round(time.monotonic() - started, 1), **fields)

        heart = threading.Thread(target=beat, daemon=True)
        heart.start()
        try:
            yield
        finally:
            stop.set()
            heart.join()

    @contextmanager
    def progress(self, description: str, total: float | None, unit_bytes: bool = False) -> Iterator["Ticker"]:
        if self.json:
            ticker = _JsonTicker(self, description, total)
            yield ticker
            ticker.finish()
            return
        columns = [TextColumn("{task.description}"), BarColumn()]
        columns += [DownloadColumn(), TransferSpeedColumn()] if unit_bytes else []
        columns += [TimeRemainingColumn()]
        with Progress(*columns, console=self.err, transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield _RichTicker(bar, task)


def _tick_status(status: Any, description: str, started: float, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        status.update(f"{description} ({time.monotonic() - started:.0f} s)")


class Ticker:
    """`advance` may be called from worker threads (parallel hashing and uploads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def advance(self, amount: float = 1) -> None:
        with self._lock:
            self._advance(amount)

    def _advance(self, amount: float) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class _RichTicker(Ticker):
    def __init__(self, bar: Progress, task: Any):
        super().__init__()
        self.bar, self.task = bar, task

    def _advance(self, amount: float) -> None:
        self.bar.advance(self.task, amount)


class _JsonTicker(Ticker):
    """At most one progress line per second, so CI logs stay readable."""

    def __init__(self, out: Output, description: str, total: float | None):
        super().__init__()
        self.out, self.description, self.total = out, description, total
        self.done = 0.0
        self.last = 0.0

    def _advance(self, amount: float) -> None:
        self.done += amount
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            self.out.event("progress", task=self.description, done=self.done, total=self.total)

    def finish(self) -> None:
        self.out.event("progress", task=self.description, done=self.done, total=self.total)


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"  # pragma: no cover
