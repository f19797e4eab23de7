"""GitHub config (`github.yaml`, optional): which repository's workflows may deploy each environment.

Each environment listed here gets a deploy role (stacks/github_deploy_stack.py) that
trusts GitHub's OIDC tokens whose `sub` claim is exactly one branch or one GitHub
environment of this repository. The role's trust uses StringEquals, so nothing here may
be a pattern: a wildcard would silently widen who can deploy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PrivateAttr, model_validator

from config.environment import Environment
from config.errors import Invalid, SpecError
from config.fields import ResourceName, Strict
from config.loader import load_model

GITHUB_FILE = "github.yaml"
OIDC_HOST = "token.actions.githubusercontent.com"
OIDC_AUDIENCE = "sts.amazonaws.com"  # what aws-actions/configure-aws-credentials asks GitHub for

# GitHub owner (user or organization) and repository names.
REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
# A git branch name without the pattern characters IAM or git would read specially.
BRANCH = re.compile(r"^(?!refs/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,200}(?<![/.])$")
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,255}$")


def _matching(pattern: re.Pattern, problem: str, fix: str) -> AfterValidator:
    """A string field that must match `pattern`; `problem` may quote the value as {value}."""
    def check(value: str) -> str:
        if not pattern.match(value):
            raise Invalid(problem.format(value=value), fix)
        return value
    return AfterValidator(check)


Repository = Annotated[str, _matching(
    REPOSITORY, "'{value}' is not a GitHub repository",
    "write owner/name exactly as GitHub spells it, e.g. example-org/pinned-llama")]
Branch = Annotated[str, _matching(
    BRANCH, "'{value}' is not a plain branch name",
    "write the branch name alone, e.g. main (no refs/heads/, no wildcards: the role trusts exactly this branch)")]
GitHubEnvironmentName = Annotated[str, _matching(
    ENVIRONMENT_NAME, "'{value}' is not a GitHub environment name",
    "use letters, digits, '.', '_' or '-', e.g. prod (no wildcards)")]


class DeployTrust(Strict):
    """Where one environment's deploy role may be used from: a branch, or a GitHub environment."""

    branch: Branch | None = None
    # A GitHub environment with required reviewers: its jobs wait for approval, then get a token
    # whose sub is repo:<owner>/<name>:environment:<name>.
    github_environment: GitHubEnvironmentName | None = None
    # One OIDC provider per URL per account: set false where the account has one already.
    create_oidc_provider: bool = True
    # An approval in this environment's Model Registry starts the promote workflow towards this
    # environment (optional; the token is set out-of-band, docs/ci.md).
    promote_on_approval_to: ResourceName | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "DeployTrust":
        if (self.branch is None) == (self.github_environment is None):
            raise Invalid("set exactly one of branch or github_environment",
                          "use branch: main for dev/staging, github_environment: prod (with required "
                          "reviewers) for production")
        return self

    def subject(self, repository: str) -> str:
        """The OIDC `sub` claim GitHub puts in tokens of jobs allowed to use the role."""
        if self.branch is not None:
            return f"repo:{repository}:ref:refs/heads/{self.branch}"
        return f"repo:{repository}:environment:{self.github_environment}"


class GitHub(Strict):
    schema_version: Literal[1] = 1
    repository: Repository
    environments: dict[ResourceName, DeployTrust] = Field(min_length=1)

    def subject(self, environment: str) -> str:
        return self.environments[environment].subject(self.repository)

    # Filled by load_github, which sees every environment (a single-environment synth does not):
    # per environment, (model package group here, endpoint key in promote_on_approval_to).
    _approval_routes: dict[str, tuple[tuple[str, str], ...]] = PrivateAttr(default_factory=dict)

    def approval_routes(self, environment: str) -> tuple[tuple[str, str], ...]:
        return self._approval_routes.get(environment, ())


def load_github(root: Path, env_names: set[str], environments: dict[str, Environment]
                ) -> tuple[GitHub | None, list[SpecError]]:
    """`github.yaml` if the repo has one (without it no deploy roles are built), checked against the environments.

    `env_names` are all environment files, `environments` those that loaded: an environment whose
    own file is broken is reported there, not again here.
    """
    path = root / GITHUB_FILE
    if not path.is_file():
        return None, []
    loaded, errors = load_model(GitHub, path, GITHUB_FILE)
    if loaded is None:
        return None, errors
    for name, trust in loaded.value.environments.items():
        at = ("environments", name)
        if name not in env_names:
            errors.append(loaded.error(at, f"no environment named '{name}'",
                                       f"use one of: {', '.join(sorted(env_names))}"))
        elif name in environments and environments[name].production and trust.github_environment is None:
            # A branch is all anyone with push access needs; an environment adds required reviewers.
            errors.append(loaded.error(at + ("branch",),
                                       f"{name} is a production environment but its role trusts a branch",
                                       f"use github_environment: {name} (a GitHub environment with required "
                                       "reviewers) instead of branch"))
        target = trust.promote_on_approval_to
        if target is not None and target not in loaded.value.environments:
            errors.append(loaded.error(at + ("promote_on_approval_to",),
                                       f"'{target}' has no deploy role here to promote with",
                                       f"use one of: {', '.join(sorted(loaded.value.environments))}"))
    if errors:
        return None, errors
    github = loaded.value
    for name, trust in github.environments.items():
        source, target = environments.get(name), environments.get(trust.promote_on_approval_to or "")
        if source is not None and target is not None:
            served = {e.model for e in source.endpoints.values()}
            github._approval_routes[name] = tuple(sorted((f"{name}-{e.model}", key)
                                                         for key, e in target.endpoints.items() if e.model in served))
    return github, []
