"""The checks a promotion must pass before anything changes. Each is one `Gate` with its own
refusal and fix; all are run and reported together, as validation errors are."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Any

from config import naming
from scripts.lib.errors import UserError
from scripts.promotion.live import EndpointState
from scripts.promotion.stack import StackState
from config.environment import Endpoint, Environment
from config.pin import Approval, ApprovalStatus, Pin
from config.project import Project

if TYPE_CHECKING:  # annotations only
    from scripts.evaluation.approval import Evidence

PASS, FAIL, SKIP = "pass", "fail", "skip"
UNKNOWN = "unknown"  # the gate could not check: shown, recorded, not a refusal


@dataclass(frozen=True)
class Gate:
    name: str
    result: str
    detail: str
    fix: str = ""

    def row(self) -> list[str]:
        return [self.name, self.result.upper() if self.result in (FAIL, UNKNOWN) else self.result, self.detail,
                self.fix]


COLUMNS = ["gate", "result", "detail", "fix"]


def promotion_order(project: Project, env: Environment, endpoint: Endpoint, version: str) -> Gate:
    return serving_before(project, env, f"{endpoint.model} {version}", version, lambda other: [
        k for k, e in other.endpoints.items() if e.model == endpoint.model and e.version == version])


def serving_before(project: Project, env: Environment, what: str, version: str,
                   serving_in: Callable[[Environment], list[str]]) -> Gate:
    """The promotion-order gate: `what` must be live in env.promote_after first; `serving_in(other)`
    lists where it is live there (endpoint keys, or endpoint/component of component endpoints)."""
    before = env.promote_after
    if not before:
        return Gate("promotion-order", SKIP, f"{env.name} has no promote_after")
    other = project.environments.get(before)
    if other is None:
        return Gate("promotion-order", FAIL, f"promote_after names {before}, which is not loaded",
                    f"add environments/{before}.yaml or remove promote_after")
    serving = sorted(f"{before}/{where}" for where in serving_in(other))
    if serving:
        return Gate("promotion-order", PASS, f"{version} is live in {', '.join(serving)}")
    return Gate("promotion-order", FAIL, f"{what} is not live in {before} (promote_after)",
                f"promote it in {before} first")


def manifest_approved(env: Environment, pin: Pin) -> Gate:
    return approval_gate(env, pin.approval, f"{pin.model} {pin.version}", "manifest",
                         f"--model {pin.model} --version {pin.version}")


def approval_gate(env: Environment, approval: Approval, label: str, where: str, approve: str) -> Gate:
    """The manifest-approval gate, the same for an endpoint version and an adapter: `label` names the
    version, `where` the file its approval is in (manifest, pin), `approve` the approve command's flags."""
    status = approval.status
    if status is ApprovalStatus.REJECTED:
        return Gate("manifest-approval", FAIL, f"{label} is Rejected in its {where}", "pick another version")
    if not env.require_approved_versions:
        return Gate("manifest-approval", SKIP, f"{status.value} ({env.name} does not require approval)")
    if status is ApprovalStatus.APPROVED:
        return Gate("manifest-approval", PASS, f"Approved by {approval.by} at {approval.at}")
    return Gate("manifest-approval", FAIL, f"{label} is {status.value} in its {where}",
                f"evaluate it and run: python -m scripts approve {approve} --report <report.json>")


def registry_approved(sagemaker: Any, env: Environment, pin: Pin) -> Gate:
    from scripts.evaluation.approval import find_package

    group = env.package_group(pin.model)
    try:
        package = find_package(sagemaker, group, pin)
    except UserError as exc:
        return Gate("registry-approval", FAIL, str(exc).split("; fix: ")[0].removeprefix("--env: "),
                    f"deploy {naming.artifacts_stack(env.name)} from this commit")
    status = package.get("ModelApprovalStatus", "?")
    arn = package["ModelPackageArn"]
    if status == "Approved" or (status == "PendingManualApproval" and not env.require_approved_versions):
        return Gate("registry-approval", PASS, f"{arn.rsplit('/', 2)[-2]}/{arn.rsplit('/', 1)[-1]} {status}")
    return Gate("registry-approval", FAIL, f"registry package {arn} is {status}",
                f"approve it (python -m scripts approve ... --env {env.name}) or pick an approved version")


def evaluation_report(root: Path, env: Environment, where: str, evaluation: Any, approval_evidence: str | None,
                      missing: Gate) -> Gate | tuple[Evidence, str]:
    """The evaluation gate's first half, the same for an endpoint version and an adapter: skipped
    without thresholds or where approval is not required, `missing` when the approval's evidence
    names no report in the repo, refused when the report cannot be read. Else (the report, its path
    as the approval names it), for the caller to hold against its thresholds."""
    from scripts.evaluation.approval import load_report

    if evaluation is None:
        return Gate("evaluation", SKIP, f"{where} has no evaluation thresholds")
    if not env.require_approved_versions:
        return Gate("evaluation", SKIP, f"{env.name} does not require approved versions")
    match = re.match(r"^(\S+\.json)\b", approval_evidence or "")
    path = root / match.group(1) if match else None
    if path is None or not path.is_file():
        return missing
    try:
        return load_report(path, match.group(1)), match.group(1)
    except UserError as exc:
        return Gate("evaluation", FAIL, str(exc).split("; fix: ")[0], "rerun evaluate and approve")


def evaluation_evidence(root: Path, env: Environment, key: str, endpoint: Endpoint, pin: Pin) -> Gate:
    from scripts.evaluation.approval import refusals

    found = evaluation_report(root, env, key, endpoint.evaluation, pin.approval.evidence, Gate(
        "evaluation", FAIL, f"the approval of {pin.version} names no evaluation report in the repo "
                            f"({(pin.approval.evidence or 'none')[:60]})",
        "python -m scripts evaluate --env <env> --endpoint <e> then approve --report <report.json>"))
    if isinstance(found, Gate):
        return found
    evidence, report = found
    recorded = re.search(r"\(sha256 ([0-9a-f]{64})\)", pin.approval.evidence or "")
    if recorded and recorded.group(1) != evidence.sha256:
        return Gate("evaluation", FAIL, f"{report} changed since the approval (sha256 "
                                        f"{evidence.sha256[:12]}…, approved {recorded.group(1)[:12]}…)",
                    "restore the approved report, or evaluate and approve again")
    problems = refusals(evidence, pin, pin.version, endpoint.evaluation.thresholds, f"{env.name}/{key}", False)
    if problems:
        return Gate("evaluation", FAIL, "; ".join(p.problem for p in problems)[:300],
                    problems[0].fix)
    return Gate("evaluation", PASS, f"{report} meets {env.name}/{key}'s thresholds")


def pins_verified(s3: Any, ecr_for: Any, env: Environment, pin: Pin) -> Gate:
    from scripts.pinning import verification

    report = verification.verify([pin], env.weights_bucket_name, s3, ecr_for=ecr_for, workers=8)
    if report.ok:
        return Gate("verified", PASS, f"{report.objects_checked} object(s) in s3://{env.weights_bucket_name}/"
                                      f"{pin.weights.prefix} match their checksums; {report.images_checked} "
                                      "image digest(s) checked")
    first = report.mismatches[0]
    return Gate("verified", FAIL, f"{len(report.mismatches)} mismatch(es), e.g. {first.kind} {first.subject}: "
                                  f"{first.problem}",
                f"python -m scripts verify --model {pin.model} --version {pin.version} --env {env.name}; "
                "restore the objects or pin a new version")


def endpoint_ready(state: EndpointState, stack: StackState | None, version: str, adopting: bool) -> list[Gate]:
    if not state.exists:
        return [Gate("endpoint", FAIL, f"{state.name} does not exist",
                     "deploy it first: make deploy ENV=<env> (or cdk deploy its stack)")]
    if adopting:
        return [Gate("endpoint", PASS, f"{state.name} is {state.status} towards {version}: following the "
                                       "deployment an earlier run of this checkout started")]
    gates = []
    if state.status != "InService":
        gates.append(Gate("endpoint", FAIL, f"{state.name} is {state.status}"
                          + (f" ({state.failure_reason})" if state.failure_reason else ""),
                          "wait until it is InService (python -m scripts status)"
                          if state.busy else "repair it (see its FailureReason) or redeploy the stack"))
    else:
        gates.append(Gate("endpoint", PASS, f"{state.name} InService, live {state.live.version if state.live else '?'}"))
    in_flight = []
    if state.pending is not None:
        in_flight.append(f"a deployment to {state.pending.version or state.pending.config_name} is in flight")
    if stack is not None and stack.in_progress:
        in_flight.append(f"CloudFormation stack {stack.name} is {stack.status}")
    if in_flight:
        gates.append(Gate("in-flight", FAIL, "; ".join(in_flight) + " (another checkout, CI run or deploy)",
                          "wait for it to end (python -m scripts status), then run again"))
    else:
        gates.append(Gate("in-flight", PASS, "no deployment in flight (endpoint and stack)"))
    return gates


def stack_matches(state: EndpointState, stack: StackState | None, target: str) -> Gate:
    """The stack deployed the config that serves, or a deploy of `target` would not do what it says."""
    if stack is None or not stack.exists or not state.exists or state.live is None:
        return Gate("stack", SKIP, "no stack or endpoint to compare")
    matches = stack.deployed(state.live.config_name, state.live.config_arn)
    if stack.unreadable:
        return Gate("stack", UNKNOWN, f"{stack.name}: its resources could not be listed ({stack.unreadable})",
                    "grant cloudformation:ListStackResources on the environment's stacks")
    if matches is None:
        return Gate("stack", SKIP, f"{stack.name} names no single endpoint config")
    if matches:
        return Gate("stack", PASS, f"{stack.name} deployed the config that serves ({state.live.config_name})")
    detail = (f"{stack.name} deployed {stack.endpoint_config.rsplit('/', 1)[-1]} ({stack.version or '?'}) but "
              f"{state.name} serves {state.live.config_name} ({state.live.version or '?'}): SageMaker rolled back "
              "after CloudFormation finished")
    if stack.version == target:
        return Gate("stack", FAIL, detail + f"; deploying {target} again would change nothing",
                    f"redeploy what serves first (rollback --to {state.live.version}), then promote {target}")
    return Gate("stack", PASS, detail + f"; deploying {target} replaces it")


def no_alarms(firing: list[str], rollback_alarms: list[str]) -> Gate:
    """Only the alarms that roll a deployment back gate it: one of them in ALARM would roll the
    new version straight back. The others (GPU memory, disk, no traffic in quiet hours) notify only:
    shown as ignored, never a refusal."""
    gating = [a for a in firing if a in rollback_alarms]
    ignored = [a for a in firing if a not in rollback_alarms]
    note = f"; ignored (notify only): {', '.join(ignored)} in ALARM" if ignored else ""
    if gating:
        return Gate("alarms", FAIL, f"rollback alarm(s) in ALARM: {', '.join(gating)}{note}",
                    "fix what the alarm reports first: a rollback alarm in ALARM would roll the deployment back")
    return Gate("alarms", PASS, f"no rollback alarm in ALARM ({', '.join(rollback_alarms)}){note}")
