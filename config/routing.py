"""The `routing` block of an endpoint: who answers the applications that use the client
(client/pinned_llama_client), phase by phase of the migration off the hosted API.

    routing:
      mode: shadow            # api | shadow | canary | llama | llama-only
      canary_percent: 10      # share of calls Llama answers in canary mode (1-99)
      shadow_sample_percent: 100
      timeout_ms: 2000        # the client's deadline for the endpoint's answer (InvokeEndpoint: 60 s at most)
      alarms: {max_fallback_percent: 5, min_agreement_percent: 90, evaluation_minutes: 5}

The stacks deploy it to an SSM parameter the client reads at run time (stacks/routing_stack.py);
`python -m scripts route` changes `mode` (and `canary_percent`) through gates, with history.
The mode enum and the document are the client's own (pinned_llama_client.settings), so what is
validated here is what the client reads.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pinned_llama_client.settings import MAX_TIMEOUT_MS, Mode, Routing as ClientRouting, Serving
from pinned_llama_client.wire import route_of, throttle_statuses
from pydantic import Field, PositiveInt

from config.errors import Invalid
from config.fields import Strict

if TYPE_CHECKING:
    from config.environment import Endpoint
    from config.pin import Pin

ROUTING_STACK_SUFFIX = "-routing"
SSM_STANDARD_VALUE_BYTES = 4096  # a standard-tier SSM parameter's value (PutParameter API reference)
SERVING_DOCUMENT_OVERHEAD = 400  # the serving document without its labels, generously


class RoutingAlarms(Strict):
    """CloudWatch alarms on the client's metrics (stacks/constructs/client_alarms.py)."""

    max_fallback_percent: float = Field(default=5.0, gt=0, le=100,
                                        description="of the calls routed to Llama, answered by the API instead")
    min_agreement_percent: float = Field(default=90.0, gt=0, le=100,
                                         description="shadow: Llama's label equals the API's")
    evaluation_minutes: int = Field(default=5, ge=1, le=60)


class Routing(Strict):
    mode: Mode = Mode.API
    canary_percent: int = Field(default=10, ge=1, le=99)
    shadow_sample_percent: int = Field(default=100, ge=1, le=100)
    timeout_ms: PositiveInt = Field(default=2000, le=MAX_TIMEOUT_MS)
    alarms: RoutingAlarms = Field(default_factory=RoutingAlarms)


def routing_problems(routing: Routing, labels: list[str] | None) -> list[Invalid]:
    """Endpoint-level checks (config/environment.py Endpoint._checks)."""
    problems = []
    if routing.mode is not Mode.API and not labels:
        problems.append(Invalid(f"routing.mode {routing.mode.value} needs the evaluation block: the client checks "
                                "every Llama answer against its labels", "add an evaluation block, or use mode: api",
                                "routing.mode"))
    size = len(json.dumps(labels or [])) + SERVING_DOCUMENT_OVERHEAD
    if size > SSM_STANDARD_VALUE_BYTES:
        problems.append(Invalid(f"the labels make the client's serving parameter about {size} bytes, more than an "
                                f"SSM standard parameter holds ({SSM_STANDARD_VALUE_BYTES})",
                                "use fewer or shorter labels", "evaluation.labels"))
    return problems


def stack_name_problems(endpoint_ids: list[str]) -> list[Invalid]:
    """An endpoint key `<x>-routing` would share its stack name with the routing stack of endpoint `<x>`."""
    return [Invalid(f"endpoint key {key} ends in '{ROUTING_STACK_SUFFIX}', the suffix of routing stacks",
                    "rename the endpoint", f"endpoints.{key}")
            for key in endpoint_ids if key.endswith(ROUTING_STACK_SUFFIX)]


def routing_document(routing: Routing) -> dict:
    """What the routing parameter holds (the client's `Routing` document): written by the routing
    stack, compared by `route`'s live check."""
    return ClientRouting(routing.mode, routing.canary_percent, routing.shadow_sample_percent,
                         routing.timeout_ms).document()


def serving_document(endpoint_name: str, endpoint: "Endpoint", pin: "Pin") -> dict:
    """What the serving parameter holds (the client's `Serving` document): how to ask the live version's
    container (its route and "too busy" statuses, as `evaluate` asks it) and the label set. Written by
    the endpoint stack, so it changes with the version `promote` deploys."""
    framework, extra_env = pin.container.framework, pin.serving.extra_env
    evaluation = endpoint.evaluation
    return Serving(endpoint_name, pin.model, pin.version, route_of(framework, pin.container.framework_version, extra_env),
                   throttle_statuses(framework, extra_env), tuple(evaluation.labels) if evaluation else (),
                   evaluation.max_new_tokens if evaluation else 16).document()
