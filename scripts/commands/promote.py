"""`promote`: move one endpoint to a pinned version, blue/green, through every gate."""

from __future__ import annotations

import click

from scripts.lib.output import Output
from scripts.lib.repo import repo_root

HELP = """Promote ENDPOINT of ENV to VERSION, blue/green, and prove it is live as pinned.

\b
1. Gates (all reported together; any refusal changes nothing, exit 4):
   promotion order (promote_after), approval in the manifest and in the Model
   Registry, evaluation evidence against the endpoint's thresholds, weights and
   image verified against the pin, endpoint InService, no deployment in flight
   (endpoint pending or its CloudFormation stack in progress, from any checkout),
   the stack deployed the config that serves, the instance quota ("<type> for
   endpoint usage") fits both fleets, no rollback alarm in ALARM (notify-only
   alarms are listed as ignored).
2. Synthesizes ENV with the target version, sets endpoints.ENDPOINT.version in
   environments/ENV.yaml (one token; comments, layout and file mode kept) and runs
   `cdk deploy` of that endpoint's stack with the pinned CDK CLI: CloudFormation
   applies the endpoint's blue/green DeploymentConfig (canary / linear /
   all-at-once, alarm rollback). An instance-type change on an autoscaled variant
   is done in 3 deploys (autoscaling removed, instance changed, restored).
3. Watches DescribeEndpoint (and the stack) to the end (live line on a terminal,
   JSON lines otherwise), then checks the live package, image digest and weights
   prefix against the pin and sends the endpoint's smoke_test; a failure there
   rolls back to the previous version.
4. Appends one final record to history/promotions.jsonl, printed as the last
   JSON line. On any failure the config is set back to the version actually live.

\b
--component C promotes one inference component of a component endpoint
(component_endpoints: in ENV.yaml) to a pinned version: `base` (a model pin:
a rolling update of its copies that SageMaker rolls back on the base's alarms)
or an adapter component (an adapter pin: swapped in place on every copy of the
base, baked for the base's wait_seconds against the adapter's alarms, and rolled
back by promote when one fires). The other components keep serving. Same gates,
history (endpoint "<key>/<component>") and exit codes.

\b
Interruptions: SIGINT and SIGTERM stop the CDK CLI, set the config to the live
version and record `interrupted` (exit 130); a deployment already started goes
on in AWS. After kill -9 the CLI dies too; the next run closes the killed run's
record as `abandoned`. Rerun the same command to follow or finish the attempt.

\b
Exit codes: 0 promoted (or already live), 2 invalid input (nothing changed,
nothing recorded), 3 AWS error (the record says whether the live version is
known), 4 refused by a gate or another deployment in flight, 5 SageMaker rolled
back (alarm), 6 CloudFormation or the endpoint failed, 7 live check or smoke
test failed (rolled back), 8 timed out (the deployment goes on in AWS),
70 internal error (a bug: rerun with --debug), 130 interrupted (SIGINT/SIGTERM).

\b
Example:
  python -m scripts promote --env staging --endpoint intent-3b --version v2
  python -m scripts promote --env prod --endpoint intent-3b --version v2 --dry-run
  python -m scripts promote --env dev --endpoint intents-lora --component support --version v2
"""


def common_options(fn):
    for option in reversed([
        click.option("--env", "env", required=True, help="Environment (environments/<env>.yaml)."),
        click.option("--endpoint", required=True, help="Endpoint key in the environment, e.g. intent-3b."),
        click.option("--component", default=None,
                     help="On a component endpoint: the inference component (base, or an adapter component's id)."),
        click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=None,
                     help="Seconds to wait for the deployment [default: max_execution_seconds + 1800]."),
        click.option("--poll", "poll_s", type=click.FloatRange(0.05, 300), default=15.0, show_default=True,
                     help="Seconds between DescribeEndpoint polls."),
        click.option("--no-smoke", is_flag=True, help="Skip the smoke_test invocations (the live check stays)."),
        click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output."),
    ]):
        fn = option(fn)
    return fn


def run(**kwargs) -> None:
    from scripts.promotion.flow import Promotion, Request

    json_mode = kwargs.pop("json_mode")
    no_smoke = kwargs.pop("no_smoke")
    component = kwargs.pop("component")
    request = Request(smoke=not no_smoke, **kwargs)
    if component is not None:  # one inference component of a component endpoint (scripts/promotion/components.py)
        from scripts.promotion.components import ComponentPromotion

        ComponentPromotion(repo_root(), request, component, Output(json_mode)).run()
        return
    Promotion(repo_root(), request, Output(json_mode)).run()


@click.command("promote", help=HELP)
@common_options
@click.option("--version", "version", required=True, help="Pinned version to promote, e.g. v2.")
@click.option("--strategy", type=click.Choice(["canary", "linear", "all-at-once"]), default=None,
              help="Traffic shifting for this deployment only [default: the endpoint's deployment.strategy].")
@click.option("--dry-run", is_flag=True, help="Run the gates and show the CDK diff; change nothing.")
def command(**kwargs) -> None:
    run(kind="promote", **kwargs)
