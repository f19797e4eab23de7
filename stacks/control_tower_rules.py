"""AWS Control Tower's proactive controls as a CDK policy-validation plugin, beside cdk-nag.

`@cdklabs/cdk-validator-cfnguard` runs the Control Tower cfn-guard rules with the guard binary it
ships (offline). Its violations carry no `severity`; once any violation of a report is
acknowledged, aws-cdk-lib recomputes the report's success from the remaining violations'
severities (core/lib/private/synthesis-validation.js `collectSuppressions`), and a violation
without one counts as passing. One acknowledgment would then silence every other Control
Tower finding. This wrapper gives each violation the severity `error`, so an acknowledgment
waives exactly the construct it names (tests/test_templates_quality.py proves both).
"""

from __future__ import annotations

import jsii
from aws_cdk import IPolicyValidationPluginBeta1, PolicyValidationPluginReportBeta1, PolicyViolationBeta1
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator


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
        report = self._guard.validate(context)
        return PolicyValidationPluginReportBeta1(
            success=report.success, metadata=report.metadata, plugin_version=report.plugin_version,
            violations=[PolicyViolationBeta1(rule_name=v.rule_name, description=v.description, fix=v.fix,
                                             violating_resources=v.violating_resources,
                                             rule_metadata=v.rule_metadata, severity=v.severity or "error")
                        for v in report.violations])
