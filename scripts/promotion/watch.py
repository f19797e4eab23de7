"""Follow one endpoint deployment to its end and say how it ended.

The CDK CLI runs in the background; this loop polls DescribeEndpoint (status,
blue/green stage, traffic on the new fleet) and the endpoint's alarms every
`poll` seconds, reports each change (a live line on a terminal, one JSON line
otherwise), and decides when both the CLI has exited and the endpoint has
settled, and the stack is no longer in progress. On real AWS the CLI returns only
after CloudFormation has waited for the endpoint; on the emulator it returns at once
and the endpoint moves on: waiting for all three covers either.

How it ended is read from AWS, not from the CLI alone: a CLI that failed because
another deployment of the stack ran at the same time (another checkout, a CI run)
is `in-flight`, not a failed deployment; an endpoint that serves another config than
the one its stack deployed was rolled back by SageMaker, even if CloudFormation
reported success.
"""

from __future__ import annotations

import re
import subprocess
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

from scripts.lib.output import Output
from scripts.promotion.live import Deployed, EndpointState, Inspector
from scripts.promotion.stack import StackState

PROMOTED, ROLLED_BACK, DEPLOY_FAILED, TIMED_OUT = "promoted", "rolled-back", "deploy-failed", "timed-out"
IN_FLIGHT = "in-flight"
# What the CDK CLI prints when another deployment of the same stack or endpoint runs: two
# `cdk deploy`s share the change set name "cdk-deploy-change-set" and delete each other's;
# CloudFormation refuses an update of a stack in progress; SageMaker one of an endpoint Updating.
CONCURRENT = re.compile(r"ChangeSet \S* ?does not exist|ChangeSetNotFound|_IN_PROGRESS state and can ?not be updated"
                        r"|Cannot update in-progress endpoint", re.IGNORECASE)


@dataclass
class Outcome:
    kind: str
    reason: str
    live: Deployed | None
    statuses: list[str] = field(default_factory=list)
    cli_exit: int | None = None


def watch(inspector: Inspector, endpoint: str, target: str, proc: subprocess.Popen | None, timeout_s: float,
          poll_s: float, out: Output, cli_log_tail=lambda: "", clock=time.monotonic, sleep=time.sleep,
          stack=lambda: None) -> Outcome:
    """`stack()`: the endpoint stack's StackState (None when not known), read once the CLI has
    exited and the endpoint has settled."""
    started = clock()
    seen: list[str] = []
    last_line = None
    live_status = None if out.json else out.console.status("waiting for the deployment…", spinner="dots")
    with live_status or nullcontext():
        while True:
            state = inspector.endpoint(endpoint)
            rc = proc.poll() if proc is not None else 0
            alarms = inspector.firing_alarms(endpoint) if state.busy else []
            line = _describe(state, alarms)
            if state.status and (not seen or seen[-1] != state.status):
                seen.append(state.status)
            if line != last_line:
                last_line = line
                elapsed = round(clock() - started, 1)
                if live_status is not None:
                    live_status.update(f"[{elapsed:>6.1f}s] {line}")
                    out.console.print(f"  [{elapsed:>6.1f}s] {line}")
                else:
                    out.event("deployment", line, endpoint=endpoint, status=state.status, stage=state.stage,
                              new_fleet_traffic=state.green_percent, alarms_firing=alarms,
                              live_version=state.live.version if state.live else None,
                              pending_version=state.pending.version if state.pending else None, elapsed_s=elapsed)
            if rc is not None and state.exists and not state.busy:
                settled = stack()
                if settled is None or not settled.in_progress:
                    return _decide(state, target, rc, seen, cli_log_tail, settled)
                line = f"{line} · stack {settled.status}"
            if clock() - started > timeout_s:  # the caller stops the CLI (CloudFormation goes on)
                return Outcome(TIMED_OUT, f"still {state.status} after {timeout_s:g} s"
                               + (f" ({state.stage})" if state.stage else "")
                               + "; the deployment goes on in AWS: see `status`, rerun promote to follow it",
                               state.live, seen, rc)
            sleep(poll_s)


def _describe(state: EndpointState, alarms: list[str]) -> str:
    if not state.exists:
        return "endpoint does not exist (yet)"
    parts = [f"{state.status}", f"live {state.live.version if state.live else '?'}"]
    if state.pending is not None:
        parts.append(f"→ {state.pending.version}")
    if state.stage:
        parts.append(state.stage)
    if state.green_percent is not None and state.pending is not None:
        parts.append(f"new fleet {state.green_percent:.0%} of traffic")
    if alarms:
        parts.append(f"ALARM: {', '.join(alarms)}")
    if state.failure_reason and state.status in ("RollingBack", "Failed"):
        parts.append(state.failure_reason)
    return " · ".join(parts)


def _decide(state: EndpointState, target: str, rc: int, seen: list[str], cli_log_tail,
            stack: StackState | None = None) -> Outcome:
    live = state.live
    on_target = live is not None and live.version == target
    tail = cli_log_tail() if rc != 0 else ""
    deployed = stack.deployed(live.config_name, live.config_arn) if stack is not None and live else None
    if state.status == "Failed":
        return Outcome(DEPLOY_FAILED, f"endpoint Failed: {state.failure_reason or 'no reason given'}", live, seen, rc)
    if rc != 0 and CONCURRENT.search(tail):
        return Outcome(IN_FLIGHT, "in-flight: another deployment of this stack ran at the same time (cdk deploy: "
                       f"{CONCURRENT.search(tail).group(0)}); the endpoint serves {live.version if live else '?'}",
                       live, seen, rc)
    if on_target and rc == 0 and not state.failure_reason and deployed is not False:
        return Outcome(PROMOTED, f"{target} is live", live, seen, rc)
    if "RollingBack" in seen or (state.failure_reason and not on_target):
        return Outcome(ROLLED_BACK, f"SageMaker rolled back: {state.failure_reason or 'rollback alarm'}", live, seen, rc)
    if rc == 0 and deployed is False:
        return Outcome(ROLLED_BACK, f"SageMaker rolled back after CloudFormation reported success: {stack.name} "
                       f"deployed {stack.endpoint_config.rsplit('/', 1)[-1]}, the endpoint serves {live.config_name} "
                       f"({live.version or '?'})", live, seen, rc)
    if rc != 0:
        return Outcome(DEPLOY_FAILED, f"cdk deploy exited {rc}: {tail.splitlines()[-1] if tail else 'no output'}",
                       live, seen, rc)
    return Outcome(DEPLOY_FAILED, f"the stack deployed but the endpoint runs {live.version if live else '?'}, "
                   f"not {target}", live, seen, rc)
