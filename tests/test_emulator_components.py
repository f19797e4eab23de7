"""The emulator's inference components (localaws/inference_components.py): the API, its rules, the
statuses over time, rolling updates with rollback alarms, adapter swaps and InvokeEndpoint routing.

Every refusal here is one SageMaker documents (each test names where); the clock moves only by advance().
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from component_emulator_helpers import (ARCHIVE, RUNTIME_NO_RETRIES, base_spec, component_endpoint, copies,
                                        create_adapter, create_base, invoke, ready, served_by, status,
                                        versioned_model)
from emulator_helpers import TIMINGS, alarm, config
from emulator_helpers import cw, emu, sm  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow  # full tier: starts the emulator (moto server in this process)


@pytest.fixture
def runtime(emu):
    return emu.test_client("sagemaker-runtime", config=RUNTIME_NO_RETRIES)


def refused(call, message: str) -> None:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] in ("ValidationException", "ValidationError")
    assert message in caught.value.response["Error"]["Message"], caught.value.response["Error"]["Message"]


# ----- create, statuses over time, describe
def test_a_base_and_its_adapters_come_up_on_the_clock(emu, sm):
    component_endpoint(emu, sm, instances=(1, 0, 1))
    create_base(sm, versioned_model(sm, "v1"))
    create_adapter(sm, "ep-support", "support-intents")
    assert (status(sm, "ep-base"), status(sm, "ep-support")) == ("Creating", "Creating")
    emu.advance(emu.components.timings.load_s)  # the one instance is there: the model loads
    assert status(sm, "ep-base") == "InService" and copies(sm) == (1, 1)
    assert status(sm, "ep-support") == "Creating"  # registered on the base's copies after it
    emu.advance(emu.components.timings.adapter_s)
    described = sm.describe_inference_component(InferenceComponentName="ep-support")
    assert described["InferenceComponentStatus"] == "InService" and "RuntimeConfig" not in described
    base = sm.describe_inference_component(InferenceComponentName="ep-base")
    assert base["Specification"]["Container"]["DeployedImage"]["ResolvedImage"].endswith("@sha256:" + "1" * 64)
    assert [c["InferenceComponentName"] for c in
            sm.list_inference_components(EndpointNameEquals="ep")["InferenceComponents"]] == ["ep-base", "ep-support"]


def test_a_base_created_while_its_endpoint_is_creating_waits_for_it(emu, sm):
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "primary", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    create_base(sm, versioned_model(sm, "v1"))
    emu.advance(TIMINGS.create_s - 1)
    assert status(sm, "ep-base") == "Creating"
    emu.advance(1)  # the endpoint is InService: the copy starts loading
    assert status(sm, "ep-base") == "Creating"
    emu.advance(emu.components.timings.load_s)
    assert status(sm, "ep-base") == "InService"


def test_copies_that_the_variant_cannot_hold_fail_the_component(emu, sm):
    component_endpoint(emu, sm, instances=(1, 0, 1))
    create_base(sm, versioned_model(sm, "v1"), copies=2)  # 2 GPUs, ml.g5.xlarge has 1, at most 1 instance
    emu.advance(emu.components.timings.load_s)
    described = sm.describe_inference_component(InferenceComponentName="ep-base")
    assert described["InferenceComponentStatus"] == "Failed" and "Insufficient capacity" in described["FailureReason"]


# ----- the rules of CreateInferenceComponent
def test_an_adapter_needs_its_base_first(emu, sm):
    component_endpoint(emu, sm)
    # "Before you can create an adapter inference component, you must have an existing inference component"
    refused(lambda: create_adapter(sm, "ep-support", "support-intents"), "create the base inference component first")


@pytest.mark.parametrize("spec, runtime, message", [
    ({"BaseInferenceComponentName": "ep-base", "Container": {"ArtifactUrl": ARCHIVE.format(adapter="a", version="v1")},
      "ComputeResourceRequirements": {"NumberOfAcceleratorDevicesRequired": 1, "MinMemoryRequiredInMb": 1024}}, None,
     "takes no ComputeResourceRequirements"),
    ({"BaseInferenceComponentName": "ep-base", "Container": {"ArtifactUrl": "s3://weights/llama/adapters/a/v1/"}}, None,
     "must point to a single gzip compressed tar archive"),
    ({"BaseInferenceComponentName": "ep-base", "Container": {"ArtifactUrl": ARCHIVE.format(adapter="a", version="v1")}},
     {"CopyCount": 1}, "has no RuntimeConfig"),
    ({"ModelName": "model-v1"}, {"CopyCount": 1}, "ComputeResourceRequirements is required"),
    ({"ModelName": "nowhere", "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}}, {"CopyCount": 1},
     "Could not find model"),
])
def test_specifications_sagemaker_refuses(emu, sm, spec, runtime, message):
    component_endpoint(emu, sm)
    create_base(sm, versioned_model(sm, "v1"))
    kwargs = {"RuntimeConfig": runtime} if runtime else {}
    refused(lambda: sm.create_inference_component(InferenceComponentName="x", EndpointName="ep", VariantName="primary",
                                                  Specification=spec, **kwargs), message)


def test_a_base_needs_a_copy_count_and_an_adapter_cannot_be_a_base(emu, sm):
    component_endpoint(emu, sm)
    model = versioned_model(sm, "v1")
    refused(lambda: sm.create_inference_component(InferenceComponentName="x", EndpointName="ep", VariantName="primary",
                                                  Specification=base_spec(model)), "RuntimeConfig.CopyCount is required")
    create_base(sm, model)
    create_adapter(sm, "ep-a", "a")
    refused(lambda: create_adapter(sm, "ep-b", "b", base="ep-a"), "an adapter's base must host a model")
    refused(lambda: create_base(sm, model), "Cannot create already existing inference component")


def test_components_need_an_existing_endpoint_whose_variant_names_no_model(emu, sm):
    sm.create_endpoint(EndpointName="plain", EndpointConfigName=config(sm, 1))  # a model on its variant
    emu.advance(TIMINGS.create_s)
    model = versioned_model(sm, "v1")
    refused(lambda: create_base(sm, model, endpoint="nowhere"), "Could not find endpoint")
    refused(lambda: create_base(sm, model, endpoint="plain"), "hosts a model on its variant")


# ----- UpdateInferenceComponent and UpdateInferenceComponentRuntimeConfig
def test_updates_wait_until_the_component_is_in_service(emu, sm):
    component_endpoint(emu, sm)
    create_base(sm, versioned_model(sm, "v1"))
    refused(lambda: sm.update_inference_component(InferenceComponentName="ep-base",
                                                  Specification=base_spec(versioned_model(sm, "v2"))),
            "Cannot update in-progress inference component")


def test_what_an_adapter_update_may_not_change(emu, sm):
    ready(emu, sm)
    new = {"Container": {"ArtifactUrl": ARCHIVE.format(adapter="support-intents", version="v2")}}
    rolling = {"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
                                       "WaitIntervalInSeconds": 60}}
    refused(lambda: sm.update_inference_component(InferenceComponentName="ep-support", Specification=new,
                                                  DeploymentConfig=rolling), "no copies of its own")
    refused(lambda: sm.update_inference_component(InferenceComponentName="ep-support",
                                                  Specification={**new, "BaseInferenceComponentName": "other"}),
            "cannot change")
    refused(lambda: sm.update_inference_component_runtime_config(InferenceComponentName="ep-support",
                                                                 DesiredRuntimeConfig={"CopyCount": 2}),
            "has no copies: scale its base")


def test_a_rolling_batch_above_half_the_copies_is_refused(emu, sm):
    ready(emu, sm, adapters=())
    refused(lambda: sm.update_inference_component(
        InferenceComponentName="ep-base", Specification=base_spec(versioned_model(sm, "v2")),
        DeploymentConfig={"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 60},
                                                  "WaitIntervalInSeconds": 60}}), "between 5% and 50%")


def rolling(wait: int = 6000, alarms: tuple[str, ...] = ()) -> dict:
    config_ = {"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
                                       "WaitIntervalInSeconds": wait, "MaximumExecutionTimeoutInSeconds": 3600}}
    if alarms:
        config_["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config_


def test_a_rolling_update_moves_copies_batch_by_batch_and_new_copies_answer_their_share(emu, sm, runtime):
    ready(emu, sm, copies_=2)
    sm.update_inference_component(InferenceComponentName="ep-base", Specification=base_spec(versioned_model(sm, "v2")),
                                  DeploymentConfig=rolling())
    assert status(sm, "ep-base") == "Updating"
    load, wait = emu.components.timings.load_s, 6000 * emu.components.timings.wait_scale
    emu.advance(load)  # first batch: one new copy of two
    versions = [served_by(emu)["base_version"] for _ in range(4) if invoke(runtime, "ep-support")]
    assert sorted(versions) == ["v1", "v1", "v2", "v2"]
    emu.advance(wait + load + wait)
    assert status(sm, "ep-base") == "InService"
    invoke(runtime, "ep-support")
    assert served_by(emu) == {"component": "ep-support", "base_version": "v2", "adapter": "support-intents",
                              "adapter_version": "v1"}
    assert sm.describe_inference_component(InferenceComponentName="ep-base")["LastDeploymentConfig"] == rolling()


def test_a_rollback_alarm_puts_every_copy_back(emu, sm, cw, runtime):
    ready(emu, sm, copies_=2)
    alarm(cw, "ep-base-5xx")
    sm.update_inference_component(InferenceComponentName="ep-base", Specification=base_spec(versioned_model(sm, "v2")),
                                  DeploymentConfig=rolling(alarms=("ep-base-5xx",)))
    emu.advance(emu.components.timings.load_s)
    cw.set_alarm_state(AlarmName="ep-base-5xx", StateValue="ALARM", StateReason="test")
    emu.advance(emu.components.timings.rollback_s)
    described = sm.describe_inference_component(InferenceComponentName="ep-base")
    assert described["InferenceComponentStatus"] == "InService"
    assert "rolled back" in described["FailureReason"] and "ep-base-5xx" in described["FailureReason"]
    assert described["Specification"]["ModelName"] == "model-v1"
    invoke(runtime, "ep-base")
    assert served_by(emu)["base_version"] == "v1"


def test_an_adapter_version_is_swapped_on_the_base_while_the_other_adapter_keeps_serving(emu, sm, runtime):
    ready(emu, sm, adapters=("support", "orders"))
    sm.update_inference_component(InferenceComponentName="ep-support", Specification={
        "Container": {"ArtifactUrl": ARCHIVE.format(adapter="support-intents", version="v2")}})
    assert status(sm, "ep-support") == "Updating"
    invoke(runtime, "ep-support")
    assert served_by(emu)["adapter_version"] == "v1"  # until the swap is done
    invoke(runtime, "ep-orders")
    assert (status(sm, "ep-orders"), served_by(emu)["adapter"]) == ("InService", "orders-intents")
    emu.advance(emu.components.timings.adapter_s)
    invoke(runtime, "ep-support")
    assert (status(sm, "ep-support"), served_by(emu)["adapter_version"]) == ("InService", "v2")


def test_deleting_the_base_deletes_its_adapters(emu, sm):
    ready(emu, sm, adapters=("support", "orders"))
    sm.delete_inference_component(InferenceComponentName="ep-base")
    assert sm.list_inference_components(EndpointNameEquals="ep")["InferenceComponents"] == []
    refused(lambda: sm.describe_inference_component(InferenceComponentName="ep-orders"),
            "Could not find inference component")


# ----- InvokeEndpoint
def test_invoke_names_a_component_on_an_endpoint_that_hosts_components(emu, sm, runtime):
    ready(emu, sm)
    refused(lambda: invoke(runtime, None), "Inference Component Name header is required")
    refused(lambda: invoke(runtime, "ep-elsewhere"), "Inference Component ep-elsewhere not found")
    assert invoke(runtime, "ep-support")["generated_text"] == "hi"
    assert served_by(emu) == {"component": "ep-support", "base_version": "v1", "adapter": "support-intents",
                              "adapter_version": "v1"}


def test_at_zero_copies_requests_fail_with_no_capacity(emu, sm, runtime):
    ready(emu, sm)
    sm.update_inference_component_runtime_config(InferenceComponentName="ep-base", DesiredRuntimeConfig={"CopyCount": 0})
    assert copies(sm) == (0, 0)
    refused(lambda: invoke(runtime, "ep-support"), "Inference Component has no capacity to process this request")
    emu.advance(3600)  # nothing scales it back without a step scaling policy on an alarm
    assert copies(sm) == (0, 0)
