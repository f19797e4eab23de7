"""cdk-nag (v3) acknowledgments: every one states why the finding does not apply here."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def suppress(construct: IConstruct, reasons: dict[str, str]) -> None:
    """`reasons` maps a rule id (e.g. AwsSolutions-IAM5) to why it is accepted on this construct.

    One `acknowledge` call for all of them: each call is a round trip to the jsii kernel,
    and `acknowledge` records the rules one by one, in this order, either way."""
    if reasons:
        Validations.of(construct).acknowledge(*(Acknowledgment(id=rule, reason=reason)
                                                for rule, reason in reasons.items()))
