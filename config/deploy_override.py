"""One deployment's departure from the config, for one endpoint: what `promote` and `rollback` change.

    promote / rollback -> DeployOverride (this model) -> CDK context `deploy_overrides` (JSON)
        -> stacks/environment_app.py reads it back with `overrides_from_context` -> `apply_overrides`

`apply_overrides` returns the project as that deployment sees it, checked exactly like the
config: the changed endpoint is validated again as a model (so a bad instance type, or a
strategy that does not fit the fleet, is refused) and its environment goes through the same
cross-file checks as `load_project` (instance type known to SageMaker, version pinned and
deployable, model fits the GPUs). Never written to cdk.json: an override lives for one synth.
`Deployment` names the stacks that one deployment needs, so that its synth builds only those.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import Field, RootModel

from config.environment import Endpoint, Environment, Strategy
from config.errors import SpecError, SpecErrors
from config.fields import INSTANCE_TYPE, Strict, Version
from config.loader import Loaded, validate_model

CONTEXT_KEY = "deploy_overrides"
SOURCE = f"context {CONTEXT_KEY}"  # where override errors point (the file of a config error)


class DeployOverride(Strict):
    strategy: Strategy | None = None  # promote --strategy; all-at-once for a rollback
    suspend_autoscaling: bool = False  # phases of an instance-type change (aws/aws-cdk#29626)
    auto_rollback: bool = True  # False for a rollback: its alarms are why someone rolls back
    version: Version | None = None  # the version this deployment deploys (promote always sets it)
    instance_type: str | None = Field(default=None, pattern=INSTANCE_TYPE.pattern)  # phase 1 of a resize: the type live now

    @property
    def is_empty(self) -> bool:
        return self == DeployOverride()

    def applied_to(self, endpoint: Endpoint, where: str) -> Endpoint:
        """`endpoint` as this deployment deploys it, validated again; SpecErrors naming `where` if not valid."""
        return validate_model(Endpoint, self._endpoint_data(endpoint), where)

    def _endpoint_data(self, endpoint: Endpoint) -> dict[str, Any]:
        data: dict[str, Any] = endpoint.model_dump()
        data.update({k: v for k, v in (("version", self.version), ("instance_type", self.instance_type)) if v})
        if self.strategy is not None:
            data["deployment"] = endpoint.deployment.with_strategy(self.strategy)
        return data


class DeployOverrides(RootModel[dict[str, DeployOverride]]):
    """Keyed "<env>/<endpoint id>"."""

    def for_endpoint(self, env: str, endpoint_id: str) -> DeployOverride:
        return self.root.get(key(env, endpoint_id), DeployOverride())

    def to_context(self) -> str:
        return json.dumps({k: o.model_dump(mode="json", exclude_defaults=True)
                           for k, o in self.root.items() if not o.is_empty}, sort_keys=True)


def key(env: str, endpoint_id: str) -> str:
    return f"{env}/{endpoint_id}"


def overrides_from_context(value: Any) -> DeployOverrides:
    """The context value (a dict in-process, a JSON string from `cdk -c`) as typed overrides."""
    if value is None:
        return DeployOverrides({})
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SpecErrors([SpecError(SOURCE, "", f"not JSON ({exc.msg})",
                                        'pass {"<env>/<endpoint>": {"strategy": "all-at-once", ...}}')]) from None
    return validate_model(DeployOverrides, value, SOURCE)


def apply_overrides(project, overrides: DeployOverrides):
    """The Project one deployment sees; every override checked like the config (SpecErrors if not)."""
    from config.project import check_environment

    if not overrides.root:
        return project
    errors: list[SpecError] = []
    environments = dict(project.environments)
    for name, override in overrides.root.items():
        env_name, _, endpoint_id = name.partition("/")
        env = environments.get(env_name)
        if env is None or endpoint_id not in env.endpoints:
            errors.append(SpecError(SOURCE, name, "no such endpoint in the synthesized environments",
                                    "key overrides by <env>/<endpoint id>, e.g. dev/intent-3b"))
            continue
        where = f"{SOURCE} {name}"
        data = env.model_dump()
        data["endpoints"][endpoint_id] = override._endpoint_data(env.endpoints[endpoint_id])
        try:
            changed = validate_model(Environment, data, where)
        except SpecErrors as exc:
            errors += exc.errors
            continue
        # No document lines: the errors name the override, not a file.
        errors += check_environment(Loaded(changed, where, None), set(project.environments), project.pins,
                                    without_rollback_alarms=frozenset() if override.auto_rollback else {endpoint_id})
        environments[env_name] = changed
    if errors:
        raise SpecErrors(errors)
    return replace(project, environments=environments)


@dataclass(frozen=True)
class Deployment:
    """The stacks one deployment needs, built alone (each is built the same either way, so its
    template is the same): `promote` an endpoint's stack and the artifacts stack it imports from;
    `route` (routing=True) the endpoint's routing stack, which imports nothing."""
    env: str
    endpoint_id: str
    routing: bool = False

    def wants(self, env: str, kind: Literal["artifacts", "endpoint", "routing"],
              endpoint_id: str | None = None) -> bool:
        if env != self.env:
            return False
        if kind == "artifacts":
            return not self.routing
        return endpoint_id == self.endpoint_id and (kind == "routing") == self.routing
