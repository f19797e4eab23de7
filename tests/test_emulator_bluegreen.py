"""The emulator's blue/green endpoint model (localaws/bluegreen.py, localaws/endpoint_sim.py):
status over time, DescribeEndpoint's fields, UpdateEndpoint's options, rollback alarms.

Every test drives the simulated clock explicitly (speed 0: it moves only by advance()),
so nothing races the wall clock; each starts and stops its own emulator.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from emulator_helpers import DIGESTS, IMAGE, ROLE, TIMINGS, alarm, blue_green, config, in_service, resolved, stage
from emulator_helpers import cw, emu, sm  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow  # full tier: starts the emulator (moto server in this process)


# ----- status over time, (d) describe fields
def test_create_goes_in_service_when_the_clock_says_so(emu, sm):
    sm.create_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 1))
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
    emu.advance(TIMINGS.create_s - 1)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
    emu.advance(1)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "config-v1"
    assert "PendingDeploymentSummary" not in described
    assert sm.list_endpoints()["Endpoints"][0]["EndpointStatus"] == "InService"
    image = described["ProductionVariants"][0]["DeployedImages"][0]
    assert image["SpecifiedImage"] == IMAGE
    assert image["ResolvedImage"] == IMAGE.rsplit(":", 1)[0] + "@" + DIGESTS[1]


def test_image_of_a_plain_model_resolves_to_its_digest(emu, sm):
    pinned = IMAGE.rsplit(":", 1)[0] + "@" + DIGESTS[2]
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": pinned})
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "primary", "ModelName": "m", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="c")
    assert resolved(sm) == pinned


def test_blue_green_canary_update_walks_its_stages(emu, sm):
    in_service(emu, sm)
    new = config(sm, 2)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=new, DeploymentConfig=blue_green("CANARY"))
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "Updating"
    assert described["EndpointConfigName"] == "config-v1"  # still blue
    assert described["PendingDeploymentSummary"]["EndpointConfigName"] == new
    pending = described["PendingDeploymentSummary"]["ProductionVariants"][0]
    assert pending["DeployedImages"][0]["ResolvedImage"].endswith(DIGESTS[2])
    assert pending["InstanceType"] == "ml.g5.xlarge"
    assert described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    assert resolved(sm).endswith(DIGESTS[1])
    assert stage(sm) == "Creating"
    emu.advance(TIMINGS.provision_s)  # green fleet up: canary 10 %, bake 10 s
    message = sm.describe_endpoint(EndpointName="ep")["PendingDeploymentSummary"]["ProductionVariants"][0]["VariantStatus"][0]
    assert message["Status"] == "Baking" and "10%" in message["StatusMessage"]
    emu.advance(10)  # all traffic, bake 10 s, then the termination wait of 20 s
    message = sm.describe_endpoint(EndpointName="ep")["PendingDeploymentSummary"]["ProductionVariants"][0]["VariantStatus"][0]
    assert "100%" in message["StatusMessage"]
    emu.advance(29)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Updating"
    emu.advance(1)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == new
    assert "PendingDeploymentSummary" not in described and "FailureReason" not in described
    assert resolved(sm).endswith(DIGESTS[2])
    assert emu.status_history("ep") == ["Creating", "InService", "Updating", "InService"]


def test_update_refused_while_one_is_in_flight(emu, sm):
    in_service(emu, sm)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2))
    with pytest.raises(ClientError, match="in-progress") as error:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="config-v1")
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_retain_all_variant_properties_keeps_the_live_instance_count(emu, sm):
    sm.create_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 1, count=3))
    emu.advance(TIMINGS.create_s)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2, count=1),
                       RetainAllVariantProperties=True, DeploymentConfig=blue_green())
    emu.advance(1000)
    assert sm.describe_endpoint(EndpointName="ep")["ProductionVariants"][0]["DesiredInstanceCount"] == 3


def test_retain_deployment_config_reuses_the_last_one(emu, sm):
    in_service(emu, sm)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2), DeploymentConfig=blue_green("LINEAR"))
    emu.advance(1000)
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="config-v1", RetainDeploymentConfig=True)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "LINEAR"


@pytest.mark.parametrize("how", ["boto3", "control-api"])
def test_rollback_alarm_during_canary_rolls_back(emu, sm, cw, how):
    in_service(emu, sm)
    alarm(cw, "ep-5xx")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2),
                       DeploymentConfig=blue_green("CANARY", alarms=("ep-5xx",)))
    emu.advance(TIMINGS.provision_s + 5)  # baking the canary
    assert stage(sm) == "Baking"
    if how == "boto3":
        cw.set_alarm_state(AlarmName="ep-5xx", StateValue="ALARM", StateReason="5XX during canary")
    else:
        emu.set_alarm_state("ep-5xx", "ALARM")
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "RollingBack"
    assert "ep-5xx" in described["FailureReason"]
    emu.advance(TIMINGS.rollback_s)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "config-v1"
    assert "ep-5xx" in described["FailureReason"]
    assert "PendingDeploymentSummary" not in described
    assert resolved(sm).endswith(DIGESTS[1])
    assert emu.status_history("ep") == ["Creating", "InService", "Updating", "RollingBack", "InService"]


def test_alarm_after_the_update_finished_changes_nothing(emu, sm, cw):
    in_service(emu, sm)
    alarm(cw, "ep-5xx")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2),
                       DeploymentConfig=blue_green(alarms=("ep-5xx",)))
    emu.advance(10_000)
    emu.set_alarm_state("ep-5xx", "ALARM")
    described = sm.describe_endpoint(EndpointName="ep")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "config-v2")


def test_instance_type_change_of_an_autoscaled_variant_is_refused(emu, sm):
    in_service(emu, sm)
    aas = emu.test_client("application-autoscaling")
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId="endpoint/ep/variant/primary",
                                 ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=1, MaxCapacity=2)
    sm.create_model(ModelName="model-big", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint_config(EndpointConfigName="config-big", ProductionVariants=[
        {"VariantName": "primary", "ModelName": "model-big", "InstanceType": "ml.g5.2xlarge", "InitialInstanceCount": 1}])
    with pytest.raises(ClientError, match="deregistered as scalable targets"):
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="config-big")
    aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId="endpoint/ep/variant/primary",
                                   ScalableDimension="sagemaker:variant:DesiredInstanceCount")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="config-big")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Updating"
