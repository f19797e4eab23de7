"""ApprovalDispatch: a model package approved in this account's registry starts the promote workflow.

EventBridge rule (SageMaker Model Package State Change, Approved, this environment's groups,
ApprovalDescription ending in config/pin.py APPROVAL_TRANSITION_MARK: the event carries the package
as it is now, not its previous status, and fires on every update of it, CloudFormation's included;
only `approve`'s move to Approved writes the mark)
-> API destination POST https://api.github.com/repos/<owner>/<name>/dispatches with
{"event_type": "model-package-approved", "client_payload": {environment, endpoint, version}}.
The version is the pin's, from the package's CustomerMetadataProperties (pin-version).

The GitHub token never appears in the template: the connection is created with a placeholder,
and the real token is set out-of-band (`aws events update-connection`, docs/ci.md); EventBridge
keeps connection credentials in a Secrets Manager secret it manages.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, SecretValue, aws_events as events, aws_events_targets as targets
from constructs import Construct

from config.pin import APPROVAL_TRANSITION_MARK

DISPATCH_EVENT_TYPE = "model-package-approved"  # .github/workflows/promote.yml repository_dispatch types
TOKEN_PLACEHOLDER = "Bearer set-out-of-band"  # not a secret: replaced by update-connection (docs/ci.md)


@dataclass(frozen=True)
class ApprovalDispatchProps:
    repository: str  # owner/name
    target_environment: str  # the environment the workflow promotes to
    # (model package group in this account, endpoint key in the target environment serving that model)
    routes: tuple[tuple[str, str], ...]


class ApprovalDispatch(Construct):
    def __init__(self, scope: Construct, id: str, props: ApprovalDispatchProps):
        super().__init__(scope, id)
        connection = events.Connection(
            self, "GitHub", description=f"GitHub repository_dispatch on {props.repository} (token set out-of-band)",
            authorization=events.Authorization.api_key("Authorization", SecretValue.unsafe_plain_text(TOKEN_PLACEHOLDER)),
            header_parameters={"Accept": events.HttpParameter.from_string("application/vnd.github+json")})
        destination = events.ApiDestination(
            self, "Dispatches", connection=connection, http_method=events.HttpMethod.POST,
            endpoint=f"https://api.github.com/repos/{props.repository}/dispatches", rate_limit_per_second=1,
            description=f"Start .github/workflows/promote.yml of {props.repository}")
        for group, endpoint in props.routes:
            events.Rule(
                self, f"Approved-{group}-{endpoint}",
                description=f"{group} approved: promote {endpoint} in {props.target_environment}",
                event_pattern=events.EventPattern(
                    source=["aws.sagemaker"], detail_type=["SageMaker Model Package State Change"],
                    detail={"ModelPackageGroupName": [group], "ModelApprovalStatus": ["Approved"],
                            "ApprovalDescription": [{"suffix": APPROVAL_TRANSITION_MARK}]}),
                targets=[targets.ApiDestination(
                    destination, retry_attempts=3, max_event_age=Duration.hours(1),
                    event=events.RuleTargetInput.from_object({
                        "event_type": DISPATCH_EVENT_TYPE,
                        "client_payload": {
                            "environment": props.target_environment, "endpoint": endpoint,
                            "version": events.EventField.from_path(
                                "$.detail.CustomerMetadataProperties.pin-version")}}))])
