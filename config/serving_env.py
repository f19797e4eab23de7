"""The serving container's environment, derived from a pin's serving settings.

Weights arrive through `ModelDataSource` (uncompressed S3 prefix) in
/opt/ml/model, so both containers load from there and never from the Hub.
A model package container takes at most 16 environment entries.
"""

from __future__ import annotations

from config.errors import Invalid
from config.pin import Framework, Pin

MODEL_DIR = "/opt/ml/model"
MAX_ENTRIES = 16


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
    """Environment variables for the pin's serving container; raises `Invalid` if unusable."""
    base = _lmi(pin) if pin.container.framework is Framework.DJL_LMI else _tgi(pin)
    clashes = sorted(set(base) & set(pin.serving.extra_env))
    if clashes:
        raise Invalid(f"extra_env sets {', '.join(clashes)}, which the serving settings already set",
                      "change the typed serving setting instead of extra_env")
    env = {**base, **pin.serving.extra_env}
    if len(env) > MAX_ENTRIES:
        raise Invalid(f"{len(env)} container environment entries, SageMaker allows {MAX_ENTRIES}",
                      f"remove {len(env) - MAX_ENTRIES} extra_env entries")
    return dict(sorted(env.items()))
