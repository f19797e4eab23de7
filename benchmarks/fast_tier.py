#!/usr/bin/env python3
"""Time the fast test tier (`make check`'s pytest command) and print wall and CPU time per run.

A run is the same command `make check` runs (`pytest -m "not e2e and not slow" -n 2 --dist
loadgroup`), with bytecode caching on as the Makefile sets it. `--cold` deletes this checkout's
__pycache__ directories before each run (a fresh clone); without it, the first run is untimed
and warms them (a developer's every-change case). CPU is user + system time of pytest and
everything it started (xdist workers, jsii's Node). Each run also prints the time of a fixed
Python loop: this machine's speed drifts (other tenants of the host; the same tier took 81 s of CPU
and, an hour later, 121 s), and runs are comparable only at a similar loop time.
Usage: benchmarks/fast_tier.py [--runs N] [--cold]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "pytest", "-m", "not e2e and not slow", "-n", "2", "--dist", "loadgroup", "-q"]
OWN_DIRS = ("benchmarks", "client", "config", "localaws", "scripts", "stacks", "tests")


def drop_bytecode() -> None:
    for top in OWN_DIRS:
        for cache in (ROOT / top).rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(ROOT / "__pycache__", ignore_errors=True)


def reference_loop_s() -> float:
    """Seconds for 10M additions in a Python loop: the machine's speed at the moment."""
    start = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - start


def run_once() -> tuple[float, float, int]:
    """(wall s, CPU s, exit code) of one run of the tier."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(COMMAND, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs (default 3)")
    parser.add_argument("--cold", action="store_true", help="delete __pycache__ before each run (a fresh clone)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    print(f"fast tier, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, "
          f"{'cold (no bytecode)' if args.cold else 'warm (bytecode cached)'}")
    if not args.cold:
        run_once()
    walls, cpus = [], []
    for number in range(1, args.runs + 1):
        if args.cold:
            drop_bytecode()
        wall, cpu, code = run_once()
        if code != 0:
            print(f"run {number}: pytest exited {code}; the figures of a failing run mean nothing", file=sys.stderr)
            return 1
        walls.append(wall)
        cpus.append(cpu)
        print(f"run {number}: {wall:6.1f} s wall  {cpu:6.1f} s CPU  (reference loop {reference_loop_s():.2f} s)")
    print(f"median: {statistics.median(walls):6.1f} s wall  {statistics.median(cpus):6.1f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
