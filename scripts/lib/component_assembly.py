"""Read a synthesized cloud assembly's component endpoints (inference components), as reviewers see them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scripts.lib.assembly import stack_templates


@dataclass(frozen=True)
class ComponentEndpointReview:
    stack: str
    endpoint: str
    base: str  # "model version"
    adapters: list[str]  # "component: adapter version"
    instance_type: str
    instances: str  # "initial/min-max" of the variant's managed instance scaling
    copies: str  # "initial/min-max" of the base component
    scales_to_zero: bool
    rolling: str
    rollback_alarms: int


def component_reviews(assembly: Path) -> list[ComponentEndpointReview]:
    reviews = []
    for stack, template in stack_templates(assembly).items():
        resources = template.get("Resources", {}).values()
        components = [r["Properties"] for r in resources if r["Type"] == "AWS::SageMaker::InferenceComponent"]
        if not components:
            continue
        outputs = {k: v["Value"] for k, v in template.get("Outputs", {}).items()}
        base = next(c for c in components if "BaseInferenceComponentName" not in c["Specification"])
        variant = next(r["Properties"] for r in resources if r["Type"] == "AWS::SageMaker::EndpointConfig")[
            "ProductionVariants"][0]
        scaling = variant["ManagedInstanceScaling"]
        target = next(r["Properties"] for r in resources if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget")
        policy = base["DeploymentConfig"]["RollingUpdatePolicy"]
        batch = policy["MaximumBatchSize"]
        adapters = [f"{k.removeprefix('Adapter').removesuffix('Version')}: {v}" for k, v in sorted(outputs.items())
                    if k.startswith("Adapter") and k.endswith("Version")]
        reviews.append(ComponentEndpointReview(
            stack=stack, endpoint=outputs["EndpointName"], base=f"{outputs['Model']} {outputs['ModelVersion']}",
            adapters=adapters, instance_type=variant["InstanceType"],
            instances=f"{variant['InitialInstanceCount']}/{scaling['MinInstanceCount']}-{scaling['MaxInstanceCount']}",
            copies=f"{base['RuntimeConfig']['CopyCount']}/{target['MinCapacity']}-{target['MaxCapacity']}",
            scales_to_zero=outputs.get("ScalesToZero") == "true",
            rolling=f"{batch['Value']} {batch['Type'].lower()}, wait {policy['WaitIntervalInSeconds']}s",
            rollback_alarms=len((base["DeploymentConfig"].get("AutoRollbackConfiguration") or {}).get("Alarms", []))))
    return reviews
