"""`summary`: the review summary of a synthesized assembly (what each endpoint stack deploys)."""

from __future__ import annotations

from pathlib import Path

import click

from scripts.lib.assembly import endpoint_reviews, stack_templates
from scripts.lib.output import Output
from scripts.lib.repo import repo_root


def print_summary(assembly: Path, out: Output) -> None:
    stacks = stack_templates(assembly)
    reviews = endpoint_reviews(assembly)
    out.event("stacks", f"{len(stacks)} stack(s) in {assembly}: {', '.join(stacks)}", stacks=list(stacks))
    out.table("Endpoints", ["stack", "endpoint", "version", "image digest", "instance", "initial/min-max",
                            "scaling", "deployment", "rollback alarms", "alarms"],
              [[r.stack, r.endpoint,
                f"{r.model} {r.version}" + (f" (shadow {r.shadow_version})" if r.shadow_version else ""),
                r.digest[:19] + "…", r.instance_type, r.instances,
                r.scaling, r.strategy, ", ".join(a.removeprefix(r.endpoint + "-") for a in r.rollback_alarms),
                len(r.alarms)] for r in reviews])
    from scripts.lib.component_assembly import component_reviews

    components = component_reviews(assembly)
    if components:
        out.table("Component endpoints (inference components)",
                  ["stack", "endpoint", "base", "adapters", "instance", "instances initial/min-max",
                   "base copies initial/min-max", "to zero", "base rolling update", "rollback alarms"],
                  [[c.stack, c.endpoint, c.base, "; ".join(c.adapters), c.instance_type, c.instances, c.copies,
                    "yes" if c.scales_to_zero else "no", c.rolling, c.rollback_alarms] for c in components])


@click.command("summary")
@click.option("--assembly", type=click.Path(path_type=Path), default=None,
              help="Cloud assembly directory (default: cdk.out in the repo).")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(assembly: Path | None, json_mode: bool | None) -> None:
    """Print stacks, endpoints, versions, digests, instance types, scaling and alarms of cdk.out."""
    print_summary(assembly or repo_root() / "cdk.out", Output(json_mode))
