"""Run `python -m scripts ...` in this process and read what it printed and returned."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sys
from dataclasses import dataclass

import pytest


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error: ")]

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.out.splitlines() if line.startswith("{")]

    def result(self) -> dict:
        """The final JSON result (the last JSON line without an 'event')."""
        return [d for d in self.json_lines() if "event" not in d][-1]


def run_cli(*args: str) -> Result:
    """The CLI's own entry point (error handling and exit codes included), output captured."""
    from scripts.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["scripts", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def ctrl_c():
    """SIGINT raises KeyboardInterrupt in the main thread, as in a terminal. A shell's background job
    (`nohup make test &`, some CI runners) starts with SIGINT ignored, which Python keeps and its
    children inherit: there, the signals these tests send would do nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
