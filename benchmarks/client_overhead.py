#!/usr/bin/env python3
"""What the application client adds: its latency on top of a direct SageMaker runtime call, and the
time from an endpoint outage to an open circuit.

1. Added latency: N sequential calls on the loopback fake runtime (localaws/runtime_endpoint.py, a
   fake LMI answering at once, so the figures are the client's own work: settings from the cache,
   routing draw, the llama pool hand-off and deadline wait, the chat body, the label check, EMF
   aggregation) against the same number of direct `invoke_endpoint` + read calls with a boto3 client
   configured alike. Mode llama, every answer valid; p50 / p99 of each and of the difference.
2. Outage to open circuit: the fake starts failing (ModelError 500 on every call, or no answer at all
   past the deadline); the time from the first failing call to the breaker opening, with
   --threads application threads calling back to back (failure_threshold 5, the default).

Usage: benchmarks/client_overhead.py [--calls 2000] [--threads 1,8] [--timeout-ms 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _name, _value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
    os.environ.setdefault(_name, _value)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def classifier(runtime_url: str, api_url: str, timeout_ms: int, breaker=None, on_change=None):
    import openai

    from pinned_llama_client import CallbackSink, CircuitBreaker, Classifier, Metrics, StaticSettings
    from pinned_llama_client.settings import Mode, Routing, Serving, Settings

    settings = Settings(Routing(Mode.LLAMA, timeout_ms=timeout_ms),
                        Serving("bench", "m", "v1", labels=("cancel_order", "refund_request"), max_new_tokens=12))
    return Classifier(StaticSettings(settings), openai.OpenAI(api_key="test-key", base_url=api_url, max_retries=0),
                      metrics=Metrics(CallbackSink(lambda lines: None)),
                      breaker=breaker or CircuitBreaker(on_change=on_change), region="us-east-1",
                      endpoint_url=runtime_url)


def added_latency(calls: int, timeout_ms: int) -> dict:
    import boto3
    from botocore.config import Config

    from localaws.openai_compatible import FakeOpenAI
    from localaws.runtime_endpoint import FakeRuntimeEndpoint

    body = json.dumps({"messages": [{"role": "user", "content": "Please cancel my order"}], "max_tokens": 12,
                       "temperature": 0})
    with FakeRuntimeEndpoint(latency_s=0.0, answer=lambda e, r: "cancel_order") as runtime, \
            FakeOpenAI(answer=lambda m, msgs: "refund_request") as api:
        direct = boto3.session.Session().client(
            "sagemaker-runtime", region_name="us-east-1", endpoint_url=runtime.url,
            config=Config(read_timeout=timeout_ms / 1000, retries={"total_max_attempts": 1, "mode": "standard"}))
        client = classifier(runtime.url, api.url, timeout_ms)
        for _ in range(50):  # warm both: connections, the client per timeout
            direct.invoke_endpoint(EndpointName="bench", Body=body, ContentType="application/json")["Body"].read()
            client.classify("Please cancel my order")
        raw, wrapped = [], []
        for _ in range(calls):  # interleaved, so both see the same machine
            t = time.perf_counter()
            direct.invoke_endpoint(EndpointName="bench", Body=body, ContentType="application/json",
                                   Accept="application/json")["Body"].read()
            raw.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            answer = client.classify("Please cancel my order")
            wrapped.append((time.perf_counter() - t) * 1000)
            assert answer.served_by == "llama"
        client.close()
    return {"direct_p50_ms": percentile(raw, 0.5), "direct_p99_ms": percentile(raw, 0.99),
            "client_p50_ms": percentile(wrapped, 0.5), "client_p99_ms": percentile(wrapped, 0.99),
            "added_p50_ms": percentile(wrapped, 0.5) - percentile(raw, 0.5),
            "added_p99_ms": percentile(wrapped, 0.99) - percentile(raw, 0.99)}


def outage_to_open(threads: int, fault: str, timeout_ms: int, runs: int = 5) -> float:
    from localaws.openai_compatible import FakeOpenAI
    from localaws.runtime_endpoint import FakeRuntimeEndpoint
    from pinned_llama_client.breaker import OPEN

    times = []
    for _ in range(runs):
        with FakeRuntimeEndpoint(latency_s=0.0, answer=lambda e, r: "cancel_order") as runtime, \
                FakeOpenAI(answer=lambda m, msgs: "refund_request") as api:
            opened = threading.Event()
            client = classifier(runtime.url, api.url, timeout_ms,
                                on_change=lambda old, new: opened.set() if new == OPEN else None)
            client.classify("warm up")
            stop = threading.Event()

            def traffic() -> None:
                while not stop.is_set():
                    client.classify("Please cancel my order")

            if fault == "error":
                runtime.error_rate = 1.0
            else:
                runtime.latency_s = timeout_ms / 1000 * 3
            started = time.perf_counter()
            workers = [threading.Thread(target=traffic) for _ in range(threads)]
            for w in workers:
                w.start()
            opened.wait(60)
            times.append((time.perf_counter() - started) * 1000)
            stop.set()
            for w in workers:
                w.join()
            runtime.latency_s = 0.0
            client.close()
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--threads", default="1,8")
    parser.add_argument("--timeout-ms", type=int, default=2000)
    parser.add_argument("--outage-timeout-ms", type=int, default=200, help="the deadline in the no-answer outage")
    args = parser.parse_args()
    figures = added_latency(args.calls, args.timeout_ms)
    print(f"added latency over {args.calls} calls (mode llama, loopback fake LMI answering at once):")
    print(f"  direct InvokeEndpoint  p50 {figures['direct_p50_ms']:.2f} ms  p99 {figures['direct_p99_ms']:.2f} ms")
    print(f"  client.classify        p50 {figures['client_p50_ms']:.2f} ms  p99 {figures['client_p99_ms']:.2f} ms")
    print(f"  added by the client    p50 {figures['added_p50_ms']:.2f} ms  p99 {figures['added_p99_ms']:.2f} ms")
    print("outage to open circuit (failure_threshold 5, median of 5 runs):")
    for threads in (int(t) for t in args.threads.split(",")):
        error = outage_to_open(threads, "error", args.timeout_ms)
        hang = outage_to_open(threads, "hang", args.outage_timeout_ms)
        print(f"  {threads} thread(s): ModelError 500 on every call {error:.1f} ms; no answer "
              f"(deadline {args.outage_timeout_ms} ms) {hang:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
