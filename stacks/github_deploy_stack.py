"""GitHubDeployStack: per environment account, the GitHub OIDC provider and the deploy role.

Deployed once per account with administrator credentials (docs/ci.md); from then on
GitHub Actions deploys and promotes through the role, with no long-lived keys. The role
name is fixed (config/naming.py github_deploy_stack), so the workflows derive its ARN from
the environment's account (`python -m scripts deploy-role`) and need no variable that could drift.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from config import naming
from config.environment import Environment
from config.github import DeployTrust, GitHub
from config.pin import Pin
from stacks.constructs.approval_dispatch import ApprovalDispatch, ApprovalDispatchProps
from stacks.constructs.github_deploy_role import GitHubDeployRole, GitHubDeployRoleProps
from stacks.constructs.github_oidc_provider import GitHubOidcProvider, GitHubOidcProviderProps


@dataclass(frozen=True)
class GitHubDeployStackProps:
    environment: Environment
    github: GitHub
    pins: list[Pin]  # every pinned version of the models served here: promote may switch to any


class GitHubDeployStack(Stack):
    def __init__(self, scope: Construct, id: str, props: GitHubDeployStackProps, **kwargs):
        super().__init__(scope, id, **kwargs)
        env, github = props.environment, props.github
        trust: DeployTrust = github.environments[env.name]
        Tags.of(self).add("environment", env.name)
        provider = GitHubOidcProvider(self, "GitHubOidc", GitHubOidcProviderProps(create=trust.create_oidc_provider))
        images = sorted({p.container.repository_of(env.region) for p in props.pins if env.region in p.container.images})
        role = GitHubDeployRole(self, "DeployRole", GitHubDeployRoleProps(
            role_name=naming.github_deploy_stack(env.name), provider_arn=provider.arn,
            subject=github.subject(env.name),
            endpoint_names=tuple(env.endpoint_name(endpoint_id) for endpoint_id in sorted(env.endpoints)),
            package_groups=tuple(sorted({env.package_group(e.model) for e in env.endpoints.values()})),
            weights_bucket_name=env.weights_bucket_name, key_alias=naming.key_alias(env.name),
            images=tuple(images), stack_prefix=naming.stack_prefix(env.name)))
        CfnOutput(self, "DeployRoleArn", value=role.role.role_arn,
                  description=f"the workflows derive this ARN from the config: python -m scripts deploy-role "
                              f"--env {env.name} (docs/ci.md)")
        CfnOutput(self, "TrustedSubject", value=github.subject(env.name))
        if github.approval_routes(env.name):
            # Each of this registry's groups starts promotions of the target's endpoints serving its model.
            ApprovalDispatch(self, "ApprovalDispatch", ApprovalDispatchProps(
                repository=github.repository, target_environment=trust.promote_on_approval_to,
                routes=github.approval_routes(env.name)))
