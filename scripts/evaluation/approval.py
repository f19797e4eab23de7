"""Record an approval decision: check the evidence, edit only the pin's `approval` block, set the
Model Registry status.

The pin's `approval` is outside `manifest_sha256`, so the pin stays valid; the rest of the file
is kept byte for byte (the block is replaced in the text, then the whole file is re-validated
before it is written atomically).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ruamel.yaml import YAML

from scripts.evaluation.dataset import read_input
from scripts.evaluation.verdict import failed, threshold_checks
from scripts.lib.aws import error_code
from scripts.lib.errors import UserError
from config.environment import Environment
from config.errors import SpecError, SpecErrors
from config.evaluation import Evaluation, EvaluationThresholds
from config.loader import require
from config.manifest_io import write_atomic
from config.pin import Approval, ApprovalStatus, Pin
from config.project import ENVIRONMENTS_DIR, PINS_DIR, SUFFIXES

REPORT_FIELDS = ("report_version", "kind", "model", "version", "manifest_sha256", "environment", "endpoint",
                 "partial", "metrics", "latency_ms", "thresholds", "dataset")
_TOP_KEY = re.compile(r"^[^\s#-][^:]*:")


@dataclass(frozen=True)
class Evidence:
    path: Path
    shown: str
    sha256: str
    report: dict


def pin_file(root: Path, model: str, version: str) -> Path:
    for suffix in SUFFIXES:
        path = root / PINS_DIR / model / f"{version}{suffix}"
        if path.is_file():
            return path
    known = sorted(p.stem for p in (root / PINS_DIR / model).glob("*") if p.suffix in SUFFIXES)
    where = "--version" if known else "--model"
    fix = f"use one of: {', '.join(known)}" if known else f"check the name (pins live in {PINS_DIR}/<model>/)"
    raise UserError(f"{where}: no pin {PINS_DIR}/{model}/{version}.yaml; fix: {fix}")


def load_report(path: Path, shown: str) -> Evidence:
    raw = read_input(path, shown, "--report", "give the report.json that evaluate wrote")
    try:
        report = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{shown}: (file): is not JSON; fix: give the report.json that evaluate wrote") from None
    if not isinstance(report, dict) or report.get("kind") != "intent-evaluation":
        raise UserError(f"{shown}: kind: not an evaluation report; fix: give the report.json that evaluate wrote")
    missing = [f for f in REPORT_FIELDS if f not in report]
    if missing:
        raise UserError(f"{shown}: {missing[0]}: missing; fix: rerun evaluate (reports of version "
                        f"{report.get('report_version')} lack it)")
    return Evidence(path, shown, hashlib.sha256(raw).hexdigest(), report)


def configured_thresholds(root: Path, report: dict) -> tuple[EvaluationThresholds, str]:
    """The thresholds configured now for the endpoint the report ran on (the report's own only
    if that endpoint or its evaluation block no longer exists)."""
    def evaluation(env: Environment) -> Evaluation | None:
        endpoint = env.endpoints.get(report["endpoint"])
        return endpoint.evaluation if endpoint is not None else None

    return thresholds_in_force(root, report, evaluation)


def thresholds_in_force(root: Path, report: dict, evaluation: Callable[[Environment], Evaluation | None],
                        subject: str = "") -> tuple[EvaluationThresholds, str]:
    """The thresholds of the evaluation block `evaluation` picks from the report's environment as
    configured now, else the report's own. One path for a model's endpoint and an adapter's component
    (component_approval.py); `subject` follows the endpoint in the error, e.g. " <component>"."""
    for suffix in SUFFIXES:
        path = root / ENVIRONMENTS_DIR / f"{report['environment']}{suffix}"
        if path.is_file():
            block = evaluation(require(Environment, path, f"{ENVIRONMENTS_DIR}/{path.name}"))
            if block is not None:
                return block.thresholds, f"{ENVIRONMENTS_DIR}/{path.name}"
    try:
        return EvaluationThresholds.model_validate(report["thresholds"]), "the report"
    except ValueError:
        raise UserError(f"--report: thresholds: unreadable and {report['environment']}/{report['endpoint']}"
                        f"{subject} has no evaluation block; fix: rerun evaluate") from None


def refusals(evidence: Evidence, pin: Pin, pin_shown: str, thresholds: EvaluationThresholds, source: str,
             reject: bool) -> list[SpecError]:
    r, shown = evidence.report, evidence.shown
    problems = []
    for field, mine in (("model", pin.model), ("version", pin.version), ("manifest_sha256", pin.manifest_sha256)):
        if r.get(field) != mine:
            problems.append(SpecError(shown, field, f"the report is for {field} {r.get(field)!r}, the pin "
                                                    f"{pin_shown} has {mine!r}",
                                      f"evaluate {pin.model} {pin.version} and give that report"))
    if reject:
        return problems
    if r.get("partial"):
        problems.append(SpecError(shown, "partial", f"the run was interrupted ({r.get('run', {}).get('completed')} "
                                                    f"of {r.get('run', {}).get('requested')} examples)",
                                  "rerun evaluate to completion"))
        return problems
    checks = threshold_checks(r, thresholds)
    if not all(c["passed"] for c in checks):
        problems.append(SpecError(shown, "metrics", f"below the thresholds of {source}: "
                                                    + "; ".join(failed(checks)),
                                  "improve the version (prompt, weights) and evaluate again, or record it with "
                                  "--reject"))
    return problems


def raise_all(problems: list[SpecError]) -> None:
    if len(problems) == 1:
        raise UserError(str(problems[0]))
    if problems:
        raise SpecErrors(problems)


def evidence_text(evidence: Evidence) -> str:
    r = evidence.report
    m, latency = r["metrics"], r["latency_ms"]
    text = (f"{evidence.shown} (sha256 {evidence.sha256}): {r['environment']}/{r['endpoint']}, "
            f"{m['examples']} examples of {r['dataset'].get('path')} (sha256 {str(r['dataset'].get('sha256'))[:16]}), "
            f"accuracy {m['accuracy']}, macro-F1 {m['macro_f1']}, invalid rate {m['invalid_rate']}, "
            f"p95 {latency.get('p95')} ms")
    base = r.get("baseline")
    if base:
        text += f"; baseline {base['model']} accuracy {base['metrics']['accuracy']}, agreement {base['agreement']}"
    return text


def render_approval(approval: Approval) -> str:
    data = {"status": approval.status.value, "by": approval.by,
            "at": approval.at.strftime("%Y-%m-%dT%H:%M:%SZ") if approval.at else None, "evidence": approval.evidence}
    yaml = YAML(typ="rt", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump({"approval": {k: v for k, v in data.items() if v is not None}}, buffer)
    return buffer.getvalue()


def replace_approval(text: str, block: str) -> str:
    """`text` with its top-level `approval:` block replaced by `block` (inserted before
    manifest_sha256 if there was none); every other byte stays."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^approval\s*:", line)), None)
    if start is None:
        at = next((i for i, line in enumerate(lines) if line.startswith("manifest_sha256:")), len(lines))
        if at == len(lines) and lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        return "".join(lines[:at]) + block + "".join(lines[at:])
    end = start + 1
    while end < len(lines) and not _TOP_KEY.match(lines[end]) and not lines[end].startswith("#"):
        end += 1
    while end - 1 > start and not lines[end - 1].strip():  # keep blank lines before the next key
        end -= 1
    return "".join(lines[:start]) + block + "".join(lines[end:])


def write_approval(path: Path, shown: str, pin: Pin, approval: Approval, model: type = Pin) -> str:
    """Write the pin with `approval`; returns the new text. Refuses if the result would not load as
    the same pin with this approval. `model`: the pin's type (config.adapter_pin.AdapterPin for an adapter)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        data["approval"] = json.loads(json.dumps(approval.model_dump(mode="json", exclude_none=True)))
        new_text = json.dumps(data, indent=2) + "\n"
        loaded = data
    else:
        new_text = replace_approval(text, render_approval(approval))
        loaded = YAML(typ="safe", pure=True).load(new_text)
    try:
        check = model.model_validate(loaded)
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise UserError(f"{shown}: approval: the edited manifest would not validate ({str(exc).splitlines()[0]}); "
                        "fix: run python -m scripts validate and repair the file first") from None
    if check.manifest_sha256 != pin.manifest_sha256 or check.approval != approval:
        raise UserError(f"{shown}: approval: the edit would change more than the approval block; "
                        "fix: run python -m scripts validate and repair the file first")
    write_atomic(path, new_text)
    return new_text


def find_package(sagemaker, group: str, pin: Pin) -> dict:
    """The registry package of `pin` in `group`: newest first, matched on CustomerMetadataProperties."""
    try:
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, SortOrder="Descending")
        for page in pages:
            for summary in page.get("ModelPackageSummaryList", []):
                package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
                metadata = package.get("CustomerMetadataProperties") or {}
                if metadata.get("pin-version") == pin.version and metadata.get("pin-model", pin.model) == pin.model:
                    if metadata.get("pin-manifest-sha256") not in (None, pin.manifest_sha256):
                        raise UserError(
                            f"--env: registry package {package['ModelPackageArn']} of {pin.version} was built from "
                            f"manifest {metadata['pin-manifest-sha256'][:12]}…, the pin is "
                            f"{pin.manifest_sha256[:12]}…; fix: deploy the artifacts stack from this commit first")
                    return package
    except UserError:
        raise
    except Exception as exc:
        code = error_code(exc)
        if code in ("ResourceNotFound", "ValidationException", "ValidationError"):
            raise UserError(f"--env: no model package group {group} ({code}); fix: deploy the environment's "
                            "artifacts stack first") from None
        raise
    raise UserError(f"--env: model package group {group} has no package for {pin.model} {pin.version}; "
                    "fix: deploy the environment's artifacts stack (it registers every pinned version)")


def set_registry_status(sagemaker, package: dict, approval: Approval) -> None:
    """The registry's approval as the pin's; a move to Approved is marked (config/pin.py
    APPROVAL_TRANSITION_MARK) so that the approval-dispatch rule fires on it and on nothing else."""
    newly_approved = (approval.status is ApprovalStatus.APPROVED
                      and package.get("ModelApprovalStatus") != ApprovalStatus.APPROVED.value)
    kwargs = {"ModelPackageArn": package["ModelPackageArn"], "ModelApprovalStatus": approval.status.value,
              "ApprovalDescription": approval.transition_description() if newly_approved else approval.description}
    if package.get("CustomerMetadataProperties"):
        # Sent back unchanged: the stack owns them (and some emulators drop what is left out).
        kwargs["CustomerMetadataProperties"] = package["CustomerMetadataProperties"]
    sagemaker.update_model_package(**kwargs)


def new_approval(reject: bool, by: str, at: datetime, evidence: str) -> Approval:
    return Approval(status=ApprovalStatus.REJECTED if reject else ApprovalStatus.APPROVED, by=by, at=at,
                    evidence=evidence)
