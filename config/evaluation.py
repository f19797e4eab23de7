"""The `evaluation` block of an endpoint: how `python -m scripts evaluate` asks it and judges it.

Kept with the endpoint's config (not with the pin) because the prompt and the
label set belong to the task the endpoint serves, and the same prompt is sent
to every version and to the hosted baseline, so their reports compare.
"""

from __future__ import annotations

import re
import string

from pinned_llama_client.wire import normalize_label
from pydantic import Field, PositiveInt, field_validator

from config.errors import Invalid
from config.fields import Strict

__all__ = ["Evaluation", "EvaluationThresholds", "normalize_label"]  # normalize_label: the client's, answers alike
LABEL = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")
PLACEHOLDERS = {"text", "labels"}


class EvaluationThresholds(Strict):
    """What a report must reach for `approve` to accept it (a missing limit is not checked)."""

    min_accuracy: float = Field(ge=0, le=1, description="correct / examples; invalid answers and errors are wrong")
    max_invalid_rate: float = Field(default=0.05, ge=0, le=1, description="answers outside the label set / examples")
    max_p95_latency_ms: PositiveInt | None = Field(default=None, le=60000,
                                                   description="client-side, successful requests")
    max_accuracy_gap_to_baseline: float | None = Field(
        default=None, ge=0, le=1,
        description="accuracy may be at most this far below the baseline's (needs --baseline)")


class Evaluation(Strict):
    prompt_template: str = Field(min_length=1, description="the user message; {text} and {labels} are filled in")
    labels: list[str] = Field(min_length=2, max_length=200)
    max_new_tokens: PositiveInt = Field(default=16, le=512)
    thresholds: EvaluationThresholds

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: list[str]) -> list[str]:
        for label in labels:
            if not LABEL.match(label):
                raise Invalid(f"label '{label}' is not lower snake case",
                              f"write it as '{normalize_label(label) or 'some_intent'}' (answers are normalized "
                              "the same way before they are compared)")
        dupes = sorted({label for label in labels if labels.count(label) > 1})
        if dupes:
            raise Invalid(f"labels listed twice: {', '.join(dupes)}", "list each label once")
        return labels

    @field_validator("prompt_template")
    @classmethod
    def _template(cls, template: str) -> str:
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        except ValueError as exc:
            raise Invalid(f"prompt_template is not a valid template ({exc})",
                          "write literal braces as {{ and }}") from None
        unknown = sorted(fields - PLACEHOLDERS)
        if unknown:
            raise Invalid(f"prompt_template has unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}",
                          "use only {text} and {labels}; write literal braces as {{ and }}")
        missing = sorted(PLACEHOLDERS - fields)
        if missing:
            raise Invalid(f"prompt_template lacks {', '.join('{' + m + '}' for m in missing)}",
                          "put {text} where the utterance goes and {labels} where the allowed labels are listed")
        return template

    def prompt(self, text: str) -> str:
        return self.prompt_template.format(text=text, labels=", ".join(self.labels))
