"""EndpointAlarms: the CloudWatch alarms of one endpoint, and which of them roll a deployment back.

SageMaker publishes ModelLatency in MICROSECONDS and GPUMemoryUtilization
summed over the instance's GPUs (0-400% on a 4-GPU instance): thresholds
are converted here from the config's milliseconds and per-GPU percent.
Alarm names are fixed (<endpoint>-<signal>) because the endpoint's
AutoRollbackConfiguration and the operators refer to them by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, aws_cloudwatch as cw, aws_cloudwatch_actions as actions, aws_sns as sns
from constructs import Construct

from config import naming
from config.environment import Alarms

INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
MINUTE = Duration.minutes(1)


@dataclass(frozen=True)
class EndpointAlarmsProps:
    endpoint_name: str
    variant_name: str
    gpus_per_instance: int
    thresholds: Alarms
    topic: sns.ITopic


class EndpointAlarms(Construct):
    def __init__(self, scope: Construct, id: str, props: EndpointAlarmsProps):
        super().__init__(scope, id)
        self.props = props
        self._names: dict[str, str] = {}  # construct id -> alarm name
        t = props.thresholds
        n = t.evaluation_minutes
        dims = {"EndpointName": props.endpoint_name, "VariantName": props.variant_name}
        self.dimensions = dims
        # Built once and shared by every alarm (and the dashboard): each new jsii object is a
        # round trip to the kernel, and these are immutable.
        self._metrics: dict[tuple[str, str, str], cw.Metric] = {}
        self._action = actions.SnsAction(props.topic)
        invocations = self.metric("Invocations", "Sum")
        errors_4xx = self.metric("Invocation4XXErrors", "Sum")

        self.errors_5xx = self._alarm(
            "Errors5xx", "5xx", self.metric("Invocation5XXErrors", "Sum"),
            threshold=t.errors_5xx_per_minute, periods=n,
            op=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description=f">= {t.errors_5xx_per_minute} 5XX errors a minute for {n} min")
        self.errors_4xx = self._alarm(
            "Errors4xxRate", "4xx-rate",
            cw.MathExpression(expression="IF(inv > 0, 100 * e4 / inv, 0)",
                              using_metrics={"inv": invocations, "e4": errors_4xx},
                              period=MINUTE, label="4XX %"),
            threshold=t.errors_4xx_percent, periods=n,
            description=f"> {t.errors_4xx_percent}% of invocations answered 4XX for {n} min")
        self.latency_p99 = self._alarm(
            "LatencyP99", "latency-p99", self.metric("ModelLatency", "p99"),
            threshold=t.latency_p99_ms * 1000, periods=n,  # ms -> microseconds
            description=f"ModelLatency p99 > {t.latency_p99_ms} ms for {n} min")
        self.gpu_memory = self._alarm(
            "GpuMemory", "gpu-memory",
            self.metric("GPUMemoryUtilization", "Average", INSTANCE_NAMESPACE),
            threshold=t.gpu_memory_percent * props.gpus_per_instance, periods=n,
            description=f"GPU memory > {t.gpu_memory_percent}% per GPU for {n} min")
        self.disk = self._alarm(
            "Disk", "disk", self.metric("DiskUtilization", "Average", INSTANCE_NAMESPACE),
            threshold=t.disk_percent, periods=n, description=f"Disk > {t.disk_percent}% for {n} min")
        self.no_traffic = None
        if t.no_traffic_minutes:
            self.no_traffic = self._alarm(
                "NoTraffic", "no-traffic", invocations, threshold=1,
                periods=t.no_traffic_minutes, op=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cw.TreatMissingData.BREACHING,
                description=f"no invocation for {t.no_traffic_minutes} min")

    @property
    def rollback_alarms(self) -> list[cw.Alarm]:
        """Signals of a bad version. GPU memory and disk are capacity signals: vLLM
        pre-allocates GPU memory, so they say little about the version; they notify only."""
        return [self.errors_5xx, self.errors_4xx, self.latency_p99]

    @property
    def rollback_alarm_names(self) -> list[str]:
        """The rollback alarms' names as literals (not tokens): the execution role's policy names them."""
        return [self._names[alarm.node.id] for alarm in self.rollback_alarms]

    @property
    def all_alarms(self) -> list[cw.Alarm]:
        return [a for a in (self.errors_5xx, self.errors_4xx, self.latency_p99, self.gpu_memory,
                            self.disk, self.no_traffic) if a is not None]

    def metric(self, name: str, statistic: str, namespace: str = INVOCATION_NAMESPACE) -> cw.Metric:
        key = (namespace, name, statistic)
        if key not in self._metrics:
            self._metrics[key] = cw.Metric(namespace=namespace, metric_name=name, dimensions_map=self.dimensions,
                                           statistic=statistic, period=MINUTE)
        return self._metrics[key]

    def _alarm(self, id: str, suffix: str, metric: cw.IMetric, *, threshold: float, periods: int,
               description: str, op: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
               missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING) -> cw.Alarm:
        alarm = notifying_alarm(self, id, self.props.endpoint_name, suffix, self._action, metric,
                                threshold=threshold, periods=periods, description=description, op=op, missing=missing)
        self._names[alarm.node.id] = naming.alarm(self.props.endpoint_name, suffix)
        return alarm


def notifying_alarm(scope: Construct, id: str, endpoint_name: str, suffix: str, action: cw.IAlarmAction,
                    metric: cw.IMetric, *, threshold: float, periods: int, description: str,
                    op: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING) -> cw.Alarm:
    """An alarm named <endpoint>-<suffix> that runs `action` (one SnsAction shared by a construct's
    alarms) on ALARM and on OK, over `periods` periods."""
    alarm = cw.Alarm(
        scope, id,
        alarm_name=naming.alarm(endpoint_name, suffix),
        alarm_description=f"{endpoint_name}: {description}",
        metric=metric, threshold=threshold, comparison_operator=op,
        evaluation_periods=periods, datapoints_to_alarm=periods, treat_missing_data=missing,
    )
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)
    return alarm
