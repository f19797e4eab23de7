"""What a pinned version's Model Registry package holds, as a function of its pin alone.

`AWS::SageMaker::ModelPackage` `InferenceSpecification` and `ModelPackageDescription` are
create-only: any change replaces the package, live versions' included, and the artifacts stack
update then fails on their strong exports. Parts of that content are derived in code (the
container environment from the serving settings, the content types, the instance types the
model fits), so a code change must not reach an existing version's package:

- schema 2 pins (what `pin-weights` writes) carry the content themselves (`registry`), derived
  once, when the version is pinned (`freeze`), and covered by `manifest_sha256`;
- schema 1 pins derive it with schema 1's rules, frozen in config/registry_v1.py.

A new derivation is a change to `freeze` (and config/serving_env.py): it reaches new pins only.
"""

from __future__ import annotations

from config import catalog, registry_v1
from config.catalog import INSTANCES
from config.fit import gpu_fit
from config.pin import Pin, RegistryContent
from config.serving_env import container_environment

CONTENT_TYPES = ["application/json"]


def registry_content(pin: Pin) -> RegistryContent:
    """The content of `pin`'s registry package: frozen in the pin, or schema 1's."""
    if pin.registry is not None:
        return pin.registry
    return RegistryContent(description=registry_v1.description(pin),
                           environment=registry_v1.container_environment(pin),
                           content_types=list(registry_v1.CONTENT_TYPES),
                           instance_types=registry_v1.instance_types(pin))


def freeze(pin: Pin) -> RegistryContent:
    """Today's derivation, for a version being pinned: every GPU instance type this project lists whose
    GPU count is the pin's tensor-parallel degree and whose memory holds it (any family: an endpoint may
    opt in to a non-g5 one), the container environment, JSON in and out."""
    offered = catalog.sagemaker_instance_types()
    fitting = sorted((i for i in INSTANCES.values()
                      if i.gpus == pin.serving.tensor_parallel_degree and i.name in offered and gpu_fit(pin, i).fits),
                     key=lambda i: (i.family, i.total_gpu_memory_gib, i.name))
    return RegistryContent(description=(pin.description or f"{pin.model} {pin.version}")[:1000],
                           environment=container_environment(pin), content_types=list(CONTENT_TYPES),
                           instance_types=[i.name for i in fitting])
