"""What an inference component runs now, read from SageMaker (never from the repo).

DescribeInferenceComponent names the base's Model (whose container names the registry package
that carries the pin's version and manifest hash, as for an endpoint: live.py) or, for an
adapter, the archive it loaded (ArtifactUrl, whose key names the adapter and version:
<model>/adapters/<adapter>/<version>/adapter.tar.gz). RuntimeConfig gives the copies wanted and
running: at zero copies every request fails until one is back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BUSY = ("Creating", "Updating", "Deleting")


@dataclass
class ComponentState:
    name: str
    exists: bool
    status: str | None = None
    failure_reason: str | None = None
    desired: int | None = None  # copies (None: an adapter, which has none)
    current: int | None = None
    model: str | None = None  # the base's pin-model / pin-version / manifest, from its package
    version: str | None = None
    manifest_sha256: str | None = None
    images: list[str] = field(default_factory=list)
    artifact_url: str | None = None  # an adapter's archive
    adapter: str | None = None
    adapter_version: str | None = None

    @property
    def busy(self) -> bool:
        return self.status in BUSY

    @property
    def at_zero(self) -> bool:
        return self.desired == 0 and self.current == 0

    @property
    def waking(self) -> bool:
        """Copies asked for, none up yet: requests fail until one is (minutes)."""
        return bool(self.desired) and self.current == 0

    @property
    def serves(self) -> str | None:
        """The version it answers with: the adapter's, or the base's."""
        return self.adapter_version if self.artifact_url else self.version


class ComponentInspector:
    def __init__(self, sagemaker: Any):
        self.sagemaker = sagemaker
        self._models: dict[str, dict] = {}

    def component(self, name: str) -> ComponentState:
        from botocore.exceptions import ClientError

        try:
            d = self.sagemaker.describe_inference_component(InferenceComponentName=name)
        except ClientError as exc:
            message = str(exc).lower()
            if "could not find" in message or "not found" in message:
                return ComponentState(name, exists=False)
            raise
        spec, runtime = d.get("Specification") or {}, d.get("RuntimeConfig")
        state = ComponentState(name, True, d.get("InferenceComponentStatus"), d.get("FailureReason"),
                               runtime.get("DesiredCopyCount") if runtime else None,
                               runtime.get("CurrentCopyCount") if runtime else None)
        container = spec.get("Container") or {}
        if container.get("DeployedImage"):
            state.images = [container["DeployedImage"].get("ResolvedImage", "")]
        if spec.get("BaseInferenceComponentName"):
            state.artifact_url = container.get("ArtifactUrl")
            parts = (state.artifact_url or "").split("/")
            if "adapters" in parts and len(parts) > parts.index("adapters") + 2:
                state.adapter, state.adapter_version = parts[parts.index("adapters") + 1:parts.index("adapters") + 3]
        elif spec.get("ModelName"):
            metadata = self._package_metadata(spec["ModelName"])
            state.model, state.version = metadata.get("pin-model"), metadata.get("pin-version")
            state.manifest_sha256 = metadata.get("pin-manifest-sha256")
        return state

    def _package_metadata(self, model_name: str) -> dict:
        if model_name not in self._models:
            model = self.sagemaker.describe_model(ModelName=model_name)
            package = (model.get("PrimaryContainer") or {}).get("ModelPackageName")
            self._models[model_name] = (self.sagemaker.describe_model_package(ModelPackageName=package)
                                        .get("CustomerMetadataProperties") or {}) if package else {}
        return self._models[model_name]
