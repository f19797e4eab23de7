"""`rollback`: back to the version that was live before, all-at-once, without alarm rollback."""

from __future__ import annotations

import click

from scripts.commands.promote import common_options, run

HELP = """Roll ENDPOINT of ENV back to the version live before the current one.

\b
The version comes from history/promotions.jsonl (the last successful
promotion to what is live now), or --to V. The deployment is all-at-once by
default and without alarm-driven auto-rollback (those alarms are probably why
you are rolling back). Gates: the version is pinned, verified and not Rejected
in the registry; the endpoint is InService with nothing in flight. The config
is edited, the history appended, and exit codes are those of promote.

\b
Example:
  python -m scripts rollback --env prod --endpoint intent-3b
  python -m scripts rollback --env prod --endpoint intent-3b --to v1 --strategy canary
  python -m scripts rollback --env dev --endpoint intents-lora --component support
"""


@click.command("rollback", help=HELP)
@common_options
@click.option("--to", "version", default=None, help="Version to roll back to [default: from the history].")
@click.option("--strategy", type=click.Choice(["canary", "linear", "all-at-once"]), default=None,
              help="Traffic shifting for the rollback [default: all-at-once; a component rolls out by its own "
                   "deployment block].")
def command(**kwargs) -> None:
    if kwargs.get("strategy") is None and kwargs.get("component") is None:
        kwargs["strategy"] = "all-at-once"
    run(kind="rollback", dry_run=False, **kwargs)
