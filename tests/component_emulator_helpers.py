"""Helpers for the emulator's inference-component tests: an endpoint for components, a base, adapters.

The clock moves only by advance() (emulator_helpers' `emu` fixture); component timings are the
defaults of localaws/inference_components.py (load 60 s, instance 60 s, adapter 10 s, ...).
"""

from __future__ import annotations

import json

from botocore.config import Config

from emulator_helpers import IMAGE, ROLE, TIMINGS

RUNTIME_NO_RETRIES = Config(retries={"max_attempts": 0, "mode": "standard"})
ARCHIVE = "s3://weights/llama/adapters/{adapter}/{version}/adapter.tar.gz"


def versioned_model(sm, version: str) -> str:
    """A Model from a registry package carrying the pin's version, as the stacks build them."""
    groups = sm.list_model_package_groups()["ModelPackageGroupSummaryList"]
    if "llama" not in {g["ModelPackageGroupName"] for g in groups}:
        sm.create_model_package_group(ModelPackageGroupName="llama")
    arn = sm.create_model_package(
        ModelPackageGroupName="llama", ModelApprovalStatus="Approved",
        CustomerMetadataProperties={"pin-version": version, "pin-model": "llama"},
        InferenceSpecification={"Containers": [{"Image": IMAGE, "ImageDigest": "sha256:" + version[-1] * 64,
                                                "ModelDataUrl": f"s3://weights/llama/{version}/"}],
                                "SupportedContentTypes": ["application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]})["ModelPackageArn"]
    sm.create_model(ModelName=f"model-{version}", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": arn})
    return f"model-{version}"


def component_endpoint(emu, sm, name: str = "ep", instances: tuple[int, int, int] = (1, 0, 1),
                       instance_type: str = "ml.g5.xlarge") -> str:
    """An endpoint whose variant names no model, with managed instance scaling (initial, min, max); InService."""
    initial, low, high = instances
    sm.create_endpoint_config(EndpointConfigName=f"{name}-config", ExecutionRoleArn=ROLE, ProductionVariants=[{
        "VariantName": "primary", "InstanceType": instance_type, "InitialInstanceCount": initial,
        "ManagedInstanceScaling": {"Status": "ENABLED", "MinInstanceCount": low, "MaxInstanceCount": high}}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    emu.advance(TIMINGS.create_s)
    return name


def base_spec(model: str, accelerators: int = 1) -> dict:
    return {"ModelName": model, "ComputeResourceRequirements": {"NumberOfAcceleratorDevicesRequired": accelerators,
                                                                "MinMemoryRequiredInMb": 1024}}


def create_base(sm, model: str, copies: int = 1, name: str = "ep-base", endpoint: str = "ep", **extra) -> None:
    sm.create_inference_component(InferenceComponentName=name, EndpointName=endpoint, VariantName="primary",
                                  Specification=base_spec(model, **extra), RuntimeConfig={"CopyCount": copies})


def create_adapter(sm, name: str, adapter: str, version: str = "v1", base: str = "ep-base", endpoint: str = "ep"):
    sm.create_inference_component(InferenceComponentName=name, EndpointName=endpoint, Specification={
        "BaseInferenceComponentName": base, "Container": {"ArtifactUrl": ARCHIVE.format(adapter=adapter,
                                                                                         version=version)}})


def status(sm, name: str) -> str:
    return sm.describe_inference_component(InferenceComponentName=name)["InferenceComponentStatus"]


def copies(sm, name: str = "ep-base") -> tuple[int, int]:
    runtime = sm.describe_inference_component(InferenceComponentName=name)["RuntimeConfig"]
    return runtime["DesiredCopyCount"], runtime["CurrentCopyCount"]


def invoke(runtime, component: str | None, endpoint: str = "ep") -> dict:
    kwargs = {"InferenceComponentName": component} if component else {}
    response = runtime.invoke_endpoint(EndpointName=endpoint, Body=json.dumps({"inputs": "hi"}),
                                       ContentType="application/json", **kwargs)
    return json.loads(response["Body"].read())


def served_by(emu) -> dict:
    """What served the last component invocation."""
    return emu.component_invocations[-1][2]


def ready(emu, sm, *, adapters: tuple[str, ...] = ("support",), copies_: int = 1) -> None:
    """ep InService with base model-v1 (copies_) and adapter components ep-<a> on <a>-intents v1, all InService."""
    component_endpoint(emu, sm, instances=(1, 0, 2))
    create_base(sm, versioned_model(sm, "v1"), copies=copies_)
    for adapter in adapters:
        create_adapter(sm, f"ep-{adapter}", f"{adapter}-intents")
    emu.advance(emu.components.timings.instance_s + emu.components.timings.load_s + emu.components.timings.adapter_s)
    assert status(sm, "ep-base") == "InService"
    assert all(status(sm, f"ep-{a}") == "InService" for a in adapters)
