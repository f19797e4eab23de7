#!/usr/bin/env python3
"""Throughput of `evaluate` against the fake SageMaker endpoint: 50 ms per request, no capacity limit.

With K requests in flight and a latency L per request, no client can do better than K / L
requests per second (the bound); a sequential loop does 1 / L at best. The benchmark runs the
real `python -m scripts evaluate` (in-process, --json, report written to a temp directory) at
--concurrency K and reads the rate of its run from report.json, then times a sequential loop of
the same InvokeEndpoint client. The fake runs in its own process, as a real endpoint would not
share the client's CPU and GIL.

Usage: benchmarks/evaluate_throughput.py [--requests N] [--concurrency K] [--latency-ms L] [--runs R]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATASET = ROOT / "datasets" / "intents" / "dev.jsonl"
_LABELS: dict[str, str] = {}


def _answer(endpoint: str, payload: dict) -> str:
    from scripts.evaluation.answers import request_text

    text = request_text(payload).split("Message: ", 1)[1].split("\n", 1)[0]
    return _LABELS.get(text, "speak_to_agent")  # the fake LMI wraps it in a chat.completion


def _serve(latency_s: float, urls, stop) -> None:
    from localaws.runtime_endpoint import FakeRuntimeEndpoint

    for line in DATASET.read_text().splitlines():
        row = json.loads(line)
        _LABELS[row["text"]] = row["intent"]
    with FakeRuntimeEndpoint(latency_s=latency_s, answer=_answer) as fake:
        urls.put(fake.url)
        stop.wait()


def _dataset(path: Path, n: int) -> None:
    rows = DATASET.read_text().splitlines()
    path.write_text("".join(rows[i % len(rows)] + "\n" for i in range(n)))


def run_evaluate(url: str, dataset: Path, concurrency: int, out: Path) -> dict:
    from scripts.cli import main

    argv, sys.argv = sys.argv, ["scripts", "evaluate", "--env", "dev", "--endpoint", "intent-3b", "--dataset",
                                str(dataset), "--endpoint-url", url, "--concurrency", str(concurrency),
                                "--out", str(out), "--json"]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main()
    except SystemExit as exc:
        if exc.code not in (0, 1):  # 1: the example thresholds want a baseline run; the rate is what counts
            raise RuntimeError(f"evaluate exited {exc.code}") from None
    finally:
        sys.argv = argv
    return json.loads((out / "report.json").read_text())


def run_sequential(url: str, n: int) -> float:
    from scripts.evaluation.clients import SageMakerEndpoint
    from config.pin import Framework

    invoke = SageMakerEndpoint("dev-intent-3b", "us-east-1", Framework.DJL_LMI, 12, 1, url)  # the chat route
    prompt = "You route customer-support messages.\nMessage: Where is my order?\nIntent:"
    invoke(prompt)  # warm the connection, as evaluate's first request does
    start = time.perf_counter()
    for _ in range(n):
        invoke(prompt)
    return n / (time.perf_counter() - start)


def client_cpu_ms(url: str, n: int, concurrency: int) -> float:
    """CPU time of this process per request while the runner alone sends n requests (no config, no report)."""
    from scripts.evaluation.clients import SageMakerEndpoint
    from scripts.evaluation.runner import run_calls
    from config.pin import Framework

    invoke = SageMakerEndpoint("dev-intent-3b", "us-east-1", Framework.DJL_LMI, 12, concurrency, url)
    prompt = "You route customer-support messages.\nMessage: Where is my order?\nIntent:"
    run_calls([prompt] * concurrency, invoke, concurrency=concurrency)  # open the connections
    start = time.process_time()
    run_calls([prompt] * n, invoke, concurrency=concurrency)
    return (time.process_time() - start) * 1000 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--sequential-requests", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "benchmark")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark")
    os.environ["PINNED_LLAMA_ROOT"] = str(ROOT)
    latency = args.latency_ms / 1000
    bound = args.concurrency / latency
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(latency, urls, stop), daemon=True)
    server.start()
    try:
        url = urls.get(timeout=60)
        rates = []
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            dataset = Path(tmp) / "bench.jsonl"
            _dataset(dataset, args.requests)
            for i in range(args.runs):
                report = run_evaluate(url, dataset, args.concurrency, Path(tmp) / f"run{i}")
                assert report["run"]["completed"] == args.requests and report["metrics"]["errors"] == 0
                rates.append(report["run"]["requests_per_s"])
        sequential = run_sequential(url, args.sequential_requests)
        cpu = client_cpu_ms(url, 1000, args.concurrency)
    finally:
        stop.set()
        server.join(timeout=10)
    best, median = max(rates), statistics.median(rates)
    print(f"fake endpoint: {args.latency_ms:.0f} ms per request, unlimited capacity, own process; "
          f"{os.cpu_count()} CPU(s)")
    print(f"evaluate --concurrency {args.concurrency}, {args.requests} requests, {args.runs} runs: "
          f"median {median:.0f} req/s, best {best:.0f} req/s (runs: {', '.join(f'{r:.0f}' for r in rates)})")
    print(f"bound concurrency / latency = {args.concurrency} / {latency:.3f} s = {bound:.0f} req/s")
    print(f"sequential loop: {sequential:.1f} req/s (its bound 1 / latency = {1 / latency:.0f} req/s)")
    print(f"ratio to the bound: median {median / bound:.0%}, best {best / bound:.0%} (aim: at least 80%)")
    print(f"ratio to the sequential loop: median {median / sequential:.1f}x, best {best / sequential:.1f}x")
    print(f"client CPU per request in the runner (SigV4-signed boto3 InvokeEndpoint, parse): {cpu:.2f} ms, so one "
          f"Python process (one GIL) tops out near {1000 / cpu:.0f} req/s; load average {load_before:.1f} -> "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s) shared with other work")


if __name__ == "__main__":
    main()
