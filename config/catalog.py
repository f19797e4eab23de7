"""GPU instance types an endpoint may run on, with what the fit checks need.

ml.g5 (NVIDIA A10G, 24 GiB per GPU) is the supported family; the others are
listed so that an environment may opt in to them explicitly
(`allow_non_g5_instance: true`). GPU counts and memory come from the
SageMaker pricing / instance pages; every listed type has local NVMe
storage, which is why no construct sets an EndpointConfig `KmsKeyId`
(CreateEndpointConfig rejects it for local-storage instances).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class GpuInstance:
    name: str
    gpus: int
    gpu_memory_gib: int  # per GPU
    local_nvme: bool = True

    @property
    def family(self) -> str:
        return self.name.split(".")[1]

    @property
    def total_gpu_memory_gib(self) -> int:
        return self.gpus * self.gpu_memory_gib


def _family(family: str, gpu_gib: int, sizes: dict[str, int]) -> dict[str, GpuInstance]:
    return {
        f"ml.{family}.{size}": GpuInstance(f"ml.{family}.{size}", gpus, gpu_gib)
        for size, gpus in sizes.items()
    }


SUPPORTED_FAMILY = "g5"

INSTANCES: dict[str, GpuInstance] = {
    **_family("g5", 24, {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1,
                         "16xlarge": 1, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    **_family("g6", 24, {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1,
                         "16xlarge": 1, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    **_family("g6e", 48, {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1,
                          "16xlarge": 1, "12xlarge": 4, "24xlarge": 4, "48xlarge": 8}),
    **_family("p4d", 40, {"24xlarge": 8}),
}

G5_TYPES = sorted((i for i in INSTANCES.values() if i.family == SUPPORTED_FAMILY),
                  key=lambda i: (i.total_gpu_memory_gib, i.name))


@lru_cache(maxsize=1)
def sagemaker_instance_types() -> frozenset[str]:
    """Instance types SageMaker hosting offers: `ProductionVariantInstanceType` of botocore's own
    SageMaker service model (no hand list).

    Read from the model file botocore ships (its newest API version, as botocore's loader picks)
    without importing botocore, which would cost ~0.35 s of every synth and `validate`; when the
    file cannot be found that way, botocore itself is asked."""
    spec = importlib.util.find_spec("botocore")
    folders = sorted((Path(spec.submodule_search_locations[0]) / "data" / "sagemaker").glob("*-*-*")) \
        if spec and spec.submodule_search_locations else []
    for name, opener in (("service-2.json", open), ("service-2.json.gz", gzip.open)):
        if folders and (folders[-1] / name).is_file():
            with opener(folders[-1] / name, "rt", encoding="utf-8") as handle:
                return frozenset(json.load(handle)["shapes"]["ProductionVariantInstanceType"]["enum"])
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("ProductionVariantInstanceType").enum)
