"""`deploy`: synthesize one environment, refuse it while any serving pin is not what the account
holds, then `cdk deploy` its stacks (what `make deploy ENV=...` runs).

The example pins carry placeholder checksums and digests, and a pin nobody uploaded fails only
minutes later inside SageMaker; the check here is the one `promote` runs (its `verified` gate,
scripts/promotion/gates.py `pins_verified`: objects by SHA-256 in the environment's bucket,
image digests in ECR), for every version an endpoint of the environment serves, live or shadow.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from config import naming
from config.environment import Environment
from config.errors import SpecErrors
from config.pin import Pin
from config.project import Project
from scripts.lib import cdk
from scripts.lib.errors import CheckFailed, Exit, UserError
from scripts.lib.output import Output
from scripts.lib.repo import project as load, repo_root

HELP = """Deploy one environment to AWS with your credentials: synthesize it into a temporary
directory (validation, cdk-nag and the Control Tower rules included), verify every serving pin
against the account, then run the pinned CDK CLI's `cdk deploy` on the environment's stacks.

\b
Verified before anything changes, per version an endpoint serves (live and shadow): every
pinned weight file is in the environment's weights bucket with its SHA-256, and every image
digest is in ECR (the check `promote` runs; `verify` shows the details). Any failure: one line
per pin naming it and the fix, and nothing is deployed.

\b
On a new account: `cdk bootstrap`, then `deploy --env E --artifacts-only` (the bucket, key and
registry: no pin is served yet, so nothing is verified), upload the weights (`pin-weights`),
then `deploy --env E`.

\b
Exit codes: 0 deployed; 1 synthesis (cdk-nag, Control Tower rules) or `cdk deploy` failed;
2 invalid input (config, flag, or credentials of another account); 3 AWS error;
4 a serving pin is not verified (nothing was deployed).
"""


class PinsNotVerified(UserError):
    def __init__(self, message: str):
        super().__init__(message, Exit.GATE_REFUSED)


@click.command("deploy", help=HELP)
@click.option("--env", "env_name", required=True, help="The environment (environments/<env>.yaml).")
@click.option("--artifacts-only", is_flag=True, help="Deploy only llama-<env>-artifacts (no pin is verified).")
@click.option("--require-approval", type=click.Choice(["never", "any-change", "broadening"]),
              default="broadening", show_default=True, help="cdk deploy's approval of security changes.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(env_name: str, artifacts_only: bool, require_approval: str, json_mode: bool | None) -> None:
    out = Output(json_mode)
    root = repo_root()
    loaded = load(env_name)
    env = loaded.environments[env_name]
    _same_account(env)
    workdir = Path(tempfile.mkdtemp(prefix=f"deploy-{env_name}-"))
    try:
        out.event("synth", f"synthesizing {env_name} …")
        _synthesize(root, workdir / "cdk.out", env_name)
        stacks = [naming.artifacts_stack(env_name)] if artifacts_only else [naming.stack_prefix(env_name) + "*"]
        if not artifacts_only:
            pins = serving_pins(loaded, env)
            out.event("verify", f"verifying {len(pins)} serving pin(s) against s3://{env.weights_bucket_name} and ECR")
            refuse_unverified(env, pins)
        out.event("deploy", f"cdk deploy {' '.join(stacks)}")
        code = cdk.attached(["deploy", "--app", str(workdir / "cdk.out"), *stacks,
                             "--require-approval", require_approval], cwd=workdir)
        if code != 0:
            raise CheckFailed(f"cdk deploy exited {code} (see its output above); "
                              "fix: read the CloudFormation events it printed, then run deploy again")
        out.result({"event": "deployed", "environment": env_name, "stacks": stacks})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def serving_pins(project: Project, env: Environment) -> list[Pin]:
    """Every version an endpoint of `env` serves: live and shadow."""
    refs = {(e.model, v) for e in env.endpoints.values() for v in (e.version, e.shadow_version) if v}
    return [project.pins[ref] for ref in sorted(refs)]


def refuse_unverified(env: Environment, pins: list[Pin]) -> None:
    """PinsNotVerified (exit 4) with one line per pin that fails promote's `verified` gate."""
    from scripts.lib.aws import client
    from scripts.promotion.gates import FAIL, pins_verified

    s3 = client("s3", env.region)
    refused = [(pin, gate) for pin in pins
               if (gate := pins_verified(s3, lambda region: client("ecr", region), env, pin)).result == FAIL]
    if refused:
        lines = [f"{pin.model}/{pin.version}: {gate.detail}; fix: {gate.fix}" for pin, gate in refused]
        raise PinsNotVerified(f"{len(refused)} serving pin(s) of {env.name} are not what the account holds; "
                              "nothing was deployed:\n  " + "\n  ".join(lines))


def _same_account(env: Environment) -> None:
    from scripts.lib.aws import client

    account = client("sts", env.region).get_caller_identity()["Account"]
    if account != env.account:
        raise UserError(f"--env {env.name}: your credentials are for account {account}, {env.name} is "
                        f"{env.account}; fix: use credentials of account {env.account}")


def _synthesize(root: Path, outdir: Path, env_name: str) -> None:
    try:
        cdk.synthesize(root, outdir, env_name)
    except SpecErrors:
        raise
    except Exception as exc:  # jsii: a construct validation, cdk-nag or a Control Tower rule refused
        raise CheckFailed(f"synthesis of {env_name} failed: {str(exc).splitlines()[0][:300]}; "
                          "fix: run `make synth ENV=" + env_name + "` for the full report") from None
