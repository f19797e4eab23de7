"""Control Tower's rules run only where they can apply (stacks/control_tower_rules.py), with the
same findings as the validator's full rule set."""

from __future__ import annotations

import json
from pathlib import Path

import jsii
import pytest
from aws_cdk import IPolicyValidationContextBeta1

from stacks import control_tower_rules
from stacks.control_tower_rules import ControlTowerRules, rule_types, rules_that_cannot_apply

pytestmark = pytest.mark.xdist_group("cdk")  # jsii is loaded: on the worker that synthesizes


def write_template(path: Path, *types: str, properties: dict | None = None) -> str:
    path.write_text(json.dumps({"Resources": {f"R{i}": {"Type": t, "Properties": properties or {}}
                                              for i, t in enumerate(types)}}))
    return str(path)


def test_the_rules_and_their_types_are_read_from_the_validators_package():
    rules = rule_types()
    assert len(rules) > 200, "the validator's package layout changed: no rule would be skipped"
    assert rules["ct-s3-pr-1"] == {"AWS::S3::Bucket"}  # "Reports on: AWS::S3::Bucket", its only type
    assert all(name.startswith("ct-") for name in rules)


def test_a_rule_is_skipped_only_when_no_type_it_names_is_in_any_template(tmp_path):
    paths = [write_template(tmp_path / "a.json", "AWS::S3::Bucket"),
             write_template(tmp_path / "b.json", "AWS::SageMaker::EndpointConfig")]
    skipped = set(rules_that_cannot_apply(paths))
    for name, types in rule_types().items():
        applies = bool(types & {"AWS::S3::Bucket", "AWS::SageMaker::EndpointConfig"})
        assert (name in skipped) != applies, name
    assert "ct-s3-pr-1" not in skipped and "ct-dynamodb-pr-1" in skipped


def test_a_rule_naming_no_type_always_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(control_tower_rules, "rule_types", lambda: {"ct-any": frozenset(),
                                                                    "ct-sqs": frozenset({"AWS::SQS::Queue"})})
    assert rules_that_cannot_apply([write_template(tmp_path / "t.json", "AWS::S3::Bucket")]) == ["ct-sqs"]


@jsii.implements(IPolicyValidationContextBeta1)
class Context:
    def __init__(self, paths: list[str]):
        self._paths = paths

    @property
    def template_paths(self) -> list[str]:
        return self._paths


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
    context = Context([str(p) for p in sorted(Path(assembly_dir).glob("*.template.json"))] + [bad])
    full = findings(CfnGuardValidator().validate(context))
    flagged = {logical_id for _, path, logical_id in full if path == bad}
    assert {"R0", "R1", "R2"} <= flagged, full  # bucket, queue, key
    assert findings(ControlTowerRules().validate(context)) == full
