#!/usr/bin/env python3
"""Where a synth of the example goes, phase by phase, against the bare app of synth_time.py.

Each run is a new Python process that synthesizes in-process (as `promote` and the tests do; the
CDK CLI adds the same start-up to both apps) and reports the seconds of each phase: importing
aws-cdk-lib (and starting jsii's Node), importing the config and stacks modules, loading the
project, building the constructs, then `app.synth()` split into each policy-validation plugin
(cdk-nag, Control Tower's rules: timed by wrapping them), CDK's built-in CloudFormation
validation (`@aws/cloudformation-validate`, a WebAssembly engine: the difference to a run with
CDK_VALIDATION=false) and the rest (preparing, resolving and writing the templates). Runs
alternate example / bare, each kind with and without the built-in validation.
Usage: benchmarks/synth_breakdown.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Laps:
    """Seconds since the previous lap, per phase name."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = now - self._last
        self._last = now

    def add(self, name: str, seconds: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + seconds


def child(kind: str, stacks: int) -> None:
    """One run (a new process): prints {phase: seconds} as the last line."""
    laps = Laps()
    from aws_cdk import App, CfnWaitConditionHandle, Stack

    laps.lap("aws-cdk-lib import, jsii start")
    context = {**json.loads((ROOT / "cdk.json").read_text())["context"],
               "aws:cdk:disable-stack-trace": True}  # as the CLI sets it
    app = App(outdir=tempfile.mkdtemp(prefix="synth-breakdown-"), context=context)
    if kind == "bare":
        for i in range(stacks):
            CfnWaitConditionHandle(Stack(app, f"bare-{i}"), "Handle")
    else:
        from config.project import load_project
        from stacks import environment_app

        laps.lap("config and stacks modules")
        project = load_project(ROOT)
        laps.lap("load_project")
        real_validations = environment_app.Validations

        class Validations:  # build() adds cdk-nag, then Control Tower's rules: each is timed
            @staticmethod
            def of(scope):
                class Adder:
                    def add_plugins(self, *plugins):
                        real_validations.of(scope).add_plugins(*(timed(p, label, laps) for p, label in zip(
                            plugins, PLUGINS)))
                return Adder()

        environment_app.Validations = Validations
        environment_app.build(app, project)
    laps.lap("build")
    started = time.perf_counter()
    app.synth()
    laps.add("synth (rest)", time.perf_counter() - started - sum(laps.phases.get(k, 0.0) for k in PLUGINS))
    print(json.dumps(laps.phases))


def timed(plugin, label: str, laps: Laps):
    """`plugin` with the time of its validate() added to `laps` under `label`."""
    import jsii
    from aws_cdk import (IPolicyValidationPluginBeta1, PolicyValidationPluginReportBeta1,
                         PolicyViolatingResourceBeta1, PolicyViolationBeta1)

    @jsii.implements(IPolicyValidationPluginBeta1)
    class Timed:
        name = property(lambda self: plugin.name)
        version = property(lambda self: plugin.version)
        rule_ids = property(lambda self: plugin.rule_ids)

        def validate(self, context):
            started = time.perf_counter()
            r = plugin.validate(context)
            laps.add(label, time.perf_counter() - started)
            # cdk-nag answers with the non-beta report type, which a Python plugin may not return
            return PolicyValidationPluginReportBeta1(
                success=r.success, metadata=r.metadata, plugin_version=r.plugin_version,
                violations=[PolicyViolationBeta1(
                    rule_name=v.rule_name, description=v.description, fix=v.fix, severity=v.severity,
                    rule_metadata=v.rule_metadata, violating_resources=[PolicyViolatingResourceBeta1(
                        resource_logical_id=x.resource_logical_id, template_path=x.template_path,
                        locations=x.locations) for x in v.violating_resources]) for v in r.violations])

    return Timed()


PLUGINS = ("cdk-nag", "Control Tower rules")

ORDER = ["aws-cdk-lib import, jsii start", "config and stacks modules", "load_project", "build", "cdk-nag",
         "Control Tower rules", "CloudFormation validation (built-in)", "synth (rest)"]


def run(kind: str, stacks: int, builtin: bool) -> dict[str, float]:
    from scripts.lib import cdk  # not in a child: it imports the config package, which a child times

    env = cdk.environ(**({} if builtin else {"CDK_VALIDATION": "false"}))
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--stacks", str(stacks)], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{kind} run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stacks", type=int, default=15, help="the bare app's stacks (synth_time.py counts "
                                                                "the example's: 15)")
    parser.add_argument("--child", choices=("example", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.stacks)
    samples: dict[str, list[dict[str, float]]] = {k: [] for k in ("example", "example-", "bare", "bare-")}
    for _ in range(args.runs + 1):  # the first round warms caches (jsii's, the instance-type list): untimed
        for kind in ("bare", "example"):
            for builtin in (True, False):
                samples[kind + ("" if builtin else "-")].append(run(kind, args.stacks, builtin))
    rows = {}
    for kind in ("example", "bare"):
        with_builtin, without = samples[kind][1:], samples[kind + "-"][1:]
        medians = {phase: statistics.median(s.get(phase, 0.0) for s in with_builtin) for phase in ORDER}
        rest_without = statistics.median(s["synth (rest)"] for s in without)
        medians["CloudFormation validation (built-in)"] = max(0.0, medians["synth (rest)"] - rest_without)
        medians["synth (rest)"] = rest_without
        rows[kind] = medians
    print(f"in-process synth, median of {args.runs} runs per app (after 1 warm-up), seconds")
    print(f"{'phase':<40}{'example':>10}{'bare':>10}{'extra':>10}")
    for phase in ORDER:
        example, bare = rows["example"][phase], rows["bare"][phase]
        print(f"{phase:<40}{example:>10.2f}{bare:>10.2f}{example - bare:>10.2f}")
    total = {kind: sum(rows[kind].values()) for kind in rows}
    print(f"{'total':<40}{total['example']:>10.2f}{total['bare']:>10.2f}{total['example'] - total['bare']:>10.2f}")
    print(f"ratio example / bare (in-process, no CLI): {total['example'] / total['bare']:.2f}x")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
