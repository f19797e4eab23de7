"""Helpers of the promotion fault matrix: `promote` as a separate process that a test can kill or
signal at a named point, and what a CI pipeline reads afterwards (exit code, config, history)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab_helpers import children
from localaws.lab import REPO, Lab


@dataclass
class Spawned:
    """`python -m scripts promote|rollback ... --json` running on its own; stdout read line by line."""

    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue = field(default_factory=queue.Queue)
    _readers: list[threading.Thread] = field(default_factory=list)
    _err: list[str] = field(default_factory=list)

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def wait_event(self, name: str, timeout: float = 120) -> dict:
        """Block until the command prints the JSON event `name`."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((e for e in self.events() if e.get("event") == name), None)
            if found is not None:
                return found
            assert self.proc.poll() is None or not self._queue.empty(), \
                f"exited {self.proc.returncode} before {name!r}: {self.lines[-3:]} {self.err[-800:]}"
            assert time.monotonic() < deadline, f"no {name!r} event: {self.lines[-3:]}"
            try:
                self.lines.append(self._queue.get(timeout=0.2))
            except queue.Empty:
                pass

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    @property
    def err(self) -> str:
        return "".join(self._err)

    def finish(self, timeout: float = 180) -> tuple[int, str]:
        """(exit code, stderr) once it ended; every stdout line read."""
        self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(30)
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return self.proc.returncode, self.err

    def last_json(self) -> dict:
        return json.loads([line for line in self.lines if line.startswith("{")][-1])


def spawn(lab: Lab, command: str, *args: str, root: Path | None = None, env: dict | None = None) -> Spawned:
    environ = {**lab.environ(), **(env or {})}
    if root is not None:
        environ["PINNED_LLAMA_ROOT"] = str(root)
    proc = subprocess.Popen([sys.executable, "-m", "scripts", command, *args, "--poll", "0.2", "--json"], cwd=REPO,
                            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    spawned = Spawned(proc)

    def read() -> None:
        for line in proc.stdout:
            spawned._queue.put(line.rstrip("\n"))

    def read_err() -> None:
        for line in proc.stderr:
            spawned._err.append(line)

    spawned._readers = [threading.Thread(target=read, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for reader in spawned._readers:
        reader.start()
    return spawned


def kill_hard(spawned: Spawned) -> None:
    spawned.send(signal.SIGKILL)
    spawned.proc.wait(30)


def wait_for(condition, timeout: float = 90, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def cdk_processes() -> list[int]:
    """Every CDK CLI (node ... cdk deploy) on the machine started from this checkout's node_modules."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "cdk deploy" in cmdline and str(REPO) in cmdline and "tether" not in cmdline:
                found.append(int(proc.name))
    return found


def workdirs_of(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"promote-{pid}-*"))


def records_of(lab_root: Path, key: str) -> list[dict]:
    from scripts.promotion import history

    return [r for r in history.read(lab_root) if r["endpoint"] == key]


def finals(records: list[dict]) -> dict[str, dict]:
    """run_id -> its final record; asserts there is exactly one per run."""
    out: dict[str, dict] = {}
    for r in records:
        if r["outcome"] != "started":
            assert r["run_id"] not in out, f"two final records for run {r['run_id']}"
            out[r["run_id"]] = r
    started = {r["run_id"] for r in records if r["outcome"] == "started"}
    assert started <= set(out), f"runs without a final record: {started - set(out)}"
    return out


def child_clis(pid: int) -> list[int]:
    return children(pid, "cdk")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
