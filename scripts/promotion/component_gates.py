"""The gates of a component promotion: the same checks as an endpoint's (gates.py), for a base or an adapter.

A base version goes through the very gates of an endpoint version (its pin, its registry package,
its report, its verified weights and image). An adapter version has its own pin, approval and
archive; it is no Model Registry package, so that gate is skipped and its pin's approval, its
evaluation report (evaluate --component) and its archive verified by SHA-256 stand for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.adapter_pin import AdapterPin
from config.components import BASE_COMPONENT, ComponentEndpoint
from config.environment import Environment
from config.project import Project
from scripts.promotion import gates
from scripts.promotion.component_live import ComponentState
from scripts.promotion.gates import FAIL, PASS, SKIP, Gate


def promotion_order(project: Project, env: Environment, component: str, config, version: str) -> Gate:
    return gates.serving_before(project, env, f"{_what(component, config)} {version}", version, lambda other: [
        f"{key}/{c}" for key, e in other.component_endpoints.items()
        for c, other_config in e.components.items() if _same(c, other_config, component, config, version)])


def _same(c: str, other, component: str, config, version: str) -> bool:
    if component == BASE_COMPONENT:
        return c == BASE_COMPONENT and (other.model, other.version) == (config.model, version)
    return c != BASE_COMPONENT and (other.adapter, other.version) == (config.adapter, version)


def _what(component: str, config) -> str:
    return config.model if component == BASE_COMPONENT else f"adapter {config.adapter}"


def adapter_approved(env: Environment, adapter: AdapterPin) -> Gate:
    return gates.approval_gate(env, adapter.approval, adapter.label, "pin",
                               f"--adapter {adapter.adapter} --version {adapter.version}")


def adapter_evidence(root: Path, env: Environment, key: str, component: str, config, adapter: AdapterPin) -> Gate:
    from scripts.evaluation.component_approval import adapter_refusals

    found = gates.evaluation_report(root, env, f"{key}/{component}", config.evaluation, adapter.approval.evidence, Gate(
        "evaluation", FAIL, f"the approval of {adapter.label} names no evaluation report in the repo",
        "python -m scripts evaluate --env <env> --endpoint <e> --component <c>, then approve --adapter"))
    if isinstance(found, Gate):
        return found
    evidence, report = found
    problems = adapter_refusals(evidence, adapter, adapter.label, config.evaluation.thresholds,
                                f"{env.name}/{key}/{component}", False)
    if problems:
        return Gate("evaluation", FAIL, "; ".join(p.problem for p in problems)[:300], problems[0].fix)
    return Gate("evaluation", PASS, f"{report} meets {env.name}/{key}/{component}'s thresholds")


def adapter_verified(s3: Any, env: Environment, adapter: AdapterPin) -> Gate:
    from scripts.pinning import verification
    from scripts.pinning.adapters import verify_adapters

    report = verification.Report(env.weights_bucket_name, [])
    verify_adapters(s3, env.weights_bucket_name, [adapter], report)
    if report.ok:
        return Gate("verified", PASS, f"{adapter.artifact_url(env.weights_bucket_name)} matches its SHA-256")
    first = report.mismatches[0]
    return Gate("verified", FAIL, f"{len(report.mismatches)} mismatch(es), e.g. {first.subject}: {first.problem}",
                f"python -m scripts verify --adapter {adapter.adapter} --version {adapter.version} --env {env.name}")


def component_ready(state: ComponentState, base: ComponentState) -> list[Gate]:
    if not state.exists:
        return [Gate("component", FAIL, f"{state.name} does not exist", "deploy its stack first")]
    gates_ = []
    if state.status != "InService":
        gates_.append(Gate("component", FAIL, f"{state.name} is {state.status}"
                           + (f" ({state.failure_reason})" if state.failure_reason else ""),
                           "wait until it is InService (python -m scripts status)"))
    else:
        gates_.append(Gate("component", PASS, f"{state.name} InService, serving {state.serves or '?'}"))
    if base.at_zero or base.waking:
        gates_.append(Gate("capacity", FAIL, f"{base.name} has no copy up (scaled to zero): the live check and the "
                                             "smoke test need one",
                           "wake it (any request, or UpdateInferenceComponentRuntimeConfig CopyCount 1), wait for "
                           "a copy (status), then promote"))
    else:
        gates_.append(Gate("capacity", PASS, f"{base.current} copy(ies) of {base.name} up"))
    return gates_


def base_gates(project: Project, root: Path, env: Environment, key: str, endpoint: ComponentEndpoint, pin,
               sagemaker, s3, ecr_for, rollback: bool) -> list[Gate]:
    """An endpoint version's gates, for the base component's pin."""
    results = []
    if not rollback:
        results += [promotion_order(project, env, BASE_COMPONENT, endpoint.base, pin.version),
                    gates.manifest_approved(env, pin)]
    results.append(gates.registry_approved(sagemaker, env, pin))
    if not rollback:
        results.append(gates.evaluation_evidence(root, env, f"{key}/{BASE_COMPONENT}", endpoint.base, pin))
    results.append(gates.pins_verified(s3, ecr_for, env, pin))
    return results


def adapter_gates(project: Project, root: Path, env: Environment, key: str, component: str, config,
                  adapter: AdapterPin, s3, rollback: bool) -> list[Gate]:
    results = []
    if not rollback:
        results += [promotion_order(project, env, component, config, adapter.version), adapter_approved(env, adapter)]
    results.append(Gate("registry-approval", SKIP, "adapters are not Model Registry packages: the pin's approval "
                                                   "and its verified archive stand for it"))
    if not rollback:
        results.append(adapter_evidence(root, env, key, component, config, adapter))
    results.append(adapter_verified(s3, env, adapter))
    return results
