#!/usr/bin/env python3
"""Time the project's SHA-256 hashing (pin-weights) against coreutils `sha256sum` on the same files.

Generates --files files of --size-mb MiB each (default 8 x 256 MiB, about 2 GiB)
in a temporary directory, reads them once so every contender starts from a
warm page cache, then times (best of --runs):
  - scripts.pinning.hashing.hash_files, one thread per core (what pin-weights does),
    the same with S3 part digests (pin-weights on files above the part size) and
    with a single thread;
  - `sha256sum f1 ... fN` (one process, sequential);
  - `xargs -P<cores> -n1 sha256sum` (one process per file, <cores> at a time).
Every contender's digests are checked against the others. The directory is removed afterwards.
Usage: benchmarks/hash_throughput.py [--size-mb 256] [--files 8] [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.pinning.hashing import MIB, hash_files  # noqa: E402
from scripts.pinning.s3_objects import DEFAULT_PART_SIZE, part_size_for  # noqa: E402


def generate(directory: Path, files: int, size_mb: int) -> list[Path]:
    block = bytearray(os.urandom(16 * MIB))
    paths = []
    for index in range(files):
        path = directory / f"model-{index + 1:05d}-of-{files:05d}.safetensors"
        with open(path, "wb") as handle:
            remaining = size_mb * MIB
            chunk = 0
            while remaining:
                block[:16] = f"{index:08d}{chunk:08d}".encode()  # every chunk of every file differs
                data = memoryview(block)[:min(len(block), remaining)]
                handle.write(data)
                remaining -= len(data)
                chunk += 1
        paths.append(path)
    return paths


def warm(paths: list[Path]) -> None:
    for path in paths:
        with open(path, "rb", buffering=0) as handle:
            while handle.read(8 * MIB):
                pass


def sha256sum_output(text: str, directory: Path) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        digest, name = line.split(maxsplit=1)
        found[str(directory / Path(name.lstrip("*")).name)] = digest
    return found


def best_of(runs: int, work: Callable[[], dict[str, str]]) -> tuple[float, dict[str, str]]:
    times, result = [], {}
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256, help="size of each file in MiB (default 256)")
    parser.add_argument("--files", type=int, default=8, help="number of files (default 8)")
    parser.add_argument("--runs", type=int, default=2, help="runs per contender, the best counts (default 2)")
    parser.add_argument("--dir", type=Path, default=None, help="where to create the files (default: a temp dir)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    if not shutil.which("sha256sum"):
        sys.exit("sha256sum (coreutils) is required")

    directory = Path(tempfile.mkdtemp(prefix="hash-bench-", dir=args.dir))
    try:
        start = time.perf_counter()
        paths = generate(directory, args.files, args.size_mb)
        total_mib = args.files * args.size_mb
        print(f"generated {args.files} x {args.size_mb} MiB = {total_mib / 1024:.2f} GiB in "
              f"{time.perf_counter() - start:.1f} s; {cores} cores; warm page cache; best of {args.runs}")
        warm(paths)
        names = [str(p) for p in paths]

        def project(workers: int, parts: bool) -> Callable[[], dict[str, str]]:
            split = (lambda size: part_size_for(size, DEFAULT_PART_SIZE)) if parts else None
            return lambda: {p: d.sha256 for p, d in hash_files(paths, workers=workers, part_size_for=split).items()}

        def sha256sum() -> dict[str, str]:
            out = subprocess.run(["sha256sum", *names], check=True, capture_output=True, text=True).stdout
            return sha256sum_output(out, directory)

        def xargs() -> dict[str, str]:
            out = subprocess.run(["xargs", "-0", f"-P{cores}", "-n1", "sha256sum"], input="\0".join(names),
                                 check=True, capture_output=True, text=True).stdout
            return sha256sum_output(out, directory)

        contenders = [
            ("sha256sum, sequential", sha256sum),
            (f"xargs -P{cores} -n1 sha256sum", xargs),
            ("project, 1 thread", project(1, False)),
            (f"project, {cores} threads (pin-weights)", project(cores, False)),
            (f"project, {cores} threads + 64 MiB part digests", project(cores, True)),
        ]
        results = []
        for name, work in contenders:
            seconds, digests = best_of(args.runs, work)
            results.append((name, seconds, digests))
        reference = results[0][2]
        for name, _, digests in results:
            assert digests == reference, f"{name} disagrees with sha256sum"
        base = results[0][1]
        print(f"{'method':<44}{'seconds':>9}{'MiB/s':>9}{'vs sha256sum':>14}")
        for name, seconds, _ in results:
            print(f"{name:<44}{seconds:>9.2f}{total_mib / seconds:>9.0f}{base / seconds:>13.2f}x")
        project_parallel = results[3][1]
        print(f"ratio project ({cores} threads) / sha256sum sequential: {base / project_parallel:.2f}x faster; "
              f"vs xargs -P{cores}: {results[1][1] / project_parallel:.2f}x")
        print("all digests agree")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
