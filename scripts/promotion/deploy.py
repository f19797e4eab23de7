"""Synthesize one environment with per-deployment overrides, then run the pinned CDK CLI on one stack.

The app is synthesized in this process (the same `build` as `app.py`, cdk-nag included)
into a private directory, so `cdk.out/` and other users' runs are untouched; the CLI then
deploys that assembly with `--exclusively`: only the endpoint stack, whose template differs
only where the config changed. Only that stack and the artifacts stack it imports from are
built (each exactly as in a full synth).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from config.deploy_override import Deployment, DeployOverride, DeployOverrides, key
from config.errors import SpecErrors
from scripts.lib import cdk, pids
from scripts.lib.errors import CheckFailed


WORKDIR_PREFIX = "promote-"


def workdir(kind: str = "") -> tempfile.TemporaryDirectory:
    """A private directory for one deploy (assembly, CLI log), named by this process's pid so
    that the next run can remove what a killed run left (`sweep_workdirs`)."""
    return tempfile.TemporaryDirectory(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-{kind}")


def sweep_workdirs() -> list[Path]:
    """Remove the work directories of promote runs that are gone (kill -9 skips their cleanup)."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        pid = path.name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if path.is_dir() and pid.isdigit() and not pids.alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def synthesize(root: Path, env: str, endpoint_id: str, override: DeployOverride, workdir: Path) -> Path:
    """cdk.out in `workdir` of what deploying one endpoint needs, with `override` on it."""
    outdir = Path(tempfile.mkdtemp(prefix="assembly-", dir=workdir))
    try:
        cdk.synthesize(root, outdir, env, DeployOverrides({key(env, endpoint_id): override}),
                       only=Deployment(env, endpoint_id))
    except SpecErrors:
        raise
    except Exception as exc:  # jsii surfaces cdk-nag and construct errors as RuntimeError
        raise CheckFailed(f"synth of {env} failed: {str(exc).splitlines()[0][:400]}") from None
    return outdir


def start_deploy(assembly: Path, stack: str, log: Path) -> subprocess.Popen:
    """`cdk deploy` of one stack in the background; its output goes to `log`.

    cwd: the private assembly's directory, not the checkout: the CLI would read the checkout's
    cdk.json and lock its cdk.out against a concurrent `make synth`."""
    return cdk.start(["deploy", "--app", str(assembly), stack, "--exclusively", "--require-approval", "never",
                      "--progress", "events", "--no-notices"], cwd=assembly.parent, log=log)


def diff(assembly: Path, stack: str) -> tuple[int, str]:
    """`cdk diff` of one stack against what CloudFormation has (exit 0 no change, 1 changes)."""
    result = cdk.run(["diff", "--app", str(assembly), stack, "--exclusively", "--no-notices", "--fail"],
                     cwd=assembly.parent, env=cdk.environ(**cdk.NON_INTERACTIVE))
    return result.returncode, (result.stdout + result.stderr)


def tail(log: Path, lines: int = 12) -> str:
    try:
        text = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def stop(proc) -> None:
    """End the CDK CLI if it still runs (timeout, Ctrl-C, SIGTERM) and reap it: no zombie, no stray process.
    Killing the CLI stops nothing in AWS: an executed change set goes on in CloudFormation."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()  # the tether ends the CLI (SIGTERM, then SIGKILL after its grace period)
        try:
            proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - TimeoutExpired, or a second signal: make sure it is gone
            proc.kill()
            proc.wait()
    if proc.stdin is not None:
        proc.stdin.close()
