"""The two things `evaluate` asks: a SageMaker endpoint (InvokeEndpoint) and an OpenAI-compatible
chat completions API (the hosted baseline). Each is a callable prompt -> Generation that raises
the runner's Retryable / CallFailed / Fatal, so retries and counting live in one place.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass

from scripts.evaluation.answers import Generation, UnreadableAnswer, read_generation, request_body
from scripts.evaluation.runner import CallFailed, Fatal, Retryable
from scripts.lib.aws import data_plane_client
from scripts.lib.errors import UserError
from config.pin import Framework

# SageMaker runtime errors worth another attempt (InvokeEndpoint API reference).
RETRY_CODES = {"ThrottlingException", "ModelNotReadyException", "ServiceUnavailable", "InternalFailure",
               "InternalDependencyException", "RequestTimeout"}
FATAL_CODES = {"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
               "ExpiredTokenException", "InvalidClientTokenId", "MissingAuthenticationToken"}
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


def _user_agent() -> str:
    import platform

    import boto3
    import botocore

    return (f"pinned-llama-evaluate Boto3/{boto3.__version__} Botocore/{botocore.__version__} "
            f"Python/{platform.python_version()}")


USER_AGENT = _user_agent()


class SageMakerEndpoint:
    """InvokeEndpoint on one endpoint, in the pinned container's request format.

    A data-plane client (scripts.lib.aws): one connection per worker and no botocore retries,
    since the runner retries and counts.
    """

    def __init__(self, endpoint_name: str, region: str, framework: Framework, max_new_tokens: int,
                 concurrency: int, endpoint_url: str | None = None):
        self.endpoint_name = endpoint_name
        self.framework = framework
        self.max_new_tokens = max_new_tokens
        # A fixed user_agent skips botocore's per-request User-Agent assembly (~0.4 ms of CPU a call,
        # which at --concurrency 32 against a fast endpoint is what bounds a single Python process).
        self.client = data_plane_client("sagemaker-runtime", region, endpoint_url, pool=concurrency,
                                        parameter_validation=False, user_agent=USER_AGENT)
        self.answered = False  # until one call succeeds, an unreachable endpoint stops the run

    def __call__(self, prompt: str) -> Generation:
        from botocore.exceptions import (BotoCoreError, ClientError, EndpointConnectionError,
                                         NoCredentialsError)

        body = json.dumps(request_body(self.framework, prompt, self.max_new_tokens))
        try:
            response = self.client.invoke_endpoint(EndpointName=self.endpoint_name, Body=body,
                                                   ContentType="application/json", Accept="application/json")
            raw = response["Body"].read()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "?"), error.get("Message", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in FATAL_CODES or (code == "ValidationError" and "not found" in message.lower()):
                raise Fatal(f"AWS InvokeEndpoint failed: {code}: {message}") from None
            if code in RETRY_CODES or status == 429 or status >= 500:
                raise Retryable(code) from None
            raise CallFailed(f"{code}: {message}"[:300]) from None
        except NoCredentialsError:
            raise Fatal("AWS credentials: none found; fix: configure credentials (AWS_PROFILE, "
                        "aws sso login, or the AWS_* variables)") from None
        except EndpointConnectionError as exc:
            if not self.answered:
                raise Fatal(f"--endpoint-url: cannot connect to {exc.kwargs.get('endpoint_url')}; fix: check the "
                            "URL and the network, or leave --endpoint-url out for the region's endpoint") from None
            raise Retryable(type(exc).__name__) from None
        except BotoCoreError as exc:  # connection reset, timeouts: the endpoint may recover
            raise Retryable(type(exc).__name__) from None
        self.answered = True
        try:
            return read_generation(raw)
        except UnreadableAnswer as exc:
            raise CallFailed(f"unreadable answer: {exc}") from None


@dataclass(frozen=True)
class BaselineSpec:
    provider: str
    model: str

    @classmethod
    def parse(cls, value: str) -> "BaselineSpec":
        provider, _, model = value.partition(":")
        if provider != "openai" or not model.strip():
            raise UserError(f"--baseline: '{value}' is not provider:model; fix: write e.g. openai:gpt-4o-mini "
                            "(any OpenAI-compatible API, base URL from OPENAI_BASE_URL)")
        return cls(provider, model.strip())

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.model}"


class OpenAIChat:
    """POST {base}/chat/completions with the prompt as the user message, temperature 0.

    Plain urllib: one request per call, no SDK dependency; the base URL comes from
    OPENAI_BASE_URL (default api.openai.com/v1), the key from OPENAI_API_KEY.
    """

    def __init__(self, model: str, max_tokens: int, base_url: str | None = None, api_key: str | None = None,
                 timeout_s: float = 60.0):
        self.model = model
        self.max_tokens = max_tokens
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not self.api_key:
            raise UserError("OPENAI_API_KEY: not set; fix: export OPENAI_API_KEY=... (and OPENAI_BASE_URL for "
                            "another OpenAI-compatible API), or leave out --baseline")
        self.timeout_s = timeout_s
        self.answered = False

    def __call__(self, prompt: str) -> Generation:
        body = json.dumps({"model": self.model, "messages": [{"role": "user", "content": prompt}],
                           "temperature": 0, "max_tokens": self.max_tokens}).encode()
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, method="POST", headers={
            "Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            self._raise_for(exc)
        except (urllib.error.URLError, TimeoutError, ConnectionError, socket.timeout) as exc:
            reason = getattr(exc, "reason", exc)
            if not self.answered and isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
                raise Fatal(f"OPENAI_BASE_URL: cannot connect to {self.base_url} ({reason}); fix: check the URL "
                            "and the network") from None
            raise Retryable(f"connection: {reason}") from None
        except json.JSONDecodeError:
            raise CallFailed("the API answered with a body that is not JSON") from None
        self.answered = True
        try:
            content = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise CallFailed(f"no choices[0].message.content in {json.dumps(data)[:120]}") from None
        usage = data.get("usage") or {}
        return Generation(content, usage.get("completion_tokens"), usage.get("prompt_tokens"))

    def _raise_for(self, exc: urllib.error.HTTPError) -> None:
        try:
            detail = json.loads(exc.read() or b"{}").get("error") or {}
        except (json.JSONDecodeError, AttributeError, OSError):
            detail = {}
        message = detail.get("message", "") if isinstance(detail, dict) else str(detail)
        code = detail.get("code") if isinstance(detail, dict) else None
        if exc.code in (401, 403):
            raise Fatal(f"OPENAI_API_KEY: refused by {self.base_url} (HTTP {exc.code}: {message}); "
                        "fix: check the key and OPENAI_BASE_URL") from None
        if exc.code == 404:
            raise Fatal(f"--baseline: {self.base_url} knows no model '{self.model}' (HTTP 404: {message}); "
                        "fix: check the model name and OPENAI_BASE_URL") from None
        if exc.code == 429 and code == "insufficient_quota":
            raise Fatal(f"OPENAI_API_KEY: out of quota ({message}); fix: check the account's billing") from None
        if exc.code == 429 or exc.code >= 500:
            raise Retryable(f"HTTP {exc.code}", _retry_after(exc.headers)) from None
        raise CallFailed(f"HTTP {exc.code}: {message}"[:300]) from None


def _retry_after(headers) -> float | None:
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                return None
    return None
