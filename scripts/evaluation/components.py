"""Evaluate one inference component: which component, its evaluation block, and what the report records.

A component endpoint serves several models behind one endpoint: InvokeEndpoint's InferenceComponentName
picks one (<endpoint>-base, or <endpoint>-<adapter id>). The request format is the base's container's
(an adapter runs in it), so the base pin decides the route; the report records the base (model,
version, manifest) as for an endpoint, and under `component` the adapter version and its manifest
hash, which `approve --adapter` and promotion gates check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config import naming
from config.adapter_pin import AdapterPin
from config.components import BASE_COMPONENT, AdapterComponent, BaseComponent
from config.environment import Environment
from config.pin import Pin
from config.project import Project
from scripts.lib.errors import UserError


@dataclass(frozen=True)
class ComponentTarget:
    endpoint_key: str
    component_id: str
    component_name: str  # InferenceComponentName
    config: BaseComponent | AdapterComponent
    base_pin: Pin
    adapter: AdapterPin | None  # None: the base component
    version_source: str = "config"


def resolve(project: Project, env: Environment, endpoint_key: str, component_id: str,
            version: str | None = None) -> ComponentTarget:
    """The component `component_id` of component endpoint `endpoint_key`; `version` an adapter version to
    report instead of the configured one (it must be pinned)."""
    endpoint = env.component_endpoints.get(endpoint_key)
    if endpoint is None:
        raise UserError(f"--endpoint: no component endpoint '{endpoint_key}' in {env.name}; fix: use one of: "
                        f"{', '.join(sorted(env.component_endpoints)) or '(none)'}")
    config = endpoint.components.get(component_id)
    if config is None:
        raise UserError(f"--component: no component '{component_id}' on {endpoint_key}; fix: use one of: "
                        f"{', '.join(endpoint.components)}")
    base_pin = project.pins[(endpoint.base.model, endpoint.base.version)]
    name = naming.inference_component(env.endpoint_name(endpoint_key), component_id)
    if component_id == BASE_COMPONENT:
        if version not in (None, endpoint.base.version):
            raise UserError("--version: the base component's version is the configured one; fix: leave --version "
                            "out, or evaluate an adapter component")
        return ComponentTarget(endpoint_key, component_id, name, config, base_pin, None)
    wanted = version or config.version
    adapter = project.adapters.get((config.adapter, wanted))
    if adapter is None:
        known = sorted(v for a, v in project.adapters if a == config.adapter)
        raise UserError(f"--version: no adapter pin {config.adapter}/{wanted}; fix: use one of: {', '.join(known)}")
    return ComponentTarget(endpoint_key, component_id, name, config, base_pin, adapter,
                           "config" if wanted == config.version else "--version")


def report_fields(target: ComponentTarget) -> dict:
    adapter = target.adapter
    return {"component": {
        "id": target.component_id, "name": target.component_name,
        "adapter": adapter.adapter if adapter else None, "adapter_version": adapter.version if adapter else None,
        "adapter_manifest_sha256": adapter.manifest_sha256 if adapter else None,
        "adapter_version_source": target.version_source if adapter else None}}


def default_directory(root: Path, target: ComponentTarget, env: str, stamp: str) -> Path:
    if target.adapter is None:
        return root / "reports" / target.base_pin.model / target.base_pin.version / f"{env}-{target.endpoint_key}-base-{stamp}"
    return root / "reports" / "adapters" / target.adapter.adapter / target.adapter.version / \
        f"{env}-{target.endpoint_key}-{target.component_id}-{stamp}"
