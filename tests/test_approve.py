"""`approve`: evidence checks, the pin's approval block (and nothing else), the Model Registry (moto)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evaluation_helpers import env, run_cli, utterance, write_dataset  # noqa: F401

from localaws.openai_compatible import FakeOpenAI
from localaws.runtime_endpoint import FakeRuntimeEndpoint
from scripts.evaluation.answers import request_text

MODEL = "llama-3-2-3b-instruct"
PIN = f"model_artifacts/{MODEL}/v2.yaml"
V2_HASH = "aec169eb6df3a74a4c12b91580fe7d1a3bac12ef2c2e46b0f0132c01c3d13681"
GROUP = f"dev-{MODEL}"
PENDING = "approval:\n  status: PendingManualApproval\nmanifest_sha256:"


@pytest.fixture
def pending(env) -> Path:
    """v2 of the 3B model, not yet approved (approval is outside manifest_sha256)."""
    path = env / PIN
    text = path.read_text()
    start, end = text.index("approval:\n"), text.index("manifest_sha256:")
    path.write_text(text[:start] + PENDING + text[end + len("manifest_sha256:"):])
    return path


def register_pending_versions(sm) -> dict[str, str]:
    """GROUP with v1 and v2 awaiting approval, as `pin` registers them -> {version: package ARN}."""
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    arns = {}
    for version, digest in (("v1", "1" * 64), ("v2", "2" * 64)):
        arns[version] = sm.create_model_package(
            ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={"Containers": [{"Image": f"763104351884.dkr.ecr.us-east-1.amazonaws.com/"
                                                             f"djl-inference@sha256:{digest}"}],
                                    "SupportedContentTypes": ["application/json"],
                                    "SupportedResponseMIMETypes": ["application/json"]},
            CustomerMetadataProperties={"pin-model": MODEL, "pin-version": version,
                                        "pin-manifest-sha256": V2_HASH if version == "v2" else "0" * 64},
        )["ModelPackageArn"]
    return arns


@pytest.fixture
def registry(env):
    from moto import mock_aws

    from scripts.lib.aws import client

    with mock_aws():
        sm = client("sagemaker", "us-east-1")
        yield sm, register_pending_versions(sm)


def make_report(tmp_path: Path, **changes) -> Path:
    report = {
        "report_version": 1, "kind": "intent-evaluation", "partial": False, "environment": "dev",
        "endpoint": "intent-3b", "model": MODEL, "version": "v2", "manifest_sha256": V2_HASH,
        "dataset": {"path": "datasets/intents/test.jsonl", "sha256": "d" * 64, "examples": 120},
        "thresholds": {}, "run": {"requested": 120, "completed": 120},
        "metrics": {"examples": 120, "accuracy": 0.95, "macro_f1": 0.949, "invalid_rate": 0.0083, "invalid": 1},
        "latency_ms": {"p50": 180.0, "p95": 420.0, "p99": 610.0},
        "baseline": {"model": "openai:gpt-4o-mini", "metrics": {"accuracy": 0.96}, "agreement": 0.94},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(report.get(key), dict):
            report[key] = {**report[key], **value}
        else:
            report[key] = value
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    return path


def approve(report: Path, *extra: str) -> object:
    return run_cli("approve", "--model", MODEL, "--version", "v2", "--report", str(report), "--by", "ana@example.com",
                   "--json", *extra)


def test_approval_is_recorded_in_the_pin_only_and_in_the_registry(env, pending, registry, tmp_path):
    sm, arns = registry
    before = pending.read_text()
    report = make_report(tmp_path)
    result = approve(report, "--env", "dev")
    assert result.code == 0, result.err
    after = pending.read_text()
    # Every byte outside the approval block is unchanged.
    head, tail = before.split(PENDING)
    assert after.startswith(head + "approval:\n  status: Approved\n  by: ana@example.com\n  at: '")
    assert after.endswith("manifest_sha256:" + tail)
    assert f"\n  evidence: '{report} (sha256 " in after  # outside the repo: the absolute path

    from config.loader import require
    from config.pin import Pin

    pin = require(Pin, pending, PIN)  # still a valid pin: the hash does not cover approval
    assert pin.manifest_sha256 == V2_HASH and pin.is_approved and pin.approval.by == "ana@example.com"
    assert "accuracy 0.95, macro-F1 0.949" in pin.approval.evidence
    assert "baseline openai:gpt-4o-mini accuracy 0.96" in pin.approval.evidence

    v2 = sm.describe_model_package(ModelPackageName=arns["v2"])
    assert v2["ModelApprovalStatus"] == "Approved"
    assert v2["ApprovalDescription"].startswith("Approved by ana@example.com at ")
    assert v2["ApprovalDescription"].endswith(" [newly approved]")  # the approval-dispatch rule fires on this
    assert v2["CustomerMetadataProperties"]["pin-version"] == "v2"  # left as the stack set it
    assert sm.describe_model_package(ModelPackageName=arns["v1"])["ModelApprovalStatus"] == "PendingManualApproval"
    assert result.result()["registry"]["arn"] == arns["v2"]

    from config.project import load_project

    load_project(env)  # the whole repo still validates


@pytest.mark.parametrize("changes, field, problem", [
    ({"version": "v1"}, "version", "the report is for version 'v1', the pin"),
    ({"model": "llama-3-2-1b-instruct"}, "model", "the report is for model 'llama-3-2-1b-instruct'"),
    ({"manifest_sha256": "f" * 64}, "manifest_sha256", "the report is for manifest_sha256 'ffff"),
    ({"partial": True, "run": {"completed": 40}}, "partial", "the run was interrupted (40 of 120 examples)"),
    ({"metrics": {"accuracy": 0.85}}, "metrics", "below the thresholds of environments/dev.yaml: accuracy 0.85 "
                                                 "(needs >= 0.9); accuracy_vs_baseline 0.85 (needs >= 0.94)"),
    ({"metrics": {"invalid_rate": 0.05}}, "metrics", "invalid_rate 0.05 (needs <= 0.02)"),
    ({"latency_ms": {"p95": 2500.0}}, "metrics", "latency_p95_ms 2500.0 (needs <= 2000)"),
    ({"baseline": None}, "metrics", "accuracy_vs_baseline: no baseline in this run"),
])
def test_refuses_evidence_for_another_version_or_below_the_thresholds(env, pending, tmp_path, changes, field,
                                                                      problem):
    before = pending.read_text()
    result = approve(make_report(tmp_path, **changes))
    assert result.code == 2
    assert len(result.errors) == 1 and f"report.json: {field}: " in result.errors[0], result.err
    assert problem in result.errors[0] and "; fix: " in result.errors[0]
    assert pending.read_text() == before


def test_a_refusal_leaves_the_registry_alone(env, pending, registry, tmp_path):
    sm, arns = registry
    result = approve(make_report(tmp_path, metrics={"accuracy": 0.5}), "--env", "dev")
    assert result.code == 2 and "accuracy 0.5 (needs >= 0.9)" in result.errors[0]
    assert sm.describe_model_package(ModelPackageName=arns["v2"])["ModelApprovalStatus"] == "PendingManualApproval"


def test_thresholds_are_the_ones_configured_at_approval_time(env, pending, tmp_path):
    dev = env / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace("min_accuracy: 0.9,", "min_accuracy: 0.97,", 1))
    result = approve(make_report(tmp_path))
    assert result.code == 2 and "accuracy 0.95 (needs >= 0.97)" in result.errors[0]


def test_rejection_needs_matching_evidence_but_no_thresholds(env, pending, registry, tmp_path):
    sm, arns = registry
    result = approve(make_report(tmp_path, metrics={"accuracy": 0.5}), "--reject", "--env", "dev")
    assert result.code == 0, result.err
    assert "status: Rejected" in pending.read_text()
    assert sm.describe_model_package(ModelPackageName=arns["v2"])["ModelApprovalStatus"] == "Rejected"
    result = approve(make_report(tmp_path, version="v1"), "--reject")
    assert result.code == 2 and "the report is for version 'v1'" in result.errors[0]


def test_registry_problems_are_one_line_and_write_nothing(env, pending, tmp_path):
    from moto import mock_aws

    before = pending.read_text()
    with mock_aws():
        result = approve(make_report(tmp_path), "--env", "dev")
    assert result.code == 2, result.err
    # moto lists no packages for an unknown group (AWS may answer ValidationException: same advice).
    assert result.errors == [f"error: --env: model package group {GROUP} has no package for {MODEL} v2; fix: "
                             "deploy the environment's artifacts stack (it registers every pinned version)"]
    assert pending.read_text() == before
    assert approve(make_report(tmp_path), "--env", "nowhere").errors[0].startswith(
        "error: --env: no environment named 'nowhere'")


def test_evaluate_then_approve_end_to_end(env, pending, registry, tmp_path, monkeypatch):
    """A real report from evaluate (fake endpoint and baseline) is accepted as evidence."""
    rows = [(f"where is order {n}", "check_order_status") for n in range(8)] + \
        [(f"please cancel order {n}", "cancel_order") for n in range(8)]
    dataset = write_dataset(tmp_path / "test.jsonl", rows)

    def label(text: str) -> str:
        return "cancel_order" if "cancel" in text else "check_order_status"

    monkeypatch.setattr("scripts.evaluation.report.confusion_png", lambda report, path: path.write_bytes(b""))
    with FakeRuntimeEndpoint(latency_s=0, answer=lambda e, p: label(utterance(request_text(p)))) \
            as fake, FakeOpenAI(answer=lambda m, msgs: label(msgs[-1]["content"])) as openai:
        monkeypatch.setenv("OPENAI_BASE_URL", openai.url)
        monkeypatch.setenv("OPENAI_API_KEY", openai.api_key)
        result = run_cli("evaluate", "--env", "dev", "--endpoint", "intent-3b", "--version", "v2", "--dataset",
                         str(dataset), "--endpoint-url", fake.url, "--baseline", "openai:gpt-4o-mini",
                         "--out", str(tmp_path / "eval"), "--json")
    assert result.code == 0, result.err
    result = approve(tmp_path / "eval" / "report.json", "--env", "dev")
    assert result.code == 0, result.err
    assert "status: Approved" in pending.read_text()
    sm, arns = registry
    assert sm.describe_model_package(ModelPackageName=arns["v2"])["ModelApprovalStatus"] == "Approved"


def test_only_a_move_to_approved_is_marked_for_the_dispatch_rule():
    """The approval-dispatch rule matches the mark (stacks/constructs/approval_dispatch.py): an already
    approved package approved again, or any other status, is written without it."""
    from datetime import datetime, timezone

    from config.pin import Approval, ApprovalStatus
    from scripts.evaluation.approval import set_registry_status

    class Registry:
        def update_model_package(self, **kwargs):
            self.sent = kwargs

    approved = Approval(status=ApprovalStatus.APPROVED, by="a@example.com", at=datetime(2025, 1, 1, tzinfo=timezone.utc))
    rejected = approved.model_copy(update={"status": ApprovalStatus.REJECTED})
    cases = [("PendingManualApproval", approved, True), ("Rejected", approved, True), ("Approved", approved, False),
             ("PendingManualApproval", rejected, False)]
    for before, decision, marked in cases:
        registry = Registry()
        set_registry_status(registry, {"ModelPackageArn": "arn", "ModelApprovalStatus": before}, decision)
        assert registry.sent["ApprovalDescription"].endswith("[newly approved]") is marked, (before, decision.status)
        assert len(registry.sent["ApprovalDescription"]) <= 1000
