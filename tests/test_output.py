"""Output users and CI read: long work shows it is alive; worker threads may advance progress."""

from __future__ import annotations

import io
import json
import threading
import time
from contextlib import redirect_stdout

from scripts.lib.output import Output, human_bytes


def test_work_of_unknown_length_prints_heartbeat_lines_when_not_a_terminal():
    """An in-process synth takes 10-25 s: CI's log must show it is working, not hang silently."""
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        with Output(json_mode=True).working("synthesizing dev", every_s=0.02, phase="deploy v2"):
            deadline = time.monotonic() + 10
            while "synthesizing dev" not in buffer.getvalue() and time.monotonic() < deadline:
                time.sleep(0.01)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert lines and lines[0]["event"] == "working" and lines[0]["phase"] == "deploy v2"
    assert lines[0]["message"].startswith("synthesizing dev (")
    count = len(lines)
    time.sleep(0.1)
    assert len(buffer.getvalue().splitlines()) == count  # no line after the work ended


def test_progress_can_be_advanced_from_many_threads_at_once():
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        with Output(json_mode=True).progress("sha256", total=8000, unit_bytes=True) as ticker:
            workers = [threading.Thread(target=lambda: [ticker.advance(1) for _ in range(1000)]) for _ in range(8)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
    assert json.loads(buffer.getvalue().splitlines()[-1])["done"] == 8000


def test_human_bytes():
    assert [human_bytes(n) for n in (512, 2048, 5 * 1024**2, 6.4e9)] == ["512 B", "2.0 KiB", "5.0 MiB", "6.0 GiB"]
