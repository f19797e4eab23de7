"""The emulator's faults for the promotion fault matrix: a stack held UPDATE_IN_PROGRESS while its
endpoint updates (as CloudFormation's endpoint handler waits), an outage (server down, state and
clock going on); and the tether that ends the CDK CLI with its parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from emulator_helpers import NO_RETRIES, TIMINGS, package
from emulator_helpers import cw, emu, sm  # noqa: F401 (fixtures)
from test_emulator_cloudformation import trimmed_template

pytestmark = pytest.mark.slow  # full tier: starts the emulator, or processes

STACK, ENDPOINT = "llama-dev-intent-3b", "dev-intent-3b"


def change_set(cfn, template: dict, kind: str = "UPDATE") -> None:
    name = f"cs-{time.monotonic_ns()}"
    cfn.create_change_set(StackName=STACK, ChangeSetName=name, ChangeSetType=kind, TemplateBody=json.dumps(template))
    cfn.execute_change_set(StackName=STACK, ChangeSetName=name)


def status(cfn) -> str:
    return cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]


@pytest.mark.parametrize("alarm_fires", [False, True])
def test_a_held_stack_stays_in_progress_until_its_endpoint_settles(emu, sm, cw, alarm_fires):
    cfn = emu.test_client("cloudformation", config=NO_RETRIES)
    v1, v2 = package(sm, 1), package(sm, 2)
    change_set(cfn, trimmed_template(v1, "v1"), "CREATE")
    emu.advance(TIMINGS.create_s)
    emu.hold_stack_updates(STACK, ENDPOINT)
    change_set(cfn, trimmed_template(v2, "v2"))
    assert sm.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] == "Updating"
    assert status(cfn) == "UPDATE_IN_PROGRESS"
    with pytest.raises(ClientError, match="is in UPDATE_IN_PROGRESS state and can not be updated"):
        change_set(cfn, trimmed_template(v1, "v1"))  # CloudFormation refuses a change on a stack in progress
    emu.advance(TIMINGS.provision_s + 1)
    if alarm_fires:
        cw.set_alarm_state(AlarmName=f"{ENDPOINT}-5xx", StateValue="ALARM", StateReason="errors")
        assert status(cfn) == "UPDATE_IN_PROGRESS"  # RollingBack: still waiting
        emu.advance(TIMINGS.rollback_s)
        assert status(cfn) == "UPDATE_ROLLBACK_COMPLETE"
    else:
        emu.advance(10_000)
        assert status(cfn) == "UPDATE_COMPLETE"
    events = [e["ResourceStatus"] for e in cfn.describe_stack_events(StackName=STACK)["StackEvents"]
              if e["LogicalResourceId"] == STACK]
    assert events[0] == status(cfn), "the stack's last event is its final status"


def test_an_outage_refuses_connections_while_state_and_clock_go_on(emu, sm):
    from emulator_helpers import config

    sm.create_endpoint(EndpointName="ep", EndpointConfigName=config(sm, 1))
    port = emu.port
    emu.pause_server()
    with pytest.raises(EndpointConnectionError):
        sm.describe_endpoint(EndpointName="ep")
    emu.advance(TIMINGS.create_s)  # the endpoint goes on being created while nobody can ask
    emu.resume_server()
    assert emu.port == port
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService"


# ----- the tether (scripts/lib/tether.py)
PARENT = """
import subprocess, sys, time
from scripts.lib import cdk
child = subprocess.Popen([sys.executable, str(cdk.TETHER), "sleep", "300"], stdin=subprocess.PIPE)
print(child.pid, flush=True)
time.sleep(300)
"""


def sleeper_of(tether_pid: int) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            kids = open(f"/proc/{tether_pid}/task/{tether_pid}/children").read().split()
        except OSError:
            kids = []
        if kids:
            return int(kids[0])
        time.sleep(0.05)
    raise AssertionError("the tether started nothing")


def gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            state = open(f"/proc/{pid}/stat").read().split()[2]
            if state == "Z":
                return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("kill", ["parent", "tether"])
def test_a_tethered_command_dies_with_its_parent_or_its_tether(kill):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        tether = int(parent.stdout.readline())
        command = sleeper_of(tether)
        os.kill(parent.pid if kill == "parent" else tether, signal.SIGKILL)
        assert gone(command), "the command outlived the kill -9"
    finally:
        parent.kill()
        parent.wait()


def test_a_tether_passes_the_exit_code_and_ends_the_command_on_sigterm(tmp_path):
    from scripts.lib import cdk

    done = subprocess.Popen([sys.executable, str(cdk.TETHER), sys.executable, "-c", "raise SystemExit(3)"],
                            stdin=subprocess.PIPE)  # stdin stays open: closing it tells the tether to stop
    assert done.wait(30) == 3
    done.stdin.close()
    running = subprocess.Popen([sys.executable, str(cdk.TETHER), "sleep", "300"], stdin=subprocess.PIPE)
    command = sleeper_of(running.pid)
    running.terminate()
    assert running.wait(15) == 128 + signal.SIGTERM and gone(command)
