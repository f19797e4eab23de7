"""Build every environment's stacks into a CDK app from a validated Project."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import App, Environment as CdkEnvironment, Validations
from cdk_nag import AwsSolutionsChecks

from config.environment import Strategy
from config.project import Project
from stacks.artifacts_stack import ArtifactsStack
from stacks.endpoint_stack import EndpointStack
from stacks.github_deploy_stack import GitHubDeployStack

STACK_PREFIX = "llama"
# Context set by `promote` for one deployment of one endpoint (never in cdk.json):
# {"<env>/<endpoint>": {"strategy": "all-at-once", "suspend_autoscaling": true, "auto_rollback": false,
#                       "version": "v1", "instance_type": "ml.g5.xlarge"}}
DEPLOY_OVERRIDES = "deploy_overrides"


def artifacts_stack_name(env: str) -> str:
    return f"{STACK_PREFIX}-{env}-artifacts"


def endpoint_stack_name(env: str, endpoint: str) -> str:
    return f"{STACK_PREFIX}-{env}-{endpoint}"


def github_deploy_stack_name(env: str) -> str:
    return f"{STACK_PREFIX}-{env}-github-deploy"  # also the deploy role's name


def new_app(root: Path, outdir: str | None = None, context: dict | None = None) -> App:
    """An App with cdk.json's feature flags, also when run without the CDK CLI (tests, benchmarks)."""
    flags = json.loads((root / "cdk.json").read_text())["context"]
    return App(outdir=outdir, context={**flags, **(context or {})})


def build(app: App, project: Project, only_endpoint: str | None = None) -> App:
    """Every environment's stacks; with `only_endpoint` ("<env>/<endpoint>", used by `promote`), only
    what deploying that endpoint needs: its environment's artifacts stack, which it imports from, and
    its own stack. Each stack is built the same either way, so its template is the same."""
    overrides = app.node.try_get_context(DEPLOY_OVERRIDES) or {}
    if isinstance(overrides, str):  # -c on the command line passes a string
        overrides = json.loads(overrides)
    only_env, _, only_key = only_endpoint.partition("/") if only_endpoint else (None, None, None)
    if only_endpoint is not None and only_key not in getattr(project.environments.get(only_env), "endpoints", {}):
        raise ValueError(f"no endpoint {only_endpoint} in {', '.join(project.environments)}")
    for env in project.environments.values():
        if only_env is not None and env.name != only_env:
            continue
        cdk_env = CdkEnvironment(account=env.account, region=env.region)
        models = {e.model for e in env.endpoints.values()}
        artifacts = ArtifactsStack(
            app, artifacts_stack_name(env.name), environment=env, env=cdk_env,
            pins=[p for p in project.pins.values() if p.model in models],
            description=f"Pinned Llama weights, keys and Model Registry ({env.name})")
        for key, endpoint in env.endpoints.items():
            if only_key is not None and key != only_key:
                continue
            override = overrides.get(f"{env.name}/{key}", {})
            if override.get("version") or override.get("instance_type"):
                endpoint = endpoint.model_copy(update={k: override[k] for k in ("version", "instance_type")
                                                       if override.get(k)})
            if override.get("strategy"):
                endpoint = endpoint.with_strategy(Strategy(override["strategy"]))
            stack = EndpointStack(
                app, endpoint_stack_name(env.name, key), environment=env, key=key, endpoint=endpoint,
                pin=project.pin_for(endpoint), shadow_pin=project.shadow_pin_for(endpoint), artifacts=artifacts,
                autoscaling_suspended=bool(override.get("suspend_autoscaling")),
                auto_rollback=override.get("auto_rollback", True), env=cdk_env,
                description=f"SageMaker endpoint {env.endpoint_name(key)} ({endpoint.model} {endpoint.version})")
            stack.add_stack_dependency(artifacts)
        if only_endpoint is None and project.github is not None and env.name in project.github.environments:
            name = github_deploy_stack_name(env.name)
            GitHubDeployStack(app, name, environment=env, github=project.github, env=cdk_env, role_name=name,
                              own_stacks=f"{STACK_PREFIX}-{env.name}-",
                              pins=[p for p in project.pins.values() if p.model in models],
                              description=f"GitHub Actions OIDC deploy role ({env.name})")
    # cdk-nag v3 is a policy-validation plugin: findings fail `cdk synth` and land in
    # cdk.out/policy-validation-report.json.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True))
    return app
