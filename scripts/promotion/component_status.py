"""Status rows of component endpoints: one per inference component, config and pins against SageMaker.

An endpoint that scales to zero is not broken at zero, and `status` says so plainly: while it is
at zero the next request fails and wakes it, and requests keep failing for minutes while an
instance starts and the model loads. Waking counts as needing attention (requests are failing);
resting at zero does not.
"""

from __future__ import annotations

from dataclasses import dataclass

from config import naming
from config.components import BASE_COMPONENT
from config.environment import Environment
from config.project import Project
from scripts.lib.aws import client
from scripts.promotion import history
from scripts.promotion.component_live import ComponentInspector, ComponentState
from scripts.promotion.endpoint_status import StatusRow, _caller_account, aws_errors_in, last_promotion
from scripts.promotion.live import Inspector

AT_ZERO = ("at zero copies: the next request fails and wakes it; requests fail for minutes while it comes back "
           "(an instance starts, the model loads)")
WAKING = "coming back from zero: requests fail until a copy is up (minutes)"


@dataclass
class ComponentStatusRow(StatusRow):
    note: str = ""  # at zero: said plainly, not a problem by itself

    def cells(self) -> list[str]:
        cells = super().cells()
        if self.note:
            cells[4] = f"{cells[4]} ({self.note})"
        return cells


def component_rows(root, project: Project, env: Environment, records: list[dict] | None = None) -> list[StatusRow]:
    if not env.component_endpoints:
        return []
    account, account_error = _caller_account(env)
    sagemaker = client("sagemaker", env.region)
    inspector, alarms = ComponentInspector(sagemaker), Inspector(sagemaker, client("cloudwatch", env.region))
    records = history.read(root) if records is None else records
    rows: list[StatusRow] = []
    for key, endpoint in env.component_endpoints.items():
        name = env.endpoint_name(key)
        base_pin = project.pins[(endpoint.base.model, endpoint.base.version)]
        firing: list[str] | None = None  # the endpoint's alarms in ALARM, read once
        for component, config in endpoint.components.items():
            ic = naming.inference_component(name, component)
            adapter = project.adapters.get((config.adapter, config.version)) if component != BASE_COMPONENT else None
            row = ComponentStatusRow(ic, f"{config.adapter} {config.version}" if adapter else config.version)
            row.last_promotion = last_promotion(records, env.name, f"{key}/{component}")
            if account_error is not None:  # AWS unreadable: drift unknown, never "none" (status exits 3)
                row.error, row.aws_error = account_error, True
            elif account != env.account:
                row.error = f"credentials are for account {account}, {env.name} is {env.account}"
            else:
                with aws_errors_in(row):
                    _fill(row, inspector.component(ic), base_pin, adapter, env)
                    firing = alarms.firing_alarms(name) if firing is None else firing
                    # a component's own alarms; the endpoint's (no capacity) on the base's row
                    row.alarms = [a for a in firing if a.startswith(ic + "-") or (
                        component == BASE_COMPONENT and not any(a.startswith(naming.inference_component(name, c) + "-")
                                                                for c in endpoint.components))]
            rows.append(row)
    return rows


def _fill(row: ComponentStatusRow, state: ComponentState, base_pin, adapter, env: Environment) -> None:
    if not state.exists:
        row.status, row.drift = "not deployed", [f"{row.endpoint} does not exist"]
        return
    row.status = state.status or "?"
    row.registry = "-"
    row.deployed_version = f"{state.adapter} {state.adapter_version}" if adapter else state.version
    if state.at_zero:
        row.note = AT_ZERO
    elif state.waking:
        row.in_flight = WAKING
    elif state.status == "Updating":
        row.in_flight = "updating"
    if state.failure_reason:
        row.drift.append(f"last update: {state.failure_reason}")
    if adapter is not None:
        wanted = adapter.artifact_url(env.weights_bucket_name)
        if state.artifact_url != wanted:
            row.drift.append(f"archive {state.artifact_url}, pinned {wanted}")
    elif (state.version, state.manifest_sha256) != (base_pin.version, base_pin.manifest_sha256):
        row.drift.append(f"config {base_pin.version}, deployed {state.version}"
                         + ("" if state.version != base_pin.version else " (another manifest)"))
