"""SIGINT and SIGTERM end a command the same way: as an exception that unwinds through what the
command must still write (promote and route: the config restore and the final history record;
evaluate: the partial report).

CI systems cancel a job with signals: GitHub Actions sends SIGINT, then SIGTERM a few
seconds later, then SIGKILL. Python's default SIGTERM ends the process on the spot, with
no record and the config left on the target; so while a promotion runs, both signals
raise `Interrupted` (naming the signal). The first one only: a second signal during the
cleanup (restoring the config takes one DescribeEndpoint and one file edit) is noted and
ignored, so the cleanup finishes and the record is written before SIGKILL can come.
`evaluate` lets a second signal through (`raising=2`): the first stops sending requests, the
second stops waiting for those in flight; then it holds the rest while the report is written.

Every other command gets `sigterm_as_ctrl_c` from the CLI's entry point: SIGTERM unwinds like
Ctrl-C, so what a command cleans up on Ctrl-C (pin-weights aborts its multipart uploads, synth
removes its staging directory, a temp file of an atomic write is removed) it also cleans up when a
CI job is cancelled, and the exit code is 130 with one line, not a silent death by signal.
"""

from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Interrupted(KeyboardInterrupt):
    def __init__(self, signal_name: str):
        super().__init__(signal_name)
        self.signal_name = signal_name


class Signals:
    """The signals received while a command runs. The first `raising` raise, and none while the
    run is `held()` (writing its final record or report, restoring its config): a run that is
    ending ends."""

    def __init__(self, raising: float = 1) -> None:
        self.received: list[str] = []
        self._raising = raising
        self._holding = 0

    def handler(self, signum, _frame) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if len(self.received) <= self._raising and not self._holding:
            raise Interrupted(name)

    @contextmanager
    def held(self) -> Iterator[None]:
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1


@contextmanager
def as_exceptions(raising: float = 1, which: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
                  ) -> Iterator[Signals]:
    """Within the block, the signals `which` go to a `Signals`; handlers are put back on exit (main
    thread only: elsewhere Python cannot set handlers, and the block runs unchanged)."""
    signals = Signals(raising)
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    previous = {sig: signal.signal(sig, signals.handler) for sig in which}
    try:
        yield signals
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """Within the block, SIGTERM raises `Interrupted("SIGTERM")` each time, as Ctrl-C raises
    KeyboardInterrupt each time. Left alone where SIGTERM already has a handler (a parent chose
    one, or it is ignored); a command's own `as_exceptions` takes over inside and puts this back."""
    if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    with as_exceptions(raising=math.inf, which=(signal.SIGTERM,)):
        yield
