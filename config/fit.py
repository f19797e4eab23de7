"""Does a pinned model fit an instance's GPUs with room for its KV cache?

Per GPU, vLLM/TGI may use `gpu_memory_utilization` of the memory; the
weights are split across `tensor_parallel_degree` GPUs; a fixed allowance
covers CUDA context, activations and graphs; what is left is KV cache, which
must hold `min_concurrent_sequences` full-length sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.catalog import GpuInstance
from config.pin import GIB, Pin

RUNTIME_OVERHEAD_GIB = 1.5  # CUDA context + activations + CUDA graphs, per GPU (vLLM ~1-2 GiB)


@dataclass(frozen=True)
class Fit:
    usable_gib: float  # per GPU
    weights_gib: float  # per GPU
    kv_needed_gib: float  # per GPU
    kv_available_gib: float  # per GPU

    @property
    def fits(self) -> bool:
        return self.kv_available_gib >= self.kv_needed_gib


def gpu_fit(pin: Pin, instance: GpuInstance) -> Fit:
    tp = pin.serving.tensor_parallel_degree
    usable = instance.gpu_memory_gib * pin.serving.gpu_memory_utilization
    weights = pin.weight_gib / tp
    kv_total = (pin.resources.kv_cache_bytes_per_token * pin.serving.max_model_len
                * pin.resources.min_concurrent_sequences) / GIB
    kv_needed = kv_total / tp
    return Fit(usable, weights, kv_needed, usable - weights - RUNTIME_OVERHEAD_GIB)
