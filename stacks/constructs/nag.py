"""Policy-validation acknowledgments: every one states why the finding does not apply here.

Two plugins run on every synth (stacks/environment_app.py): cdk-nag's AwsSolutions (rule ids
like `AwsSolutions-IAM5[...]`) and AWS Control Tower's proactive controls as cfn-guard rules
(`@cdklabs/cdk-validator-cfnguard`; rule ids `cdk-validator-cfnguard::<rule name>`).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


CONTROL_TOWER = "cdk-validator-cfnguard"  # the plugin's name: its acknowledgments are "<this>::<rule>"


def suppress(construct: IConstruct, reasons: dict[str, str]) -> None:
    """`reasons` maps a rule id (e.g. AwsSolutions-IAM5, or CONTROL_TOWER::s3_lifecycle_policy_check)
    to why it is accepted on this construct.

    One `acknowledge` call for all of them: each call is a round trip to the jsii kernel,
    and `acknowledge` records the rules one by one, in this order, either way."""
    if reasons:
        Validations.of(construct).acknowledge(*(Acknowledgment(id=rule, reason=reason)
                                                for rule, reason in reasons.items()))
