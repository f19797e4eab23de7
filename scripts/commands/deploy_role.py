"""`deploy-role`: the deploy role ARN and region a GitHub workflow job uses, as GITHUB_OUTPUT lines.

.github/actions/promote calls it before configure-aws-credentials. Both values come from the
validated config (config/naming.py), so they cannot drift from what the
llama-<env>-github-deploy stack creates.
"""

from __future__ import annotations

import click

from config import naming
from config.github import GITHUB_FILE
from scripts.lib.errors import UserError
from scripts.lib.repo import project


@click.command("deploy-role")
@click.option("--env", "env", required=True, help="Environment with a deploy role in github.yaml.")
def command(env: str) -> None:
    """Print `role-arn=...` and `region=...` of ENV's GitHub deploy role (append them to $GITHUB_OUTPUT).

    Exit 0 printed; 2 when the config is invalid or ENV has no deploy role in github.yaml.
    """
    loaded = project(env)
    if loaded.github is None or env not in loaded.github.environments:
        raise UserError(f"{GITHUB_FILE}: environments: no deploy role for '{env}'; fix: add it to {GITHUB_FILE} "
                        f"(docs/ci.md) and deploy its {naming.github_deploy_stack(env)} stack")
    environment = loaded.environments[env]
    click.echo(f"role-arn={naming.deploy_role_arn(env, environment.account, environment.region)}")
    click.echo(f"region={environment.region}")
