"""`synth`: validate, run the pinned CDK CLI into a temporary directory, swap it into cdk.out, summarize.

cdk.out is replaced in one rename only after a successful synth (cdk-nag
included), so a failed run leaves the previous assembly as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click

from scripts.commands.summary import print_summary
from scripts.lib import cdk, pids
from scripts.lib.errors import CheckFailed
from scripts.lib.output import Output
from scripts.lib.repo import project, repo_root


def synthesize(root: Path, env: str | None, out: Output) -> Path:
    target = root / "cdk.out"
    _clear_leftovers(root, target)
    staging = root / f"cdk.out.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    args = ["synth", "--quiet", "--output", str(staging)]
    if env:
        args += ["--context", f"env={env}"]
    out.event("synth", f"cdk synth {'--context env=' + env if env else '(all environments)'} …")
    try:
        result = cdk.run(args, cwd=root)
    except BaseException:  # Ctrl-C or a cancelled CI job's SIGTERM: the CLI is stopped, its output dropped
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
        for line in lines[-40:]:
            click.echo(line, err=True)
        raise CheckFailed("cdk synth failed (see above); cdk.out was left unchanged")
    previous = root / f"cdk.out.old-{os.getpid()}"
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)
    return target


def _clear_leftovers(root: Path, target: Path) -> None:
    """What a synth killed with -9 (no handler runs) left: its staging directory, and its previous
    cdk.out if it died between the two renames (put back when there is no cdk.out). Only those of
    processes that are gone: a synth running beside this one keeps its own."""
    for path in sorted(root.glob("cdk.out.*-*")):
        kind, _, pid = path.name.removeprefix("cdk.out.").partition("-")
        if kind not in ("tmp", "old") or not pid.isdigit() or pids.alive(int(pid)):
            continue
        if kind == "old" and not target.exists():
            path.rename(target)
        else:
            shutil.rmtree(path, ignore_errors=True)



@click.command("synth")
@click.option("--env", "env", default=None, help="Synthesize only this environment.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env: str | None, json_mode: bool | None) -> None:
    """Validate, synthesize every environment into cdk.out/ and print the review summary.

    Exit 0 on success; 2 when a config or pin is invalid (cdk.out untouched);
    1 when the CDK or cdk-nag refuses the app; 130 when interrupted (Ctrl-C, SIGTERM).
    cdk.out is left untouched unless the synth succeeds.
    """
    out = Output(json_mode)
    loaded = project(env)
    out.event("valid", f"valid: {', '.join(sorted(loaded.environments))}; {len(loaded.pins)} pinned version(s)")
    print_summary(synthesize(repo_root(), env, out), out)
