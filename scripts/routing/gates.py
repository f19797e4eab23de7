"""The checks a route change must pass. Toward Llama (a mode, or a canary share, that puts more of the
applications' answers on the endpoint) is gated; toward the API never is: a retreat is what an
operator does when something is wrong, and it must not wait for what is wrong to be fixed.

Toward Llama:
- `endpoint`: it exists, is InService, and no deployment is in flight;
- `live-version`: what runs is the version the config names (a route is decided on evidence about
  that version; an unfinished promotion must end first);
- `approval` (canary and beyond): the live version's registry package is Approved (or, where the
  environment does not require approval, not Rejected);
- `alarms`: none of the endpoint's alarms, the client's fallback-rate and shadow-agreement
  alarms included, is in ALARM;
- `order` (llama-only): the live mode is llama, so the fallback is removed only after Llama has
  served on its own with the fallback in place (the seed's phase 4 after phase 3).
"""

from __future__ import annotations

from typing import Any

from pinned_llama_client.settings import Mode, Routing

from config.environment import Environment
from scripts.promotion.gates import FAIL, PASS, SKIP, Gate
from scripts.promotion.live import EndpointState


def toward_llama(target: Routing, live: Routing | None) -> bool:
    """Does `target` put more answers on the endpoint than what is live (None: nothing deployed = api)?"""
    current = live or Routing()
    if target.mode.exposure != current.mode.exposure:
        return target.mode.exposure > current.mode.exposure
    if target.mode is Mode.CANARY:
        return target.canary_percent > current.canary_percent
    return False


def route_gates(env: Environment, config_version: str, target: Routing, live: Routing | None, state: EndpointState,
                package_status: str | None, firing: list[str]) -> list[Gate]:
    if not toward_llama(target, live):
        return [Gate("direction", PASS, f"{(live or Routing()).describe()} → {target.describe()}: toward the API, "
                                        "not gated")]
    gates = [Gate("direction", PASS, f"{(live or Routing()).describe()} → {target.describe()}: toward Llama")]
    gates.append(_endpoint(state))
    live_version = state.live.version if state.live else None
    if live_version == config_version:
        gates.append(Gate("live-version", PASS, f"{config_version} is live, as configured"))
    else:
        gates.append(Gate("live-version", FAIL, f"the config names {config_version}, {state.name} serves "
                                                f"{live_version or '?'}",
                          "finish or roll back the promotion first (python -m scripts status)"))
    gates.append(_approval(env, target, live_version, package_status))
    gates.append(Gate("alarms", FAIL, f"in ALARM: {', '.join(firing)}", "fix what the alarm reports first")
                 if firing else Gate("alarms", PASS, "no alarm firing"))
    if target.mode is Mode.LLAMA_ONLY:
        current = (live or Routing()).mode
        gates.append(Gate("order", PASS, "llama has served with the fallback in place") if current is Mode.LLAMA
                     else Gate("order", FAIL, f"the live mode is {current.value}, not llama",
                               "route to llama first and let it serve with the fallback in place"))
    return gates


def _endpoint(state: EndpointState) -> Gate:
    if not state.exists:
        return Gate("endpoint", FAIL, f"{state.name} does not exist", "deploy it first (make deploy ENV=<env>)")
    if state.status != "InService" or state.pending is not None:
        in_flight = " with a deployment in flight" if state.pending is not None else ""
        return Gate("endpoint", FAIL, f"{state.name} is {state.status}{in_flight}",
                    "wait until it is InService with nothing in flight (python -m scripts status)")
    return Gate("endpoint", PASS, f"{state.name} InService")


def _approval(env: Environment, target: Routing, version: str | None, status: str | None) -> Gate:
    if target.mode is Mode.SHADOW:
        return Gate("approval", SKIP, "shadow: the API still answers every call")
    if status == "Approved":
        return Gate("approval", PASS, f"{version} is Approved in the registry")
    if status == "PendingManualApproval" and not env.require_approved_versions:
        return Gate("approval", PASS, f"{version} is PendingManualApproval ({env.name} does not require approval)")
    return Gate("approval", FAIL, f"{version or 'the live version'} is {status or 'not in the registry'}",
                "evaluate it and approve it (python -m scripts approve), or promote an approved version")


def package_status(sagemaker: Any, package_arn: str | None) -> str | None:
    if not package_arn:
        return None
    return sagemaker.describe_model_package(ModelPackageName=package_arn).get("ModelApprovalStatus")
