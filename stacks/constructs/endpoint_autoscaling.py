"""EndpointAutoscaling: target tracking on the endpoint's variant.

The scalable target is registered after the endpoint exists (explicit
dependency). Changing the instance type of an autoscaled variant needs the
target removed first (aws/aws-cdk#29626): `promote`/`resize` handle that in
phases; a plain `cdk deploy` of an instance-type change would fail.

Scheduled actions (`autoscaling.schedules`) set the target's min/max when
their cron fires, in their own time zone; the bounds hold until the next one
fires. A deploy sets the target back to `instances.min`/`max` until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack, TimeZone, aws_applicationautoscaling as appscaling, aws_iam as iam
from constructs import Construct, IConstruct

from config.components import ComponentScaling as ComponentScalingConfig, Copies
from config.environment import Autoscaling, Instances


@dataclass(frozen=True)
class EndpointAutoscalingProps:
    endpoint_name: str
    variant_name: str
    instances: Instances
    autoscaling: Autoscaling
    endpoint: IConstruct  # registered only after this exists


class EndpointAutoscaling(Construct):
    def __init__(self, scope: Construct, id: str, props: EndpointAutoscalingProps):
        super().__init__(scope, id)
        self.target, self.policy = sagemaker_target_tracking(
            self, f"endpoint/{props.endpoint_name}/variant/{props.variant_name}",
            "sagemaker:variant:DesiredInstanceCount", props.instances, props.autoscaling, after=props.endpoint)
        for schedule in props.autoscaling.schedules:
            self.target.scale_on_schedule(
                schedule.name,
                schedule=appscaling.Schedule.expression(schedule.expression),
                min_capacity=schedule.min,
                max_capacity=schedule.max,
                time_zone=TimeZone.of(schedule.timezone),
            )

    @property
    def cfn_target(self) -> appscaling.CfnScalableTarget:
        return self.target.node.default_child

    @property
    def cfn_policy(self) -> appscaling.CfnScalingPolicy:
        return self.policy.node.default_child


def sagemaker_autoscaling_role(scope: Construct) -> iam.IRole:
    """The service-linked role Application Auto Scaling creates for SageMaker (variants and inference
    components alike): no project-managed role, no policy to get wrong."""
    stack = Stack.of(scope)
    return iam.Role.from_role_arn(
        scope, "ServiceLinkedRole",
        f"arn:{stack.partition}:iam::{stack.account}:role/aws-service-role/"
        "sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
        mutable=False)


def sagemaker_target_tracking(
    scope: Construct, resource_id: str, dimension: str, bounds: Instances | Copies,
    scaling: Autoscaling | ComponentScalingConfig, after: IConstruct,
) -> tuple[appscaling.ScalableTarget, appscaling.TargetTrackingScalingPolicy]:
    """The scalable target ("Target") of a variant or an inference component, with its target-tracking
    policy ("TargetTracking"): both kinds of endpoint register and track the same way, so the role,
    the bounds and the cooldowns are wired once. Registered only after `after` exists (Application
    Auto Scaling refuses a resource it cannot find)."""
    target = appscaling.ScalableTarget(
        scope, "Target", service_namespace=appscaling.ServiceNamespace.SAGEMAKER, resource_id=resource_id,
        scalable_dimension=dimension, min_capacity=bounds.min, max_capacity=bounds.max,
        role=sagemaker_autoscaling_role(scope))
    target.node.add_dependency(after)
    policy = target.scale_to_track_metric(
        "TargetTracking", target_value=scaling.target,
        predefined_metric=getattr(appscaling.PredefinedMetric, scaling.metric.cdk_name),
        scale_out_cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
        scale_in_cooldown=Duration.seconds(scaling.scale_in_cooldown_seconds))
    return target, policy
