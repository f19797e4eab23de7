#!/usr/bin/env python3
"""Time `cdk synth` of the example app against a bare CDK app with the same number of stacks.

Both run through the pinned CDK CLI, in the same venv, with the same
cdk.json feature flags; the bare app has one trivial resource per stack.
The ratio shows what validation, the constructs and cdk-nag add on top of
CDK's own fixed cost (node + jsii start-up, CDK's built-in CloudFormation
validation). Runs alternate bare / example so that other work on the machine
weighs on both alike, after one untimed warm-up run of each (first-run caches:
jsii's package cache, the SageMaker instance-type list). CPU is user + system
time of the CLI and everything it started (node, python, jsii's node).
Usage: benchmarks/synth_time.py [--runs N] [--warmup N]
"""

from __future__ import annotations

import argparse
import json
import resource
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

BARE_APP = """
import json
from aws_cdk import App, CfnWaitConditionHandle, Stack
flags = json.load(open({cdk_json!r}))["context"]
app = App(context=flags)
for i in range({stacks}):
    CfnWaitConditionHandle(Stack(app, f"bare-{{i}}"), "Handle")
app.synth()
"""


def synth_once(workdir: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, stacks in the assembly) of one `cdk synth`."""
    out = Path(tempfile.mkdtemp(prefix="synth-bench-"))
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(cdk.cli()), "synth", "--quiet", "--output", str(out)], cwd=workdir,
                       env=cdk.environ(), check=True, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        manifest = json.loads((out / "manifest.json").read_text())
        stacks = sum(1 for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), stacks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs of each app first (default 1)")
    args = parser.parse_args()
    # The example's stack count, from one more untimed synth of it: artifacts, one
    # stack per endpoint and per component endpoint, a routing stack per endpoint, github-deploy.
    _, _, stacks = synth_once(ROOT)
    times: dict[str, list[tuple[float, float]]] = {"example": [], "bare": []}
    with tempfile.TemporaryDirectory() as bare:
        bare_dir = Path(bare)
        (bare_dir / "app.py").write_text(BARE_APP.format(cdk_json=str(ROOT / "cdk.json"), stacks=stacks))
        (bare_dir / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py"}))
        for run in range(args.warmup + args.runs):
            for name, workdir in (("bare", bare_dir), ("example", ROOT)):
                wall, cpu, synthesized = synth_once(workdir)
                if synthesized != stacks:
                    sys.exit(f"{name} synthesized {synthesized} stacks, expected {stacks}")
                if run >= args.warmup:
                    times[name].append((wall, cpu))
    print(f"cdk synth, {stacks} stacks, median of {args.runs} runs (after {args.warmup} warm-up)")
    print(f"{'app':<28}{'median s':>10}{'min s':>10}{'max s':>10}{'CPU s':>10}")
    for name in ("example", "bare"):
        wall = [w for w, _ in times[name]]
        cpu = statistics.median(c for _, c in times[name])
        label = f"{'example' if name == 'example' else 'bare CDK'} ({stacks} stacks)"
        print(f"{label:<28}{statistics.median(wall):>10.2f}{min(wall):>10.2f}{max(wall):>10.2f}{cpu:>10.2f}")
    example, bare_median = (statistics.median(w for w, _ in times[n]) for n in ("example", "bare"))
    cpu_ratio = (statistics.median(c for _, c in times["example"]) / statistics.median(c for _, c in times["bare"]))
    print(f"ratio example / bare: {example / bare_median:.2f}x (CPU {cpu_ratio:.2f}x)")


if __name__ == "__main__":
    main()
