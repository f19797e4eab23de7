"""`status`: what each endpoint runs, against what the repo says it should run."""

from __future__ import annotations

import click

from scripts.lib.errors import CheckFailed
from scripts.lib.output import Output
from scripts.lib.repo import project, repo_root

HELP = """Per endpoint: configured version vs deployed version (DescribeEndpoint -> endpoint
config -> model -> registry package) vs registry status, endpoint status, the
deployment in flight, alarms firing, drift and the last promotion record.

\b
Drift: the deployed version, image digest, weights prefix, manifest hash or
instance type differs from what the config and its pin say.

\b
In flight: a pending deployment (PendingDeploymentSummary) or the endpoint's
CloudFormation stack in progress. Last promotion: the last history record, or
UNFINISHED for a run with no final record yet (deploying now, or killed).
Unreadable history lines are skipped with a warning.

\b
Component endpoints get one row per inference component (<endpoint>-base and
one per adapter). A component at zero copies says so: the next request fails
and wakes it, and requests fail for minutes while it comes back; that alone is
not drift. Coming back from zero counts as in flight.

\b
Exit codes: 0 everything matches and nothing is firing or in flight, 1 drift,
an alarm firing, a deployment in flight, an unfinished run or an endpoint not
InService, 2 invalid input, 3 AWS could not be read for some endpoint (the
rows say which; their drift is unknown), 70 internal error.
"""

COLUMNS = ["endpoint", "config", "deployed", "registry", "status", "in flight", "alarms", "drift", "last promotion"]


@click.command("status", help=HELP)
@click.option("--env", "env", default=None, help="Only this environment [default: every environment].")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env: str | None, json_mode: bool | None) -> None:
    from scripts.lib.errors import Exit, UserError
    from scripts.promotion import history
    from scripts.promotion.component_status import WAKING, component_rows
    from scripts.promotion.endpoint_status import endpoint_rows

    out = Output(json_mode)
    loaded = project(env)
    if env and env not in loaded.environments:
        raise click.BadParameter(f"no environment {env!r}; use one of: {', '.join(sorted(loaded.environments))}",
                                 param_hint="--env")
    records = history.load(repo_root())
    if records.warning():
        out.warn(records.warning())
    rows, attention = [], []
    for environment in [loaded.environments[env]] if env else loaded.environments.values():
        for row in endpoint_rows(repo_root(), loaded, environment, records.records) + \
                component_rows(repo_root(), loaded, environment, records.records):
            rows.append(row)
            if row.needs_attention or "UNFINISHED" in row.last_promotion:
                attention.append(row.endpoint)
    out.table("status", COLUMNS, [r.cells() for r in rows], key_column=True)
    for row in rows:  # component endpoints at zero, or coming back (component_status.py)
        if getattr(row, "note", "") or row.in_flight == WAKING:
            out.event("scale-to-zero", f"{row.endpoint}: {getattr(row, 'note', '') or row.in_flight}",
                      endpoint=row.endpoint)
    out.result({"endpoints": [r.to_dict() for r in rows], "attention": attention})
    unread = [r.endpoint for r in rows if r.aws_error]
    if unread:
        raise UserError(f"status: AWS could not be read for {len(unread)} endpoint(s): {', '.join(unread)} "
                        f"({next(r.error for r in rows if r.aws_error)})", Exit.AWS_ERROR)
    if attention:
        raise CheckFailed(f"status: {len(attention)} endpoint(s) need attention: {', '.join(attention)}")
