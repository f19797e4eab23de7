"""Contract tests: recorded real-shape bodies (tests/contracts/, each naming its source) are read as
the real services mean them, and the loopback fakes answer in the same shapes."""

from __future__ import annotations

import email.utils
import json
import math
import time
import urllib.error
import urllib.request

import pytest
from contract_helpers import Replay, contract, shape

from localaws.openai_compatible import FakeOpenAI
from localaws.runtime_endpoint import FakeRuntimeEndpoint
from scripts.evaluation.answers import ServingFormat, read_generation
from scripts.evaluation.clients import OpenAIChat, SageMakerEndpoint, retry_after
from scripts.evaluation.runner import CallFailed, Retryable
from config.pin import Framework

FRAMEWORK = {"lmi": Framework.DJL_LMI, "tgi": Framework.HUGGINGFACE_LLM}


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def post(url: str, body: dict) -> tuple[int, dict, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer test-key"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


@pytest.mark.parametrize("name", ["lmi_generate", "lmi_tgi_compat", "lmi_chat", "tgi_generate", "tgi_chat"])
def test_container_answers_are_read_and_the_fake_answers_in_the_same_shape(name):
    c = contract(name)
    prompt = c["request"].get("inputs")
    generation = read_generation(json.dumps(c["body"]).encode(), prompt)
    expect = c["expect"]
    assert (generation.text, generation.completion_tokens, generation.prompt_tokens) == \
        (expect["text"], expect["completion_tokens"], expect["prompt_tokens"])
    assert generation.echoed_prompt is expect.get("echoed_prompt", False)
    text = expect["text"].strip()
    with FakeRuntimeEndpoint(container=c["container"], version=c["version"], tgi_compat=c.get("tgi_compat", False),
                             latency_s=0, answer=lambda e, p: text) as fake:
        status, headers, body = post(f"{fake.url}/endpoints/dev-intent-3b/invocations", c["request"])
    assert status == 200 and headers["X-Amzn-Invoked-Production-Variant"] == "primary"
    assert shape(body) == shape(c["body"])


def test_tgi_echoes_the_prompt_unless_told_not_to_and_tgi_before_2_4_refuses_messages():
    request = contract("tgi_generate")["request"]
    with FakeRuntimeEndpoint(container="tgi", version="2.3.1", latency_s=0, answer=lambda e, p: "cancel_order") as fake:
        url = f"{fake.url}/endpoints/e/invocations"
        assert post(url, request)[2][0]["generated_text"] == request["inputs"] + "cancel_order"
        told = {**request, "parameters": {**request["parameters"], "return_full_text": False}}
        assert post(url, told)[2][0]["generated_text"] == "cancel_order"
        status, headers, body = post(url, contract("tgi_chat")["request"])
    assert (status, headers["x-amzn-ErrorType"], body["OriginalStatusCode"]) == (424, "ModelError", 422)
    assert "missing field `inputs`" in body["OriginalMessage"]


FAULTS = {"sagemaker_model_error_tgi_overloaded": ("tgi", {"overload_rate": 1.0}),
          "sagemaker_model_error_lmi_throttle": ("lmi", {"overload_rate": 1.0}),
          "sagemaker_model_error_generation": ("tgi", {"error_rate": 1.0}),
          "sagemaker_throttling": ("lmi", {"throttle_rate": 1.0}),
          "sagemaker_model_not_ready": ("lmi", {"not_ready_rate": 1.0})}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_sagemaker_errors_are_retried_or_counted_as_the_service_means_them(name):
    c = contract(name)
    container, fault = FAULTS[name]
    with Replay(responses=[(c["status"], c["headers"], c["body"])]) as replay:
        call = SageMakerEndpoint("dev-intent-3b", "us-east-1", ServingFormat.default(FRAMEWORK[container]), 12, 1,
                                 replay.base_url)
        expected = Retryable if c["expect"]["outcome"] == "retry" else CallFailed
        with pytest.raises(expected) as raised:
            call("where is my parcel")
    if expected is Retryable:
        assert raised.value.throttled is c["expect"]["throttled"]
    else:
        assert "the container answered 424" in str(raised.value)
    with FakeRuntimeEndpoint(container=container, latency_s=0, **fault) as fake:
        status, headers, body = post(f"{fake.url}/endpoints/dev-intent-3b/invocations", {"inputs": "x"})
    assert (status, headers["x-amzn-ErrorType"]) == (c["status"], c["headers"]["x-amzn-ErrorType"])
    assert shape(body) == shape(c["body"])
    if "OriginalStatusCode" in body:
        assert body["OriginalStatusCode"] == c["body"]["OriginalStatusCode"]
        assert shape(json.loads(body["OriginalMessage"])) == shape(json.loads(c["body"]["OriginalMessage"]))


def test_lmi_throttle_status_follows_the_pins_serving_setting():
    from scripts.evaluation.answers import throttle_statuses

    assert throttle_statuses(Framework.DJL_LMI, {}) == {503}
    assert throttle_statuses(Framework.DJL_LMI, {"SERVING_THROTTLE_ERROR_HTTP_CODE": "429"}) == {429}
    assert throttle_statuses(Framework.HUGGINGFACE_LLM, {}) == {429}


def test_data_capture_json_base64_malformed_and_shadow_variant():
    from moto import mock_aws

    from scripts.evaluation import capture as cap
    from scripts.lib.aws import client

    c = contract("data_capture")
    with mock_aws():
        s3 = client("s3", "us-east-1")
        s3.create_bucket(Bucket="capture")
        for key, lines in c["files"].items():
            s3.put_object(Bucket="capture", Key=key, Body="\n".join(lines) + "\n")
        since = cap.parse_time("2025-03-01T12:00:00Z")
        read = {v: cap.read_variant(s3, "capture", "dev-intent-3b/", "dev-intent-3b", v, since)
                for v in ("primary", "shadow")}
    for variant in ("primary", "shadow"):
        records, _, malformed = read[variant]
        assert (len(records), malformed) == (c["expect"][variant]["records"], c["expect"][variant]["malformed"])
        assert all(r.answer_text() for r in records)  # JSON and BASE64, chat and generate: all readable
    result = cap.compare(read["primary"][0], read["shadow"][0], ["check_order_status", "cancel_order",
                                                                  "refund_request"], 5)
    assert (result["matched"], result["agree"]) == (c["expect"]["matched"], c["expect"]["agree"])
    assert result["matched_by"]["inference_id"] == 1 and result["unreadable"] == {"production": 0, "shadow": 0}
    assert result["disagreements"][0]["input"] == "where is my parcel"


def test_openai_429_retry_after_in_seconds_then_a_refusal_is_kept():
    throttled, refusal = contract("openai_429_retry_after_seconds"), contract("openai_refusal")
    with Replay(responses=[(throttled["status"], throttled["headers"], throttled["body"]),
                           (refusal["status"], refusal["headers"], refusal["body"])]) as replay:
        call = OpenAIChat("gpt-4o-mini", 12, base_url=f"{replay.base_url}/v1", api_key="k")
        with pytest.raises(Retryable) as raised:
            call("where is my parcel")
        generation = call("where is my parcel")
    assert raised.value.throttled and raised.value.retry_after == throttled["expect"]["retry_after"]
    expect = refusal["expect"]
    assert (generation.text, generation.refusal, generation.prompt_tokens, generation.completion_tokens) == \
        (expect["text"], expect["refusal"], expect["prompt_tokens"], expect["completion_tokens"])
    assert replay.requests[0]["messages"] == [{"role": "user", "content": "where is my parcel"}]


def test_openai_429_retry_after_as_an_http_date_and_rate_limit_resets():
    c = contract("openai_429_retry_after_date")
    # An HTTP-date is whole seconds: a whole second about 2 s ahead, and the wait the client reads
    # from it bounded by the clock before and after the call (a slow machine cannot move the bounds).
    moment = math.ceil(time.time()) + c["expect"]["retry_after_about"]
    headers = {**c["headers"], "retry-after": email.utils.formatdate(moment, usegmt=True)}
    with Replay(responses=[(c["status"], headers, c["body"])]) as replay:
        before = time.time()
        with pytest.raises(Retryable) as raised:
            OpenAIChat("gpt-4o-mini", 12, base_url=f"{replay.base_url}/v1", api_key="k")("hi")
        after = time.time()
    assert moment - after <= raised.value.retry_after <= moment - before
    reset_only = contract("openai_429_ratelimit_reset_only")
    assert retry_after(reset_only["headers"]) == reset_only["expect"]["retry_after"]
    assert retry_after({"retry-after": "Sat, 01 Mar 2025 12:00:30 GMT"},
                       now=email.utils.mktime_tz(email.utils.parsedate_tz("Sat, 01 Mar 2025 12:00:00 GMT"))) == 30


@pytest.mark.parametrize("form, header", [("ms", "retry-after-ms"), ("seconds", "retry-after"), ("date", "retry-after"),
                                          ("none", "x-ratelimit-reset-requests")])
def test_the_fake_openai_throttles_with_each_retry_after_form(form, header):
    c = contract("openai_429_retry_after_seconds")
    sent = time.time()
    with FakeOpenAI(throttle_rate=1.0, retry_after=form, retry_after_ms=1500) as fake:
        status, headers, body = post(f"{fake.url}/chat/completions", {"model": "gpt-4o-mini", "messages": []})
    elapsed = time.time() - sent
    assert status == 429 and header in headers and shape(body) == shape(c["body"])
    # Measured from the moment the request was sent, so a slow machine cannot move the figure: the
    # date form is whole seconds, rounded up, hence at least the 1.5 s asked and under a second more.
    waited = retry_after({k.lower(): v for k, v in headers.items()}, now=sent)
    low, high = {"ms": (1.5, 1.5), "seconds": (2.0, 2.0), "date": (1.5, 2.5 + elapsed), "none": (1.5, 1.5)}[form]
    assert low <= waited <= high


def test_the_fake_openai_refuses_in_the_recorded_shape():
    from localaws.openai_compatible import Refusal

    c = contract("openai_refusal")
    with FakeOpenAI(answer=lambda model, messages: Refusal("I'm sorry, I can't assist with that request.")) as fake:
        status, headers, body = post(f"{fake.url}/chat/completions", {"model": "gpt-4o-mini",
                                                                       "messages": [{"role": "user", "content": "x"}]})
    assert status == 200 and "x-ratelimit-remaining-requests" in {k.lower() for k in headers}
    assert shape(body) == shape(c["body"])
    assert body["choices"][0]["message"]["content"] is None and body["choices"][0]["message"]["refusal"]
