"""`shadow-report --source client`: the application client's API-versus-Llama records, reported like
Llama-versus-Llama data capture. The records are the client's own EMF lines (pinned_llama_client
Metrics), from a file and from CloudWatch Logs (moto)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from evaluation_helpers import env, run_cli  # noqa: F401
from pinned_llama_client import CallbackSink, Metrics
from pinned_llama_client.metrics import ShadowRecord

GROUP = "/llama/dev/intent-3b/client"


def client_lines(pairs: list[tuple[str, str | None]]) -> list[str]:
    """The EMF lines the client writes for these (API answer, Llama answer) comparisons."""
    lines: list[str] = []
    metrics = Metrics(CallbackSink(lines.extend))
    metrics.request("dev-intent-3b", "shadow", "api", 10.0, False, None)  # a request line, not a record
    for i, (api, llama) in enumerate(pairs):
        metrics.shadow("dev-intent-3b", ShadowRecord(
            f"r{i}", api.strip(), None if llama is None else llama.strip(), api, llama, "v2", 40.0 + i,
            None if llama is not None else "timeout"))
    metrics.shadow("dev-intent-1b", ShadowRecord("other", "a", "a", "a", "a", "v1", 1.0))  # another endpoint
    metrics.close()
    return lines


PAIRS = [("cancel_order", "cancel_order"), ("refund_request", "refund_request"), ("payment_issue", "cancel_order"),
         ("cancel_order", "Sure, I can cancel it"), ("cancel_order", None)]


def test_agreement_from_a_file_of_client_records(env, tmp_path):
    path = tmp_path / "stdout.jsonl"
    path.write_text("\n".join(client_lines(PAIRS)) + "\nnot json\n")
    result = run_cli("shadow-report", "--env", "dev", "--endpoint", "intent-3b", "--source", "client",
                     "--records", str(path), "--since", "2020-01-01T00:00:00Z", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out.splitlines()[-1])
    assert (report["matched"], report["both_valid"], report["agree"], report["disagree"]) == (5, 3, 2, 1)
    assert report["invalid"] == {"production": 0, "shadow": 1} and report["unreadable"] == {"production": 0,
                                                                                             "shadow": 1}
    assert report["versions"] == {"primary": "api", "shadow": "v2"}
    assert report["llama_failures"] == {"timeout": 1} and report["unparsable_lines"]["primary"] == 1
    assert report["disagreements"][0]["production"] == "payment_issue"
    assert report["disagreements"][0]["shadow"] == "cancel_order"


def test_agreement_from_the_endpoints_log_group(env):
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="app-1")
        import time
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName=GROUP, logStreamName="app-1",
                            logEvents=[{"timestamp": now, "message": m} for m in client_lines(PAIRS)])
        result = run_cli("shadow-report", "--env", "dev", "--endpoint", "intent-3b", "--source", "client", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out.splitlines()[-1])
    assert (report["matched"], report["agree"], report["log_group"]) == (5, 2, GROUP)


def test_no_records_is_a_failed_check(env, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    result = run_cli("shadow-report", "--env", "dev", "--endpoint", "intent-3b", "--source", "client",
                     "--records", str(path))
    assert result.code == 1 and "no shadow record of the client" in result.err


@pytest.mark.parametrize("flag", [["--log-group", GROUP], ["--records", __file__]])
def test_client_options_need_the_client_source(env, flag):
    result = run_cli("shadow-report", "--env", "dev", "--endpoint", "intent-3b", *flag)
    assert result.code == 2 and "--source client" in result.err
