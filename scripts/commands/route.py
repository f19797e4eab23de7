"""`route`: change who answers the applications that use the client (thin: scripts/routing/)."""

from __future__ import annotations

import click

from scripts.lib.output import Output
from scripts.lib.repo import repo_root

HELP = """Set the routing mode of ENDPOINT in ENV for the application client, or show it.

\b
Modes, in the order of a migration off the hosted API (docs/applications.md):
  api         the API answers (before cutover)
  shadow      the API answers; Llama is asked in the background on a sample and compared
  canary      --percent of calls answered by Llama (API on failure), the rest by the API
  llama       Llama answers, the API when Llama fails
  llama-only  Llama only, no fallback (only after llama)

\b
1. Gates, toward Llama only (a route toward the API is never refused): the
   endpoint InService with nothing in flight, serving the configured version,
   Approved in the registry (canary and beyond), no alarm firing (the client's
   fallback-rate and shadow-agreement alarms included); llama-only after llama.
2. Sets endpoints.ENDPOINT.routing.mode (and canary_percent) in
   environments/ENV.yaml (one token each; comments and layout kept).
3. Synthesizes ENV and deploys only the routing stack (llama-ENV-ENDPOINT-routing),
   then reads the SSM parameter the clients read back (live check). Clients
   pick the change up within their cache TTL (30 s by default).
4. Appends a record (kind route) to history/promotions.jsonl. On any failure the
   config is set back to the routing actually live.
Without --mode: show the live routing against the config (exit 1 on drift).

\b
Exit codes: 0 routed (or shown, no drift), 1 drift (show), 2 invalid input,
3 AWS error, 4 refused by a gate or another route change running, 6 the deploy
failed (config restored), 130 interrupted.

\b
Example:
  python -m scripts route --env prod --endpoint intent-3b --mode shadow
  python -m scripts route --env prod --endpoint intent-3b --mode canary --percent 25
  python -m scripts route --env prod --endpoint intent-3b
"""


@click.command("route", help=HELP)
@click.option("--env", required=True, help="Environment (environments/<env>.yaml).")
@click.option("--endpoint", required=True, help="Endpoint key in the environment, e.g. intent-3b.")
@click.option("--mode", type=click.Choice(["api", "shadow", "canary", "llama", "llama-only"]), default=None,
              help="The routing mode to deploy [default: show the live one].")
@click.option("--percent", type=click.IntRange(1, 99), default=None,
              help="canary: share of calls Llama answers [default: the config's canary_percent].")
@click.option("--dry-run", is_flag=True, help="Run the gates; change nothing.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env: str, endpoint: str, mode: str | None, percent: int | None, dry_run: bool,
            json_mode: bool | None) -> None:
    from scripts.routing.flow import RouteChange, RouteRequest

    RouteChange(repo_root(), RouteRequest(env, endpoint, mode, percent, dry_run), Output(json_mode)).run()
