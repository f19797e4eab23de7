"""`make demo`: the whole lifecycle on a local AWS, no account or credentials needed.

1. start the emulator (moto on 127.0.0.1, SageMaker gaps filled: localaws/emulator.py);
2. copy the repo's configs and pins into a scratch directory and re-pin the dev versions
   to stand-in weights (the example pins name multi-GB files);
3. `cdk bootstrap` and `cdk deploy` of the dev environment with the pinned CDK CLI;
4. `promote` intent-3b from v1 to v2 (gates, blue/green deploy, live check, smoke test);
5. `status`;
6. `rollback` to v1;
7. the cutover with the application client (localaws/demo_cutover.py): `route` shadow, canary,
   llama; an injected endpoint failure during which the client falls back and the fallback alarm
   fires; recovery;
8. stop the emulator. The scratch directory (.demo/) shows the edited config and history.

Simulated time runs `--speed` times faster than the wall clock (creating an endpoint
takes 60 simulated seconds, 3 s at the default speed 20).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from localaws import demo_cutover
from localaws.lab import REPO, Lab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=REPO / ".demo", help="scratch directory [.demo/]")
    parser.add_argument("--speed", type=float, default=20.0, help="simulated seconds per wall-clock second [20]")
    parser.add_argument("--endpoint", default="intent-3b")
    parser.add_argument("--from-version", default="v1")
    parser.add_argument("--to-version", default="v2")
    args = parser.parse_args(argv)
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)

    def step(title: str) -> None:
        print(f"\n== {title}", flush=True)

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    step("1. local AWS")
    try:
        with Lab(args.workdir, speed=args.speed, say=say) as lab:
            step("2-3. pin stand-in weights, cdk bootstrap, cdk deploy (dev)")
            lab.deploy_environment()
            common = ["--env", "dev", "--endpoint", args.endpoint, "--poll", "0.5"]
            step(f"4. promote {args.endpoint} {args.from_version} -> {args.to_version}")
            say("$ python -m scripts promote " + " ".join(common + ["--version", args.to_version]))
            lab.run("promote", *common, "--version", args.to_version)
            step("5. status")
            say("$ python -m scripts status --env dev")
            lab.run("status", "--env", "dev", check=False)
            step(f"6. rollback {args.endpoint} (to the version live before: {args.from_version})")
            say("$ python -m scripts rollback " + " ".join(common))
            lab.run("rollback", *common)
            lab.run("status", "--env", "dev", check=False)
            if args.endpoint == demo_cutover.ENDPOINT_KEY:
                demo_cutover.run(lab, say, step)
            step("13. stop")
        say("emulator stopped")
    except (RuntimeError, KeyboardInterrupt) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    history = args.workdir / "repo" / "history" / "promotions.jsonl"
    print(f"\nDone in {time.monotonic() - started:.0f} s. Scratch repo: {args.workdir / 'repo'}"
          f"\n  history: {history}\n  config:  {args.workdir / 'repo' / 'environments' / 'dev.yaml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
