"""Read a synthesized cloud assembly (cdk.out): what each endpoint stack deploys, as reviewers see it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from scripts.lib.errors import UserError


@dataclass(frozen=True)
class EndpointReview:
    stack: str
    endpoint: str
    model: str
    version: str
    image: str
    weights_uri: str
    instance_type: str
    instances: str  # "initial/min-max"
    scaling: str
    strategy: str
    rollback_alarms: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    shadow_version: str | None = None  # a shadow variant's version (copied requests, no answers to clients)

    @property
    def digest(self) -> str:
        return self.image.rsplit("@", 1)[-1]


def stack_templates(assembly: Path) -> dict[str, dict]:
    manifest = assembly / "manifest.json"
    if not manifest.is_file():
        raise UserError(f"{assembly}: no cloud assembly (manifest.json missing); fix: run `make synth` first")
    artifacts = json.loads(manifest.read_text())["artifacts"]
    return {name: json.loads((assembly / a["properties"]["templateFile"]).read_text())
            for name, a in sorted(artifacts.items()) if a.get("type") == "aws:cloudformation:stack"}


def _of_type(template: dict, kind: str) -> list[dict]:
    return [r["Properties"] for r in template.get("Resources", {}).values() if r["Type"] == kind]


def endpoint_reviews(assembly: Path) -> list[EndpointReview]:
    reviews = []
    for stack, template in stack_templates(assembly).items():
        endpoints = _of_type(template, "AWS::SageMaker::Endpoint")
        if not endpoints or _of_type(template, "AWS::SageMaker::InferenceComponent"):
            continue  # no endpoint, or one hosting inference components (component_assembly.py)
        outputs = {k: v["Value"] for k, v in template.get("Outputs", {}).items()}
        variant = _of_type(template, "AWS::SageMaker::EndpointConfig")[0]["ProductionVariants"][0]
        target = _of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")[0]
        policy = _of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy")[0]
        tracking = policy["TargetTrackingScalingPolicyConfiguration"]
        metric = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"].removeprefix("SageMakerVariant")
        routing = endpoints[0]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
        size = routing.get("CanarySize") or routing.get("LinearStepSize")
        strategy = routing["Type"].lower() + (f" {size['Value']} {size['Type'].lower()}" if size else "")
        strategy += f", wait {routing['WaitIntervalInSeconds']}s"
        alarm_names = {_logical(template, a): a["AlarmName"] for a in _of_type(template, "AWS::CloudWatch::Alarm")}
        rollback = [alarm_names.get(a["AlarmName"].get("Ref"), str(a["AlarmName"])) if isinstance(a["AlarmName"], dict)
                    else a["AlarmName"]
                    for a in endpoints[0]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
        reviews.append(EndpointReview(
            stack=stack, endpoint=outputs["EndpointName"], model=outputs["Model"], version=outputs["ModelVersion"],
            image=outputs["Image"], weights_uri=outputs["WeightsUri"], instance_type=variant["InstanceType"],
            instances=f"{variant['InitialInstanceCount']}/{target['MinCapacity']}-{target['MaxCapacity']}",
            scaling=f"{metric} {tracking['TargetValue']}", strategy=strategy,
            rollback_alarms=rollback, alarms=sorted(alarm_names.values()),
            shadow_version=outputs.get("ShadowVersion")))
    return reviews


def _logical(template: dict, properties: dict) -> str:
    for logical, resource in template["Resources"].items():
        if resource.get("Properties") is properties:
            return logical
    return ""
