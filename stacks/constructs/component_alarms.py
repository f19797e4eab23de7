"""ComponentAlarms: the alarms of an endpoint that hosts inference components.

Per component (the base and each adapter), from its own invocation metrics (AWS/SageMaker,
dimension InferenceComponentName): 5XX errors, the 4XX rate and p99 ModelLatency (microseconds),
named <component>-<signal> under the endpoint's alarm prefix. For the instances (the variant):
GPU memory (summed over the instance's GPUs) and disk, as EndpointAlarms has them. A no-traffic
alarm sums the components' invocations. Missing data never breaches: at zero instances there is
none, by design.

The base component's rolling deployment rolls back on the base's three signals plus each
adapter's 5XX (a bad base answers every adapter's requests), at most 10 alarms (SageMaker's limit
for AutoRollbackConfiguration).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, aws_cloudwatch as cw, aws_cloudwatch_actions as actions, aws_sns as sns
from constructs import Construct

from config import naming
from config.environment import Alarms
from stacks.constructs.endpoint_alarms import INSTANCE_NAMESPACE, INVOCATION_NAMESPACE

MINUTE = Duration.minutes(1)
MAX_ROLLBACK_ALARMS = 10
GT, GTE, LT = (cw.ComparisonOperator.GREATER_THAN_THRESHOLD, cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
               cw.ComparisonOperator.LESS_THAN_THRESHOLD)


@dataclass(frozen=True)
class ComponentAlarmsProps:
    endpoint_name: str
    variant_name: str
    base_component_name: str
    adapter_component_names: list[str]
    gpus_per_instance: int
    thresholds: Alarms
    topic: sns.ITopic


class ComponentAlarms(Construct):
    def __init__(self, scope: Construct, id: str, props: ComponentAlarmsProps):
        super().__init__(scope, id)
        self.props = props
        t, n = props.thresholds, props.thresholds.evaluation_minutes
        self.by_component: dict[str, dict[str, cw.Alarm]] = {}
        for index, name in enumerate([props.base_component_name, *props.adapter_component_names]):
            def metric(metric_name: str, statistic: str, name=name) -> cw.Metric:
                return cw.Metric(namespace=INVOCATION_NAMESPACE, metric_name=metric_name, statistic=statistic,
                                 dimensions_map={"InferenceComponentName": name}, period=MINUTE)

            rate = cw.MathExpression(expression="IF(inv > 0, 100 * e4 / inv, 0)", period=MINUTE, label="4XX %",
                                     using_metrics={"inv": metric("Invocations", "Sum"),
                                                    "e4": metric("Invocation4XXErrors", "Sum")})
            self.by_component[name] = {
                "5xx": self._alarm(f"C{index}Errors5xx", name, "5xx", metric("Invocation5XXErrors", "Sum"),
                                   t.errors_5xx_per_minute, n, GTE, f">= {t.errors_5xx_per_minute} 5XX a minute"),
                "4xx-rate": self._alarm(f"C{index}Errors4xxRate", name, "4xx-rate", rate, t.errors_4xx_percent, n, GT,
                                        f"> {t.errors_4xx_percent}% of invocations answered 4XX"),
                "latency-p99": self._alarm(f"C{index}LatencyP99", name, "latency-p99", metric("ModelLatency", "p99"),
                                           t.latency_p99_ms * 1000, n, GT, f"ModelLatency p99 > {t.latency_p99_ms} ms"),
            }
        variant = {"EndpointName": props.endpoint_name, "VariantName": props.variant_name}

        def instance(metric_name: str) -> cw.Metric:
            return cw.Metric(namespace=INSTANCE_NAMESPACE, metric_name=metric_name, dimensions_map=variant,
                             statistic="Average", period=MINUTE)

        self.gpu_memory = self._alarm("GpuMemory", props.endpoint_name, "gpu-memory", instance("GPUMemoryUtilization"),
                                      t.gpu_memory_percent * props.gpus_per_instance, n, GT,
                                      f"GPU memory > {t.gpu_memory_percent}% per GPU")
        self.disk = self._alarm("Disk", props.endpoint_name, "disk", instance("DiskUtilization"), t.disk_percent, n,
                                GT, f"disk > {t.disk_percent}%")
        self.no_traffic = None
        if t.no_traffic_minutes:
            calls = {f"i{i}": cw.Metric(namespace=INVOCATION_NAMESPACE, metric_name="Invocations", statistic="Sum",
                                        dimensions_map={"InferenceComponentName": c}, period=MINUTE)
                     for i, c in enumerate(self.by_component)}
            total = cw.MathExpression(expression=f"SUM([{','.join(calls)}])", using_metrics=calls, period=MINUTE,
                                      label="invocations of every component")
            self.no_traffic = self._alarm("NoTraffic", props.endpoint_name, "no-traffic", total, 1,
                                          t.no_traffic_minutes, LT, "no invocation of any component",
                                          cw.TreatMissingData.BREACHING)

    @property
    def rollback_alarms(self) -> list[cw.Alarm]:
        """What rolls a new base version back: the base's three signals, then each adapter's 5XX."""
        base, *adapters = self.by_component.values()
        return ([base["5xx"], base["4xx-rate"], base["latency-p99"]] + [a["5xx"] for a in adapters])[:MAX_ROLLBACK_ALARMS]

    @property
    def all_alarms(self) -> list[cw.Alarm]:
        return [a for signals in self.by_component.values() for a in signals.values()] + \
            [a for a in (self.gpu_memory, self.disk, self.no_traffic) if a is not None]

    def _alarm(self, id: str, owner: str, suffix: str, metric: cw.IMetric, threshold: float, periods: int,
               op: cw.ComparisonOperator, what: str,
               missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING) -> cw.Alarm:
        alarm = cw.Alarm(self, id, alarm_name=naming.alarm(owner, suffix), metric=metric, threshold=threshold,
                         comparison_operator=op, evaluation_periods=periods, datapoints_to_alarm=periods,
                         treat_missing_data=missing, alarm_description=f"{owner}: {what} for {periods} min")
        for add in (alarm.add_alarm_action, alarm.add_ok_action):
            add(actions.SnsAction(self.props.topic))
        return alarm
