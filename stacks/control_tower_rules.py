"""AWS Control Tower's proactive controls as a CDK policy-validation plugin, beside cdk-nag.

`@cdklabs/cdk-validator-cfnguard` runs the Control Tower cfn-guard rules with the guard binary it
ships (offline). Its violations carry no `severity`; once any violation of a report is
acknowledged, aws-cdk-lib recomputes the report's success from the remaining violations'
severities (core/lib/private/synthesis-validation.js `collectSuppressions`), and a violation
without one counts as passing. One acknowledgment would then silence every other Control
Tower finding. This wrapper gives each violation the severity `error`, so an acknowledgment
waives exactly the construct it names (tests/test_templates_quality.py proves both).

It also runs only the rules that can apply. The validator hands cfn-guard all ~240 Control
Tower rules and every template at once, and guard evaluates each rule on each template: for the
example's 15 templates that was most of `cdk synth`'s time (~10 s of guard on 2 cores). Each
rule reports on the resource types it names ("Reports on: AWS::S3::Bucket", its `let ... =
"AWS::..."` constants) and SKIPs a template without them, so a rule naming none of the types in
the templates cannot find anything; such rules are disabled for that run. A rule naming no type
at all always runs. Same findings, the full set against the selection: tests/test_templates_quality.py.
"""

from __future__ import annotations

import json
import re
import tarfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsii
from aws_cdk import IPolicyValidationPluginBeta1, PolicyValidationPluginReportBeta1, PolicyViolationBeta1
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

RESOURCE_TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")
RULES_DIR = "package/rules/control-tower/cfn-guard/"  # in the validator's package (its plugin.js defaultRulesPath)


@lru_cache(maxsize=1)
def rule_types() -> dict[str, frozenset[str]]:
    """Control Tower rule name (the file's stem, which `disabledRules` takes) -> the resource types
    its text names, read from the package the validator itself runs (its jsii tarball)."""
    tarball = next(Path(str(resources.files("cdklabs.cdk_validator_cfnguard._jsii"))).glob("*.jsii.tgz"))
    found = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            if member.isfile() and member.name.startswith(RULES_DIR) and member.name.endswith(".guard"):
                text = archive.extractfile(member).read().decode("utf-8")
                found[Path(member.name).stem] = frozenset(RESOURCE_TYPE.findall(text))
    return found


def resource_types(template_paths: list[str]) -> set[str]:
    present = set()
    for path in template_paths:
        present.update(r.get("Type", "") for r in json.loads(Path(path).read_text()).get("Resources", {}).values())
    return present


def rules_that_cannot_apply(template_paths: list[str]) -> list[str]:
    present = resource_types(template_paths)
    return sorted(name for name, types in rule_types().items() if types and not types & present)


@jsii.implements(IPolicyValidationPluginBeta1)
class ControlTowerRules:
    def __init__(self) -> None:
        self._guard = CfnGuardValidator()

    @property
    def name(self) -> str:
        return self._guard.name  # acknowledgments name rules "<this>::<rule>" (stacks/constructs/nag.py)

    @property
    def version(self) -> str | None:
        return self._guard.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self._guard.rule_ids

    def validate(self, context) -> PolicyValidationPluginReportBeta1:
        skipped = rules_that_cannot_apply(context.template_paths)
        report = CfnGuardValidator(disabled_rules=skipped).validate(context)
        return PolicyValidationPluginReportBeta1(
            success=report.success, metadata=report.metadata, plugin_version=report.plugin_version,
            violations=[PolicyViolationBeta1(rule_name=v.rule_name, description=v.description, fix=v.fix,
                                             violating_resources=v.violating_resources,
                                             rule_metadata=v.rule_metadata, severity=v.severity or "error")
                        for v in report.violations])
