"""What goes to a serving container and what comes back, and how an answer becomes a label.

Requests follow the pinned container's own format:

- LMI (djl-lmi, vLLM rolling batch):
  {"inputs": prompt, "parameters": {"max_new_tokens": n, "do_sample": false, "temperature": 0, "details": true}}
  answers {"generated_text": ...} or a list of them, `details.generated_tokens` when asked for.
- TGI (huggingface-llm): the same without `temperature`: TGI's router refuses temperature 0
  ("`temperature` must be strictly positive"); greedy decoding is `do_sample: false`, its default.
  Answers [{"generated_text": ..., "details": {"generated_tokens": n, ...}}].

Both containers take raw text in `inputs` and do not apply a chat template, so the prompt is
wrapped in the Llama 3 instruct format here (every pinned model is a Llama 3.2 Instruct). The
tokenizer adds <|begin_of_text|> itself, so it is not written.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from config.evaluation import normalize_label
from config.pin import Framework

CHAT_FORMAT = "llama3-instruct"
_PREFIX = re.compile(r"^\s*(?:the\s+)?(?:intent|label|category|class|answer)(?:\s+is)?\s*[:=\-]?\s*",
                     re.IGNORECASE)


def llama3_chat(user_message: str) -> str:
    return ("<|start_header_id|>user<|end_header_id|>\n\n" + user_message.strip()
            + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")


def request_body(framework: Framework, prompt: str, max_new_tokens: int) -> dict:
    parameters: dict = {"max_new_tokens": max_new_tokens, "do_sample": False, "details": True}
    if framework is Framework.DJL_LMI:
        parameters["temperature"] = 0
    return {"inputs": llama3_chat(prompt), "parameters": parameters}


@dataclass(frozen=True)
class Generation:
    text: str
    completion_tokens: int | None = None  # as reported by the server; None if it did not
    prompt_tokens: int | None = None


class UnreadableAnswer(ValueError):
    """The container answered 200 with a body that is neither LMI's nor TGI's shape."""


def read_generation(body: bytes) -> Generation:
    """LMI {"generated_text"} / [{"generated_text"}] / TGI [{"generated_text", "details"}]."""
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UnreadableAnswer(f"the body is not JSON: {body[:80]!r}") from None
    if isinstance(data, list):
        if not data:
            raise UnreadableAnswer("an empty list")
        data = data[0]
    if not isinstance(data, dict) or not isinstance(data.get("generated_text"), str):
        raise UnreadableAnswer(f"no generated_text in {json.dumps(data)[:80]}")
    details = data.get("details") if isinstance(data.get("details"), dict) else {}
    tokens = details.get("generated_tokens")
    return Generation(data["generated_text"], tokens if isinstance(tokens, int) else None)


def approx_tokens(text: str) -> int:
    """About four characters per token for English text with Llama 3's tokenizer."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def parse_label(answer: str, labels: list[str] | set[str]) -> str | None:
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
