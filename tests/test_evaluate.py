"""`evaluate` against the fake SageMaker runtime endpoint and the fake OpenAI-compatible API.

The small dataset's metrics are computed by hand in the comments; the fakes answer by text.
"""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest
from cli_helpers import ctrl_c  # noqa: F401 - a fixture
from evaluation_helpers import REPO, env, run_cli, utterance, write_dataset  # noqa: F401

from localaws.openai_compatible import FakeOpenAI
from localaws.runtime_endpoint import FakeRuntimeEndpoint
from scripts.evaluation.answers import request_text

# text, expected intent, what the endpoint answers (None: a body without generated_text)
CASES = [
    ("where is my parcel", "check_order_status", " check_order_status"),       # 1 right
    ("has my order shipped", "check_order_status", "Check Order Status.\n"),    # 2 right (normalized)
    ("is it on its way", "check_order_status", "cancel_order"),                 # 3 wrong
    ("cancel it please", "cancel_order", "cancel_order<|eot_id|>"[:12]),         # 4 right
    ("stop my order", "cancel_order", "Intent: cancel_order"),                  # 5 right (prefix)
    ("don't send it", "cancel_order", "I'm not sure, maybe ask a human?"),      # 6 invalid
    ("money back", "refund_request", "refund_request"),                         # 7 right
    ("refund me", "refund_request", "check_order_status"),                      # 8 wrong
    ("where is my refund", "refund_request", "`refund_request`"),               # 9 right
    ("refund now", "refund_request", None),                                     # 10 error (unreadable)
    ("I want my money", "refund_request", "REFUND-REQUEST"),                    # 11 right
]
# accuracy 7/11 = 0.6364; invalid 1/11 = 0.0909; errors 1/11 = 0.0909
# check_order_status: TP 2, named 3 (1,2,8), support 3 -> P 0.6667 R 0.6667 F1 0.6667
# cancel_order:       TP 2, named 3 (3,4,5), support 3 -> P 0.6667 R 0.6667 F1 0.6667
# refund_request:     TP 3, named 3 (7,9,11), support 5 -> P 1.0 R 0.6 F1 0.75
# macro-F1 = (0.6667 + 0.6667 + 0.75) / 3 = 0.6944
ANSWERS = {text: answer for text, _, answer in CASES}
# The baseline is right except on 1 (refund_request) and 2 (invalid): accuracy 9/11 = 0.8182.
# Pairs where both calls succeeded: all but 10. Both valid: all but 2 and 6 -> 8 pairs,
# agreeing on 4, 5, 7, 9, 11 -> agreement 5/8 = 0.625; disagreements (predictions differ,
# invalid included): lines 1, 2, 3, 6, 8.
BASELINE = {text: intent for text, intent, _ in CASES} | {"where is my parcel": "refund_request",
                                                          "has my order shipped": "no idea"}


@pytest.fixture(autouse=True)
def no_baseline_rule(env):
    """The example thresholds require a baseline comparison; most tests here are about other things."""
    dev = env / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace(", max_accuracy_gap_to_baseline: 0.02}", "}"))


@pytest.fixture(autouse=True)
def fast_png(request, monkeypatch):
    """Drawing the confusion matrix takes ~0.4 s: only the first test draws (and checks) it."""
    if "hand_computed" not in request.node.name:
        monkeypatch.setattr("scripts.evaluation.report.confusion_png", lambda report, path: path.write_bytes(b""))


def lmi_answer(endpoint: str, payload: dict):
    """The model's text (the fake wraps it as the container does); None: a body the container never sends."""
    answer = ANSWERS[utterance(request_text(payload))]
    return {"oops": "no text"} if answer is None else answer


def chat_answer(model: str, messages: list[dict]) -> str:
    return BASELINE[utterance(messages[-1]["content"] + "\n")]


def evaluate(fake, dataset, out, *extra: str, endpoint: str = "intent-3b"):
    return run_cli("evaluate", "--env", "dev", "--endpoint", endpoint, "--dataset", str(dataset),
                   "--endpoint-url", fake.url, "--out", str(out), "--json", *extra)


def test_metrics_match_the_hand_computed_values_and_garbage_is_invalid_not_a_crash(env, tmp_path):
    dataset = write_dataset(tmp_path / "small.jsonl", [(t, i) for t, i, _ in CASES])
    with FakeRuntimeEndpoint(latency_s=0, answer=lmi_answer, record_bodies=True) as fake:
        result = evaluate(fake, dataset, tmp_path / "out", "--concurrency", "3")
    assert result.code == 1, result.err  # below min_accuracy 0.9: report written, exit 1
    assert result.errors[0].startswith("error: evaluate: thresholds not met: accuracy 0.6364 (needs >= 0.9)")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    m = report["metrics"]
    assert (m["examples"], m["correct"], m["accuracy"], m["macro_f1"]) == (11, 7, 0.6364, 0.6944)
    assert (m["invalid"], m["invalid_rate"], m["errors"], m["error_rate"]) == (1, 0.0909, 1, 0.0909)
    assert m["per_intent"] == {
        "check_order_status": {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "support": 3, "predicted": 3},
        "cancel_order": {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "support": 3, "predicted": 3},
        "refund_request": {"precision": 1.0, "recall": 0.6, "f1": 0.75, "support": 5, "predicted": 3}}
    by_line = {e["line"]: e for e in report["examples"]}
    assert by_line[6]["status"] == "invalid" and by_line[6]["answer"].startswith("I'm not sure")
    assert by_line[10]["status"] == "error" and "unreadable answer" in by_line[10]["error"]
    cm = report["confusion_matrix"]
    assert cm["columns"][-2:] == ["(invalid)", "(error)"]
    assert cm["matrix"][cm["labels"].index("refund_request")][-1] == 1
    assert (report["partial"], report["verdict"], report["passed"]) == (False, "fail", False)
    pin_hash = "0a1daf0279e60377bc7907c680a826a919005ebeaf9864ddef98ccda8fff04da"
    assert (report["model"], report["version"], report["manifest_sha256"]) == ("llama-3-2-3b-instruct", "v1", pin_hash)
    # chat usage: completion tokens as words in the fake (1+3+1+1+2+7+1+1+1+1 = 19 over the 10 answers)
    assert report["tokens"]["completion"] == 19 and report["tokens"]["completion_source"] == "reported"
    assert report["tokens"]["prompt_source"] == "reported" and "note" not in report["tokens"]
    assert report["tokens"]["answers"] == 10 and report["tokens"]["completion_per_call"] == 1.9
    assert report["prompt"]["route"] == "chat" and report["prompt"]["chat_template"]["applied_by"] == "container"
    assert report["latency_ms"]["count"] == 10  # the 10 successful requests
    # LMI 0.31: the chat route, greedy, max_new_tokens from the endpoint's evaluation block; the
    # container renders the pinned weights' template (system block included), not evaluate.
    body = fake.bodies[0]
    assert body["messages"][0]["role"] == "user" and len(body["messages"]) == 1
    assert body["messages"][0]["content"].startswith("You route customer-support")
    assert (body["max_tokens"], body["temperature"]) == (12, 0) and "inputs" not in body
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "**Verdict: FAIL**" in summary and "| accuracy | 63.6% (7/11) |" in summary
    png = (tmp_path / "out" / "confusion.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_baseline_agreement_and_disagreements(env, tmp_path, monkeypatch):
    dataset = write_dataset(tmp_path / "small.jsonl", [(t, i) for t, i, _ in CASES])
    with FakeRuntimeEndpoint(latency_s=0, answer=lmi_answer) as fake, \
            FakeOpenAI(answer=chat_answer, throttle_rate=0.3) as openai:
        monkeypatch.setenv("OPENAI_BASE_URL", openai.url)
        monkeypatch.setenv("OPENAI_API_KEY", openai.api_key)
        result = evaluate(fake, dataset, tmp_path / "out", "--baseline", "openai:gpt-4o-mini")
    assert result.code == 1
    base = json.loads((tmp_path / "out" / "report.json").read_text())["baseline"]
    assert base["model"] == "openai:gpt-4o-mini"
    assert (base["metrics"]["accuracy"], base["metrics"]["invalid"], base["metrics"]["errors"]) == (0.8182, 1, 0)
    assert base["agreement"] == 0.625
    assert base["agreement_counts"] == {"compared": 10, "both_valid": 8, "agree": 5, "agreement": 0.625}
    assert [d["line"] for d in base["disagreements"]] == [1, 2, 3, 6, 8]
    assert base["disagreements"][0] | {} == {**base["disagreements"][0], "endpoint": "check_order_status",
                                             "baseline": "refund_request", "right": "endpoint"}
    assert base["accuracy_difference"] == round(0.6364 - 0.8182, 4)
    assert base["run"]["throttled"] == openai.throttled > 0  # 429s were retried (retry-after-ms honoured)
    assert base["tokens"]["prompt_source"] == "reported"
    body = openai.bodies[0]
    assert body["temperature"] == 0 and body["max_tokens"] == 12 and body["model"] == "gpt-4o-mini"
    assert body["messages"][0]["content"].startswith("You route customer-support messages.")


def test_the_example_thresholds_need_a_baseline_run(env, tmp_path):
    (env / "environments" / "dev.yaml").write_text((REPO / "environments" / "dev.yaml").read_text())
    dataset = write_dataset(tmp_path / "d.jsonl", [("where is it", "check_order_status")])
    with FakeRuntimeEndpoint(latency_s=0, answer=lambda e, p: "check_order_status") as fake:
        result = evaluate(fake, dataset, tmp_path / "out")
    assert result.code == 1
    assert result.errors[0].startswith("error: evaluate: thresholds not met: accuracy_vs_baseline: no baseline in "
                                       "this run: rerun with --baseline openai:<model>")


def test_throttling_is_retried_with_backoff_until_every_example_is_answered(env, tmp_path):
    rows = [(f"where is order {n}", "check_order_status") for n in range(30)]
    dataset = write_dataset(tmp_path / "d.jsonl", rows)
    answer = lambda e, p: "check_order_status"  # noqa: E731
    with FakeRuntimeEndpoint(latency_s=0, throttle_rate=0.3, answer=answer) as fake:
        result = evaluate(fake, dataset, tmp_path / "out", "--concurrency", "4")
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["metrics"]["errors"] == 0 and report["metrics"]["accuracy"] == 1.0
    assert report["run"]["throttled"] > 0
    assert fake.requests == 30 + report["run"]["throttled"]
    assert result.result()["verdict"] == "pass"


def test_tgi_2_4_is_asked_on_its_chat_route(env, tmp_path):
    dataset = write_dataset(tmp_path / "d.jsonl", [("talk to a human", "speak_to_agent"),
                                                    ("hi, agent pls", "speak_to_agent")])
    with FakeRuntimeEndpoint(container="tgi", latency_s=0, answer=lambda e, p: "speak_to_agent",
                             record_bodies=True) as fake:
        result = evaluate(fake, dataset, tmp_path / "out", endpoint="intent-1b")  # llama-3-2-1b v1: TGI 2.4.0
    assert result.code == 0, result.err
    assert fake.bodies[0] == {"messages": fake.bodies[0]["messages"], "max_tokens": 12, "temperature": 0}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["framework"] == "huggingface-llm" and report["tokens"]["completion"] == 2


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C; a cancelled CI job
def test_interrupt_writes_a_partial_report(env, tmp_path, ctrl_c, sig):
    rows = [(f"cancel order {n}", "cancel_order") for n in range(40)]
    dataset = write_dataset(tmp_path / "d.jsonl", rows)
    served = []
    lock = threading.Lock()

    def answer(endpoint, payload):
        with lock:
            served.append(1)
            if len(served) == 4:  # a real signal to the main thread, as a terminal or a CI runner sends
                signal.pthread_kill(threading.main_thread().ident, sig)
        return "cancel_order"

    with FakeRuntimeEndpoint(latency_s=0.02, answer=answer) as fake:
        result = evaluate(fake, dataset, tmp_path / "out", "--concurrency", "2")
    assert result.code == 130, result
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["partial"] is True and report["verdict"] == "partial" and report["passed"] is False
    done = report["run"]["completed"]
    assert 4 <= done < 40, (len(served), report["run"])
    assert report["metrics"]["examples"] == done == len(report["examples"]), (report["metrics"], report["run"])
    assert fake.requests < 40
    assert "PARTIAL" in (tmp_path / "out" / "summary.md").read_text()


def test_a_second_signal_stops_waiting_for_calls_in_flight_and_the_report_is_still_written(env, tmp_path, ctrl_c):
    """GitHub Actions cancels with SIGINT, then SIGTERM 7.5 s later, then SIGKILL 2.5 s after that:
    the second signal must not wait for a call that hangs, and must not lose the report."""
    dataset = write_dataset(tmp_path / "d.jsonl", [(f"cancel order {n}", "cancel_order") for n in range(20)])
    hung = threading.Event()
    release = threading.Event()
    served = []
    lock = threading.Lock()

    def answer(endpoint, payload):
        with lock:
            served.append(1)
            count = len(served)
        if count == 3:  # this call hangs until the test ends
            hung.set()
            release.wait(30)
        return "cancel_order"

    def cancel_like_ci():
        assert hung.wait(10)
        main = threading.main_thread().ident
        signal.pthread_kill(main, signal.SIGINT)
        time.sleep(0.3)  # the runner is waiting for the hung call by then
        signal.pthread_kill(main, signal.SIGTERM)

    threading.Thread(target=cancel_like_ci, daemon=True).start()
    with FakeRuntimeEndpoint(latency_s=0.01, answer=answer) as fake:
        try:
            started = time.monotonic()
            result = evaluate(fake, dataset, tmp_path / "out", "--concurrency", "1")
            waited = time.monotonic() - started
        finally:
            release.set()
    assert result.code == 130, result
    assert waited < 20, "the second signal stopped the wait for the hung call"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdict"] == "partial" and report["run"]["completed"] == 2, report["run"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, "evaluate put the SIGTERM handler back"


def test_a_signal_as_the_baseline_run_starts_still_reports_the_endpoints_answers(env, tmp_path, monkeypatch):
    """A signal that lands outside the runner's wait (here: as the baseline's run starts) ends the
    run as interrupted; the endpoint's complete answers are in the partial report."""
    from scripts.evaluation import scoring
    from scripts.lib.interrupts import Interrupted

    real_run_target = scoring.run_target

    def run_target(plan, target, out, retry):
        if target.kind == "baseline":
            raise Interrupted("SIGTERM")
        return real_run_target(plan, target, out, retry)

    monkeypatch.setattr(scoring, "run_target", run_target)
    dataset = write_dataset(tmp_path / "small.jsonl", [(t, i) for t, i, _ in CASES])
    with FakeRuntimeEndpoint(latency_s=0, answer=lmi_answer) as fake, FakeOpenAI(answer=chat_answer) as openai:
        monkeypatch.setenv("OPENAI_BASE_URL", openai.url)
        monkeypatch.setenv("OPENAI_API_KEY", openai.api_key)
        result = evaluate(fake, dataset, tmp_path / "out", "--baseline", "openai:gpt-4o-mini")
    assert result.code == 130, result
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdict"] == "partial" and report["baseline"] is None
    assert report["run"]["completed"] == report["run"]["requested"] == len(CASES)


@pytest.mark.parametrize("line, expected", [
    ('{"text": "hi"}', "d.jsonl:2: intent: missing; fix:"),
    ('{"text": "hi", "intent": "Cancel Order"}', "d.jsonl:2: intent: 'Cancel Order' is not one of the endpoint's "
                                                 "labels; fix: write 'cancel_order'"),
    ('{"text": "hi", "intent": "cancel_order"', "d.jsonl:2: (line): invalid JSON"),
    ('["hi", "cancel_order"]', "d.jsonl:2: (line): is a JSON list, not an object"),
    ('{"text": "", "intent": "cancel_order"}', "d.jsonl:2: text: must be a non-empty string"),
    ('{"text": "hi", "intent": "cancel_order", "lang": "en"}', "d.jsonl:2: lang: unknown key"),
])
def test_a_bad_dataset_line_is_one_error_with_file_line_and_fix_and_nothing_is_sent(env, tmp_path, line, expected):
    dataset = tmp_path / "d.jsonl"
    dataset.write_text('{"text": "where is it", "intent": "check_order_status"}\n' + line + "\n"
                       + '{"text": "x", "intent": "nope"}\n')
    with FakeRuntimeEndpoint(latency_s=0) as fake:
        result = evaluate(fake, dataset, tmp_path / "out")
    assert result.code == 2
    assert len(result.errors) == 1 and expected in result.errors[0], result.err
    assert result.errors[0].endswith("(1 more bad line(s) after it)")
    assert "fix:" in result.errors[0] and "Traceback" not in result.err
    assert fake.requests == 0 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, expected", [
    (["--endpoint", "nope"], "error: --endpoint: no endpoint 'nope' in environment dev; fix: use one of: intent-1b, "
                             "intent-3b"),
    (["--version", "v9"], "error: --version: no pin model_artifacts/llama-3-2-3b-instruct/v9.yaml; fix: use one "
                          "of: v1, v2"),
    (["--rate-limit", "fast"], "error: --rate-limit: 'fast' is not a positive rate; fix: write e.g. 20/s"),
    (["--baseline", "gpt-4o-mini"], "error: --baseline: 'gpt-4o-mini' is not provider:model; fix:"),
    (["--baseline", "openai:gpt-4o-mini"], "error: OPENAI_API_KEY: not set; fix:"),
])
def test_flag_errors_are_one_line_exit_2(env, tmp_path, args, expected):
    dataset = write_dataset(tmp_path / "d.jsonl", [("where is it", "check_order_status")])
    base = ["evaluate", "--env", "dev", "--endpoint", "intent-3b", "--dataset", str(dataset),
            "--endpoint-url", "http://127.0.0.1:9", "--out", str(tmp_path / "o")]
    if args[0] == "--endpoint":
        base[base.index("intent-3b")] = args[1]
        args = []
    result = run_cli(*base, *args)
    assert result.code == 2 and result.errors[0].startswith(expected), result.err


def test_an_unreachable_endpoint_stops_at_once_without_a_report(env, tmp_path):
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dataset = write_dataset(tmp_path / "d.jsonl", [(f"q{n}", "check_order_status") for n in range(20)])
    result = run_cli("evaluate", "--env", "dev", "--endpoint", "intent-3b", "--dataset", str(dataset),
                     "--endpoint-url", f"http://127.0.0.1:{port}", "--out", str(tmp_path / "out"), "--json")
    assert result.code == 3
    assert result.errors == [f"error: --endpoint-url: cannot connect to http://127.0.0.1:{port}/endpoints/"
                             "dev-intent-3b/invocations; fix: check the URL and the network, or leave "
                             "--endpoint-url out for the region's endpoint"], result.err
    assert not (tmp_path / "out").exists()


def test_rate_limit_spaces_requests(env, tmp_path):
    dataset = write_dataset(tmp_path / "d.jsonl", [(f"q{n}", "check_order_status") for n in range(6)])
    with FakeRuntimeEndpoint(latency_s=0, answer=lambda e, p: "check_order_status") as fake:
        result = evaluate(fake, dataset, tmp_path / "out", "--concurrency", "6", "--rate-limit", "20/s")
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["run"]["elapsed_s"] >= 0.25 - 0.01  # 6 starts at 20/s: the last at 0.25 s
    assert report["run"]["rate_limit_per_s"] == 20.0


def test_runner_gives_up_after_max_attempts_and_a_fatal_error_stops_the_run():
    from scripts.evaluation.runner import Fatal, RetryPolicy, Retryable, run_calls

    def throttled(item):
        raise Retryable("ThrottlingException")

    run = run_calls([1, 2], throttled, concurrency=2, retry=RetryPolicy(max_attempts=3, base_s=0.001))
    assert [r.error for r in run.results] == ["ThrottlingException (gave up after 3 attempts)"] * 2
    assert (run.retries, run.throttled, run.interrupted) == (4, 6, False)

    def denied(item):
        raise Fatal("AWS InvokeEndpoint failed: AccessDeniedException: no")

    with pytest.raises(Fatal, match="AccessDenied"):
        run_calls(list(range(10)), denied, concurrency=3)


def test_calls_in_flight_when_ctrl_c_arrives_are_waited_for_and_counted(ctrl_c):
    """Both workers are inside a call when SIGINT reaches the main thread; both calls count once
    they return. (CPython <= 3.12 marks a thread whose join() was interrupted as stopped while it
    still runs, cpython #90882: waiting with join() lost one of the two.)"""
    from scripts.evaluation.runner import run_calls

    in_flight = threading.Semaphore(0)
    release = threading.Event()

    def slow(item):
        in_flight.release()
        assert release.wait(10)
        if item == 1:  # the first worker's call, the worker being waited for when SIGINT came
            time.sleep(0.3)
        return item

    def ctrl_c_then_release():
        in_flight.acquire(), in_flight.acquire()
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        time.sleep(0.3)  # the main thread is waiting again by then
        release.set()

    threading.Thread(target=ctrl_c_then_release, daemon=True).start()
    run = run_calls([1, 2, 3, 4], slow, concurrency=2)
    assert run.interrupted and run.done == 2
    assert sorted(r.value for r in run.results if r is not None) == [1, 2]


@pytest.mark.parametrize("answer, label", [
    ("cancel_order", "cancel_order"), ("  Cancel order.\nBecause the user...", "cancel_order"),
    ("**Intent:** refund-request", "refund_request"), ("The intent is: speak_to_agent", "speak_to_agent"),
    ("'payment_issue'", "payment_issue"), ("not cancel_order", None), ("cancel_order or refund_request", None),
    ("", None), ("\n\n", None), ("Order status", None),
])
def test_answers_are_normalized_then_must_be_a_label(answer, label):
    from scripts.evaluation.answers import parse_label

    labels = ["cancel_order", "refund_request", "speak_to_agent", "payment_issue", "check_order_status"]
    assert parse_label(answer, labels) == label


def test_percentiles_interpolate_between_closest_ranks():
    from scripts.evaluation.metrics import latency_summary

    assert latency_summary([50, 10, 40, 20, 30]) == {"count": 5, "p50": 30.0, "p95": 48.0, "p99": 49.6,
                                                     "mean": 30.0, "max": 50}


@pytest.mark.parametrize("old, new, field, problem", [
    ("        Message: {text}\n", "        Message: {utterance}\n", "prompt_template",
     "prompt_template has unknown placeholder(s) {utterance}; fix: use only {text} and {labels}"),
    ("        Allowed intents: {labels}\n", "        Allowed intents: all\n", "prompt_template",
     "prompt_template lacks {labels}; fix:"),
    ("[check_order_status, cancel_order,", "[check_order_status, Cancel Order,", "labels",
     "label 'Cancel Order' is not lower snake case; fix: write it as 'cancel_order'"),
    ("[check_order_status, cancel_order,", "[check_order_status, check_order_status,", "labels",
     "labels listed twice: check_order_status; fix: list each label once"),
    ("min_accuracy: 0.9,", "min_accuracy: 1.5,", "thresholds.min_accuracy", "less than or equal to 1"),
])
def test_the_evaluation_block_is_validated_with_file_line_and_fix(env, old, new, field, problem):
    from config.errors import SpecErrors
    from config.project import load_project

    path = env / "environments" / "staging.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecErrors) as raised:
        load_project(env)
    errors = [str(e) for e in raised.value.errors]
    assert len(errors) == 1, errors
    assert errors[0].startswith("environments/staging.yaml:") and problem in errors[0], errors
    assert f": endpoints.intent-3b.evaluation.{field}: " in errors[0]
