"""EndpointDashboard: one CloudWatch dashboard per endpoint, built from its alarms' metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from stacks.constructs.endpoint_alarms import INSTANCE_NAMESPACE, EndpointAlarms

if TYPE_CHECKING:
    from stacks.constructs.client_alarms import ClientAlarms


@dataclass(frozen=True)
class EndpointDashboardProps:
    name: str  # the endpoint's, also the dashboard's
    alarms: EndpointAlarms
    client: "ClientAlarms | None" = None  # the application client's metrics and alarms (a row of their own)


class EndpointDashboard(Construct):
    def __init__(self, scope: Construct, id: str, props: EndpointDashboardProps):
        super().__init__(scope, id)
        alarms = props.alarms
        m = alarms.metric
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=props.name)
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=alarms.all_alarms + (props.client.all_alarms if props.client
                                                                              else []), width=24, height=3),
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
        if props.client is not None:
            self.dashboard.add_widgets(*client_widgets(props.client))

    @property
    def cfn_dashboard(self) -> cw.CfnDashboard:
        return self.dashboard.node.default_child


def client_widgets(client: "ClientAlarms") -> list[cw.IWidget]:
    """The application client's row (pinned-llama-client EMF metrics): who answered, fallbacks and why,
    latency per route, shadow agreement."""
    from pinned_llama_client.llama import Reason

    m = client.metric
    routes = ("llama", "api", "fallback")
    return [
        cw.GraphWidget(title="Client: answered by (Route)", width=6,
                       left=[m("Routed", "Sum", Route=r) for r in routes]),
        cw.GraphWidget(title="Client: fallback rate and shadow agreement (0-1)", width=6,
                       left=[m("Fallback", "Average"), m("ShadowAgreement", "Average")]),
        cw.GraphWidget(title="Client: fallbacks by reason", width=6,
                       left=[m("Fallbacks", "Sum", Reason=r.value) for r in Reason]),
        cw.GraphWidget(title="Client: latency per route (ms)", width=6,
                       left=[m("Latency", stat, Route=r) for r in routes for stat in ("p50", "p99")]),
    ]
