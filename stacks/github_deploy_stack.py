"""GitHubDeployStack: per environment account, the GitHub OIDC provider and the deploy role.

Deployed once per account with administrator credentials (docs/ci.md); from then on
GitHub Actions deploys and promotes through the role, with no long-lived keys. The role
name is fixed (llama-<env>-github-deploy), so the workflows derive its ARN from the
environment's account (`main` below) and need no variable that could drift.
"""

from __future__ import annotations

import sys

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from config.environment import Environment
from config.github import DeployTrust, GitHub
from config.pin import Pin
from stacks.constructs.approval_dispatch import ApprovalDispatch, ApprovalDispatchProps
from stacks.constructs.environment_key import key_alias
from stacks.constructs.github_deploy_role import GitHubDeployRole, GitHubDeployRoleProps
from stacks.constructs.github_oidc_provider import GitHubOidcProvider, GitHubOidcProviderProps


class GitHubDeployStack(Stack):
    def __init__(self, scope: Construct, id: str, *, environment: Environment, github: GitHub, pins: list[Pin],
                 role_name: str, own_stacks: str, **kwargs):
        """`role_name`: the deploy role's fixed name; `own_stacks`: the name prefix of this environment's stacks."""
        super().__init__(scope, id, **kwargs)
        env = environment
        trust: DeployTrust = github.environments[env.name]
        Tags.of(self).add("environment", env.name)
        provider = GitHubOidcProvider(self, "GitHubOidc", GitHubOidcProviderProps(create=trust.create_oidc_provider))
        # Every pinned version of every model served here, live or not: promote may switch to any.
        images = sorted({p.container.repository_of(env.region) for p in pins if env.region in p.container.images})
        role = GitHubDeployRole(self, "DeployRole", GitHubDeployRoleProps(
            role_name=role_name, provider_arn=provider.arn,
            subject=github.subject(env.name),
            endpoint_names=tuple(env.endpoint_name(key) for key in sorted(env.endpoints)),
            package_groups=tuple(sorted({f"{env.name}-{e.model}" for e in env.endpoints.values()})),
            weights_bucket_name=env.weights_bucket_name, key_alias=key_alias(env.name),
            images=tuple(images), stack_prefix=own_stacks))
        CfnOutput(self, "DeployRoleArn", value=role.role.role_arn,
                  description="the workflows derive this ARN from the config: python -m stacks.github_deploy_stack "
                              f"{env.name} (docs/ci.md)")
        CfnOutput(self, "TrustedSubject", value=github.subject(env.name))
        if github.approval_routes(env.name):
            # Each of this registry's groups starts promotions of the target's endpoints serving its model.
            ApprovalDispatch(self, "ApprovalDispatch", ApprovalDispatchProps(
                repository=github.repository, target_environment=trust.promote_on_approval_to,
                routes=github.approval_routes(env.name)))


def deploy_role_arn(env: Environment, role_name: str) -> str:
    partition = ("aws-cn" if env.region.startswith("cn-") else
                 "aws-us-gov" if env.region.startswith("us-gov-") else "aws")
    return f"arn:{partition}:iam::{env.account}:role/{role_name}"


def main(argv: list[str]) -> int:
    """`python -m stacks.github_deploy_stack <env>`: the role ARN and region a workflow job uses, as
    GITHUB_OUTPUT lines, read from the validated config (so they cannot drift from the stack)."""
    from pathlib import Path

    from config.errors import SpecErrors
    from config.project import load_project
    from stacks.environment_app import github_deploy_stack_name

    name = argv[0] if argv else ""
    try:
        project = load_project(Path(__file__).resolve().parents[1], only_env=name or None)
    except SpecErrors as exc:
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        return 2
    if not name or project.github is None or name not in project.github.environments:
        print(f"error: github.yaml: environments: no deploy role for '{name}'; fix: add it to github.yaml "
              "(docs/ci.md) and deploy its llama-<env>-github-deploy stack", file=sys.stderr)
        return 2
    env = project.environments[name]
    print(f"role-arn={deploy_role_arn(env, github_deploy_stack_name(name))}")
    print(f"region={env.region}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
