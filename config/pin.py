"""Pin manifest: one immutable model version (`model_artifacts/<model>/<version>.yaml`).

A pin names everything that decides what an endpoint serves: the weight
files by SHA-256, their Hugging Face source by commit, the serving image per
region by digest, and the serving settings. `manifest_sha256` covers all of
that (not the approval record, which changes over a version's life), so a
hand edit of pinned content is caught by `validate`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from config.errors import Invalid
from config.fields import (DIGEST_IMAGE, DigestImage, EnvVarName, GitCommit, KeyPrefix, ResourceName, Sha256,
                         Strict, Version)

GIB = 1024**3


class Framework(str, Enum):
    """Names as the SageMaker Python SDK's image_uris knows them."""

    DJL_LMI = "djl-lmi"
    HUGGINGFACE_LLM = "huggingface-llm"


class ApprovalStatus(str, Enum):
    """SageMaker's ModelApprovalStatus values."""

    APPROVED = "Approved"
    REJECTED = "Rejected"
    PENDING = "PendingManualApproval"


class Source(Strict):
    hub_repo: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
    revision: GitCommit
    license: str | None = None


class WeightFile(Strict):
    path: str = Field(min_length=1, pattern=r"^[^/][^\\]*[^/]$|^[^/]$")
    size: PositiveInt
    sha256: Sha256


class Weights(Strict):
    prefix: KeyPrefix
    files: list[WeightFile] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete_snapshot(self) -> "Weights":
        names = [f.path for f in self.files]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise Invalid(f"files listed twice: {', '.join(dupes)}", "list each file once")
        if "config.json" not in names:
            raise Invalid("no config.json among the files", "pin the whole snapshot, config.json included")
        if not any(n.endswith(".safetensors") for n in names):
            raise Invalid("no *.safetensors weight file", "pin the snapshot's safetensors shards")
        return self

    @property
    def weight_bytes(self) -> int:
        return sum(f.size for f in self.files if f.path.endswith(".safetensors"))


class Container(Strict):
    framework: Framework
    framework_version: str = Field(min_length=1)
    tag: str = Field(min_length=1, description="the tag the digest was resolved from, for people")
    images: dict[str, DigestImage] = Field(min_length=1, description="region -> repo@sha256:digest")

    @model_validator(mode="after")
    def _regions_match_images(self) -> "Container":
        for region, image in self.images.items():
            match = DIGEST_IMAGE.match(image)
            if match and match["region"] != region:
                raise Invalid(f"image for {region} lives in {match['region']}",
                              f"pin the {region} image (python -m scripts pin-image --regions {region})",
                              f"images.{region}")
        return self

    def repository_of(self, region: str) -> tuple[str, str]:
        """(registry account, repository name) of the region's image."""
        match = DIGEST_IMAGE.match(self.images[region])
        assert match is not None  # validated on load
        return match["registry"].split(".")[0], match["repository"]


class Serving(Strict):
    max_model_len: PositiveInt = Field(le=131072, description="Llama 3.2 context is 128K tokens")
    dtype: Literal["bf16", "fp16"] = "bf16"
    tensor_parallel_degree: Literal[1, 2, 4, 8] = 1
    enable_prefix_caching: bool = True
    gpu_memory_utilization: float = Field(default=0.9, gt=0.3, le=0.98)
    max_batch_size: PositiveInt = Field(default=32, le=1024)
    max_input_tokens: PositiveInt | None = Field(default=None, description="TGI only")
    extra_env: dict[EnvVarName, str] = Field(default_factory=dict)


class Resources(Strict):
    """What the fit check needs; weight bytes come from the files themselves."""

    kv_cache_bytes_per_token: PositiveInt = Field(
        description="2 (K,V) x layers x KV heads x head dim x bytes per value")
    min_concurrent_sequences: PositiveInt = Field(
        default=4, description="full-length sequences the KV cache must hold at once")


# Ends the registry's ApprovalDescription when `approve` moves a package to Approved from another status
# (scripts/evaluation/approval.py). The "SageMaker Model Package State Change" event carries the package
# as it now is, not its previous status, and fires on any update; the approval-dispatch rule
# (stacks/constructs/approval_dispatch.py) matches this suffix, which CloudFormation's own updates
# (the pin's description, without it) never carry.
APPROVAL_TRANSITION_MARK = "[newly approved]"


class Approval(Strict):
    status: ApprovalStatus = ApprovalStatus.PENDING
    by: str | None = None
    at: datetime | None = None
    evidence: str | None = None

    @property
    def description(self) -> str:
        """The registry's ApprovalDescription (at most 1000 characters), the same from stacks and `approve`."""
        parts = [self.status.value]
        if self.by:
            parts.append(f"by {self.by}")
        if self.at:
            parts.append(f"at {self.at.isoformat()}")
        if self.evidence:
            parts.append(f"evidence: {self.evidence}")
        return " ".join(parts)[:1000]

    def transition_description(self) -> str:
        """The ApprovalDescription of a move to Approved: the description, marked (at most 1000 characters)."""
        return f"{self.description[:1000 - len(APPROVAL_TRANSITION_MARK) - 1]} {APPROVAL_TRANSITION_MARK}"

    @model_validator(mode="after")
    def _decided_by_someone(self) -> "Approval":
        if self.status is not ApprovalStatus.PENDING and (not self.by or not self.at):
            raise Invalid(f"status {self.status.value} without 'by' and 'at'",
                          "record who decided and when (python -m scripts approve does)")
        return self


class RegistryContent(Strict):
    """What a version's registry package holds beyond the pin's own fields, derived in code once, when
    the version is pinned, and frozen here (schema 2): `InferenceSpecification` and the description are
    create-only, so a package must stay a function of its pin alone (config/registry_content.py)."""

    description: str = Field(min_length=1, max_length=1000)
    environment: dict[EnvVarName, str] = Field(max_length=16, description="the container environment")
    content_types: list[str] = Field(min_length=1, max_length=10)
    instance_types: list[str] = Field(description="SupportedRealtimeInferenceInstanceTypes")


class PinnedContent(Strict):
    """Everything a pin fixes; its canonical JSON is what `manifest_sha256` hashes."""

    model: ResourceName
    version: Version
    source: Source
    weights: Weights
    container: Container
    serving: Serving
    resources: Resources
    registry: RegistryContent | None = None  # schema 2 (schema 1 pins derive it: config/registry_v1.py)

    @model_validator(mode="after")
    def _consistent(self) -> "PinnedContent":
        if not self.weights.prefix.startswith(f"{self.model}/"):
            # The execution role may read only s3://bucket/<model>/: keep each
            # model's versions under it.
            raise Invalid(f"weights prefix '{self.weights.prefix}' is outside '{self.model}/'",
                          f"upload under {self.model}/{self.version}/", "weights.prefix")
        if self.serving.max_input_tokens and self.serving.max_input_tokens >= self.serving.max_model_len:
            raise Invalid("serving.max_input_tokens must be below serving.max_model_len",
                          "leave room for the generated tokens", "serving.max_input_tokens")
        return self

    def content_hash(self) -> str:
        content = set(PinnedContent.model_fields.keys())
        if self.registry is None:  # schema 1: hashed as before the block existed
            content.discard("registry")
        blob = json.dumps(self.model_dump(mode="json", include=content),
                          sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()


class Pin(PinnedContent):
    # 1: the registry content is derived by config/registry_v1.py (frozen); 2: the pin carries it (`registry`).
    schema_version: Literal[1, 2] = 1
    description: str | None = None
    approval: Approval = Field(default_factory=Approval)
    manifest_sha256: Sha256

    @model_validator(mode="after")
    def _registry_by_schema(self) -> "Pin":
        if (self.schema_version == 2) != (self.registry is not None):
            raise Invalid(f"schema_version {self.schema_version} pins {'need' if self.schema_version == 2 else 'have no'} "
                          "a registry block", "restore the file from git, or pin a new version with "
                          "python -m scripts pin-weights", "registry")
        return self

    @model_validator(mode="after")
    def _unchanged(self) -> "Pin":
        if self.manifest_sha256 != self.content_hash():
            raise Invalid("manifest_sha256 does not match the pinned content (was the file edited by hand?)",
                          "pins are immutable: restore the file from git, or pin a new version "
                          "with python -m scripts pin-weights", "manifest_sha256")
        return self

    @property
    def ref(self) -> tuple[str, str]:
        """(model, version): how the project, the registry stack and the commands find a pin."""
        return (self.model, self.version)

    @property
    def weight_gib(self) -> float:
        return self.weights.weight_bytes / GIB

    @property
    def is_approved(self) -> bool:
        return self.approval.status is ApprovalStatus.APPROVED

