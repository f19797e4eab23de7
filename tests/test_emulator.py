"""The local AWS emulator (localaws/emulator.py): moto_server plus the SageMaker model:
its lifecycle, instance types, faults and the simulated clock. The blue/green endpoint
model is tested in test_emulator_bluegreen.py, CloudFormation in test_emulator_cloudformation.py.

Every test drives the simulated clock explicitly (speed 0: it moves only by advance()),
so nothing races the wall clock; each starts and stops its own emulator.
"""

from __future__ import annotations

import socket
import threading
import time

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator_helpers import TIMINGS, blue_green, config, in_service
from emulator_helpers import emu, sm  # noqa: F401 (fixtures)
from localaws.emulator import AwsEmulator, SimClock, botocore_instance_types

pytestmark = pytest.mark.slow  # full tier: starts the emulator (moto server in this process)


# ----- lifecycle
def test_start_stop_leaves_no_port_and_no_thread():
    threads_before = set(threading.enumerate())
    with AwsEmulator(timings=TIMINGS) as emulator:
        port = emulator.port
        sts = emulator.client("sts")
        assert sts.get_caller_identity()["Account"] == "123456789012"
        sts.close()
        with pytest.raises(RuntimeError, match="already running"):
            AwsEmulator().start()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the port is still open"
    deadline = time.monotonic() + 10  # handler threads end once their connection closes
    while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(threading.enumerate()) - threads_before == set()
    # moto is itself again: a plain backend rejects what the emulator accepted
    from moto.sagemaker.models import FakeEndpointConfig

    assert "validate_instance_type" not in vars(FakeEndpointConfig) or \
        not FakeEndpointConfig.validate_instance_type.__module__.startswith("localaws.")  # the patch's module


def test_env_points_a_subprocess_at_the_emulator(emu):
    env = emu.env()
    assert env["AWS_ENDPOINT_URL"] == emu.url.rstrip("/") and emu.url.startswith("http://127.0.0.1:")
    assert env["AWS_REGION"] == "us-east-1"


# ----- instance types
def test_instance_types_come_from_botocore(emu, sm):
    enum = botocore.session.get_session().get_service_model("sagemaker") \
        .shape_for("ProductionVariantInstanceType").enum
    assert set(botocore_instance_types()) == set(enum)
    assert {"ml.g5.xlarge", "ml.g5.2xlarge", "ml.g6.xlarge"} <= set(enum)
    config(sm, 1, instance_type="ml.g5.2xlarge")
    with pytest.raises(ClientError, match="ml.g5.huge") as error:
        sm.create_endpoint_config(EndpointConfigName="bad", ProductionVariants=[
            {"VariantName": "primary", "ModelName": "model-v1", "InstanceType": "ml.g5.huge",
             "InitialInstanceCount": 1}])
    assert error.value.response["Error"]["Code"] == "ValidationException"


# ----- faults
def test_stuck_update_never_finishes(emu, sm):
    in_service(emu, sm)
    emu.stick_updates("ep")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 2), DeploymentConfig=blue_green())
    emu.advance(1_000_000)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "Updating" and "PendingDeploymentSummary" in described
    emu.stick_updates("ep", stuck=False)
    emu.advance(1)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"


def test_injected_fault_fails_creation_and_update(emu, sm):
    emu.fail_next("ep", "CannotStartContainerError: injected")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 1))
    emu.advance(TIMINGS.create_s)
    described = sm.describe_endpoint(EndpointName="ep")
    assert (described["EndpointStatus"], described["FailureReason"]) == ("Failed", "CannotStartContainerError: injected")

    in_service(emu, sm, name="ep2", version=2)
    emu.fail_next("ep2")
    sm.update_endpoint(EndpointName="ep2", EndpointConfigName="config-v1")
    emu.advance(TIMINGS.provision_s)
    described = sm.describe_endpoint(EndpointName="ep2")
    assert described["EndpointStatus"] == "Failed" and "Injected fault" in described["FailureReason"]


def test_throttling_answers_a_fraction_of_calls(emu, sm):
    in_service(emu, sm)
    emu.throttle(0.5, operations={"DescribeEndpoint"})
    outcomes = []
    for _ in range(40):
        try:
            sm.describe_endpoint(EndpointName="ep")
            outcomes.append("ok")
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ThrottlingException"
            outcomes.append("throttled")
    assert 5 < outcomes.count("throttled") < 35 and outcomes.count("throttled") == emu.throttled
    sm.list_endpoints()  # other operations are not throttled
    emu.throttle(0)
    sm.describe_endpoint(EndpointName="ep")
    retrying = emu.test_client("sagemaker", config=Config(retries={"max_attempts": 10, "mode": "standard"}))
    emu.throttle(0.3)
    assert retrying.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"


def test_sim_clock_follows_the_wall_clock_when_asked():
    clock = SimClock(speed=1000)
    start = clock.now()
    deadline = time.monotonic() + 10
    while clock.now() - start < 50 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert clock.now() - start >= 50
    manual = SimClock()
    manual.advance(5)
    assert manual.now() == 5
