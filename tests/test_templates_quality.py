"""Every synthesized template: cfn-lint clean, cdk-nag AwsSolutions clean, and unchanged unless reviewed."""

from __future__ import annotations

import json

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from conftest import ROOT, resources

STACKS = ["llama-dev-artifacts", "llama-dev-intent-1b", "llama-dev-intent-3b", "llama-dev-intents-lora",
          "llama-staging-artifacts",
          "llama-staging-intent-3b", "llama-prod-artifacts", "llama-prod-intent-3b",
          "llama-dev-github-deploy", "llama-staging-github-deploy", "llama-prod-github-deploy",
          "llama-dev-intent-1b-routing", "llama-dev-intent-3b-routing", "llama-staging-intent-3b-routing",
          "llama-prod-intent-3b-routing"]


def test_the_example_app_has_these_stacks(templates):
    assert sorted(templates) == sorted(STACKS)


@pytest.mark.slow  # ~1.5 s a template, 17 templates: the full tier (make test, CI) runs it
@pytest.mark.parametrize("stack", STACKS)
def test_cfn_lint_finds_nothing(templates, stack):
    from cfnlint.api import ManualArgs, lint  # here: importing cfn-lint costs each fast-tier worker ~0.8 s

    matches = lint(json.dumps(templates[stack]), config=ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


def test_cdk_nag_aws_solutions_reports_no_violation(templates):
    # `templates` exists only if synthesis passed: cdk-nag v3 fails synth on any violation.
    assert templates


@pytest.mark.slow  # a second app synthesized (~9 s); every synth of the fast tier runs cdk-nag anyway
def test_cdk_nag_is_active_in_the_app_build(tmp_path):
    """An unsuppressed finding (a bare bucket) must fail synthesis, naming the rule."""
    from aws_cdk import Stack, aws_s3 as s3

    from config.project import load_project
    from stacks.environment_app import build, new_app

    app = new_app(ROOT, outdir=str(tmp_path), context={"env": "dev"})
    build(app, load_project(ROOT, only_env="dev"))
    stack = next(c for c in app.node.children if isinstance(c, Stack))
    s3.Bucket(stack, "Unreviewed")
    with pytest.raises(Exception, match="AwsSolutions-S1"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert "AwsSolutions-S1" in rules


@pytest.mark.slow  # a second app synthesized (~9 s); every synth of the fast tier runs the rules anyway
def test_control_tower_rules_are_active_in_the_app_build(tmp_path):
    """AWS Control Tower's proactive controls run with cdk-nag: a KMS key cdk-nag accepts (rotated) but
    that lets anyone be granted its use fails synthesis with CT.KMS.PR.3, offline (the package ships
    the cfn-guard binary). It goes into the artifacts stack, which acknowledges other Control Tower rules
    on its buckets: an acknowledgment waives its own construct only (stacks/control_tower_rules.py)."""
    from aws_cdk import Stack, aws_kms as kms

    from config.project import load_project
    from stacks.environment_app import build, new_app

    app = new_app(ROOT, outdir=str(tmp_path), context={"env": "dev"})
    build(app, load_project(ROOT, only_env="dev"))
    stack = next(c for c in app.node.children if isinstance(c, Stack))
    kms.Key(stack, "Unreviewed", enable_key_rotation=True)
    with pytest.raises(Exception, match="validation-report.json"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    violations = {(v["ruleName"], c["constructPath"]) for p in report["pluginReports"]
                  if p["pluginName"] == "cdk-validator-cfnguard" for v in p["violations"]
                  for c in v["violatingConstructs"]}
    assert ("kms_create_grant_aws_service_check", f"{stack.stack_name}/Unreviewed/Resource") in violations
    assert all(path.endswith("Unreviewed/Resource") for _, path in violations)  # the repo's own stacks pass


def test_every_acknowledged_nag_rule_states_its_reason(templates):
    seen = 0
    for template in templates.values():
        for resource in template["Resources"].values():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                seen += 1
                assert len(rule["reason"]) > 30, rule
    assert seen > 0


def test_no_wildcard_action_and_no_managed_policy_anywhere(templates):
    for name, template in templates.items():
        for kind in ("AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
            for resource in resources(template, kind).values():
                props = resource["Properties"]
                assert "ManagedPolicyArns" not in props, name
                for statement in props.get("PolicyDocument", {}).get("Statement", []):
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    assert not any(a == "*" or a.endswith(":*") for a in actions), (name, statement)


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", STACKS)
def test_template_matches_reviewed_snapshot(templates, stack, snapshot_json):
    """A change to any template must be reviewed: `make snapshot` updates tests/__snapshots__/."""
    assert templates[stack] == snapshot_json
