"""ClientAlarms: alarms on the application client's own metrics (EMF, namespace PinnedLlama/Client).

- `<endpoint>-fallback-rate`: the Average of `Fallback` (0 or 1 per call routed to Llama) is the
  share of those calls the API answered instead; above `max_fallback_percent` for
  `evaluation_minutes` one-minute periods in a row.
- `<endpoint>-shadow-agreement`: the Average of `ShadowAgreement` (0 or 1 per shadow comparison
  where both answers are labels); below `min_agreement_percent` for as long.

No data (api mode, no traffic) is not breaching. Both notify the endpoint's topic; neither is a
SageMaker rollback alarm (a deployment's fate is decided by the endpoint's own metrics). The names
share the endpoint's alarm prefix, so `status` and promote's alarm gate see them.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, aws_cloudwatch as cw, aws_cloudwatch_actions as actions, aws_sns as sns
from constructs import Construct
from pinned_llama_client.metrics import ENDPOINT, NAMESPACE

from config.routing import RoutingAlarms
from stacks.constructs.endpoint_alarms import notifying_alarm

MINUTE = Duration.minutes(1)


@dataclass(frozen=True)
class ClientAlarmsProps:
    endpoint_name: str
    thresholds: RoutingAlarms
    topic: sns.ITopic


class ClientAlarms(Construct):
    def __init__(self, scope: Construct, id: str, props: ClientAlarmsProps):
        super().__init__(scope, id)
        self.props = props
        t, n = props.thresholds, props.thresholds.evaluation_minutes
        self.fallback_rate = self._alarm(
            "FallbackRate", "fallback-rate", self.metric("Fallback", "Average"), t.max_fallback_percent / 100,
            cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            f"> {t.max_fallback_percent:g}% of calls routed to Llama answered by the API (fallback) for {n} min")
        self.shadow_agreement = self._alarm(
            "ShadowAgreement", "shadow-agreement", self.metric("ShadowAgreement", "Average"),
            t.min_agreement_percent / 100, cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            f"shadow: Llama agrees with the API on < {t.min_agreement_percent:g}% of labels for {n} min")

    @property
    def all_alarms(self) -> list[cw.Alarm]:
        return [self.fallback_rate, self.shadow_agreement]

    def metric(self, name: str, statistic: str, **extra_dimensions: str) -> cw.Metric:
        return cw.Metric(namespace=NAMESPACE, metric_name=name, statistic=statistic, period=MINUTE,
                         dimensions_map={ENDPOINT: self.props.endpoint_name, **extra_dimensions})

    def _alarm(self, id: str, suffix: str, metric: cw.IMetric, threshold: float, op: cw.ComparisonOperator,
               description: str) -> cw.Alarm:
        return notifying_alarm(self, id, self.props.endpoint_name, suffix, actions.SnsAction(self.props.topic), metric,
                               threshold=threshold, periods=self.props.thresholds.evaluation_minutes,
                               description=description, op=op)
