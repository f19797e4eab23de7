"""ComponentScaling: copies of the base component scale with load, and to and from zero.

The base component is the scalable target (`inference-component/<name>`, dimension
`sagemaker:inference-component:DesiredCopyCount`), registered after it exists, with target tracking
on a per-copy metric; adapter components have no copies of their own. With `min: 0` the copies
may reach zero and, with them, the instances (the variant's ManagedInstanceScaling). Target
tracking cannot leave zero (there is no copy to measure), so coming back is the documented step
scaling policy (+1 copy, ChangeInCapacity, Maximum, 60 s cooldown) on an alarm for requests that
found no capacity: NoCapacityInvocationFailures >= 1 in a minute ("Scale an endpoint to zero
instances"; AWS ML blog "scale down to zero"). A request to an adapter at zero fails the same way,
so the alarm sums the metric over the base and every adapter component. SageMaker then provisions
an instance and loads the model: minutes, during which requests fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, aws_applicationautoscaling as appscaling, aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from constructs import Construct, IConstruct

from config import naming
from config.components import ComponentScaling as ScalingConfig, Copies
from stacks.constructs.endpoint_autoscaling import sagemaker_target_tracking

NO_CAPACITY = "NoCapacityInvocationFailures"
DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


@dataclass(frozen=True)
class ComponentScalingProps:
    endpoint_name: str
    base_component_name: str
    component_names: list[str]  # the base's and every adapter's: where a request at zero is counted
    copies: Copies
    scaling: ScalingConfig
    base: IConstruct  # the base's CfnInferenceComponent: the target is registered only after it exists


class ComponentScaling(Construct):
    def __init__(self, scope: Construct, id: str, props: ComponentScalingProps):
        super().__init__(scope, id)
        self.target, self.policy = sagemaker_target_tracking(
            self, f"inference-component/{props.base_component_name}", DIMENSION, props.copies, props.scaling,
            after=props.base)
        self.cfn_target: appscaling.CfnScalableTarget = self.target.node.default_child
        self.from_zero_alarm: cw.Alarm | None = None
        if props.copies.min == 0:
            self._from_zero(props)

    def _from_zero(self, props: ComponentScalingProps) -> None:
        metrics = {f"c{i}": cw.Metric(namespace="AWS/SageMaker", metric_name=NO_CAPACITY,
                                      dimensions_map={"InferenceComponentName": name}, statistic="Sum",
                                      period=Duration.minutes(1))
                   for i, name in enumerate(props.component_names)}
        metric = cw.MathExpression(expression=f"SUM([{','.join(metrics)}])", using_metrics=metrics,
                                   period=Duration.minutes(1), label="requests that found no capacity")
        self.from_zero_alarm = cw.Alarm(
            self, "NoCapacity", alarm_name=naming.alarm(props.endpoint_name, "no-capacity"),
            alarm_description=f"{props.endpoint_name}: a request found no copy (scaled to zero): add one",
            metric=metric, threshold=1, evaluation_periods=1, datapoints_to_alarm=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.MISSING)
        self.scale_from_zero = appscaling.StepScalingAction(
            self, "FromZero", scaling_target=self.target, adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM, cooldown=Duration.seconds(60))
        self.scale_from_zero.add_adjustment(adjustment=1, lower_bound=0)
        self.from_zero_alarm.add_alarm_action(actions.ApplicationScalingAction(self.scale_from_zero))
