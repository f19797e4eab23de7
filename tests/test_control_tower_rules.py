"""Control Tower's rules run only where they can apply (stacks/control_tower_rules.py), with the
same findings as the validator's full rule set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks import control_tower_rules
from stacks.control_tower_rules import ControlTowerRules, TemplateSet, guard_runs, rule_types

pytestmark = pytest.mark.xdist_group("cdk")  # jsii is loaded: on the worker that synthesizes


def write_template(path: Path, *types: str) -> str:
    path.write_text(json.dumps({"Resources": {f"R{i}": {"Type": t, "Properties": {}} for i, t in enumerate(types)}}))
    return str(path)


def test_the_rules_and_their_types_are_read_from_the_validators_package():
    rules = rule_types()
    assert len(rules) > 200, "the validator's package layout changed: no rule would be skipped"
    assert rules["ct-s3-pr-1"] == {"AWS::S3::Bucket"}  # "Reports on: AWS::S3::Bucket", its only type
    assert all(name.startswith("ct-") for name in rules)


def test_templates_are_grouped_by_the_rules_that_apply_and_the_others_are_disabled(tmp_path):
    bucket = write_template(tmp_path / "a.json", "AWS::S3::Bucket")
    other_bucket = write_template(tmp_path / "b.json", "AWS::S3::Bucket", "AWS::SSM::Parameter")
    key = write_template(tmp_path / "c.json", "AWS::KMS::Key")
    endpoint = write_template(tmp_path / "d.json", "AWS::SageMaker::Endpoint")  # CT's SageMaker rules: notebooks
    runs = guard_runs([bucket, key, endpoint, other_bucket])
    assert sorted(paths for paths, _ in runs) == [[bucket, other_bucket], [key]]  # SSM: no rule names it
    for paths, disabled in runs:
        present = {"AWS::S3::Bucket"} if paths[0] == bucket else {"AWS::KMS::Key"}
        assert set(disabled) == {name for name, types in rule_types().items() if not types & present}
        assert ("ct-s3-pr-1" in disabled) == (paths[0] == key)


def test_a_template_no_rule_applies_to_is_not_given_to_guard(tmp_path):
    assert guard_runs([write_template(tmp_path / "t.json", "AWS::SSM::Parameter")]) == []


def test_a_rule_naming_no_type_applies_everywhere(tmp_path, monkeypatch):
    monkeypatch.setattr(control_tower_rules, "rule_types", lambda: {"ct-any": frozenset(),
                                                                    "ct-sqs": frozenset({"AWS::SQS::Queue"})})
    path = write_template(tmp_path / "t.json", "AWS::S3::Bucket")
    assert guard_runs([path]) == [([path], ["ct-sqs"])]


def test_without_the_rule_list_everything_runs_as_the_validator_would(tmp_path, monkeypatch):
    monkeypatch.setattr(control_tower_rules, "rule_types", lambda: {})
    path = write_template(tmp_path / "t.json", "AWS::SSM::Parameter")
    assert guard_runs([path]) == [([path], [])]


def findings(report) -> set[tuple[str, str, str]]:
    return {(v.rule_name, r.template_path, r.resource_logical_id)
            for v in report.violations for r in v.violating_resources}


@pytest.mark.slow  # cfn-guard with every rule on every template: ~10 s
def test_the_selection_finds_what_the_full_rule_set_finds(templates, assembly_dir, tmp_path):
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    # The example's templates (whose few findings its stacks acknowledge), and one that breaks rules
    # of several types: a bare bucket, an unencrypted queue, a key without rotation or policy.
    bad = write_template(tmp_path / "bad.template.json", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::KMS::Key",
                         "AWS::SageMaker::EndpointConfig")
    context = TemplateSet([str(p) for p in sorted(Path(assembly_dir).glob("*.template.json"))] + [bad])
    full = findings(CfnGuardValidator().validate(context))
    flagged = {logical_id for _, path, logical_id in full if path == bad}
    assert {"R0", "R1", "R2"} <= flagged, full  # bucket, queue, key
    assert findings(ControlTowerRules().validate(context)) == full
