"""The fake runtime endpoint behaves as the evaluation and load tests assume (its formats: test_contracts.py)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config

from localaws.runtime_endpoint import FakeRuntimeEndpoint


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def client(fake):
    return boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=fake.url,
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=16))


def test_answers_invoke_endpoint_through_boto3():
    with FakeRuntimeEndpoint(latency_s=0, answer=lambda ep, p: f"{ep}:{p['inputs']}") as fake:
        response = client(fake).invoke_endpoint(EndpointName="dev-intent-3b", Body=json.dumps({"inputs": "hi"}),
                                                ContentType="application/json")
        assert json.loads(response["Body"].read()) == {"generated_text": "dev-intent-3b:hi"}
        assert response["InvokedProductionVariant"] == "primary"


def test_never_serves_more_requests_at_once_than_its_capacity():
    body = json.dumps({"inputs": "x"})
    with FakeRuntimeEndpoint(latency_s=0.02, capacity=2) as fake:
        c = client(fake)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: c.invoke_endpoint(EndpointName="e", Body=body, ContentType="application/json"),
                          range(16)))
        assert fake.requests == 16 and fake.max_in_service == 2


@pytest.mark.parametrize("kwargs, error, original", [({"throttle_rate": 1.0}, "ThrottlingException", None),
                                                     ({"not_ready_rate": 1.0}, "ModelNotReadyException", None),
                                                     ({"overload_rate": 1.0}, "ModelError", 503),
                                                     ({"overload_rate": 1.0, "container": "tgi"}, "ModelError", 429),
                                                     ({"error_rate": 1.0}, "ModelError", 500)])
def test_injects_faults_as_sagemaker_reports_them(kwargs, error, original):
    with FakeRuntimeEndpoint(latency_s=0, **kwargs) as fake:
        with pytest.raises(Exception) as raised:
            client(fake).invoke_endpoint(EndpointName="e", Body=b'{"inputs": "x"}', ContentType="application/json")
        assert raised.value.response["Error"]["Code"] == error
        assert raised.value.response.get("OriginalStatusCode") == original
