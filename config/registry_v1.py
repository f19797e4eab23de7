"""The registry content of schema-1 pins, frozen: what their packages were built from before pins
carried it themselves (config/registry_content.py).

`InferenceSpecification` is create-only: a change to anything here replaces every schema-1 version's
registry package, live ones included, and the artifacts stack update fails on their strong exports
(the PR review marks such a replacement as blocking). Never edit this module: change the current
derivation (config/serving_env.py, config/registry_content.py), which new pins freeze into their
`registry` block, instead.
"""

from __future__ import annotations

from config.pin import GIB, Framework, Pin

MODEL_DIR = "/opt/ml/model"
CONTENT_TYPES = ["application/json"]
# (name, GPUs, GiB per GPU) of ml.g5, ordered by total GPU memory, then name, as registered since schema 1.
G5 = (("ml.g5.16xlarge", 1, 24), ("ml.g5.2xlarge", 1, 24), ("ml.g5.4xlarge", 1, 24), ("ml.g5.8xlarge", 1, 24),
      ("ml.g5.xlarge", 1, 24), ("ml.g5.12xlarge", 4, 24), ("ml.g5.24xlarge", 4, 24), ("ml.g5.48xlarge", 8, 24))


def _lmi(pin: Pin) -> dict[str, str]:
    s = pin.serving
    return {
        "HF_MODEL_ID": MODEL_DIR,
        "OPTION_ROLLING_BATCH": "vllm",
        "TENSOR_PARALLEL_DEGREE": str(s.tensor_parallel_degree),
        "OPTION_MAX_MODEL_LEN": str(s.max_model_len),
        "OPTION_DTYPE": s.dtype,
        "OPTION_GPU_MEMORY_UTILIZATION": str(s.gpu_memory_utilization),
        "OPTION_ENABLE_PREFIX_CACHING": str(s.enable_prefix_caching).lower(),
        "OPTION_MAX_ROLLING_BATCH_SIZE": str(s.max_batch_size),
    }


def _tgi(pin: Pin) -> dict[str, str]:
    s = pin.serving
    max_input = s.max_input_tokens or s.max_model_len - 1
    return {
        "HF_MODEL_ID": MODEL_DIR,
        "SM_NUM_GPUS": str(s.tensor_parallel_degree),
        "MAX_INPUT_TOKENS": str(max_input),
        "MAX_TOTAL_TOKENS": str(s.max_model_len),
        "MAX_BATCH_PREFILL_TOKENS": str(max(max_input, 4096)),
        "MAX_CONCURRENT_REQUESTS": str(s.max_batch_size),
        "DTYPE": {"bf16": "bfloat16", "fp16": "float16"}[s.dtype],
        "CUDA_MEMORY_FRACTION": str(s.gpu_memory_utilization),
        "PREFIX_CACHING": "1" if s.enable_prefix_caching else "0",
    }


def container_environment(pin: Pin) -> dict[str, str]:
    """The container environment of a schema-1 pin (no clash or size check: config/serving_env.py's)."""
    base = _lmi(pin) if pin.container.framework is Framework.DJL_LMI else _tgi(pin)
    return dict(sorted({**base, **pin.serving.extra_env}.items()))


def instance_types(pin: Pin) -> list[str]:
    """The ml.g5 types with the pin's GPU count whose memory holds its weights and KV cache (the fit rule
    of schema 1: per GPU, usable memory - weights - 1.5 GiB >= KV cache)."""
    tp, s, r = pin.serving.tensor_parallel_degree, pin.serving, pin.resources
    kv_per_gpu = r.kv_cache_bytes_per_token * s.max_model_len * r.min_concurrent_sequences / GIB / tp
    return [name for name, gpus, gib in G5
            if gpus == tp and gib * s.gpu_memory_utilization - pin.weight_gib / tp - 1.5 >= kv_per_gpu]


def description(pin: Pin) -> str:
    return (pin.description or f"{pin.model} {pin.version}")[:1000]
