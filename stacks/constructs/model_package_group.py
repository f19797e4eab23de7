"""ModelPackageGroup: the Model Registry group holding every pinned version of one model."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy, aws_sagemaker as sagemaker
from constructs import Construct


@dataclass(frozen=True)
class ModelPackageGroupProps:
    name: str  # config/naming.py package_group
    model: str
    hub_repo: str


class ModelPackageGroup(Construct):
    def __init__(self, scope: Construct, id: str, props: ModelPackageGroupProps):
        super().__init__(scope, id)
        self.name = props.name
        self.cfn_group = sagemaker.CfnModelPackageGroup(
            self, "Group",
            model_package_group_name=props.name,
            model_package_group_description=f"Pinned versions of {props.model} ({props.hub_repo})",
        )
        # Versions and their approval history are audit records: keep them.
        self.cfn_group.apply_removal_policy(RemovalPolicy.RETAIN)
