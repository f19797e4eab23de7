"""A fake SageMaker runtime endpoint: InvokeEndpoint over loopback HTTP, in front of a fake LMI or TGI.

boto3's `sagemaker-runtime` client talks to it with `endpoint_url=fake.url`. `answer(endpoint,
request)` is the model: it returns the text the model generates (the fake wraps it the way the
container does), or a dict/list sent as the body unchanged (a broken container).

What it answers, and where that comes from:

- LMI (`container="lmi"`, djl-serving 0.31 `djl_python/output_formatter.py`): a body with
  `messages` gets `_json_chat_output_formatter`'s `chat.completion` (finish_reason `eos_token` or
  `length` from `rolling_batch_vllm_utils.FINISH_REASON_MAPPER`, `usage`); a body with `inputs`
  gets `_json_output_formatter`'s `{"generated_text", "details"}` (details only with
  `details: true`: finish_reason, generated_tokens, inputs, tokens; `prefill` with
  `decoder_input_details`), wrapped in a list with `tgi_compat` (OPTION_TGI_COMPAT), the prompt in
  front only with `return_full_text: true`. Queue full: `throttle_status` (503 by default,
  `ConfigManager.getThrottleErrorHttpCode`) with `{"code", "type": "WlmCapacityException",
  "message"}` (`NettyUtils.sendError`, `WorkLoadManager`).
- TGI (`container="tgi"`, router `src/server.rs`, `src/sagemaker.rs`, `src/lib.rs`): `/invocations`
  takes `inputs` (compat_generate: a one-element list; `return_full_text` defaults to true because
  weights from /opt/ml/model have no Hub pipeline_tag, so the prompt comes back in front unless
  the request says false) and, from 2.4.0, `messages` (ChatCompletion: `id` "", `object`
  `chat.completion`, `system_fingerprint`, `usage`); before 2.4.0 a `messages` body is refused
  with 422 (no `inputs`). `temperature` 0 on `inputs` is a 422 validation error. Overloaded: 429
  `{"error": "Model is overloaded", "error_type": "overloaded"}`; a failed generation 424.
- SageMaker around both (botocore's sagemaker-runtime model, InvokeEndpoint): a container's
  non-2xx becomes `ModelError` (424) with `OriginalStatusCode`, `OriginalMessage`,
  `LogStreamArn` and SageMaker's "Received client/server error (N) from primary with message"
  text; its own throttling is `ThrottlingException` (400, Common Errors) and
  `ModelNotReadyException` (429). Success carries `X-Amzn-Invoked-Production-Variant`.

- Inference components (`components`: component name -> the adapter its container registered, None for
  a base): SageMaker requires InvokeEndpoint's InferenceComponentName (header
  X-Amzn-SageMaker-Inference-Component) on such an endpoint, refuses an unknown one, and at zero
  copies answers "Inference Component has no capacity ..." (ValidationError 400, AWS ML blog on
  scaling down to zero); the container gets the adapter as X-Amzn-SageMaker-Adapter-Identifier
  (djl-serving 0.31 `input_parser.py`), so the model here (`answer`) is called with
  "<endpoint>/<component>" as its endpoint.

Faults are drawn per request: `throttle_rate` (SageMaker throttles), `not_ready_rate`,
`overload_rate` (the container's queue is full), `error_rate` (the generation fails), and
`no_capacity` (an endpoint scaled to zero: localaws/invoke_faults.py).
Latency: each request holds one of `capacity` slots for `latency_s`, so throughput saturates
at capacity / latency like a fixed batch. Token counts are whitespace words (a real container
counts with the model's tokenizer).

Not modelled: SigV4 (ignored), streaming, async inference, payload limits, the 60 s timeout,
per-variant routing (one variant, `primary`), chat templates (the model sees the messages).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from localaws.invoke_faults import NO_CAPACITY_MESSAGE, model_error_body
from localaws.loopback import LoopbackServer, reply_json
from scripts.evaluation.answers import request_text

Answer = Callable[[str, dict], "str | dict | list"]
ACCOUNT = "111111111111"
COMPONENT_HEADER = "X-Amzn-SageMaker-Inference-Component"
REGION = "us-east-1"


def echo_answer(endpoint: str, request: dict) -> str:
    return request_text(request)[-64:]


def _words(text: str) -> int:
    return len(text.split())


class ContainerError(Exception):
    """A container's non-2xx answer, as its body's bytes: TGI's axum JSON is compact, djl-serving's
    Gson is pretty-printed (the indented bodies quoted in SageMaker's ModelError messages)."""

    def __init__(self, status: int, body: dict | str, pretty: bool = False):
        super().__init__(status)
        self.status = status
        self.text = body if isinstance(body, str) else json.dumps(body, indent=2 if pretty else None,
                                                                  separators=None if pretty else (",", ":"))


@dataclass
class FakeRuntimeEndpoint(LoopbackServer):
    thread_name = "fake-runtime"

    container: str = "lmi"  # "lmi" | "tgi"
    version: str | None = None  # default: LMI 0.31.0, TGI 2.4.0 (the example pins)
    tgi_compat: bool = False  # LMI's OPTION_TGI_COMPAT
    throttle_status: int = 503  # LMI's SERVING_THROTTLE_ERROR_HTTP_CODE
    latency_s: float = 0.05
    capacity: int = 1_000_000  # concurrent requests served without queueing
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    overload_rate: float = 0.0
    not_ready_rate: float = 0.0
    no_capacity: bool = False  # inference components scaled to zero: every call is refused (invoke_faults.py)
    answer: Answer = echo_answer
    seed: int = 7
    requests: int = 0
    bodies: list[dict] = field(default_factory=list)
    record_bodies: bool = False
    in_service: int = 0
    max_in_service: int = 0  # highest number of requests served at once (capacity check)
    components: dict[str, str | None] = field(default_factory=dict)  # an endpoint for inference components
    zero_copies: bool = False  # every component request finds no capacity (scaled to zero)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.capacity) if self.capacity < 1_000_000 else None
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self.version = self.version or ("2.4.0" if self.container == "tgi" else "0.31.0")

    @property
    def url(self) -> str:
        return self.base_url

    def _draw(self) -> float:
        with self._lock:
            self.requests += 1
            return self._random.random()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = request.path.strip("/").split("/")
        raw = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "invocations":
            return _aws_error(request, 404, "UnknownOperationException", f"unknown path {request.path}")
        endpoint = unquote(parts[1])
        if self.no_capacity:
            return _aws_error(request, 400, "ValidationError", NO_CAPACITY_MESSAGE)
        if self.components:
            component = request.headers.get(COMPONENT_HEADER)
            refusal = self._component_refusal(endpoint, component)
            if refusal:
                return _aws_error(request, 400, "ValidationError", refusal)
            endpoint = f"{endpoint}/{component}"
        draw = self._draw()
        if draw < self.throttle_rate:
            return _aws_error(request, 400, "ThrottlingException", "Rate exceeded")
        if draw < self.throttle_rate + self.not_ready_rate:
            return _aws_error(request, 429, "ModelNotReadyException", "Model is not ready: try again later")
        self._serve()
        try:
            payload = json.loads(raw or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            if self.record_bodies:
                with self._lock:
                    self.bodies.append(payload)
            overloaded = self.throttle_rate + self.not_ready_rate + self.overload_rate
            if draw < overloaded:
                raise self._overloaded(endpoint)
            if draw < overloaded + self.error_rate:
                raise self._failed()
            body = self._respond(endpoint, payload)
        except ContainerError as exc:
            return _model_error(request, endpoint, exc)
        except ValueError as exc:
            return _model_error(request, endpoint, self._bad_request(str(exc)))
        reply_json(request, 200, body, {"X-Amzn-Invoked-Production-Variant": "primary"})

    def _component_refusal(self, endpoint: str, component: str | None) -> str | None:
        from localaws.inference_components import COMPONENT_REQUIRED, NO_CAPACITY_MESSAGE

        if component is None:
            return COMPONENT_REQUIRED
        if component not in self.components:
            return f"Inference Component {component} not found for endpoint {endpoint}."
        return NO_CAPACITY_MESSAGE if self.zero_copies else None

    def _serve(self) -> None:
        if self._slots:
            self._slots.acquire()
        try:
            with self._lock:
                self.in_service += 1
                self.max_in_service = max(self.max_in_service, self.in_service)
            time.sleep(self.latency_s)
        finally:
            with self._lock:
                self.in_service -= 1
            if self._slots:
                self._slots.release()

    # -- the container -----------------------------------------------------
    def _respond(self, endpoint: str, payload: dict):
        text = self.answer(endpoint, payload)
        if not isinstance(text, str):
            return text  # a broken container: sent as it is
        tgi = self.container == "tgi"
        if "messages" in payload:
            if tgi and _version(self.version) < (2, 4, 0):
                # axum's Json rejection of a CompatGenerateRequest without `inputs`
                raise ContainerError(422, "Failed to deserialize the JSON body into the target type: missing "
                                          "field `inputs` at line 1 column 2")
            return self._chat(payload, text)
        if "inputs" not in payload:
            raise ValueError("no inputs and no messages")
        return self._generate(payload, text)

    def _chat(self, payload: dict, text: str) -> dict:
        limit = payload.get("max_tokens") or (100 if self.container == "tgi" else 30)
        words = text.split()
        cut = len(words) > limit
        text = " ".join(words[:limit]) if cut else text
        prompt = sum(_words(str(m.get("content", ""))) + 1 for m in payload["messages"] if isinstance(m, dict))
        usage = {"prompt_tokens": prompt, "completion_tokens": len(text.split()),
                 "total_tokens": prompt + len(text.split())}
        if self.container == "tgi":  # src/lib.rs ChatCompletion::new, CompletionType tag "object"
            return {"object": "chat.completion", "id": "", "created": int(time.time()), "model": "/opt/ml/model",
                    "system_fingerprint": f"{self.version}-sha-0000000",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                                 "finish_reason": "length" if cut else "stop"}], "usage": usage}
        return {"id": f"chatcmpl-{id(payload)}", "object": "chat.completion", "created": int(time.time()),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                             "finish_reason": "length" if cut else "eos_token"}], "usage": usage}

    def _generate(self, payload: dict, text: str):
        parameters = payload.get("parameters") or {}
        inputs = str(payload["inputs"])
        tgi = self.container == "tgi"
        temperature = parameters.get("temperature")
        if tgi and temperature is not None and temperature <= 0:
            raise ContainerError(422, {"error": "Input validation error: `temperature` must be strictly positive",
                                       "error_type": "validation"})
        limit = parameters.get("max_new_tokens") or (100 if tgi else 30)
        words = text.split()[:limit]
        full = parameters.get("return_full_text", True if tgi else False)
        answer = {"generated_text": (inputs if full else "") + (" ".join(words) if len(text.split()) > limit
                                                                 else text)}
        if parameters.get("details", self.tgi_compat and not tgi):
            # Token.as_dict {id, text, log_prob} / as_tgi_dict {id, text, logprob} (djl request_io.py);
            # TGI's Token {id, text, logprob, special} (src/lib.rs)
            logprob = "logprob" if tgi or self.tgi_compat else "log_prob"
            tokens = [{"id": 1000 + i, "text": w, logprob: -0.01, **({"special": False} if tgi else {})}
                      for i, w in enumerate(words)]
            details = {"finish_reason": "length" if len(text.split()) > limit else "eos_token",
                       "generated_tokens": len(words)}
            if tgi:
                details.update(seed=None, prefill=[], tokens=tokens)
            else:
                details.update(inputs=inputs, tokens=tokens)
            if parameters.get("decoder_input_details"):
                details["prefill"] = [{"id": 2000 + i, "text": w, logprob: None} for i, w in enumerate(inputs.split())]
            answer["details"] = details
        return [answer] if tgi or self.tgi_compat else answer

    def _overloaded(self, endpoint: str) -> ContainerError:
        if self.container == "tgi":
            return ContainerError(429, {"error": "Model is overloaded", "error_type": "overloaded"})
        return ContainerError(self.throttle_status, {"code": self.throttle_status, "type": "WlmCapacityException",
                                                     "message": f"Worker queue capacity exceeded for model: {endpoint}"},
                              pretty=True)

    def _failed(self) -> ContainerError:
        if self.container == "tgi":
            return ContainerError(424, {"error": "Request failed during generation: CUDA error",
                                        "error_type": "generation"})
        return ContainerError(500, {"code": 500, "type": "EngineException", "message": "CUDA error"}, pretty=True)

    def _bad_request(self, why: str) -> ContainerError:
        if self.container == "tgi":
            return ContainerError(422, f"Failed to deserialize the JSON body into the target type: {why}")
        return ContainerError(400, {"code": 400, "type": "BadRequestException", "message": f"Invalid input: {why}"},
                              pretty=True)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in (text.split("-")[0].split(".") + ["0", "0"])[:3] if x.isdigit())


def _aws_error(request: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
    reply_json(request, status, {"message": message}, {"x-amzn-ErrorType": code})


def _model_error(request: BaseHTTPRequestHandler, endpoint: str, error: ContainerError) -> None:
    reply_json(request, 424, model_error_body(endpoint, error.status, error.text), {"x-amzn-ErrorType": "ModelError"})
