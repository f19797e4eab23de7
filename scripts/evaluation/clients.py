"""The two things `evaluate` asks: a SageMaker endpoint (InvokeEndpoint) and an OpenAI-compatible
chat completions API (the hosted baseline). Each is a callable prompt -> Generation that raises
the runner's Retryable / CallFailed / Fatal, so retries and counting live in one place.

SageMaker runtime errors (botocore's sagemaker-runtime service model, InvokeEndpoint): a
container's own non-2xx answer arrives as `ModelError` (HTTP 424) with the container's status in
`OriginalStatusCode` and its body in `OriginalMessage`. The container's "too busy" statuses
(TGI 429 "Model is overloaded"; LMI's throttle status, 503 unless SERVING_THROTTLE_ERROR_HTTP_CODE
says otherwise: answers.throttle_statuses) are retried with backoff like SageMaker's own
ThrottlingException and ModelNotReadyException; every other ModelError counts as a failed call.

The baseline uses the official `openai` client (typed errors and responses, timeouts, any
OpenAI-compatible base URL) with its own retries off: the runner retries instead, so Ctrl-C
stops a wait at once and the report counts every throttled attempt. The wait honours the
server: `retry-after-ms`, `retry-after` in seconds or as an HTTP date, else the
`x-ratelimit-reset-requests` / `-tokens` duration of the limit that ran out (openai-python 3.51
reads the first two, not the third: `_base_client.py _parse_retry_after_header`).
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import time
from dataclasses import dataclass

from scripts.evaluation.answers import Generation, Route, ServingFormat, UnreadableAnswer
from scripts.evaluation.runner import CallFailed, Fatal, Retryable
from scripts.lib.aws import data_plane_client
from scripts.lib.errors import UserError
from config.pin import Framework, Pin

# SageMaker runtime errors worth another attempt (InvokeEndpoint API reference).
RETRY_CODES = {"ThrottlingException", "ModelNotReadyException", "ServiceUnavailable", "InternalFailure",
               "InternalDependencyException", "RequestTimeout"}
FATAL_CODES = {"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
               "ExpiredTokenException", "InvalidClientTokenId", "MissingAuthenticationToken"}
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
# InvokeEndpoint's ValidationError for a component at zero copies (AWS ML blog, "scale down to zero")
NO_CAPACITY = "has no capacity to process this request"


def _user_agent() -> str:
    import platform

    import boto3
    import botocore

    return (f"pinned-llama-evaluate Boto3/{boto3.__version__} Botocore/{botocore.__version__} "
            f"Python/{platform.python_version()}")


USER_AGENT = _user_agent()


class SageMakerEndpoint:
    """InvokeEndpoint on one endpoint, in the pinned container's format (`ServingFormat`).

    `serving` may be a bare `Framework` (older callers): the chat route of that framework with
    its default throttle status. A data-plane client (scripts.lib.aws): one connection per worker
    and no botocore retries, since the runner retries and counts.
    """

    def __init__(self, endpoint_name: str, region: str, serving: ServingFormat | Framework, max_new_tokens: int,
                 concurrency: int, endpoint_url: str | None = None, component: str | None = None):
        self.endpoint_name = endpoint_name
        # On an endpoint that hosts inference components, the one to ask (InvokeEndpoint's
        # InferenceComponentName): a base model, or a LoRA adapter on it.
        self.component = component
        self.serving = serving if isinstance(serving, ServingFormat) else ServingFormat.default(serving)
        if self.serving.route is Route.GENERATE and self.serving.template is None:
            raise UserError(f"{endpoint_name}: the container has no chat route, and the generate route needs the "
                            "pinned chat template; fix: load it with scripts.evaluation.chat_template.serving_for "
                            "(evaluate: --chat-template, or the weights bucket)")
        self.max_new_tokens = max_new_tokens
        # A fixed user_agent skips botocore's per-request User-Agent assembly (~0.4 ms of CPU a call,
        # which at --concurrency 32 against a fast endpoint is what bounds a single Python process).
        self.client = data_plane_client("sagemaker-runtime", region, endpoint_url, pool=concurrency,
                                        parameter_validation=False, user_agent=USER_AGENT)
        self.answered = False  # until one call succeeds, an unreachable endpoint stops the run

    @classmethod
    def for_pin(cls, endpoint_name: str, region: str, pin: Pin, max_new_tokens: int, concurrency: int = 1,
                endpoint_url: str | None = None, template=None, component: str | None = None) -> "SageMakerEndpoint":
        """The route and throttle statuses of this pin's container (`template`: needed on the generate route);
        `component`: the inference component to ask (an adapter runs in its base pin's container)."""
        return cls(endpoint_name, region, ServingFormat.of(pin, template), max_new_tokens, concurrency, endpoint_url,
                   component)

    def __call__(self, prompt: str) -> Generation:
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

        sent = self.serving.body(prompt, self.max_new_tokens)
        try:
            target = {"InferenceComponentName": self.component} if self.component else {}
            response = self.client.invoke_endpoint(EndpointName=self.endpoint_name, Body=json.dumps(sent),
                                                   ContentType="application/json", Accept="application/json", **target)
            raw = response["Body"].read()
        except ClientError as exc:
            self._raise_for(exc)
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
            return self.serving.read(raw, sent)
        except UnreadableAnswer as exc:
            raise CallFailed(f"unreadable answer: {exc}") from None

    def _raise_for(self, exc) -> None:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in FATAL_CODES or (code == "ValidationError" and "not found" in message.lower()):
            raise Fatal(f"AWS InvokeEndpoint failed: {code}: {message}") from None
        if code == "ValidationError" and NO_CAPACITY in message:
            # Scaled to zero: this request woke it (NoCapacityInvocationFailures -> step scaling), but an
            # instance and the model take minutes; retrying for seconds would only count failures.
            raise Fatal(f"{self.endpoint_name} {self.component or ''}: no copy is running (scaled to zero); the "
                        "request asked it back, which takes minutes; fix: rerun when `status` shows copies "
                        f"({message})") from None
        if code == "ModelError":
            original = exc.response.get("OriginalStatusCode")
            if original in self.serving.throttle:
                raise Retryable(f"ModelError {original} (the container is overloaded)", throttled=True) from None
            detail = str(exc.response.get("OriginalMessage") or message)
            raise CallFailed(f"ModelError: the container answered {original}: {detail}"[:300]) from None
        if code in RETRY_CODES or status == 429 or status >= 500:
            raise Retryable(code) from None
        raise CallFailed(f"{code}: {message}"[:300]) from None


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
    """chat.completions.create with the prompt as the user message, temperature 0.

    The base URL comes from OPENAI_BASE_URL (default api.openai.com/v1), the key from OPENAI_API_KEY.
    """

    def __init__(self, model: str, max_tokens: int, base_url: str | None = None, api_key: str | None = None,
                 timeout_s: float = 60.0):
        import openai

        self.model = model
        self.max_tokens = max_tokens
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if not key:
            raise UserError("OPENAI_API_KEY: not set; fix: export OPENAI_API_KEY=... (and OPENAI_BASE_URL for "
                            "another OpenAI-compatible API), or leave out --baseline")
        self.client = openai.OpenAI(api_key=key, base_url=self.base_url, max_retries=0, timeout=timeout_s)
        self.answered = False

    def __call__(self, prompt: str) -> Generation:
        import openai

        try:
            completion = self.client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": prompt}], temperature=0,
                max_tokens=self.max_tokens)
        except openai.APIStatusError as exc:
            self._raise_for(exc)
        except openai.APIConnectionError as exc:  # APITimeoutError included
            if not self.answered and not isinstance(exc, openai.APITimeoutError):
                raise Fatal(f"OPENAI_BASE_URL: cannot connect to {self.base_url} ({exc.__cause__ or exc}); fix: "
                            "check the URL and the network") from None
            raise Retryable(f"connection: {type(exc).__name__}") from None
        except openai.APIResponseValidationError as exc:
            raise CallFailed(f"the API answered with a body that does not parse: {exc}"[:300]) from None
        self.answered = True
        if not completion.choices:
            raise CallFailed("the API answered without choices")
        message = completion.choices[0].message
        usage = completion.usage
        return Generation(message.content or "", usage.completion_tokens if usage else None,
                          usage.prompt_tokens if usage else None, refusal=message.refusal)

    def _raise_for(self, exc) -> None:
        status, message = exc.status_code, exc.message
        if status in (401, 403):
            raise Fatal(f"OPENAI_API_KEY: refused by {self.base_url} (HTTP {status}: {message}); "
                        "fix: check the key and OPENAI_BASE_URL") from None
        if status == 404:
            raise Fatal(f"--baseline: {self.base_url} knows no model '{self.model}' (HTTP 404: {message}); "
                        "fix: check the model name and OPENAI_BASE_URL") from None
        if status == 429 and exc.code == "insufficient_quota":
            raise Fatal(f"OPENAI_API_KEY: out of quota ({message}); fix: check the account's billing") from None
        if status in (408, 409, 429) or status >= 500:
            raise Retryable(f"HTTP {status}", retry_after(exc.response.headers), throttled=status == 429) from None
        raise CallFailed(f"HTTP {status}: {message}"[:300]) from None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(value: str) -> float | None:
    """OpenAI's reset durations ("1s", "6m0s", "120ms", "1h2m3.5s") in seconds."""
    parts = _DURATION.findall(value.strip())
    if not parts or "".join(a + b for a, b in parts) != value.strip():
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(amount) * scale[unit] for amount, unit in parts)


def retry_after(headers, now: float | None = None) -> float | None:
    """Seconds the server asks to wait: retry-after-ms, retry-after (seconds or HTTP date), else the
    reset of the exhausted x-ratelimit limit (requests or tokens), else None (backoff)."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        if name == "retry-after":
            moment = email.utils.parsedate_tz(value)
            if moment is not None:
                return max(0.0, email.utils.mktime_tz(moment) - (time.time() if now is None else now))
    resets = []
    for limit in ("requests", "tokens"):
        reset = headers.get(f"x-ratelimit-reset-{limit}")
        seconds = parse_duration(reset) if reset else None
        if seconds is not None:
            resets.append((headers.get(f"x-ratelimit-remaining-{limit}") == "0", seconds))
    exhausted = [s for spent, s in resets if spent]
    if exhausted or resets:
        return max(exhausted or [s for _, s in resets])
    return None
