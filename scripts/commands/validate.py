"""`validate`: check every environment config and pin manifest; exit 2 listing all problems."""

from __future__ import annotations

import click

from scripts.lib.output import Output
from scripts.lib.repo import project


@click.command("validate")
@click.option("--env", "env", default=None, help="Report on one environment; problems in any config or pin are still reported, since they are loaded together.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON output.")
def command(env: str | None, json_mode: bool | None) -> None:
    """Validate environment configs and pin manifests together.

    Every problem is printed on one line (file:line: field: problem; fix: ...),
    all at once. Exit 0 when valid, 2 otherwise.
    """
    loaded = project(env)
    out = Output(json_mode)
    endpoints = sum(len(e.endpoints) for e in loaded.environments.values())
    out.event("valid", f"valid: {len(loaded.environments)} environment(s), {endpoints} endpoint(s), "
              f"{len(loaded.pins)} pinned version(s)",
              environments=sorted(loaded.environments), pins=[f"{m}/{v}" for m, v in sorted(loaded.pins)])
