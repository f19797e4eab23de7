"""`shadow-report` on generated SageMaker data capture files in moto S3."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from evaluation_helpers import env, run_cli  # noqa: F401

pytestmark = pytest.mark.slow  # full tier (make test): moto S3 in-process: data capture files

ENDPOINT = "dev-intent-3b"
BUCKET = "llama-capture-dev-111111111111-us-east-1"
SINCE = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
LABELS = ["check_order_status", "cancel_order", "refund_request", "speak_to_agent"]


def request(text: str, chat: bool = False) -> str:
    prompt = f"You route...\n\nMessage: {text}\nIntent:"
    if chat:  # what an application moving off a chat-completions API sends (LMI and TGI >= 2.4)
        return json.dumps({"messages": [{"role": "user", "content": prompt}], "max_tokens": 12, "temperature": 0})
    return json.dumps({"inputs": f"<|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|>",
                       "parameters": {"max_new_tokens": 12}})


def chat_completion(answer: str) -> dict:
    """LMI's _json_chat_output_formatter shape (djl-serving output_formatter.py)."""
    return {"id": "chatcmpl-140", "object": "chat.completion", "created": 1740830400,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "logprobs": None,
                         "finish_reason": "eos_token"}],
            "usage": {"prompt_tokens": 96, "completion_tokens": 4, "total_tokens": 100}}


def line(text: str, answer: str, *, at: datetime, event_id: str, inference_id: str | None = None,
         base64_encoded: bool = False, tgi: bool = False, chat: bool = False) -> str:
    response = json.dumps(chat_completion(answer) if chat else
                          [{"generated_text": answer}] if tgi else {"generated_text": answer})
    if base64_encoded:
        part = lambda data, mode: {"observedContentType": "application/json", "mode": mode,  # noqa: E731
                                   "data": base64.b64encode(data.encode()).decode(), "encoding": "BASE64"}
    else:
        part = lambda data, mode: {"observedContentType": "application/json", "mode": mode,  # noqa: E731
                                   "data": data, "encoding": "JSON"}
    meta = {"eventId": event_id, "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    if inference_id:
        meta["inferenceId"] = inference_id
    return json.dumps({"captureData": {"endpointInput": part(request(text, chat), "INPUT"),
                                       "endpointOutput": part(response, "OUTPUT")},
                       "eventMetadata": meta, "eventVersion": "0"})


def generate() -> dict[str, list[str]]:
    """20 requests both variants answered, 1 only production captured, 1 only the shadow.

    Pairing: requests 0-5 by inferenceId, 6-13 by eventId (the shadow's copy has the same one),
    14-19 by identical input (different event ids). The shadow disagrees on 3, 8 and 15 and
    answers garbage on 17: both valid 19, agree 16, agreement 16/19 = 0.8421. Every fourth
    request (1, 5, 9, ...) uses the chat route: messages in, chat.completion out.
    """
    files: dict[str, list[str]] = {"primary": [], "shadow": []}
    for n in range(20):
        text = f"question {n}"
        right = LABELS[n % 4]
        shadow_answer = {3: LABELS[(3 + 1) % 4], 8: "refund_request", 15: "cancel_order",
                         17: "Sorry, I can't help with that."}.get(n, right)
        at = SINCE + timedelta(minutes=5 + n)
        inference = f"inf-{n}" if n < 6 else None
        event = f"evt-{n}"
        chat = n % 4 == 1
        files["primary"].append(line(text, right, at=at, event_id=event, inference_id=inference,
                                     base64_encoded=n % 2 == 0, chat=chat))
        files["shadow"].append(line(text, shadow_answer, at=at + timedelta(milliseconds=30),
                                    event_id=event if n < 14 else f"shadow-evt-{n}", inference_id=inference,
                                    base64_encoded=n % 3 == 0, tgi=n % 5 == 0 and not chat, chat=chat))
    files["primary"].append(line("only production", "cancel_order", at=SINCE + timedelta(minutes=40), event_id="p1"))
    files["shadow"].append(line("only shadow", "cancel_order", at=SINCE + timedelta(minutes=41), event_id="s1"))
    return files


@pytest.fixture
def capture(env):
    from moto import mock_aws

    with mock_aws():
        from scripts.lib.aws import client

        s3 = client("s3", "us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        files = generate()
        for variant, lines in files.items():
            base = f"{ENDPOINT}/{ENDPOINT}/{variant}"
            # Split over two hourly files, as SageMaker writes them; plus an older file and noise.
            s3.put_object(Bucket=BUCKET, Key=f"{base}/2025/03/01/12/a.jsonl", Body="\n".join(lines[:10]) + "\n")
            s3.put_object(Bucket=BUCKET, Key=f"{base}/2025/03/01/12/b.jsonl",
                          Body="\n".join(lines[10:]) + "\nnot json\n")
            s3.put_object(Bucket=BUCKET, Key=f"{base}/2025/02/28/23/old.jsonl",
                          Body=line("old", "speak_to_agent", at=SINCE - timedelta(hours=13), event_id=f"old-{variant}"))
        cloudwatch = client("cloudwatch", "us-east-1")
        now = datetime.now(timezone.utc) - timedelta(seconds=5)
        for variant, values in (("primary", [180_000, 220_000]), ("shadow", [400_000])):
            cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[
                {"MetricName": "ModelLatency", "Value": v, "Unit": "Microseconds", "Timestamp": now,
                 "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": variant}]}
                for v in values])
        yield s3


@pytest.mark.parametrize("since", ["2025-03-01T12:00:00Z", "2025-03-01T13:00:00+01:00",
                                   "2025-03-01T07:00:00-05:00"])
def test_agreement_between_production_and_shadow_answers(capture, since):
    # The same instant in three offsets: capture folders are UTC hours, none may be skipped.
    result = run_cli("shadow-report", "--env", "dev", "--endpoint", "intent-3b", "--since", since, "--json")
    assert result.code == 0, result.err
    r = result.result()
    assert r["records"] == {"primary": 21, "shadow": 21}  # the older file is left out
    assert r["unparsable_lines"] == {"primary": 1, "shadow": 1}
    assert r["matched"] == 20
    assert r["matched_by"] == {"inference_id": 6, "event_id": 8, "identical_input": 6}
    assert (r["production_only"], r["shadow_only"]) == (1, 1)
    assert (r["both_valid"], r["agree"], r["disagree"], r["agreement"]) == (19, 16, 3, 0.8421)
    assert r["invalid"] == {"production": 0, "shadow": 1}
    assert r["unreadable"] == {"production": 0, "shadow": 0}  # chat-format pairs are read, not left out
    assert r["since"] == "2025-03-01T12:00:00+00:00"
    assert r["compared_as"] == "labels"
    assert [d["input"] for d in r["disagreements"]] == ["question 3", "question 8", "question 15", "question 17"]
    assert r["disagreements"][3]["shadow"].startswith('(invalid) "Sorry')
    assert r["latency_ms"]["primary"]["average_ms"] == 200.0 and r["latency_ms"]["shadow"]["max_ms"] == 400.0
    assert r["versions"] == {"primary": "v1", "shadow": None}  # dev has no shadow_version configured now


def test_without_since_the_last_day_is_read_and_nothing_pairs(capture):
    result = run_cli("shadow-report", "--env", "dev", "--endpoint", "intent-3b", "--json")
    assert result.code == 1
    assert result.errors[0].startswith("error: shadow-report: no production record has a shadow copy since ")


def test_input_errors_are_one_line(env):
    from moto import mock_aws

    with mock_aws():
        result = run_cli("shadow-report", "--env", "dev", "--endpoint", "intent-3b", "--since", "yesterday")
        assert result.code == 2 and result.errors[0].startswith("error: --since: 'yesterday' is not an ISO 8601 time")
        result = run_cli("shadow-report", "--env", "dev", "--endpoint", "intent-3b", "--since", "2025-03-01")
        assert result.code == 2 and result.errors == [
            f"error: --bucket: no bucket {BUCKET}; fix: deploy llama-dev-artifacts, or give --bucket"]


def test_the_terminal_table_shows_unreadable_answers_and_malformed_lines(capture, capsys, monkeypatch):
    from scripts.commands.shadow_report import _print
    from scripts.lib.output import Output

    result = run_cli("shadow-report", "--env", "dev", "--endpoint", "intent-3b", "--since", "2025-03-01T12:00:00Z",
                     "--json")
    report = result.result() | {"unreadable": {"production": 2, "shadow": 0}}
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    _print(Output(json_mode=False), report)
    table = capsys.readouterr().out
    assert "unreadable answers production / shadow (left out)" in table and "2 / 0" in table
    assert "malformed capture lines production / shadow (skipped)" in table and "1 / 1" in table
