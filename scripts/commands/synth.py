"""`synth`: validate, run the pinned CDK CLI into a temporary directory, swap it into cdk.out, summarize.

cdk.out is replaced in one rename only after a successful synth (cdk-nag
included), so a failed run leaves the previous assembly as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import click

from scripts.commands.summary import print_summary
from scripts.lib.errors import CheckFailed, UserError
from scripts.lib.output import Output
from scripts.lib.repo import project, repo_root


def cdk_cli(root: Path) -> Path:
    cli = root / "node_modules" / ".bin" / "cdk"
    if not cli.exists():
        raise UserError("node_modules/.bin/cdk: the pinned CDK CLI is not installed; fix: run `make setup` (npm ci)")
    return cli


def cdk_env() -> dict[str, str]:
    # Node 20 still runs jsii fine; its end-of-life banner would drown the output.
    return {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1", "CDK_DISABLE_CLI_TELEMETRY": "true"}


def synthesize(root: Path, env: str | None, out: Output) -> Path:
    target = root / "cdk.out"
    staging = root / f"cdk.out.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    args = [str(cdk_cli(root)), "synth", "--quiet", "--output", str(staging)]
    if env:
        args += ["--context", f"env={env}"]
    out.event("synth", f"cdk synth {'--context env=' + env if env else '(all environments)'} …")
    result = subprocess.run(args, cwd=root, env=cdk_env(), capture_output=True, text=True)
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


@click.command("synth")
@click.option("--env", "env", default=None, help="Synthesize only this environment.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env: str | None, json_mode: bool | None) -> None:
    """Validate, synthesize every environment into cdk.out/ and print the review summary.

    Exit 0 on success; 2 when a config or pin is invalid (cdk.out untouched);
    1 when the CDK or cdk-nag refuses the app (cdk.out untouched).
    """
    out = Output(json_mode)
    loaded = project(env)
    out.event("valid", f"valid: {', '.join(sorted(loaded.environments))}; {len(loaded.pins)} pinned version(s)")
    print_summary(synthesize(repo_root(), env, out), out)
