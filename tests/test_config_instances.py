"""What `validate` promises users about instance types and GPU fit: only hosting instance types
botocore's SageMaker model lists, g5 unless opted in, tensor parallelism matching the GPUs, and a
context that fits the GPU memory (test_config_validation.py: keys, syntax, pins, guardrails)."""

from __future__ import annotations


import pytest

from config_helpers import DEV, EP, PIN_3B, one
from config_helpers import tree  # noqa: F401 (fixture)

from config.catalog import INSTANCES
from config.loader import require
from config.manifest_io import render, seal
from config.pin import Pin


# --- instance types and GPU memory ---------------------------------------------------------------


def test_non_g5_instance_is_refused_without_opt_in(tree):
    tree.refuses(DEV, "instance_type: ml.g5.xlarge", "instance_type: ml.g6.xlarge",
                 f"{EP}.instance_type", "'ml.g6.xlarge' is not ml.g5", "set allow_non_g5_instance: true")


def test_non_g5_instance_is_accepted_with_opt_in_on_a_version_whose_package_lists_it(tree):
    tree.replace(DEV, "instance_type: ml.g5.xlarge",
                 "instance_type: ml.g6.xlarge\n    allow_non_g5_instance: true")
    # v1 is a schema-1 pin: its registry package lists the ml.g5 types it fits, and never changes
    one(tree.errors(), DEV, f"{EP}.instance_type", "ml.g6.xlarge is not among the instance types "
        "llama-3-2-3b-instruct/v1's registry package lists (ml.g5.16xlarge, ml.g5.2xlarge", "pin a new version")
    # a version pinned now (schema 2) lists every GPU type it fits, any family
    data = require(Pin, tree.root / PIN_3B, PIN_3B).model_dump(mode="json", exclude={"manifest_sha256"})
    data.update(version="v3", schema_version=2)
    data["weights"]["prefix"] = "llama-3-2-3b-instruct/v3/"
    tree.write("model_artifacts/llama-3-2-3b-instruct/v3.yaml", render(seal(data)))
    tree.replace(DEV, "version: v1", "version: v3")
    assert tree.load().environments["dev"].endpoints["intent-3b"].instance_type == "ml.g6.xlarge"


@pytest.mark.parametrize("instance", ["ml.g5.3xlarge", "ml.m5.xlarge"])
def test_unknown_or_cpu_instance_type_is_refused_even_with_opt_in(tree, instance):
    tree.replace(DEV, "instance_type: ml.g5.xlarge",
                 f"instance_type: {instance}\n    allow_non_g5_instance: true")
    error = one(tree.errors(), DEV, f"{EP}.instance_type", "is not a GPU instance type this project supports")
    assert all(name in error.fix for name in INSTANCES if name.startswith("ml.g5."))


def test_instance_types_are_botocores_own(monkeypatch):
    """Read from botocore's model file without importing botocore: the same set botocore gives."""
    import botocore.session

    from config import catalog

    catalog.sagemaker_instance_types.cache_clear()
    model = botocore.session.get_session().get_service_model("sagemaker")
    assert catalog.sagemaker_instance_types() == frozenset(model.shape_for("ProductionVariantInstanceType").enum)
    assert "ml.g5.xlarge" in catalog.sagemaker_instance_types()


@pytest.mark.parametrize("instance", ["g5.xlarge", "ML.G5.XLARGE"])
def test_malformed_instance_type(tree, instance):
    tree.replace(DEV, "instance_type: ml.g5.xlarge", f"instance_type: {instance}")
    one(tree.errors(), DEV, f"{EP}.instance_type", "should match pattern", "documented format")


def test_long_context_with_many_sequences_does_not_fit_one_a10g(tree):
    def long_context(data):
        data["serving"]["max_model_len"] = 131072
        data["resources"]["min_concurrent_sequences"] = 8

    tree.new_version("v3", edit=long_context)
    tree.replace(DEV, "    version: v1", "    version: v3")
    error = one(tree.errors(), DEV, f"{EP}.instance_type", "does not fit ml.g5.xlarge",
                "lower serving.max_model_len / resources.min_concurrent_sequences")
    # 114688 B/token x 131072 tokens x 8 sequences = 112 GiB against 24 GiB x 0.9 - 6 GiB weights - 1.5
    for number in ("8 sequence(s)", "131072 tokens", "KV cache", "needs 112.0 GiB", "21.6 GiB usable",
                   "weights 6.0 GiB", "only 14.1 GiB is left"):
        assert number in error.problem, (number, error.problem)


def test_same_long_context_fits_across_eight_gpus(tree):
    def sharded(data):
        data["serving"]["max_model_len"] = 131072
        data["serving"]["tensor_parallel_degree"] = 8
        data["resources"]["min_concurrent_sequences"] = 8

    tree.new_version("v3", edit=sharded)
    tree.replace(DEV, "    version: v1\n    instance_type: ml.g5.xlarge",
                 "    version: v3\n    instance_type: ml.g5.48xlarge")
    assert tree.load().environments["dev"].endpoints["intent-3b"].instance_type == "ml.g5.48xlarge"


@pytest.mark.parametrize("instance, gpus", [("ml.g5.12xlarge", 4), ("ml.g5.48xlarge", 8)])
def test_tensor_parallel_degree_must_equal_gpu_count(tree, instance, gpus):
    tree.replace(DEV, "instance_type: ml.g5.xlarge", f"instance_type: {instance}")
    one(tree.errors(), DEV, f"{EP}.instance_type",
        f"uses tensor_parallel_degree 1 but {instance} has {gpus} GPU(s)",
        f"tensor_parallel_degree {gpus}")


def test_tensor_parallel_degree_matching_gpu_count_is_accepted(tree):
    tree.new_version("v3", edit=lambda d: d["serving"].update(tensor_parallel_degree=4))
    tree.replace(DEV, "    version: v1\n    instance_type: ml.g5.xlarge",
                 "    version: v3\n    instance_type: ml.g5.12xlarge")
    tree.load()
    tree.replace(DEV, "instance_type: ml.g5.12xlarge", "instance_type: ml.g5.xlarge")
    one(tree.errors(), DEV, f"{EP}.instance_type", "tensor_parallel_degree 4 but ml.g5.xlarge has 1 GPU(s)")
