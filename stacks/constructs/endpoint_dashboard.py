"""EndpointDashboard: one CloudWatch dashboard per endpoint, built from its alarms' metrics."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from stacks.constructs.endpoint_alarms import INSTANCE_NAMESPACE, EndpointAlarms


@dataclass(frozen=True)
class EndpointDashboardProps:
    name: str  # the endpoint's, also the dashboard's
    alarms: EndpointAlarms


class EndpointDashboard(Construct):
    def __init__(self, scope: Construct, id: str, props: EndpointDashboardProps):
        super().__init__(scope, id)
        alarms = props.alarms
        m = alarms.metric
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=props.name)
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=alarms.all_alarms, width=24, height=3),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Invocations and errors", width=8,
                           left=[m("Invocations", "Sum"), m("Invocation4XXErrors", "Sum"),
                                 m("Invocation5XXErrors", "Sum")]),
            cw.GraphWidget(title="Model latency (microseconds)", width=8,
                           left=[m("ModelLatency", "p50"), m("ModelLatency", "p99"),
                                 m("OverheadLatency", "p99")]),
            cw.GraphWidget(title="Concurrency per model", width=8,
                           left=[m("ConcurrentRequestsPerModel", "Maximum")]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="GPU (% summed over GPUs)", width=12,
                           left=[m("GPUUtilization", "Average", INSTANCE_NAMESPACE),
                                 m("GPUMemoryUtilization", "Average", INSTANCE_NAMESPACE)]),
            cw.GraphWidget(title="CPU, memory, disk (%)", width=12,
                           left=[m("CPUUtilization", "Average", INSTANCE_NAMESPACE),
                                 m("MemoryUtilization", "Average", INSTANCE_NAMESPACE),
                                 m("DiskUtilization", "Average", INSTANCE_NAMESPACE)]),
        )

    @property
    def cfn_dashboard(self) -> cw.CfnDashboard:
        return self.dashboard.node.default_child
