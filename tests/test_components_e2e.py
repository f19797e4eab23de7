"""End to end on the local AWS, issue 16: dev's component endpoint (two intent adapters on one 3B
base) deployed by the real CDK CLI into the emulator, each adapter invoked, one adapter promoted
while the other keeps serving, rolled back (by promote on a failed smoke test or an alarm while
baking, and by `rollback`), the base promoted by a rolling update, and the endpoint scaled to zero
and back, with `status` saying plainly that requests fail meanwhile.

The scale-in to zero is switched off (idle time of 10^9 s) until the last test, so the simulated
clock (50x real time) does not take the base away during the promotions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time

import pytest

from cli_helpers import run_cli
from lab_helpers import children, history_of, use_lab
from localaws.inference_components import ComponentTimings
from localaws.lab import Lab

pytestmark = pytest.mark.e2e

KEY, ENDPOINT = "intents-lora", "dev-intents-lora"
BASE, SUPPORT, ORDERS = f"{ENDPOINT}-base", f"{ENDPOINT}-support", f"{ENDPOINT}-orders"
SLOW_ZERO = ComponentTimings(idle_to_zero_s=1e9)
ORDER_TEXT, ORDER_LABEL = "Please cancel the order I placed this morning.", "cancel_order"


def _prepare(root) -> None:
    path = root / "environments" / "dev.yaml"
    text = path.read_text()
    # promote bakes an adapter for the base's wait_seconds in real time: a short one for the lab
    assert "wait_seconds: 120, max_execution_seconds: 1800" in text
    path.write_text(text.replace("wait_seconds: 120, max_execution_seconds: 1800",
                                 "wait_seconds: 3, max_execution_seconds: 1800"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("lab"), speed=50.0, prepare=_prepare, component_timings=SLOW_ZERO)
    lab.start()
    try:
        lab.deploy_environment(endpoints=[], components=[KEY])
        yield lab
    finally:
        lab.stop()
    assert children(os.getpid()) == [], "a process started by the lab is still running"


@pytest.fixture(autouse=True)
def _aws(lab, monkeypatch):
    use_lab(monkeypatch, lab)
    yield
    lab.broken_adapters.clear()
    for component in ("base", "support", "orders"):
        lab.emulator.set_alarm_state(f"{ENDPOINT}-{component}-5xx", "OK")


def cli(*args: str):
    return run_cli(*args, "--poll", "0.2", "--json") if args[0] in ("promote", "rollback") else run_cli(*args)


def describe(lab, name: str) -> dict:
    return lab.emulator.client("sagemaker").describe_inference_component(InferenceComponentName=name)


def artifact(lab, name: str) -> str:
    return describe(lab, name)["Specification"]["Container"]["ArtifactUrl"]


def config_of(lab, component: str) -> str:
    from config.project import load_project

    return load_project(lab.root, "dev").environments["dev"].component_endpoints[KEY].components[component].version


def invoke(lab, component: str, text: str) -> str:
    runtime = lab.emulator.client("sagemaker-runtime")
    body = json.dumps({"inputs": f"Message: {text}\nIntent:", "parameters": {"max_new_tokens": 12}})
    response = runtime.invoke_endpoint(EndpointName=ENDPOINT, InferenceComponentName=f"{ENDPOINT}-{component}",
                                       ContentType="application/json", Body=body)
    return json.loads(response["Body"].read())["generated_text"]


class Caller(threading.Thread):
    """Invokes the orders adapter every 0.1 s until stopped; counts answers and failures."""

    def __init__(self, lab):
        super().__init__(daemon=True)
        self.lab, self.answers, self.failures, self.stopped = lab, [], [], threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.answers.append(invoke(self.lab, "orders", ORDER_TEXT))
            except Exception as exc:  # noqa: BLE001 - counted, asserted by the test
                self.failures.append(str(exc))
            time.sleep(0.1)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.join(5)


def test_deployed_components_scaling_and_alarms_are_the_synthesized_ones(lab):
    emu = lab.emulator
    template = json.loads((lab.assembly / f"llama-dev-{KEY}.template.json").read_text())
    components = [r["Properties"] for r in template["Resources"].values()
                  if r["Type"] == "AWS::SageMaker::InferenceComponent"]
    assert sorted(c["InferenceComponentName"] for c in components) == sorted([BASE, SUPPORT, ORDERS])
    for name in (BASE, SUPPORT, ORDERS):
        assert describe(lab, name)["InferenceComponentStatus"] == "InService"
    assert describe(lab, SUPPORT)["Specification"]["BaseInferenceComponentName"] == BASE
    assert artifact(lab, SUPPORT).endswith("/adapters/support-intents/v1/adapter.tar.gz")

    autoscaling = emu.client("application-autoscaling")
    target = autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"inference-component/{BASE}"])["ScalableTargets"]
    assert [(t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"]) for t in target] == \
        [("sagemaker:inference-component:DesiredCopyCount", 0, 1)]
    policies = {p["PolicyType"]: p for p in autoscaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=f"inference-component/{BASE}")["ScalingPolicies"]}
    assert set(policies) == {"TargetTrackingScaling", "StepScaling"}
    alarm = emu.client("cloudwatch").describe_alarms(AlarmNames=[f"{ENDPOINT}-no-capacity"])["MetricAlarms"][0]
    assert alarm["AlarmActions"] == [policies["StepScaling"]["PolicyARN"]]
    config = emu.client("sagemaker").describe_endpoint_config(
        EndpointConfigName=emu.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ManagedInstanceScaling"]["MinInstanceCount"] == 0


def test_each_adapter_answers_its_own_intents(lab):
    assert invoke(lab, "orders", ORDER_TEXT) == ORDER_LABEL
    assert invoke(lab, "support", "I want to close my account") != ORDER_LABEL
    from config.project import load_project
    from scripts.promotion import checks

    project = load_project(lab.root, "dev")
    endpoint = project.environments["dev"].component_endpoints[KEY]
    base_pin = project.pins[(endpoint.base.model, endpoint.base.version)]
    for component, config in endpoint.adapters.items():
        assert checks.smoke_problems(ENDPOINT, config, base_pin, "us-east-1", component=f"{ENDPOINT}-{component}") == []


def test_promote_an_adapter_while_the_other_keeps_serving_then_roll_it_back(lab):
    orders_before = describe(lab, ORDERS)
    with Caller(lab) as caller:
        result = cli("promote", "--env", "dev", "--endpoint", KEY, "--component", "support", "--version", "v2")
    assert result.code == 0, result.err
    assert artifact(lab, SUPPORT).endswith("/support-intents/v2/adapter.tar.gz")
    assert config_of(lab, "support") == "v2"
    record = history_of(lab, f"{KEY}/support")[-1]
    assert (record["from_version"], record["to_version"], record["outcome"], record["strategy"]) == \
        ("v1", "v2", "promoted", "in-place")
    # the other adapter was not touched and answered throughout
    orders_after = describe(lab, ORDERS)
    assert orders_after["Specification"] == orders_before["Specification"]
    assert orders_after["LastModifiedTime"] == orders_before["LastModifiedTime"]
    assert caller.failures == [] and len(caller.answers) >= 5 and set(caller.answers) == {ORDER_LABEL}

    result = cli("rollback", "--env", "dev", "--endpoint", KEY, "--component", "support")
    assert result.code == 0, result.err
    assert artifact(lab, SUPPORT).endswith("/support-intents/v1/adapter.tar.gz")
    assert config_of(lab, "support") == "v1"
    assert history_of(lab, f"{KEY}/support")[-1]["kind"] == "rollback"


def test_an_adapter_failing_its_smoke_test_is_rolled_back(lab):
    lab.broken_adapters.add(("support-intents", "v2"))
    result = cli("promote", "--env", "dev", "--endpoint", KEY, "--component", "support", "--version", "v2")
    assert result.code == 7, result.err
    assert artifact(lab, SUPPORT).endswith("/support-intents/v1/adapter.tar.gz")
    assert config_of(lab, "support") == "v1"
    record = history_of(lab, f"{KEY}/support")[-1]
    assert (record["outcome"], record["config_restored_to"]) == ("smoke-failed", "v1")


def test_an_adapter_alarm_while_baking_rolls_it_back(lab):
    def fire_when_v2_serves():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if "/v2/" in artifact(lab, SUPPORT) and describe(lab, SUPPORT)["InferenceComponentStatus"] == "InService":
                lab.emulator.set_alarm_state(f"{SUPPORT}-5xx", "ALARM")
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=fire_when_v2_serves, daemon=True)
    watcher.start()
    result = cli("promote", "--env", "dev", "--endpoint", KEY, "--component", "support", "--version", "v2")
    watcher.join(5)
    assert result.code == 5, result.err
    assert artifact(lab, SUPPORT).endswith("/support-intents/v1/adapter.tar.gz")
    assert config_of(lab, "support") == "v1"
    record = history_of(lab, f"{KEY}/support")[-1]
    assert record["outcome"] == "rolled-back" and f"{SUPPORT}-5xx" in record["reason"]


def test_the_base_rolls_to_a_new_version_and_the_adapters_stay(lab):
    with Caller(lab) as caller:
        result = cli("promote", "--env", "dev", "--endpoint", KEY, "--component", "base", "--version", "v2")
    assert result.code == 0, result.err
    record = history_of(lab, f"{KEY}/base")[-1]
    assert (record["to_version"], record["outcome"], record["strategy"]) == ("v2", "promoted", "rolling")
    assert "Updating" in record["stages"]
    assert config_of(lab, "base") == "v2"
    assert describe(lab, SUPPORT)["InferenceComponentStatus"] == "InService"
    assert caller.failures == [] and set(caller.answers) == {ORDER_LABEL}


def test_scale_to_zero_status_says_requests_fail_then_back(lab):
    from botocore.exceptions import ClientError

    emu = lab.emulator
    emu.components.timings = dataclasses.replace(SLOW_ZERO, idle_to_zero_s=900)
    emu.advance(900)
    assert describe(lab, BASE)["RuntimeConfig"]["DesiredCopyCount"] == 0
    emu.advance(600)
    assert emu.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"][0][
        "CurrentInstanceCount"] == 0

    status = run_cli("status", "--env", "dev", "--json")
    rows = {r["endpoint"]: r for r in status.result()["endpoints"]}
    assert "requests fail for minutes" in rows[BASE]["note"] and not rows[BASE]["needs_attention"]
    assert [e for e in status.json_lines() if e.get("event") == "scale-to-zero" and e["endpoint"] == BASE]

    with pytest.raises(ClientError) as failed:
        invoke(lab, "orders", ORDER_TEXT)
    assert "capacity" in str(failed.value).lower()
    emu.advance(60)  # the no-capacity alarm's datapoint: the step policy asks for a copy
    assert describe(lab, BASE)["RuntimeConfig"]["DesiredCopyCount"] == 1
    rows = {r["endpoint"]: r for r in run_cli("status", "--env", "dev", "--json").result()["endpoints"]}
    assert rows[BASE]["in_flight"].startswith("coming back from zero") and rows[BASE]["needs_attention"]

    emu.advance(300)  # an instance, the model load, the adapters registered
    assert describe(lab, BASE)["RuntimeConfig"]["CurrentCopyCount"] == 1
    assert invoke(lab, "orders", ORDER_TEXT) == ORDER_LABEL
