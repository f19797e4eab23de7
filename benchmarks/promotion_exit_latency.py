#!/usr/bin/env python3
"""How soon the promotion loop notices the end of a deployment: the time from the moment the
emulated endpoint reaches its final state (InService on the new config) to the moment the watch
loop of `promote` returns, per poll interval.

The emulator runs with a manual clock: an endpoint is created and updated with boto3 (two configs,
all-at-once blue/green), `scripts.promotion.watch.watch` follows it in a thread with the given
--poll, and at a random moment the main thread moves the clock past the end of the deployment and
notes the wall time. The aim (issue 5): within one poll interval. The command then spends a few
DescribeEndpoint/DescribeModelPackage calls on the live check and the smoke test, shown separately.

Usage: benchmarks/promotion_exit_latency.py [--polls 0.2,1,5] [--runs 15]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROLE = "arn:aws:iam::123456789012:role/bench"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference@sha256:" + "ab" * 32


def _setup(sm) -> tuple[str, str]:
    configs = []
    for n in (1, 2):
        sm.create_model(ModelName=f"m{n}", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
        sm.create_endpoint_config(EndpointConfigName=f"c{n}", ProductionVariants=[{
            "VariantName": "primary", "ModelName": f"m{n}", "InstanceType": "ml.g5.xlarge",
            "InitialInstanceCount": 1}])
        configs.append(f"c{n}")
    return configs[0], configs[1]


def one_run(emu, sm, inspector, poll: float, index: int) -> float:
    from scripts.lib.output import Output
    from scripts.promotion.watch import watch

    name = f"bench-{index}"
    sm.create_endpoint(EndpointName=name, EndpointConfigName="c1")
    emu.advance(emu.timings.create_s)
    sm.update_endpoint(EndpointName=name, EndpointConfigName="c2", DeploymentConfig={
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
                                  "TerminationWaitInSeconds": 0}})
    result: dict = {}

    def follow() -> None:
        result["outcome"] = watch(inspector, name, None, None, 600, poll, Output(json_mode=True),
                                  cli_log_tail=lambda: "")
        result["exited"] = time.monotonic()

    thread = threading.Thread(target=follow)
    thread.start()
    time.sleep(random.uniform(0, 2 * poll))  # the end falls anywhere in a poll interval
    emu.advance(emu.timings.provision_s + 1)
    final = time.monotonic()
    thread.join()
    assert result["outcome"].statuses[-1] == "InService"
    return result["exited"] - final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", default="0.2,1,5", help="poll intervals in seconds [0.2,1,5]")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    import io
    import contextlib

    from localaws.emulator import AwsEmulator, Timings
    from scripts.promotion.live import Inspector

    random.seed(7)
    print(f"{'poll s':>7} {'runs':>5} {'median s':>9} {'p95 s':>7} {'max s':>7} {'max/poll':>9}")
    with AwsEmulator(timings=Timings(create_s=60, provision_s=60, rollback_s=30, wait_scale=0)) as emu:
        sm = emu.client("sagemaker")
        _setup(sm)
        inspector = Inspector(sm, emu.client("cloudwatch"))
        index = 0
        for poll in [float(p) for p in args.polls.split(",")]:
            lags = []
            for _ in range(args.runs):
                index += 1
                with contextlib.redirect_stdout(io.StringIO()):
                    lags.append(one_run(emu, sm, inspector, poll, index))
            lags.sort()
            p95 = lags[min(len(lags) - 1, int(0.95 * len(lags)))]
            print(f"{poll:>7g} {len(lags):>5} {statistics.median(lags):>9.3f} {p95:>7.3f} {lags[-1]:>7.3f} "
                  f"{lags[-1] / poll:>9.2f}")
        t = time.monotonic()
        for _ in range(20):
            inspector.endpoint(f"bench-{index}")
        print(f"one poll (DescribeEndpoint + cached config/model lookups) on the emulator: "
              f"{(time.monotonic() - t) / 20 * 1000:.1f} ms")


if __name__ == "__main__":
    main()
