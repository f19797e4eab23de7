"""Approving an adapter version: its evaluation report must be of this adapter pin on a component.

An adapter's report is written by `evaluate --component` (components.py): the base it ran on is
the report's model/version/manifest, the adapter under `component`. The thresholds are those
configured now for that component (its `evaluation` block in environments/<env>.yaml), else the
report's own. Adapters are not Model Registry packages: the pin's approval is the record.
"""

from __future__ import annotations

from types import SimpleNamespace

from config.adapter_pin import AdapterPin
from config.components import BASE_COMPONENT
from config.environment import Environment
from config.errors import SpecError
from config.evaluation import Evaluation, EvaluationThresholds
from scripts.evaluation.approval import Evidence, refusals, thresholds_in_force


def adapter_refusals(evidence: Evidence, adapter: AdapterPin, shown: str, thresholds: EvaluationThresholds,
                     source: str, reject: bool) -> list[SpecError]:
    r, component = evidence.report, evidence.report.get("component") or {}
    problems = [SpecError(evidence.shown, f"component.{field}", f"the report is for {field} {component.get(field)!r}, "
                          f"the pin {shown} has {mine!r}", f"evaluate --component ... with {adapter.label} and give "
                                                            "that report")
                for field, mine in (("adapter", adapter.adapter), ("adapter_version", adapter.version),
                                    ("adapter_manifest_sha256", adapter.manifest_sha256))
                if component.get(field) != mine]
    if problems:
        return problems
    # The base it ran on is the report's own: the adapter's identity is checked above.
    ran_on = SimpleNamespace(model=r.get("model"), version=r.get("version"), manifest_sha256=r.get("manifest_sha256"))
    return refusals(evidence, ran_on, shown, thresholds, source, reject)


def component_thresholds(root, report: dict) -> tuple[EvaluationThresholds, str]:
    """The thresholds configured now for the component the report ran on, else the report's own
    (the same reading as a model's, approval.thresholds_in_force)."""
    component = (report.get("component") or {}).get("id")

    def evaluation(env: Environment) -> Evaluation | None:
        endpoint = env.component_endpoints.get(report["endpoint"])
        config = endpoint.components.get(component) if endpoint and component else None
        return config.evaluation if config is not None else None

    return thresholds_in_force(root, report, evaluation, f" {component or BASE_COMPONENT}")
