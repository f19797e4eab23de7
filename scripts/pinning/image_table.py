"""Built-in image table: used when `sagemaker-core` is not installed.

Copied from sagemaker-core 2.27.0 (`sagemaker/core/image_uri_config/djl-lmi.json`,
`huggingface-llm.json`, Apache-2.0), restricted to the serving images that can
run Llama 3.2 (LMI >= 0.30.0 with vLLM >= 0.6.2, TGI >= 2.2.0) and to regions
whose registries live under amazonaws.com / amazonaws.com.cn (the ISO and
sovereign partitions cannot be written as a pinned image by spec.fields).
Tags are what `image_uris.retrieve(..., image_scope="inference")` returns for
a GPU instance; `python -m pytest tests/test_pin_image.py` checks the table
against sagemaker-core when that package is importable.
"""

from __future__ import annotations

# Deep Learning Containers registries (region -> account).
REGISTRIES: dict[str, str] = {
    "af-south-1": "626614931356", "ap-east-1": "871362719292", "ap-east-2": "975050140332",
    "ap-northeast-1": "763104351884", "ap-northeast-2": "763104351884", "ap-northeast-3": "364406365360",
    "ap-south-1": "763104351884", "ap-south-2": "772153158452", "ap-southeast-1": "763104351884",
    "ap-southeast-2": "763104351884", "ap-southeast-3": "907027046896", "ap-southeast-4": "457447274322",
    "ap-southeast-5": "550225433462", "ap-southeast-6": "633930458069", "ap-southeast-7": "590183813437",
    "ca-central-1": "763104351884", "ca-west-1": "204538143572", "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807", "eu-central-1": "763104351884", "eu-central-2": "380420809688",
    "eu-north-1": "763104351884", "eu-south-1": "692866216735", "eu-south-2": "503227376785",
    "eu-west-1": "763104351884", "eu-west-2": "763104351884", "eu-west-3": "763104351884",
    "il-central-1": "780543022126", "me-central-1": "914824155844", "me-south-1": "217643126080",
    "me-west-1": "124382933778", "mx-central-1": "637423239942", "sa-east-1": "763104351884",
    "us-east-1": "763104351884", "us-east-2": "763104351884", "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353", "us-west-1": "763104351884", "us-west-2": "763104351884",
}

# framework -> (repository, regions missing from REGISTRIES, {version: tag})
FRAMEWORKS: dict[str, tuple[str, frozenset[str], dict[str, str]]] = {
    "djl-lmi": ("djl-inference", frozenset({"me-west-1"}), {
        "0.30.0": "0.30.0-lmi12.0.0-cu124",
        "0.31.0": "0.31.0-lmi13.0.0-cu124",
        "0.32.0": "0.32.0-lmi14.0.0-cu126",
        "0.33.0": "0.33.0-lmi15.0.0-cu128",
        "0.34.0": "0.34.0-lmi16.0.0-cu128",
        "0.35.0": "0.35.0-lmi17.0.0-cu128",
        "0.36.0": "0.36.0-lmi27.0.0-cu130",
        "0.38.0": "0.38.0-lmi29.0.0-cu130",
    }),
    "huggingface-llm": ("huggingface-pytorch-tgi-inference", frozenset(), {
        "2.2.0": "2.3.0-tgi2.2.0-gpu-py310-cu121-ubuntu22.04-v2.0",
        "2.3.1": "2.4.0-tgi2.3.1-gpu-py311-cu124-ubuntu22.04",
        "2.4.0": "2.4.0-tgi2.4.0-gpu-py311-cu124-ubuntu22.04-v2.2",
        "3.0.1": "2.4.0-tgi3.0.1-gpu-py311-cu124-ubuntu22.04-v2.1",
        "3.1.1": "2.6.0-tgi3.1.1-gpu-py311-cu124-ubuntu22.04",
        "3.2.0": "2.6.0-tgi3.2.0-gpu-py311-cu124-ubuntu22.04",
        "3.2.3": "2.6.0-tgi3.2.3-gpu-py311-cu124-ubuntu22.04",
        "3.3.4": "2.7.0-tgi3.3.4-gpu-py311-cu124-ubuntu22.04",
        "3.3.6": "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04",
    }),
}


def domain(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
