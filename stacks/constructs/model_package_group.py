"""ModelPackageGroup: the Model Registry group holding every pinned version of one model."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, aws_sagemaker as sagemaker
from constructs import Construct


class ModelPackageGroup(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, model: str, hub_repo: str):
        super().__init__(scope, id)
        self.name = name
        self.cfn_group = sagemaker.CfnModelPackageGroup(
            self, "Group",
            model_package_group_name=name,
            model_package_group_description=f"Pinned versions of {model} ({hub_repo})",
        )
        # Versions and their approval history are audit records: keep them.
        self.cfn_group.apply_removal_policy(RemovalPolicy.RETAIN)
