"""The CDK, run two ways: the pinned CLI (package.json, node_modules/.bin/cdk) and an in-process synth.

Every CDK CLI run of this project goes through here (`synth`, `promote`'s deploy and diff, the
emulator lab, the benchmarks), and so does every synth in this process (`synthesize`: `promote`,
the lab, the tests). Both run Node: 20 still runs jsii and the CLI, but their end-of-life and
telemetry banners would drown the output, so both get the same quiet environment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.lib.errors import UserError
from scripts.lib.repo import ROOT

if TYPE_CHECKING:
    from aws_cdk.cx_api import CloudAssembly

    from config.deploy_override import Deployment, DeployOverrides

QUIET = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
         "CDK_DISABLE_CLI_TELEMETRY": "true"}
# Machine-readable output for runs whose log a command reads back (promote's deploy).
NON_INTERACTIVE = {"CI": "true", "FORCE_COLOR": "0"}
TETHER = Path(__file__).with_name("tether.py")


def cli() -> Path:
    """This checkout's pinned CLI (a PINNED_LLAMA_ROOT copy of the inputs has no node_modules)."""
    path = ROOT / "node_modules" / ".bin" / "cdk"
    if not path.exists():
        raise UserError("node_modules/.bin/cdk: the pinned CDK CLI is not installed; fix: run `make setup` (npm ci)")
    return path


def environ(base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The process environment for a CLI run: `base` (default: this process's) with the banners off."""
    return {**(os.environ if base is None else base), **QUIET, **extra}


def quiet_node() -> None:
    """Before jsii starts in this process (an in-process synth): the same quiet Node as the CLI's."""
    for name, value in QUIET.items():
        os.environ.setdefault(name, value)


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
        timeout: float | None = None) -> subprocess.CompletedProcess:
    """`cdk ARGS` to the end, output captured. If this process is interrupted (Ctrl-C, SIGTERM as
    Interrupted) or the timeout passes, the CLI ends with everything it started: it runs in its own
    process group, because killing the Node CLI alone leaves its app (`python app.py`) writing on
    into the output directory the caller is about to remove."""
    with subprocess.Popen([str(cli()), *args], cwd=cwd, env=env or environ(), text=True, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            _end_group(process)
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _end_group(process: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM to the CLI's process group, SIGKILL after `grace_s`; the CLI reaped, the group gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(grace_s)
            break
        except subprocess.TimeoutExpired:
            continue
    process.wait()
    try:
        os.killpg(process.pid, signal.SIGKILL)  # a member that outlived the CLI (its app, mid-write)
    except ProcessLookupError:
        pass


def attached(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> int:
    """`cdk ARGS` on this terminal (its progress and its approval prompt are the user's); the exit code."""
    return subprocess.run([str(cli()), *args], cwd=cwd, env=env or environ()).returncode


def start(args: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`cdk ARGS` in the background, output to `log`, tied to this process by `tether.py`: it ends
    when this process ends, kill -9 included, or when the returned process is terminated."""
    handle = log.open("w")
    try:
        return subprocess.Popen([sys.executable, str(TETHER), str(cli()), *args], cwd=cwd,
                                env=env or environ(**NON_INTERACTIVE), stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.PIPE)  # the tether's lifeline: only this process holds it
    finally:
        handle.close()


def synthesize(root: Path, outdir: Path, env: str | None = None, overrides: DeployOverrides | None = None,
               only: Deployment | None = None) -> CloudAssembly:
    """The app of the repo at `root` synthesized in this process into `outdir` (cdk-nag included):
    one environment when `env` is given, with `overrides` for this synth only; with `only`, only
    the stacks that deployment needs. SpecErrors when the inputs or the overrides are invalid,
    before any construct exists."""
    quiet_node()
    from config.deploy_override import CONTEXT_KEY
    from config.project import load_project
    from stacks.environment_app import build, new_app

    context: dict = {"env": env} if env else {}
    if overrides is not None and overrides.root:
        context[CONTEXT_KEY] = overrides.to_context()
    app = new_app(root, outdir=str(outdir), context=context)
    build(app, load_project(root, only_env=env), only)
    return app.synth()
