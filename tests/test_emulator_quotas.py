"""The emulator's endpoint instance quotas (localaws/quotas.py): Service Quotas answers for them, and
CreateEndpoint and a blue/green UpdateEndpoint (both fleets, and a shadow) are held to them as
SageMaker holds them, with ResourceLimitExceeded; scripts/promotion/capacity.py reads them back."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from emulator_helpers import IMAGE, ROLE, TIMINGS, config, in_service
from emulator_helpers import emu, sm  # noqa: F401 (fixtures)
from localaws.quotas import DEFAULT_INSTANCES
from scripts.promotion.capacity import QuotaUnreadable, read_quota

pytestmark = pytest.mark.slow  # full tier: starts the emulator (moto server in this process)


def test_service_quotas_lists_endpoint_instance_quotas_by_name(emu):
    quotas = emu.client("service-quotas")
    assert read_quota(quotas, "ml.g5.xlarge").value == DEFAULT_INSTANCES
    emu.set_quota("ml.g5.xlarge", 4)
    assert read_quota(quotas, "ml.g5.xlarge").value == 4  # found across pages, by its name
    with pytest.raises(QuotaUnreadable, match="no quota named"):
        read_quota(quotas, "ml.g9.nonsense")
    (listed,) = [q for page in quotas.get_paginator("list_service_quotas").paginate(ServiceCode="sagemaker")
                 for q in page["Quotas"] if q["QuotaName"] == "ml.g5.xlarge for endpoint usage"]
    assert quotas.get_service_quota(ServiceCode="sagemaker", QuotaCode=listed["QuotaCode"])["Quota"]["Value"] == 4.0
    assert listed["Unit"] == "None" and listed["QuotaArn"].endswith(f":sagemaker/{listed['QuotaCode']}")


def test_a_create_above_the_quota_is_refused_with_sagemakers_numbers(emu, sm):
    emu.set_quota("ml.g5.xlarge", 2)
    with pytest.raises(ClientError) as refused:
        sm.create_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 1, count=3))
    assert refused.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert str(refused.value).endswith(
        "The account-level service limit 'ml.g5.xlarge for endpoint usage' is 2 Instances, with current utilization "
        "of 0 Instances and a request delta of 3 Instances. Please use AWS Service Quotas to request an increase for "
        "this quota. If AWS Service Quotas is not available, contact AWS support to request an increase for this quota.")
    assert sm.list_endpoints()["Endpoints"] == []


def test_a_blue_green_update_needs_room_for_both_fleets(emu, sm):
    emu.set_quota("ml.g5.xlarge", 3)
    sm.create_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 1, count=2))
    emu.advance(TIMINGS.create_s)
    assert emu.instances_in_use("ml.g5.xlarge") == 2
    with pytest.raises(ClientError, match="is 3 Instances, with current utilization of 2 Instances and a request "
                                          "delta of 2 Instances"):
        sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2, count=2))
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
    emu.set_quota("ml.g5.xlarge", 4)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="config-v2")
    assert emu.instances_in_use("ml.g5.xlarge") == 4  # both fleets while it runs
    emu.advance(TIMINGS.provision_s + 1)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"
    assert emu.instances_in_use("ml.g5.xlarge") == 2  # the old fleet is gone


def test_other_endpoints_and_a_shadow_fleet_count_too(emu, sm):
    emu.set_quota("ml.g5.2xlarge", 3)
    in_service(emu, sm, name="other")  # ml.g5.xlarge: another quota
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "primary", "ModelName": "m", "InstanceType": "ml.g5.2xlarge", "InitialInstanceCount": 2}],
        ShadowProductionVariants=[{"VariantName": "shadow", "ModelName": "m", "InstanceType": "ml.g5.2xlarge",
                                   "InitialInstanceCount": 2}])
    with pytest.raises(ClientError, match="request delta of 4 Instances"):
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
