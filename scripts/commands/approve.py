"""`approve`: record an approval (or rejection) and its evaluation report in the pin and the registry.

Thin: checks, the manifest edit and the registry calls are in scripts/evaluation/approval.py.
"""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scripts.lib.output import Output
from scripts.lib.repo import repo_root

if TYPE_CHECKING:  # annotations only: the commands import their modules lazily
    from config.errors import SpecError
    from config.evaluation import EvaluationThresholds
    from config.pin import Approval

HELP = """Approve (or --reject) a pinned version (--model M) or adapter version (--adapter A),
with an evaluation report as evidence.

\b
Refused (exit 2, nothing written) when the report is for another model,
version or manifest_sha256, was interrupted (partial), or misses a threshold
configured now for the endpoint it ran on (its `evaluation.thresholds` in
environments/<env>.yaml). A rejection needs a report of this version too,
but no thresholds.

\b
Writes only the `approval` block of model_artifacts/<model>/<version>.yaml
(status, by, at, evidence: the report's path, sha256 and headline figures),
atomically; manifest_sha256 does not cover it, so the pin stays valid.
With --env, also sets ModelApprovalStatus of that version's package in the
environment's registry group <env>-<model> (found by its pin-version
metadata). Deploying the artifacts stack sets the same status from the pin.

\b
An adapter (--adapter A --version V): the report is evaluate --component's of
that adapter pin (adapter, version and manifest hash under `component`), the
thresholds are the component's; adapters are not Model Registry packages, so
only the adapter pin's `approval` block is written (--env is refused).

\b
Exit codes: 0 recorded, 2 refused or invalid input, 3 AWS error.

\b
Example:
  python -m scripts approve --model llama-3-2-3b-instruct --version v2 \\
      --report reports/llama-3-2-3b-instruct/v2/dev-intent-3b-20250301T120000Z/report.json --env dev
"""


@click.command("approve", help=HELP)
@click.option("--model", default=None, help="Model name, e.g. llama-3-2-3b-instruct.")
@click.option("--adapter", default=None, help="Or an adapter's name, e.g. support-intents (a report of evaluate "
                                               "--component).")
@click.option("--version", "version", required=True, help="The pinned version, e.g. v2.")
@click.option("--report", "report_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="report.json written by evaluate.")
@click.option("--reject", is_flag=True, help="Record a rejection instead.")
@click.option("--by", "by", default=None, help="Who decides (default: git user.email, else the login name).")
@click.option("--env", "env_name", default=None, help="Also set the status in this environment's Model Registry.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(model: str | None, adapter: str | None, version: str, report_path: Path, reject: bool, by: str | None,
            env_name: str | None, json_mode: bool | None) -> None:
    from scripts.evaluation import approval as ap
    from config.pin import Pin

    out = Output(json_mode)
    root = repo_root()
    if bool(model) == bool(adapter):
        from scripts.lib.errors import UserError

        raise UserError("--model/--adapter: give exactly one; fix: --model M for a model pin, --adapter A for an "
                        "adapter pin")
    if adapter:
        return _approve_adapter(out, root, adapter, version, report_path, reject, by, env_name)
    path = ap.pin_file(root, model, version)
    pin, pin_shown, decision, source = _decide(root, path, Pin, report_path, reject, by, ap.configured_thresholds,
                                               ap.refusals)
    registry = None
    if env_name is not None:
        registry = _set_registry(root, env_name, pin, decision)
        out.event("registry", f"{registry['group']}: {registry['arn']} -> {decision.status.value}", **registry)
    ap.write_approval(path, pin_shown, pin, decision)
    out.event("recorded", f"{pin_shown}: approval {decision.status.value} by {decision.by} at "
              f"{decision.at.isoformat()} (manifest_sha256 unchanged)", file=pin_shown, status=decision.status.value)
    out.result({"model": model, "version": version, "status": decision.status.value, "by": decision.by,
                "at": decision.at.isoformat(), "evidence": decision.evidence, "thresholds_from": source,
                "registry": registry, "file": pin_shown})


def _approve_adapter(out: Output, root: Path, adapter: str, version: str, report_path: Path, reject: bool,
                     by: str | None, env_name: str | None) -> None:
    """An adapter pin's approval: the report of `evaluate --component`, the component's thresholds;
    no registry (adapters are not packages: --env is refused)."""
    from config.adapter_pin import AdapterPin
    from config.adapters import adapter_pin_path
    from config.project import PINS_DIR
    from scripts.evaluation import approval as ap
    from scripts.evaluation import component_approval as cap
    from scripts.lib.errors import UserError
    from scripts.pinning.adapters import adapter_keys

    if env_name is not None:
        raise UserError("--env: adapters are not in the Model Registry; fix: leave --env out (the pin's approval "
                        "is the record)")
    found = [k for k in adapter_keys(root) if k[1:] == (adapter, version)]
    if not found:
        raise UserError(f"--adapter: no adapter pin {adapter}/{version} under {PINS_DIR}/*/adapters/; fix: pin it "
                        "first (pin-adapter)")
    path = adapter_pin_path(root / PINS_DIR, *found[0])
    pin, shown, decision, source = _decide(root, path, AdapterPin, report_path, reject, by,
                                           cap.component_thresholds, cap.adapter_refusals)
    ap.write_approval(path, shown, pin, decision, AdapterPin)
    out.event("recorded", f"{shown}: approval {decision.status.value} by {decision.by} at {decision.at.isoformat()}",
              file=shown, status=decision.status.value)
    out.result({"adapter": adapter, "version": version, "status": decision.status.value, "by": decision.by,
                "at": decision.at.isoformat(), "evidence": decision.evidence, "thresholds_from": source,
                "registry": None, "file": shown})


def _decide(root: Path, path: Path, pin_type: type, report_path: Path, reject: bool, by: str | None,
            thresholds_of: Callable[[Path, dict], tuple[EvaluationThresholds, str]],
            refusals_of: Callable[..., list[SpecError]]) -> tuple[Any, str, Approval, str]:
    """The pin, how it is shown, the decision and where its thresholds come from; refuses (exit 2)
    a report that does not back it. One path for a model and an adapter pin: what differs (the pin's
    type, where the thresholds are configured, what the report must match) is passed in."""
    from config.loader import require
    from scripts.evaluation import approval as ap

    shown = _shown(path, root)
    pin = require(pin_type, path, shown)
    evidence = ap.load_report(report_path, _shown(report_path, root))
    thresholds, source = thresholds_of(root, evidence.report)
    ap.raise_all(refusals_of(evidence, pin, shown, thresholds, source, reject))
    decision = ap.new_approval(reject, by or _who(), datetime.now(timezone.utc).replace(microsecond=0),
                               ap.evidence_text(evidence))
    return pin, shown, decision, source


def _set_registry(root: Path, env_name: str, pin, decision) -> dict:
    from scripts.evaluation import approval as ap
    from scripts.lib.aws import client

    env = _environment(root, env_name)
    group = env.package_group(pin.model)
    sagemaker = client("sagemaker", env.region)
    package = ap.find_package(sagemaker, group, pin)
    ap.set_registry_status(sagemaker, package, decision)
    return {"group": group, "arn": package["ModelPackageArn"], "region": env.region,
            "status": decision.status.value}


def _environment(root: Path, name: str):
    from scripts.lib.errors import UserError
    from config.environment import Environment
    from config.loader import require
    from config.project import ENVIRONMENTS_DIR, SUFFIXES

    for suffix in SUFFIXES:
        path = root / ENVIRONMENTS_DIR / f"{name}{suffix}"
        if path.is_file():
            return require(Environment, path, f"{ENVIRONMENTS_DIR}/{path.name}")
    known = sorted(p.stem for p in (root / ENVIRONMENTS_DIR).glob("*") if p.suffix in SUFFIXES)
    raise UserError(f"--env: no environment named '{name}'; fix: use one of: {', '.join(known) or '(none)'}")


def _who() -> str:
    try:
        email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=5,
                               cwd=repo_root()).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        email = ""
    return email or getpass.getuser()


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)
