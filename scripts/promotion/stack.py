"""What CloudFormation says about an endpoint stack: is an operation running, and which
endpoint config did it deploy.

Two facts `promote` cannot learn from SageMaker alone:
- A deployment in flight. The CloudFormation handler of AWS::SageMaker::Endpoint waits
  for the endpoint after UpdateEndpoint (its update handler allows 970 minutes), so the
  stack stays UPDATE_IN_PROGRESS for the whole blue/green deployment, and a change set
  executed by a `cdk deploy` that was killed a second later still runs. A local lock
  cannot see either; the stack status can, from any checkout or CI runner.
- A SageMaker-side rollback that CloudFormation reported as success. The stack's
  AWS::SageMaker::EndpointConfig resource names the config the stack deployed (its
  physical id is the config's ARN: primaryIdentifier EndpointConfigArn in the resource
  schema); DescribeEndpoint names the config that serves. They differ after such a
  rollback, and then deploying the same template again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENDPOINT_CONFIG_TYPE = "AWS::SageMaker::EndpointConfig"


@dataclass(frozen=True)
class StackState:
    name: str
    exists: bool
    status: str | None = None
    reason: str | None = None
    endpoint_config: str | None = None  # physical id (ARN) of the stack's EndpointConfig
    version: str | None = None  # the stack's ModelVersion output (stacks/endpoint_stack.py)
    unreadable: str | None = None  # why the stack's resources could not be listed (e.g. AccessDenied)

    @property
    def in_progress(self) -> bool:
        # REVIEW_IN_PROGRESS is a new stack with an unexecuted change set: nothing runs.
        return bool(self.status and self.status.endswith("_IN_PROGRESS") and self.status != "REVIEW_IN_PROGRESS")

    def deployed(self, config_name: str | None, config_arn: str | None = None) -> bool | None:
        """Is `config_name` (the endpoint's live config) the one this stack deployed? None: unknown."""
        if not self.endpoint_config or not config_name:
            return None
        physical = self.endpoint_config
        if physical in (config_name, config_arn):
            return True
        # SageMaker ARNs carry the name in lower case: arn:...:endpoint-config/<name>
        return physical.rsplit("/", 1)[-1].lower() == config_name.lower()


def read(cloudformation: Any, stack: str) -> StackState:
    """The stack's status, reason, deployed endpoint config and ModelVersion output."""
    from botocore.exceptions import ClientError

    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return StackState(stack, exists=False)
        raise
    outputs = {o.get("OutputKey"): o.get("OutputValue") for o in described.get("Outputs", [])}
    unreadable = None
    try:
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
        configs = [r.get("PhysicalResourceId") for page in pages for r in page.get("StackResourceSummaries", [])
                   if r.get("ResourceType") == ENDPOINT_CONFIG_TYPE]
    except ClientError as exc:  # a role without cloudformation:ListStackResources: the rest still holds
        if exc.response.get("Error", {}).get("Code") not in ("AccessDenied", "AccessDeniedException"):
            raise
        configs, unreadable = [], f"ListStackResources: {exc.response['Error']['Code']}"
    return StackState(stack, exists=True, status=described.get("StackStatus"),
                      reason=described.get("StackStatusReason"),
                      endpoint_config=configs[0] if len(configs) == 1 else None,
                      version=outputs.get("ModelVersion"), unreadable=unreadable)
