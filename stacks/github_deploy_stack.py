"""GitHubDeployStack: per environment account, the GitHub OIDC provider and the deploy role.

Deployed once per account with administrator credentials (docs/ci.md); from then on
GitHub Actions deploys and promotes through the role, with no long-lived keys. The role
name is fixed (llama-<env>-github-deploy) so the workflows' role ARN can be read off it.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from spec.environment import Environment
from spec.github import DeployTrust, GitHub
from spec.pin import Pin
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
                  description=f"set as the GitHub variable AWS_DEPLOY_ROLE_{env.name.upper()} (docs/ci.md)")
        CfnOutput(self, "TrustedSubject", value=github.subject(env.name))
