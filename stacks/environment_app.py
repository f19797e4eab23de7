"""Build every environment's stacks into a CDK app from a validated Project.

    environments/*.yaml + model_artifacts/**.yaml -> config.project.load_project -> Project
        (+ promote's per-deployment overrides, config/deploy_override.py) -> build() -> stacks

`app.py` (what `cdk synth` runs) and the in-process synth (scripts/lib/cdk.py: `promote`, the
emulator lab, the tests) both go through `build`, so cdk-nag and every validation run on each path.
"""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import App, Environment as StackTarget, Validations
from cdk_nag import AwsSolutionsChecks

from config import naming
from config.deploy_override import CONTEXT_KEY, Deployment, apply_overrides, overrides_from_context
from config.project import Project
from config.registry_retention import registered_pins
from stacks.artifacts_stack import ArtifactsStack, ArtifactsStackProps
from stacks.component_endpoint_stack import ComponentEndpointStack, ComponentEndpointStackProps
from stacks.control_tower_rules import ControlTowerRules
from stacks.endpoint_stack import EndpointStack, EndpointStackProps
from stacks.github_deploy_stack import GitHubDeployStack, GitHubDeployStackProps
from stacks.routing_stack import RoutingStack, RoutingStackProps


def new_app(root: Path, outdir: str | None = None, context: dict | None = None) -> App:
    """An App with cdk.json's feature flags, also when run without the CDK CLI (tests, promote)."""
    flags = json.loads((root / "cdk.json").read_text())["context"]
    return App(outdir=outdir, context={**flags, **(context or {})})


def build(app: App, project: Project, only: Deployment | None = None) -> App:
    """Every environment of `project` (and the context's deploy overrides) as stacks of `app`, or
    `only` what one deployment needs. Raises SpecErrors, before any construct exists, when an
    override does not validate."""
    overrides = overrides_from_context(app.node.try_get_context(CONTEXT_KEY))
    project = apply_overrides(project, overrides)
    if only is not None:
        _check(project, only)

    def wanted(env: str, kind: str, endpoint_id: str | None = None) -> bool:
        return only is None or only.wants(env, kind, endpoint_id)

    for env in project.environments.values():
        target = StackTarget(account=env.account, region=env.region)
        models = {e.model for e in env.endpoints.values()} | {c.base.model for c in env.component_endpoints.values()}
        pins = [p for p in project.pins.values() if p.model in models]
        artifacts = None
        if wanted(env.name, "artifacts"):
            artifacts = ArtifactsStack(
                app, naming.artifacts_stack(env.name),
                ArtifactsStackProps(environment=env, pins=registered_pins(env, project.pins)), env=target,
                description=f"Pinned Llama weights, keys and Model Registry ({env.name})")
        for endpoint_id, endpoint in env.endpoints.items():
            if wanted(env.name, "endpoint", endpoint_id):
                override = overrides.for_endpoint(env.name, endpoint_id)
                stack = EndpointStack(
                    app, naming.endpoint_stack(env.name, endpoint_id), EndpointStackProps(
                        environment=env, endpoint_id=endpoint_id, endpoint=endpoint, pin=project.pin_for(endpoint),
                        shadow_pin=project.shadow_pin_for(endpoint), artifacts=artifacts,
                        autoscaling_suspended=override.suspend_autoscaling, auto_rollback=override.auto_rollback),
                    env=target, description=f"SageMaker endpoint {env.endpoint_name(endpoint_id)} "
                                            f"({endpoint.model} {endpoint.version})")
                stack.add_stack_dependency(artifacts)
            if wanted(env.name, "routing", endpoint_id):
                RoutingStack(app, naming.routing_stack(env.name, endpoint_id), RoutingStackProps(
                    environment=env, endpoint_id=endpoint_id, endpoint=endpoint), env=target,
                    description=f"Routing mode of {env.endpoint_name(endpoint_id)} for the application client")
        for endpoint_id, endpoint in env.component_endpoints.items():
            if not wanted(env.name, "endpoint", endpoint_id):
                continue
            base_pin = project.pins[(endpoint.base.model, endpoint.base.version)]
            stack = ComponentEndpointStack(
                app, naming.endpoint_stack(env.name, endpoint_id), ComponentEndpointStackProps(
                    environment=env, endpoint_id=endpoint_id, endpoint=endpoint, base_pin=base_pin,
                    adapter_pins={c: project.adapters[(a.adapter, a.version)] for c, a in endpoint.adapters.items()},
                    artifacts=artifacts),
                env=target, description=f"SageMaker endpoint {env.endpoint_name(endpoint_id)} with inference "
                                        f"components ({base_pin.model} {base_pin.version} + "
                                        f"{len(endpoint.adapters)} LoRA adapter(s))")
            stack.add_stack_dependency(artifacts)
        if only is None and project.github is not None and env.name in project.github.environments:
            GitHubDeployStack(app, naming.github_deploy_stack(env.name), GitHubDeployStackProps(
                environment=env, github=project.github, pins=pins), env=target,
                description=f"GitHub Actions OIDC deploy role ({env.name})")
    # cdk-nag v3 and AWS Control Tower's proactive controls (cfn-guard rules, with the guard binary
    # their package ships: stacks/control_tower_rules.py) are policy-validation plugins: findings fail `cdk synth` and land in
    # cdk.out/validation-report.json. Acknowledgments with their reasons: stacks/constructs/nag.py.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True),
                                    ControlTowerRules())
    return app


def _check(project: Project, only: Deployment) -> None:
    env = project.environments.get(only.env)
    have = () if env is None else env.endpoints if only.routing else {*env.endpoints, *env.component_endpoints}
    if only.endpoint_id not in have:  # the commands check their flags first: this is a caller's mistake
        kind = "endpoint with a routing stack" if only.routing else "endpoint"
        raise ValueError(f"no {kind} {only.env}/{only.endpoint_id} in {', '.join(project.environments)}")

