#!/usr/bin/env python3
"""Time `cdk synth` of the example app against a bare CDK app with the same number of stacks.

Both run through the pinned CDK CLI, in the same venv, with the same
cdk.json feature flags; the bare app has one trivial resource per stack.
The ratio shows what validation, the constructs and cdk-nag add on top of
CDK's own fixed cost (node + jsii start-up). Usage: benchmarks/synth_time.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.lib import cdk  # noqa: E402
from config.project import load_project  # noqa: E402

BARE_APP = """
import json
from aws_cdk import App, CfnWaitConditionHandle, Stack
flags = json.load(open({cdk_json!r}))["context"]
app = App(context=flags)
for i in range({stacks}):
    CfnWaitConditionHandle(Stack(app, f"bare-{{i}}"), "Handle")
app.synth()
"""


def time_synth(workdir: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        out = Path(tempfile.mkdtemp(prefix="synth-bench-"))
        start = time.perf_counter()
        subprocess.run([str(cdk.cli()), "synth", "--quiet", "--output", str(out)], cwd=workdir,
                       env=cdk.environ(), check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        shutil.rmtree(out)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    project = load_project(ROOT)
    stacks = sum(1 + len(e.endpoints) for e in project.environments.values())
    with tempfile.TemporaryDirectory() as bare:
        bare_dir = Path(bare)
        (bare_dir / "app.py").write_text(BARE_APP.format(cdk_json=str(ROOT / "cdk.json"), stacks=stacks))
        (bare_dir / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py"}))
        bare_times = time_synth(bare_dir, args.runs)
    example_times = time_synth(ROOT, args.runs)
    example, bare_median = statistics.median(example_times), statistics.median(bare_times)
    print(f"cdk synth, {stacks} stacks, median of {args.runs} runs")
    print(f"{'app':<28}{'median s':>10}{'min s':>10}{'max s':>10}")
    for name, times in ((f"example ({stacks} stacks)", example_times), (f"bare CDK ({stacks} stacks)", bare_times)):
        print(f"{name:<28}{statistics.median(times):>10.2f}{min(times):>10.2f}{max(times):>10.2f}")
    print(f"ratio example / bare: {example / bare_median:.2f}x")


if __name__ == "__main__":
    main()
