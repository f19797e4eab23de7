"""GitHubOidcProvider: the account's IAM OIDC provider for GitHub Actions tokens.

IAM allows one provider per URL per account, so an account that has one already
references it by its well-known ARN instead of creating a second (which would fail).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack, aws_iam as iam
from constructs import Construct

from config.github import OIDC_AUDIENCE, OIDC_HOST


@dataclass(frozen=True)
class GitHubOidcProviderProps:
    create: bool = True  # false: reference the account's existing provider


class GitHubOidcProvider(Construct):
    def __init__(self, scope: Construct, id: str, props: GitHubOidcProviderProps):
        super().__init__(scope, id)
        if props.create:
            # No thumbprints: IAM fetches and checks GitHub's certificate chain itself, and a
            # pinned thumbprint would break when GitHub rotates its intermediate certificate.
            self.provider: iam.IOidcProvider = iam.OidcProviderNative(
                self, "Provider", url=f"https://{OIDC_HOST}", client_ids=[OIDC_AUDIENCE])
        else:
            stack = Stack.of(self)
            self.provider = iam.OidcProviderNative.from_oidc_provider_arn(
                self, "Provider", f"arn:{stack.partition}:iam::{stack.account}:oidc-provider/{OIDC_HOST}")
        self.arn = self.provider.oidc_provider_arn
