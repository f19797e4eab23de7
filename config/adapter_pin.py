"""Adapter pin: one immutable LoRA adapter version (`model_artifacts/<model>/adapters/<adapter>/<version>.yaml`).

An adapter comes from any PEFT training (training is not this project's job) and is pinned like
weights: the files of the adapter directory by SHA-256 (`members`) and the one archive SageMaker
loads, by SHA-256 too (`weights.files`, in the weights bucket under the base model's own prefix,
`<model>/adapters/<adapter>/<version>/`, where the endpoint's execution role may already read).
An adapter inference component's `Container.ArtifactUrl` "must point to a single gzip compressed
tar archive (.tar.gz suffix)" (API reference, InferenceComponentContainerSpecification), with the
adapter files at its root (aws-samples/sagemaker-genai-hosting-examples, multi_adapter_hosting.ipynb).

A LoRA adapter is a delta to one set of base weights: it is valid only on the exact base it was
trained on. `base` names that pin (model, version) and the SHA-256 of its weight file list
(`base_weights_sha256`); validation refuses an adapter whose base weights differ. Another pin of
the same model with byte-identical weights (a container-only upgrade, like llama-3-2-3b-instruct
v2) is the same base. `training` records where the training data came from.

`manifest_sha256` covers everything pinned (not the approval record), as for model pins.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from config import naming
from config.errors import Invalid, raise_all
from config.fields import GitCommit, KeyPrefix, ResourceName, Sha256, Strict, Version
from config.pin import Approval, ApprovalStatus, Pin, WeightFile

ARCHIVE = "adapter.tar.gz"
ADAPTER_CONFIG = "adapter_config.json"
# vLLM's LoRAConfig accepts these max_lora_rank values (vllm/config.py LoRAConfig.__post_init__,
# vLLM 0.6-0.7 as in LMI 13-14); an adapter's rank must not exceed the base component's.
LORA_RANKS = (8, 16, 32, 64, 128, 256)
# PEFT target module names vLLM applies LoRA to in Llama (LlamaForCausalLM.supported_lora_modules
# with its packed_modules_mapping: qkv_proj = q/k/v_proj, gate_up_proj = gate/up_proj).
LLAMA_LORA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                      "embed_tokens", "lm_head")


def base_weights_sha256(pin: Pin) -> str:
    """SHA-256 of a model pin's weight file list (path and SHA-256 of every file): what an adapter's
    base must match, whatever the pin's version name or serving container."""
    lines = "".join(f"{f.path}\0{f.sha256}\n" for f in sorted(pin.weights.files, key=lambda f: f.path))
    return hashlib.sha256(lines.encode()).hexdigest()


class BaseRef(Strict):
    model: ResourceName
    version: Version  # the pin the adapter was trained on
    weights_sha256: Sha256  # base_weights_sha256 of that pin


class Lora(Strict):
    rank: PositiveInt = Field(le=LORA_RANKS[-1], description="r in adapter_config.json")
    alpha: float = Field(gt=0, description="lora_alpha")
    target_modules: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _modules(self) -> "Lora":
        unknown = sorted(set(self.target_modules) - set(LLAMA_LORA_MODULES))
        dupes = sorted({m for m in self.target_modules if self.target_modules.count(m) > 1})
        raise_all([
            Invalid(f"target module(s) {', '.join(unknown)} are not Llama modules vLLM applies LoRA to",
                    f"train on a subset of {', '.join(LLAMA_LORA_MODULES)}", "target_modules") if unknown else None,
            Invalid(f"target module(s) {', '.join(dupes)} listed twice", "list each module once",
                    "target_modules") if dupes else None])
        return self


class Training(Strict):
    """Where the adapter came from: the data it was trained on (by checksum) and, if known, the code."""

    data: str = Field(min_length=1, max_length=1024, description="URI or path of the training data")
    data_sha256: Sha256
    method: Literal["lora", "qlora", "dora"] = "lora"
    code: str | None = Field(default=None, max_length=1024, description="repository of the training code")
    code_revision: GitCommit | None = None
    notes: str | None = Field(default=None, max_length=1000)


class AdapterWeights(Strict):
    prefix: KeyPrefix
    files: list[WeightFile] = Field(min_length=1, max_length=1, description="the archive: the only object")
    members: list[WeightFile] = Field(min_length=1, description="the adapter files inside the archive")

    @model_validator(mode="after")
    def _archive(self) -> "AdapterWeights":
        names = [m.path for m in self.members]
        raise_all([
            Invalid(f"the adapter object is '{self.files[0].path}', not {ARCHIVE}",
                    f"pin the archive pin-adapter builds ({ARCHIVE})", "files") if self.files[0].path != ARCHIVE
            else None,
            Invalid(f"members listed twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}",
                    "list each file once", "members") if len(set(names)) != len(names) else None,
            Invalid(f"no {ADAPTER_CONFIG} among the members", "pin the whole PEFT adapter directory",
                    "members") if ADAPTER_CONFIG not in names else None,
            Invalid("no *.safetensors adapter weights among the members",
                    "save the adapter with safetensors (PEFT's default); pickled .bin files are not pinned",
                    "members") if not any(n.endswith(".safetensors") for n in names) else None,
            Invalid("a member lives in a sub-folder: SageMaker expects the adapter files at the archive's root",
                    "pin the adapter directory itself", "members") if any("/" in n for n in names) else None])
        return self

    @property
    def archive(self) -> WeightFile:
        return self.files[0]


class AdapterContent(Strict):
    """Everything an adapter pin fixes; its canonical JSON is what `manifest_sha256` hashes."""

    adapter: ResourceName
    version: Version
    base: BaseRef
    lora: Lora
    training: Training
    weights: AdapterWeights

    @model_validator(mode="after")
    def _placed(self) -> "AdapterContent":
        wanted = naming.adapter_prefix(self.base.model, self.adapter, self.version)
        if self.weights.prefix != wanted:
            # Under the base model's prefix: the endpoint's role reads s3://bucket/<model>/* only.
            raise Invalid(f"weights prefix '{self.weights.prefix}' is not {wanted}",
                          f"upload under {wanted} (pin-adapter does)", "weights.prefix")
        return self

    def content_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json", include=set(AdapterContent.model_fields)),
                          sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(blob.encode()).hexdigest()


class AdapterPin(AdapterContent):
    schema_version: Literal[1] = 1
    description: str | None = None
    approval: Approval = Field(default_factory=Approval)
    manifest_sha256: Sha256

    @model_validator(mode="after")
    def _unchanged(self) -> "AdapterPin":
        if self.manifest_sha256 != self.content_hash():
            raise Invalid("manifest_sha256 does not match the pinned content (was the file edited by hand?)",
                          "pins are immutable: restore the file from git, or pin a new version with "
                          "python -m scripts pin-adapter", "manifest_sha256")
        return self

    @property
    def ref(self) -> tuple[str, str]:
        return (self.adapter, self.version)

    @property
    def model(self) -> str:
        """The base model whose prefix, registry group and execution role the adapter lives under."""
        return self.base.model

    @property
    def label(self) -> str:
        return f"adapter {self.adapter}/{self.version}"

    @property
    def is_approved(self) -> bool:
        return self.approval.status is ApprovalStatus.APPROVED

    def artifact_url(self, bucket: str) -> str:
        return f"s3://{bucket}/{self.weights.prefix}{self.weights.archive.path}"

    def base_problem(self, base: Pin | None) -> tuple[str, str] | None:
        """(problem, fix) when `base` is not the base this adapter was trained on (None: it is)."""
        if base is None:
            return (f"base {self.base.model}/{self.base.version} is not pinned",
                    f"pin it, or pin the adapter against a base that is (model_artifacts/{self.base.model}/)")
        actual = base_weights_sha256(base)
        if actual != self.base.weights_sha256:
            return (f"{self.label} was trained on base weights {self.base.weights_sha256[:12]}… "
                    f"({self.base.model}/{self.base.version}); {base.model}/{base.version} has {actual[:12]}…",
                    "serve it on the base it was trained on, or train and pin the adapter again on this base")
        return None
