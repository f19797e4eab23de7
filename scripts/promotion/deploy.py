"""Synthesize one environment with per-deployment overrides, then run the pinned CDK CLI on one stack.

The app is synthesized in this process (the same code as `app.py`, cdk-nag
included) into a private directory, so `cdk.out/` and other users' runs are
untouched; the CLI then deploys that assembly with `--exclusively`: only the
endpoint stack, whose template differs only where the config changed. `promote`
builds only that stack and the artifacts stack it imports from.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scripts.lib.errors import CheckFailed
from scripts.lib.repo import ROOT


@dataclass(frozen=True)
class Override:
    """One deployment's departure from the config (stacks/environment_app.py DEPLOY_OVERRIDES)."""

    strategy: str | None = None
    suspend_autoscaling: bool = False
    auto_rollback: bool = True
    version: str | None = None  # phase 1 of an instance-type change: what is live now
    instance_type: str | None = None

    def context(self) -> dict:
        values = {"strategy": self.strategy, "suspend_autoscaling": self.suspend_autoscaling,
                  "version": self.version, "instance_type": self.instance_type}
        context = {k: v for k, v in values.items() if v}
        if not self.auto_rollback:
            context["auto_rollback"] = False
        return context


def synthesize(root: Path, env: str, overrides: dict[str, Override], workdir: Path,
               endpoint: str | None = None) -> Path:
    """cdk.out of one environment in `workdir`; `overrides` keyed "<env>/<endpoint>". With `endpoint`,
    only the stacks deploying it needs (its own and the artifacts stack it imports from)."""
    from config.project import load_project
    from stacks.environment_app import DEPLOY_OVERRIDES, build, new_app

    outdir = Path(tempfile.mkdtemp(prefix="assembly-", dir=workdir))
    context = {"env": env, DEPLOY_OVERRIDES: {k: o.context() for k, o in overrides.items() if o.context()}}
    app = new_app(root, outdir=str(outdir), context=context)
    build(app, load_project(root, only_env=env), only_endpoint=f"{env}/{endpoint}" if endpoint else None)
    try:
        app.synth()
    except Exception as exc:  # jsii surfaces cdk-nag and construct errors as RuntimeError
        raise CheckFailed(f"synth of {env} failed: {str(exc).splitlines()[0][:400]}") from None
    return outdir


def cdk_cli() -> Path:
    """The pinned CLI of this checkout (PINNED_LLAMA_ROOT may point at a copy without node_modules)."""
    from scripts.commands.synth import cdk_cli as checkout_cli

    return checkout_cli(ROOT)


def cdk_environ() -> dict[str, str]:
    from scripts.commands.synth import cdk_env

    return {**cdk_env(), "CI": "true", "FORCE_COLOR": "0"}


def start_deploy(assembly: Path, stack: str, log: Path) -> subprocess.Popen:
    """`cdk deploy` of one stack in the background; its output goes to `log`."""
    args = [str(cdk_cli()), "deploy", "--app", str(assembly), stack, "--exclusively",
            "--require-approval", "never", "--progress", "events", "--no-notices"]
    handle = log.open("w")
    try:
        # cwd: the private assembly's directory, not the checkout: the CLI would read the
        # checkout's cdk.json and lock its cdk.out against a concurrent `make synth`.
        return subprocess.Popen(args, cwd=assembly.parent, env=cdk_environ(), stdout=handle,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        handle.close()


def diff(assembly: Path, stack: str) -> tuple[int, str]:
    """`cdk diff` of one stack against what CloudFormation has (exit 0 no change, 1 changes)."""
    args = [str(cdk_cli()), "diff", "--app", str(assembly), stack, "--exclusively", "--no-notices",
            "--fail"]
    result = subprocess.run(args, cwd=assembly.parent, env=cdk_environ(), capture_output=True, text=True)
    return result.returncode, (result.stdout + result.stderr)


def tail(log: Path, lines: int = 12) -> str:
    try:
        text = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return "\n".join(text[-lines:])
