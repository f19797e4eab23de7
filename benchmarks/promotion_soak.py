#!/usr/bin/env python3
"""Soak: hundreds of promote/rollback cycles on the emulator with random kills, signals and outages.

The lab (localaws/lab.py: the real CDK CLI deploys dev into the emulator, loopback only) runs
`--lanes` endpoints side by side, one cycle loop per endpoint, so runs of one checkout also edit
the shared environments/dev.yaml at the same time. The stacks are held UPDATE_IN_PROGRESS while
their endpoint updates (`hold_stack_updates`), so `cdk deploy` runs for the whole deployment, as
on AWS. Each cycle starts `python -m scripts promote --version <the other version>` or
`rollback` (from the history, or --to) as its own process and, at a random point, injects one of:
nothing; kill -9 during the synth, the deploy or the watch; SIGTERM or SIGINT during the deploy or
the watch; a short outage (the emulator's server down for less than the retry budget) or a long
one (more); a line of the history torn in half before the run. A run that ended without a verdict
(killed, interrupted, AWS unreachable, refused because the previous deployment is still in flight)
is run again without a fault, as CI would retry it. At the end of each cycle, once the endpoint
and its stack have settled, the config must name the live version.

Printed: cycles, runs, runs that recorded a start and their final records (exactly one each),
runs killed before they changed anything (no record, config unchanged), config == live at the
end of each cycle, unreadable history lines (vs torn lines injected), CDK CLIs and work
directories left behind, exit codes per fault, and the wall time.

Usage: benchmarks/promotion_soak.py [--cycles 300] [--lanes 2] [--minutes 240] [--seed 13]
"""

from __future__ import annotations

import argparse
import collections
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

FAULTS = {  # fault -> weight
    "none": 3, "kill-synth": 2, "kill-deploy": 2, "kill-watch": 2, "sigterm-deploy": 1, "sigterm-watch": 1,
    "sigint-watch": 1, "outage-short": 1, "outage-long": 2, "torn-history": 1,
}
RETRY_FREE = {0, 2, 5, 6, 7, 8}  # a verdict, or invalid input (a rollback with no history to go back on)


class Soak:
    def __init__(self, args):
        from fault_helpers import spawn
        from lab_helpers import add_endpoints
        from localaws.emulator import Timings
        from localaws.lab import Lab

        self.args, self.spawn = args, spawn
        self.rng = random.Random(args.seed)
        self.keys = [f"soak{i}" for i in range(args.lanes)]
        self.workdir = Path(tempfile.mkdtemp(prefix="soak-"))
        self.lab = Lab(self.workdir, speed=args.speed, prepare=self.prepare(add_endpoints(self.keys)),
                       timings=Timings(create_s=60, provision_s=60, rollback_s=30, wait_scale=0.1))
        self.lock = threading.Lock()
        self.outage = threading.Lock()  # one outage at a time (they hit every lane)
        self.stats = collections.Counter()
        self.exits: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.run_ids: list[str] = []  # runs that printed their plan
        self.early_kills: list[tuple[str, str, str]] = []  # (key, config before, config after)
        self.mismatches: list[str] = []

    @staticmethod
    def prepare(add):
        """dev without intent-1b (a smaller synth per run: it is not promoted here), plus the lanes."""
        def edit(root: Path) -> None:
            path = root / "environments" / "dev.yaml"
            text = path.read_text()
            path.write_text(text[:text.index("\n  intent-1b:")] + "\n")
            add(root)
        return edit

    def start(self) -> None:
        t = time.monotonic()
        self.lab.start()
        self.lab.deploy_environment(endpoints=self.keys)
        for key in self.keys:
            self.lab.emulator.hold_stack_updates(f"llama-dev-{key}", f"dev-{key}")
        print(f"lab ready in {time.monotonic() - t:.0f} s: {', '.join(self.keys)}", flush=True)

    # ----- one lane
    def lane(self, key: str, cycles: int, deadline: float) -> None:
        for cycle in range(cycles):
            if time.monotonic() > deadline:
                return
            try:
                self.cycle(key, cycle)
            except Exception:  # noqa: BLE001 - a fault of the harness: say so, go on
                import traceback

                traceback.print_exc()
                with self.lock:
                    self.stats["harness errors"] += 1

    def cycle(self, key: str, cycle: int) -> None:
        t = time.monotonic()
        fault = self.rng.choices(list(FAULTS), weights=list(FAULTS.values()))[0]
        args = self.command(key)
        codes = [self.one_run(key, args, fault)]
        while codes[-1] not in RETRY_FREE and len(codes) < 5:  # what CI does: run it again
            self.settle(key)
            codes.append(self.one_run(key, args, "none"))
        self.settle(key)
        config, live = self.config_version(key), self.lab.emulator.live_version(f"dev-{key}")
        with self.lock:
            self.stats["cycles"] += 1
            if config != live:
                self.mismatches.append(f"{key} cycle {cycle}: config {config}, live {live} after {fault}")
            print(f"{key} {cycle:>3} {fault:<15} {' '.join(args[:1] + args[5:]):<30} exit "
                  f"{' -> '.join(str(c) for c in codes):<12} config {config} live {live} ({time.monotonic() - t:.0f} s)",
                  flush=True)

    def command(self, key: str) -> list[str]:
        live = self.lab.emulator.live_version(f"dev-{key}")
        other = "v1" if live == "v2" else "v2"
        choice = self.rng.random()
        if choice < 0.6:
            return ["promote", "--env", "dev", "--endpoint", key, "--version", other]
        if choice < 0.8:
            return ["rollback", "--env", "dev", "--endpoint", key, "--to", other]
        return ["rollback", "--env", "dev", "--endpoint", key]  # from the history (exit 2 if it has none)

    def one_run(self, key: str, args: list[str], fault: str) -> int:
        if fault == "torn-history":
            self.tear_history()
        config_before = self.config_version(key)
        t = time.monotonic()
        run = self.spawn(self.lab, *args, env={"AWS_MAX_ATTEMPTS": "3"})
        try:
            self.inject(run, fault)
            code, _ = run.finish(timeout=600)
        finally:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
        plan = next((e for e in run.events() if e.get("event") == "plan"), None)
        final = next((e for e in reversed(run.events()) if "event" not in e), None)
        with self.lock:
            self.stats["runs"] += 1
            self.stats["run seconds"] += time.monotonic() - t
            for part, seconds in ((final or {}).get("durations_s") or {}).items():
                self.stats[f"{part} seconds"] += seconds
            self.exits[fault][code] += 1
            if plan and plan.get("run_id"):
                self.run_ids.append(plan["run_id"])
            elif code == -9:
                self.early_kills.append((key, config_before, self.config_version(key)))
        return code

    def inject(self, run, fault: str) -> None:
        rng = self.rng
        try:
            if fault.startswith("kill-") or fault.startswith("sig"):
                event = {"synth": "synth", "deploy": "deploy", "watch": "deployment"}[fault.split("-")[1]]
                run.wait_event(event, timeout=300)
                time.sleep(rng.uniform(0, 2.5 if event != "deployment" else 1.5))
                sig = {"kill": signal.SIGKILL, "sigterm": signal.SIGTERM, "sigint": signal.SIGINT}[fault.split("-")[0]]
                if run.proc.poll() is None:
                    run.send(sig)
            elif fault.startswith("outage"):
                run.wait_event("deployment", timeout=300)
                time.sleep(rng.uniform(0, 1.0))
                with self.outage:
                    self.lab.emulator.pause_server()
                    time.sleep(rng.uniform(0.1, 0.4) if fault == "outage-short" else rng.uniform(8, 15))
                    self.lab.emulator.resume_server()
        except AssertionError:
            pass  # the run ended (a refusal, an error) before the point of the fault

    def settle(self, key: str, timeout: float = 300) -> None:
        """Wait until the endpoint and its stack are no longer in progress (the deployment ends in AWS)."""
        from scripts.promotion import stack as stacks

        sagemaker, cloudformation = self.lab.emulator.client("sagemaker"), self.lab.emulator.client("cloudformation")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                status = sagemaker.describe_endpoint(EndpointName=f"dev-{key}")["EndpointStatus"]
                if status == "InService" and not stacks.read(cloudformation, f"llama-dev-{key}").in_progress:
                    return
            except Exception:  # noqa: BLE001 - an outage of the other lane
                pass
            time.sleep(0.3)

    def tear_history(self) -> None:
        """What a writer killed in the middle of its line leaves (it held the file's lock until it died)."""
        import fcntl

        from scripts.promotion import history

        (self.lab.root / history.HISTORY).parent.mkdir(parents=True, exist_ok=True)
        with (self.lab.root / history.HISTORY).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write('{"env": "dev", "endpoint": "torn", "outcome": "promo')
        with self.lock:
            self.stats["torn lines injected"] += 1

    def config_version(self, key: str) -> str:
        from config.project import load_project

        return load_project(self.lab.root, "dev").environments["dev"].endpoints[key].version

    # ----- the figures
    def report(self, seconds: float) -> None:
        from fault_helpers import cdk_processes
        from scripts.promotion import history

        loaded = history.load(self.lab.root)
        records = [r for r in loaded.records if r.get("endpoint") in self.keys]
        started = {r["run_id"] for r in records if r["outcome"] == "started"}
        final_count = collections.Counter(r["run_id"] for r in records if r["outcome"] != "started")
        known = set(self.run_ids)
        recorded = {r["run_id"] for r in records}
        print("\nfigures")
        print(f"  harness errors: {self.stats['harness errors']}")
        print(f"  cycles: {self.stats['cycles']}, runs: {self.stats['runs']} "
              f"({self.stats['runs'] / max(self.stats['cycles'], 1):.2f} per cycle), wall time {seconds / 60:.1f} min")
        runs = max(self.stats["runs"], 1)
        print("  seconds per run (mean): " + ", ".join(
            f"{part} {self.stats[f'{part} seconds'] / runs:.1f}" for part in ("gates", "synth", "deploy", "checks", "total"))
              + f"; process {self.stats['run seconds'] / runs:.1f}")
        print(f"  runs that recorded a start: {len(started)}; with exactly one final record: "
              f"{sum(1 for r in started if final_count[r] == 1)}; without: {sum(1 for r in started if not final_count[r])}; "
              f"with more than one: {sum(1 for r in started if final_count[r] > 1)}")
        print(f"  final records: {sum(final_count.values())} for {len(final_count)} runs; "
              f"runs past the plan: {len(known)}, of which without any record: {len(known - recorded)}")
        changed = [k for k in self.early_kills if k[1] != k[2]]
        print(f"  runs killed before their plan (nothing recorded): {len(self.early_kills)}, config changed by them: "
              f"{len(changed)}")
        print(f"  config == live at the end of each cycle: {self.stats['cycles'] - len(self.mismatches)} of "
              f"{self.stats['cycles']}")
        for line in self.mismatches[:10]:
            print(f"    MISMATCH {line}")
        print(f"  unreadable history lines: {len(loaded.unreadable)} (torn lines injected: "
              f"{self.stats['torn lines injected']})")
        from scripts.promotion import deploy

        dead = [p for p in Path(tempfile.gettempdir()).glob("promote-*-*")
                if p.name.split("-")[1].isdigit() and not deploy._alive(int(p.name.split("-")[1]))]
        print(f"  CDK CLIs left running: {len(cdk_processes())}; work directories of dead runs left: {len(dead)}")
        print("  exit codes per fault:")
        for fault, codes in sorted(self.exits.items()):
            print(f"    {fault:<15} " + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=300, help="cycles in all (split over the lanes)")
    parser.add_argument("--lanes", type=int, default=2, help="endpoints promoted side by side")
    parser.add_argument("--minutes", type=float, default=240, help="stop starting cycles after this long")
    parser.add_argument("--speed", type=float, default=100.0, help="simulated seconds per wall second")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", action="store_true", help="keep the lab's scratch repo (history, config)")
    args = parser.parse_args()
    soak = Soak(args)
    started = time.monotonic()
    try:
        soak.start()
        deadline = time.monotonic() + args.minutes * 60
        per_lane = -(-args.cycles // args.lanes)
        lanes = [threading.Thread(target=soak.lane, args=(key, per_lane, deadline)) for key in soak.keys]
        for lane in lanes:
            lane.start()
        for lane in lanes:
            lane.join()
        soak.report(time.monotonic() - started)
    finally:
        soak.lab.stop()
        if args.keep:
            print(f"scratch repo kept: {soak.lab.root}")
        else:
            shutil.rmtree(soak.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
