"""After a deployment: is what is live what is pinned, and does it answer?

`live_problems` compares the live variant with the pin (registry package
version and manifest hash, image digest from DeployedImages, model data
prefix); `smoke_problems` sends the endpoint's configured `smoke_test`
cases through the container's request format and judges the answers with the
evaluation labels. Either list non-empty means the version must not stay live.
"""

from __future__ import annotations

import time

from scripts.evaluation.answers import parse_label
from scripts.evaluation.runner import CallFailed, Fatal, Retryable
from scripts.promotion.live import EndpointState
from config.environment import Endpoint, Environment
from config.pin import Pin


def live_problems(state: EndpointState, pin: Pin, env: Environment) -> list[str]:
    live = state.live
    if live is None:
        return ["the endpoint has no readable live config"]
    problems = []
    if (live.version, live.model) != (pin.version, pin.model):
        problems.append(f"registry package says {live.model} {live.version}, pinned {pin.model} {pin.version}")
    if live.manifest_sha256 != pin.manifest_sha256:
        problems.append(f"package manifest {str(live.manifest_sha256)[:12]}… is not the pin's "
                        f"{pin.manifest_sha256[:12]}… (deploy the artifacts stack of this commit)")
    pinned_image = pin.container.images.get(env.region, "")
    digest = pinned_image.rsplit("@", 1)[-1]
    if not state.resolved_images:
        problems.append("DeployedImages is empty: SageMaker reports no resolved image")
    elif any(not image.endswith("@" + digest) for image in state.resolved_images):
        problems.append(f"running image {state.resolved_images[0]} is not the pinned {pinned_image}")
    uri = f"s3://{env.weights_bucket_name}/{pin.weights.prefix}"
    if live.model_data_uri != uri:
        problems.append(f"model data {live.model_data_uri} is not the pinned {uri}")
    return problems


def smoke_problems(endpoint_name: str, endpoint: Endpoint, pin: Pin, region: str, attempts: int = 3,
                   component: str | None = None) -> list[str]:
    """`endpoint`: anything with `smoke_test` and `evaluation` (an endpoint, or a component of a component
    endpoint, then `component` is its InferenceComponentName and `pin` its base's)."""
    from scripts.evaluation.clients import SageMakerEndpoint

    if not endpoint.smoke_test or endpoint.evaluation is None:
        return []
    evaluation = endpoint.evaluation
    call = SageMakerEndpoint(endpoint_name, region, pin.container.framework, evaluation.max_new_tokens, 1,
                             component=component)
    problems = []
    for i, case in enumerate(endpoint.smoke_test):
        try:
            answer = _with_retries(lambda: call(evaluation.prompt(case.text)), attempts).text
        except (CallFailed, Fatal, Retryable) as exc:
            problems.append(f"smoke_test.{i}: the call failed ({exc})")
            continue
        label = parse_label(answer, evaluation.labels)
        if label is None:
            problems.append(f"smoke_test.{i}: answer {answer[:60]!r} is not one of the labels")
        elif case.expect and label != case.expect:
            problems.append(f"smoke_test.{i}: answered {label}, expected {case.expect}")
    return problems


def _with_retries(fn, attempts: int):
    for attempt in range(attempts):
        try:
            return fn()
        except Retryable:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * 2 ** attempt)
