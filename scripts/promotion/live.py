"""What an endpoint runs now, read from SageMaker (never from the repo).

DescribeEndpoint names an endpoint config; the config names a model. A model of an
Approved version names its versioned Model Registry package, whose metadata carries the
pin's version and manifest hash (stacks/constructs/pinned_model_package.py); a model of a
version not approved yet is built from the pin itself (SageMaker deploys versioned packages
only when Approved) and carries the same identity as tags, read with ListTags
(DescribeModel returns none), with its image and weights prefix in its own container.
Configs, models and packages are immutable, so each is described once per command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from config import naming
from config.environment import VARIANT_NAME

BUSY = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")


@dataclass(frozen=True)
class Deployed:
    """What one endpoint config serves on its production variant."""

    config_name: str
    version: str | None = None  # pin-version of the package or pin-built model; None if neither names one
    model: str | None = None
    manifest_sha256: str | None = None
    package_arn: str | None = None  # None for a model built from the pin (a version not approved yet)
    model_data_uri: str | None = None
    image: str | None = None  # the package's or the pin-built model's image (repo@sha256:...)
    instance_type: str | None = None
    config_arn: str | None = None


@dataclass
class EndpointState:
    name: str
    exists: bool
    status: str | None = None
    failure_reason: str | None = None
    live: Deployed | None = None
    pending: Deployed | None = None
    stage: str | None = None  # the pending deployment's variant status and message
    green_percent: float | None = None  # share of traffic on the new fleet
    resolved_images: list[str] = field(default_factory=list)  # DeployedImages of the live variant
    instance_count: int | None = None  # CurrentInstanceCount of the live production variant

    @property
    def busy(self) -> bool:
        return self.status in BUSY


class Inspector:
    def __init__(self, sagemaker: Any, cloudwatch: Any):
        self.sagemaker, self.cloudwatch = sagemaker, cloudwatch
        self._configs: dict[str, Deployed] = {}
        self.last_live: dict[str, str | None] = {}  # endpoint -> version seen live by the last answer

    def endpoint(self, name: str) -> EndpointState:
        state = self._endpoint(name)
        if state.exists:
            self.last_live[name] = state.live.version if state.live else None
        return state

    def _endpoint(self, name: str) -> EndpointState:
        from botocore.exceptions import ClientError

        try:
            described = self.sagemaker.describe_endpoint(EndpointName=name)
        except ClientError as exc:
            message = str(exc).lower()
            if exc.response.get("Error", {}).get("Code") in ("ValidationException", "ValidationError") \
                    and ("could not find" in message or "not found" in message):
                return EndpointState(name, exists=False)
            raise
        state = EndpointState(name, exists=True, status=described.get("EndpointStatus"),
                              failure_reason=described.get("FailureReason"),
                              live=self.deployed(described["EndpointConfigName"]))
        variant = _primary(described.get("ProductionVariants", []))
        state.resolved_images = [i.get("ResolvedImage", "") for i in (variant or {}).get("DeployedImages", [])]
        state.instance_count = (variant or {}).get("CurrentInstanceCount")
        pending = described.get("PendingDeploymentSummary")
        if pending:
            state.pending = self.deployed(pending["EndpointConfigName"])
            pv = _primary(pending.get("ProductionVariants", [])) or {}
            statuses = pv.get("VariantStatus") or []
            if statuses:
                state.stage = f"{statuses[-1].get('Status')}: {statuses[-1].get('StatusMessage', '')}".strip(": ")
            state.green_percent = pv.get("CurrentWeight")
        return state

    def deployed(self, config_name: str) -> Deployed:
        if config_name in self._configs:
            return self._configs[config_name]
        config = self.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        variant = _primary(config.get("ProductionVariants", [])) or {}
        arn = config.get("EndpointConfigArn")
        deployed = Deployed(config_name=config_name, config_arn=arn, instance_type=variant.get("InstanceType"))
        model_name = variant.get("ModelName")
        if model_name:
            model = self.sagemaker.describe_model(ModelName=model_name)
            container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
            package_arn = container.get("ModelPackageName")
            if package_arn:
                package = self.sagemaker.describe_model_package(ModelPackageName=package_arn)
                identity = package.get("CustomerMetadataProperties") or {}
                container = (package.get("InferenceSpecification", {}).get("Containers") or [{}])[0]
                package_arn = package["ModelPackageArn"]
            else:
                identity = {t["Key"]: t["Value"] for t in self._tags(model["ModelArn"])}
            deployed = Deployed(
                config_name=config_name, config_arn=arn, version=identity.get(naming.PIN_VERSION), model=identity.get(naming.PIN_MODEL),
                manifest_sha256=identity.get(naming.PIN_MANIFEST), package_arn=package_arn,
                model_data_uri=container.get("ModelDataSource", {}).get("S3DataSource", {}).get("S3Uri"),
                image=container.get("Image"), instance_type=deployed.instance_type)
        self._configs[config_name] = deployed
        return deployed

    def _tags(self, arn: str) -> list[dict]:
        pages = self.sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn)
        return [tag for page in pages for tag in page.get("Tags", [])]

    def firing_alarms(self, endpoint_name: str) -> list[str]:
        """The endpoint's alarms (all named `<endpoint>-...`) now in ALARM."""
        # State filtered here: one call with both filters is not answered alike everywhere (moto
        # ignores StateValue next to a prefix).
        pages = self.cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=naming.alarm_prefix(endpoint_name))
        return sorted(a["AlarmName"] for page in pages for a in page.get("MetricAlarms", [])
                      if a.get("StateValue") == "ALARM")


def _primary(variants: list[dict]) -> dict | None:
    return next((v for v in variants if v.get("VariantName") == VARIANT_NAME), variants[0] if variants else None)
