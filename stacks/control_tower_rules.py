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
"AWS::..."` constants) and SKIPs a template without them, so a rule cannot find anything in a
template that has none of its types. Templates are grouped by the rules that can apply to them
and guard runs once per group with the others disabled (the example: 4 runs, ~180 rule-template
pairs instead of ~3,500); a template no rule applies to is not read by guard. A rule naming no
type applies everywhere. Same findings as the full set: tests/test_control_tower_rules.py.
"""

from __future__ import annotations

import json
import re
import tarfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsii
from aws_cdk import (IPolicyValidationContextBeta1, IPolicyValidationPluginBeta1, PolicyValidationPluginReportBeta1,
                     PolicyViolationBeta1)
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


def rules_that_apply(template_path: str) -> frozenset[str]:
    resources_of = json.loads(Path(template_path).read_text()).get("Resources", {})
    present = {resource.get("Type", "") for resource in resources_of.values()}
    return frozenset(name for name, types in rule_types().items() if not types or types & present)


def guard_runs(template_paths: list[str]) -> list[tuple[list[str], list[str]]]:
    """(templates, rules to disable) of each guard run: one per set of rules that can apply."""
    every_rule = set(rule_types())
    if not every_rule:  # the package's layout changed: run everything, as the validator would
        return [(list(template_paths), [])]
    groups: dict[frozenset[str], list[str]] = {}
    for path in template_paths:
        groups.setdefault(rules_that_apply(path), []).append(path)
    return [(paths, sorted(every_rule - applying)) for applying, paths in groups.items() if applying]


@jsii.implements(IPolicyValidationContextBeta1)
class TemplateSet:
    """The templates of one guard run, as the validator reads them (its `templatePaths`)."""

    def __init__(self, paths: list[str]):
        self._paths = paths

    @property
    def template_paths(self) -> list[str]:
        return self._paths


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
        reports = [CfnGuardValidator(disabled_rules=disabled).validate(TemplateSet(paths))
                   for paths, disabled in guard_runs(context.template_paths)]
        return PolicyValidationPluginReportBeta1(
            success=all(r.success for r in reports), metadata=reports[0].metadata if reports else None,
            plugin_version=self.version,
            violations=[PolicyViolationBeta1(rule_name=v.rule_name, description=v.description, fix=v.fix,
                                             violating_resources=v.violating_resources,
                                             rule_metadata=v.rule_metadata, severity=v.severity or "error")
                        for r in reports for v in r.violations])
