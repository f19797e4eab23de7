"""What goes to a pinned Llama serving container and what comes back, and how an answer becomes a label.

The one home of the wire format: applications get it with this package, and the repo's
`evaluate`, `shadow-report` and stacks import it from here (scripts/evaluation/answers.py adds the
pin-aware `ServingFormat` on top). Two routes, both on SageMaker's `/invocations` (InvokeEndpoint):

- chat: `{"messages": [...], "max_tokens": n, "temperature": 0}`, what an application moving off
  a chat-completions API sends. The container renders the prompt with the chat template of the
  weights it loaded (the pinned snapshot's `tokenizer_config.json`) and answers an OpenAI
  `chat.completion` with `usage`. LMI has it from 0.27.0 (djl-serving
  `djl_python/chat_completions/chat_utils.py`: any body with `messages`; `temperature` 0 means
  `do_sample` false). TGI from 2.4.0 (router `src/sagemaker.rs`: `/invocations` takes an untagged
  `SagemakerRequest` of Generate | Chat | Completion; `temperature` 0 means greedy in
  `ChatRequest::try_into_generate`); before 2.4.0 only with `MESSAGES_API_ENABLED`, which makes
  `/invocations` chat-only (`src/server.rs`).
- generate: `{"inputs": prompt, "parameters": {...}}` for containers without the chat route.
  The prompt is the messages rendered with the pinned chat template (by the caller: the repo's
  scripts/evaluation/chat_template.py, or an application's own renderer), `return_full_text: false`
  is sent because TGI's compat route defaults it to true when the model has no Hub
  `pipeline_tag`, which is the case for weights loaded from /opt/ml/model
  (`compat_return_full_text` in TGI's `src/server.rs`), and `details` + `decoder_input_details`
  make both containers report generated and prompt tokens. No `temperature`: TGI refuses 0
  ("`temperature` must be strictly positive"); `do_sample: false` is greedy in both.

Answers read: LMI `{"generated_text", "details"}` (djl-serving `output_formatter.py
_json_output_formatter`), its `tgi_compat` list form, TGI `[{"generated_text", "details"}]`, and
`chat.completion` (LMI `_json_chat_output_formatter`, TGI `ChatCompletion`, OpenAI, with
`message.refusal`).

The container's "too busy" statuses arrive from SageMaker runtime as `ModelError` (HTTP 424) with
the container's code in `OriginalStatusCode` (botocore's sagemaker-runtime model): TGI answers 429
"Model is overloaded", LMI its throttle status (503 unless SERVING_THROTTLE_ERROR_HTTP_CODE says
otherwise).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

_PREFIX = re.compile(r"^\s*(?:the\s+)?(?:intent|label|category|class|answer)(?:\s+is)?\s*[:=\-]?\s*",
                     re.IGNORECASE)
LMI_CHAT_SINCE = (0, 27, 0)  # djl-serving v0.27.0 added chat_completions/chat_utils.py
TGI_CHAT_SINCE = (2, 4, 0)  # TGI v2.4.0 added src/sagemaker.rs (Generate | Chat | Completion)
TGI_OVERLOADED = 429  # TGI InferError::Overloaded -> 429 "Model is overloaded"
LMI_THROTTLE_DEFAULT = 503  # djl-serving ConfigManager.getThrottleErrorHttpCode(), SERVING_THROTTLE_ERROR_HTTP_CODE
DJL_LMI = "djl-lmi"  # framework names as the SageMaker Python SDK's image_uris knows them (config/pin.py Framework)
HUGGINGFACE_LLM = "huggingface-llm"

Message = dict[str, Any]


class Route(str, Enum):
    CHAT = "chat"
    GENERATE = "generate"


def _version(text: str) -> tuple[int, ...] | None:
    match = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    return tuple(int(x or 0) for x in match.groups()) if match else None


def route_of(framework: str, framework_version: str, extra_env: dict[str, str] | None = None) -> Route:
    """The route production apps would use on this container (chat where it is offered)."""
    version = _version(framework_version)
    if framework == DJL_LMI:
        return Route.CHAT if version is None or version >= LMI_CHAT_SINCE else Route.GENERATE
    if version is not None and version >= TGI_CHAT_SINCE:
        return Route.CHAT
    enabled = str((extra_env or {}).get("MESSAGES_API_ENABLED", "")).lower() in ("true", "1")
    return Route.CHAT if enabled else Route.GENERATE


def throttle_statuses(framework: str, extra_env: dict[str, str] | None = None) -> frozenset[int]:
    """The container's own "too busy" statuses, which SageMaker wraps as ModelError (424)."""
    if framework == HUGGINGFACE_LLM:
        return frozenset({TGI_OVERLOADED})
    configured = (extra_env or {}).get("SERVING_THROTTLE_ERROR_HTTP_CODE", str(LMI_THROTTLE_DEFAULT))
    return frozenset({int(configured)}) if configured.strip().isdigit() else frozenset({LMI_THROTTLE_DEFAULT})


@dataclass(frozen=True)
class Generation:
    text: str
    completion_tokens: int | None = None  # as reported by the server; None if it did not
    prompt_tokens: int | None = None
    refusal: str | None = None  # an API's refusal text (message.refusal); the answer is then invalid
    echoed_prompt: bool = False  # the container sent the prompt back in front of the answer (removed)


class UnreadableAnswer(ValueError):
    """The container answered 200 with a body that is neither LMI's, TGI's nor a chat.completion."""


def messages(prompt: str) -> list[Message]:
    return [{"role": "user", "content": prompt}]


def chat_body(chat: list[Message], max_tokens: int) -> dict[str, Any]:
    return {"messages": chat, "max_tokens": max_tokens, "temperature": 0}


def generate_body(prompt_text: str, max_new_tokens: int) -> dict[str, Any]:
    """`prompt_text`: the messages rendered with the pinned chat template."""
    return {"inputs": prompt_text,
            "parameters": {"max_new_tokens": max_new_tokens, "do_sample": False, "return_full_text": False,
                           "details": True, "decoder_input_details": True}}


def read_body(body: bytes, sent: dict[str, Any]) -> Generation:
    """The answer to `sent` (either route): a generate route's echoed prompt is removed."""
    inputs = sent.get("inputs")
    return read_generation(body, inputs if isinstance(inputs, str) else None)


def read_generation(body: bytes, prompt: str | None = None) -> Generation:
    """Any of the answer shapes above; `prompt`: the generate route's inputs, removed if echoed."""
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UnreadableAnswer(f"the body is not JSON: {body[:80]!r}") from None
    if isinstance(data, list):
        if not data:
            raise UnreadableAnswer("an empty list")
        data = data[0]
    if not isinstance(data, dict):
        raise UnreadableAnswer(f"not an object: {json.dumps(data)[:80]}")
    if isinstance(data.get("choices"), list):
        return _read_chat(data)
    if data.get("error") and not isinstance(data.get("generated_text"), str):
        # LMI reports a failed generation in a 200 body: {"generated_text": null, "error": ..., "code": 400}
        raise UnreadableAnswer(f"the container reported an error: {str(data['error'])[:120]}")
    if not isinstance(data.get("generated_text"), str):
        raise UnreadableAnswer(f"no generated_text in {json.dumps(data)[:80]}")
    text, echoed = data["generated_text"], False
    if prompt and text.startswith(prompt):
        text, echoed = text[len(prompt):], True
    details = data.get("details") if isinstance(data.get("details"), dict) else {}
    tokens = details.get("generated_tokens")
    prefill = details.get("prefill")
    return Generation(text, tokens if isinstance(tokens, int) else None,
                      len(prefill) if isinstance(prefill, list) and prefill else None, echoed_prompt=echoed)


def _read_chat(data: dict[str, Any]) -> Generation:
    try:
        message = data["choices"][0]["message"]
    except (IndexError, KeyError, TypeError):
        raise UnreadableAnswer(f"no choices[0].message in {json.dumps(data)[:120]}") from None
    if not isinstance(message, dict):
        raise UnreadableAnswer(f"choices[0].message is not an object: {json.dumps(message)[:80]}")
    content, refusal = message.get("content"), message.get("refusal")
    if not isinstance(content, str) and not isinstance(refusal, str):
        raise UnreadableAnswer(f"choices[0].message has neither content nor refusal: {json.dumps(message)[:80]}")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}

    def count(v: Any) -> int | None:
        return v if isinstance(v, int) else None

    return Generation(content if isinstance(content, str) else "", count(usage.get("completion_tokens")),
                      count(usage.get("prompt_tokens")), refusal if isinstance(refusal, str) else None)


def request_text(request: dict[str, Any]) -> str:
    """The user's text in a request of either route (the last user message, or `inputs`)."""
    chat = request.get("messages")
    if isinstance(chat, list):
        users = [m for m in chat if isinstance(m, dict) and m.get("role") == "user"]
        content = users[-1].get("content", "") if users else ""
        if isinstance(content, list):  # OpenAI content parts
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return str(content)
    return str(request.get("inputs", ""))


def normalize_label(value: str) -> str:
    """Lower case, every run of non-alphanumerics -> one '_', trimmed: 'Cancel-Order.' -> 'cancel_order'."""
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


def parse_label(answer: str, labels: list[str] | set[str] | frozenset[str] | tuple[str, ...]) -> str | None:
    """The label an answer names, or None (invalid): the first non-empty line, without quotes,
    markup or an 'Intent:' prefix, normalized like the labels (case, whitespace, punctuation).
    Nothing is guessed from longer prose: 'not cancel_order' is invalid, not cancel_order."""
    known = set(labels)
    for line in answer.strip().splitlines():
        line = line.strip().strip("`*\"'").strip()
        if not line:
            continue
        for candidate in (line, _PREFIX.sub("", line, count=1)):
            label = normalize_label(candidate)
            if label in known:
                return label
        return None
    return None
