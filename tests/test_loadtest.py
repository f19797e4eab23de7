"""`loadtest` against the fake runtime endpoint: the knee it finds is the endpoint's capacity, in requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cli_helpers import run_cli
from conftest import ROOT

from localaws.runtime_endpoint import FakeRuntimeEndpoint
from scripts.costing.loadtest import Step, find_knee, knee_estimate, percentile, ramp, recommend, saturated_step


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def loadtest(*args: str) -> subprocess.CompletedProcess:
    """The real entry point in its own process (so client threads do not share a GIL with the fake server)."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    return subprocess.run([sys.executable, "-m", "scripts", "loadtest", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=env)


def loadtest_here(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The same entry point in this process (for runs whose timing does not matter)."""
    result = run_cli("loadtest", *args)
    return result.code, result.out, result.err


def lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def step(c: int, rps: float, mean_ms: float, p95_ms: float) -> Step:
    ok = round(rps * 10)
    return Step(c, ok, ok, {}, 10.0, mean_ms, p95_ms, p95_ms, mean_ms)


@pytest.mark.slow  # full tier: the command in a subprocess against a loopback fake
def test_finds_the_knee_at_the_endpoints_capacity_and_recommends_a_target():
    # 4 slots of 20 ms: at most 4 / 0.020 = 200 requests/s; more than 4 in flight only queue.
    with FakeRuntimeEndpoint(latency_s=0.02, capacity=4, record_bodies=True) as fake:
        result = loadtest("--env", "dev", "--endpoint", "intent-3b", "--max-concurrency", "16", "--duration", "0.6",
                          "--endpoint-url", fake.url, "--json")
    assert result.returncode == 0, result.stderr
    events = lines(result.stdout)
    summary = events[-1]
    steps = summary["steps"]
    assert [s["concurrency"] for s in steps] == [1, 2, 4, 8, 16]
    assert summary["knee"] is not None, steps
    assert summary["knee"]["concurrency"] == 4, steps  # requests in flight, not a time
    assert summary["knee"]["saturated_at"] in (8, 16)
    # throughput stops at the 200/s ceiling while latency queues behind the 4 slots
    assert steps[-1]["throughput_rps"] <= 4 / 0.020 * 1.05 and steps[-1]["p95_ms"] > 2 * steps[0]["p95_ms"]
    assert fake.max_in_service == 4
    # dev intent-3b scales on concurrent requests: knee 4 per instance x safety 0.7 = 2.8
    assert summary["recommendation"]["metric"] == "concurrent-requests"
    assert summary["recommendation"]["target"] == 2.8
    assert [e["event"] for e in events[:-1]] == ["start", "step", "step", "step", "step", "step", "knee",
                                                 "recommendation"]
    # each step is bounded by --duration (plus the requests still in flight)
    assert all(s["seconds"] < 0.6 + 0.5 for s in steps)
    # what evaluate sends: the evaluation prompt over the smoke_test texts, on LMI's chat route
    first = fake.bodies[0]
    assert first == {"messages": first["messages"], "max_tokens": 12, "temperature": 0}
    assert first["messages"][0]["content"].startswith("You route customer-support messages.")
    assert "Message: Where is my order 4411? It was due on Monday.\nIntent:" in first["messages"][0]["content"]
    assert len({b["messages"][0]["content"] for b in fake.bodies}) == 3  # the three smoke texts in turn


def test_each_step_stops_at_max_requests(monkeypatch, capsys):
    with FakeRuntimeEndpoint(latency_s=0.001) as fake:
        code, out, err = loadtest_here(monkeypatch, capsys, "--env", "dev", "--endpoint", "intent-1b",
                                       "--max-concurrency", "4", "--duration", "30", "--max-requests", "12",
                                       "--max-new-tokens", "3", "--prompt", "hi", "--endpoint-url", fake.url, "--json")
    assert code == 0, err
    summary = lines(out)[-1]
    assert [(s["concurrency"], s["requests"], s["ok"]) for s in summary["steps"]] == [(1, 12, 12), (2, 12, 12),
                                                                                      (4, 12, 12)]
    assert fake.requests == 36 + 1  # + the untimed warm-up request
    assert all(s["seconds"] < 5 for s in summary["steps"])


def test_an_endpoint_that_only_fails_is_an_aws_error_on_one_line(monkeypatch, capsys):
    with FakeRuntimeEndpoint(latency_s=0, throttle_rate=1.0) as fake:
        code, out, err = loadtest_here(monkeypatch, capsys, "--env", "dev", "--endpoint", "intent-3b",
                                       "--max-concurrency", "2", "--duration", "0.3", "--max-requests", "5",
                                       "--endpoint-url", fake.url, "--json")
    assert code == 3 and out == ""
    assert err.startswith("error: dev-intent-3b: the warm-up request failed: AWS InvokeEndpoint failed: "
                          "ThrottlingException: Rate exceeded; fix: "), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_steps_that_start_failing_stop_the_ramp():
    calls = {"n": 0}

    def flaky() -> None:
        calls["n"] += 1
        if calls["n"] > 20:
            raise RuntimeError("boom")

    from scripts.costing.loadtest import run_step

    first = run_step(flaky, 1, duration=5, max_requests=20, error_code=lambda e: type(e).__name__)
    broken = run_step(flaky, 2, duration=5, max_requests=10, error_code=lambda e: type(e).__name__)
    assert (first.ok, first.errors) == (20, {}) and (broken.ok, broken.errors) == (0, {"RuntimeError": 10})
    assert find_knee([first, broken]) is None


@pytest.mark.parametrize("args, message", [
    (["--env", "dev", "--endpoint", "intent-3b", "--max-concurrency", "0"],
     "error: --max-concurrency: 0 is out of range; fix: "),
    (["--env", "dev", "--endpoint", "intent-3b", "--safety-factor", "1.5"],
     "error: --safety-factor: 1.5 is out of range; fix: "),
    (["--env", "dev", "--endpoint", "intent-3b", "--duration", "0"], "error: --duration: 0 is out of range; fix: "),
    (["--env", "dev", "--endpoint", "nope"], "error: --endpoint: 'nope' is not an endpoint of dev; fix: "),
    (["--env", "dev"], "error: --endpoint: missing; fix: "),
    (["--env", "dev", "--endpoint", "intent-3b", "--endpoint-url", "localhost:1"],
     "error: --endpoint-url: 'localhost:1' is not an http(s) URL; fix: "),
])
def test_bad_flags_exit_2_with_one_line(monkeypatch, capsys, args, message):
    from scripts.cli import main

    monkeypatch.setattr(sys, "argv", ["scripts", "loadtest", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.startswith(message) and err.count("\n") == 1, err


# -- the knee rule on fixed numbers (no timing) --------------------------------------------------


def test_ramp_doubles_up_to_the_maximum():
    assert ramp(16) == [1, 2, 4, 8, 16] and ramp(6) == [1, 2, 4, 6] and ramp(1) == [1]


def test_percentile_is_nearest_rank():
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile(list(range(1, 101)), 95) == 95
    assert percentile([7.0], 99) == 7.0


def test_knee_ignores_throughput_creeping_past_saturation_through_client_overhead():
    # measured shape of a 4-slot, 20 ms server behind ~5-9 ms of client time: 4 -> 8 still gains 42%,
    # 8 -> 16 gains nothing while p95 doubles. N* = 192.8 req/s x 24.3 ms = 4.7 -> largest step up to it: 4.
    steps = [step(1, 41.1, 24.3, 27.8), step(2, 76.3, 26.2, 30.0), step(4, 134.4, 29.3, 37.5),
             step(8, 192.8, 40.6, 42.8), step(16, 189.8, 78.8, 86.4)]
    assert saturated_step(steps).concurrency == 16
    assert knee_estimate(steps) == pytest.approx(4.685, abs=1e-3)
    assert find_knee(steps).concurrency == 4
    # a busy CPU: the client's time grows to ~60% of the service time -> N* = 6.3, still step 4
    busy = [step(1, 31.7, 31.5, 36.0), step(2, 60.0, 33.0, 40.0), step(4, 105.0, 38.0, 48.0),
            step(8, 200.0, 40.0, 47.0), step(16, 200.0, 80.0, 95.0)]
    assert knee_estimate(busy) == pytest.approx(6.3) and find_knee(busy).concurrency == 4


def test_no_knee_while_throughput_keeps_growing():
    steps = [step(1, 10, 100, 110), step(2, 20, 100, 110), step(4, 40, 100, 112), step(8, 75, 105, 120)]
    assert find_knee(steps) is None


def test_a_batching_server_knees_where_latency_starts_to_queue():
    # vLLM-like: throughput grows sublinearly, saturating near 32; N* = 45.7 x 0.2 s = 9.1 -> step 8 (not 16)
    steps = [step(1, 5, 200, 220), step(2, 9.5, 210, 230), step(4, 17, 230, 260), step(8, 28.5, 280, 320),
             step(16, 40, 400, 460), step(32, 45.7, 700, 800), step(64, 45.7, 1400, 1600)]
    assert saturated_step(steps).concurrency == 32
    assert find_knee(steps).concurrency == 8


def test_recommendation_arithmetic():
    # knee 8 concurrent at 30 req/s over 2 instances, safety 0.7:
    # concurrent-requests: 8 / 2 x 0.7 = 2.8; invocations per instance per minute: 30 / 2 x 60 x 0.7 = 630
    advice = recommend(step(8, 30, 250, 300), instances=2, safety_factor=0.7, metric="invocations-per-instance")
    assert (advice.concurrent_requests_target, advice.invocations_per_instance_target) == (2.8, 630.0)
    assert advice.target == 630.0


def test_the_dataset_texts_are_sent_in_turn_in_the_pinned_format(monkeypatch, capsys, tmp_path):
    dataset = tmp_path / "d.jsonl"
    dataset.write_text('{"text": "where is it", "intent": "check_order_status"}\n'
                       '{"text": "cancel it", "intent": "cancel_order"}\n')
    with FakeRuntimeEndpoint(container="tgi", latency_s=0.001, record_bodies=True) as fake:
        code, out, err = loadtest_here(monkeypatch, capsys, "--env", "dev", "--endpoint", "intent-1b",
                                       "--max-concurrency", "1", "--duration", "5", "--max-requests", "4",
                                       "--dataset", str(dataset), "--endpoint-url", fake.url, "--json")
    assert code == 0, err
    texts = [b["messages"][0]["content"].rsplit("Message: ", 1)[1].rstrip() for b in fake.bodies]
    assert texts == ["where is it\nIntent:", "cancel it\nIntent:"] * 2 + ["where is it\nIntent:"]  # + warm-up
    assert all(b["max_tokens"] == 12 for b in fake.bodies)
