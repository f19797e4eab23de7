"""How `evaluate` asks a pinned container and reads its answers: the pin-aware `ServingFormat` on top
of the wire format, which lives in the application client (client/pinned_llama_client/wire.py: the
routes, bodies, answer shapes and label parsing, with their sources). Applications and this repo
speak one format from one module; the names are re-exported here for the evaluation code.

`ServingFormat.of(pin)` picks the route of the pinned container (chat on LMI >= 0.27 and TGI >= 2.4,
generate otherwise) and its throttle statuses; the generate route renders the prompt with the pinned
chat template (scripts/evaluation/chat_template.py). The same reader serves shadow-report, whatever
route the traffic used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pinned_llama_client.wire import (LMI_CHAT_SINCE, LMI_THROTTLE_DEFAULT, TGI_CHAT_SINCE, TGI_OVERLOADED,
                                      Generation, Route, UnreadableAnswer, chat_body, generate_body, messages,
                                      parse_label, read_body, read_generation, request_text, route_of,
                                      throttle_statuses)
from config.pin import Framework

if TYPE_CHECKING:
    from config.pin import Pin
    from scripts.evaluation.chat_template import ChatTemplate

__all__ = ["LMI_CHAT_SINCE", "LMI_THROTTLE_DEFAULT", "TGI_CHAT_SINCE", "TGI_OVERLOADED", "Generation", "Route",
           "ServingFormat", "UnreadableAnswer", "approx_tokens", "messages", "parse_label", "read_generation",
           "request_text", "route_of", "throttle_statuses"]


@dataclass(frozen=True)
class ServingFormat:
    """How to ask one pinned container, and how its answers look."""

    framework: Framework
    route: Route
    throttle: frozenset[int]
    template: "ChatTemplate | None" = field(default=None, compare=False)

    @classmethod
    def of(cls, pin: "Pin", template: "ChatTemplate | None" = None) -> "ServingFormat":
        container, env = pin.container, pin.serving.extra_env
        return cls(container.framework, route_of(container.framework, container.framework_version, env),
                   throttle_statuses(container.framework, env), template)

    @classmethod
    def default(cls, framework: Framework) -> "ServingFormat":
        """Without a pin: the chat route of the containers this project pins (LMI >= 0.27, TGI >= 2.4)."""
        return cls(framework, Route.CHAT, throttle_statuses(framework))

    def prompt_text(self, prompt: str) -> str:
        """What the container sees as `inputs` on the generate route."""
        if self.template is None:
            raise ValueError("the generate route needs the pinned chat template")
        return self.template.render(messages(prompt))

    def body(self, prompt: str, max_new_tokens: int) -> dict:
        if self.route is Route.CHAT:
            return chat_body(messages(prompt), max_new_tokens)
        return generate_body(self.prompt_text(prompt), max_new_tokens)

    def read(self, body: bytes, sent: dict) -> Generation:
        return read_body(body, sent)


def approx_tokens(text: str) -> int:
    """About four characters per token for English text with Llama 3's tokenizer."""
    return max(1, math.ceil(len(text) / 4)) if text else 0
