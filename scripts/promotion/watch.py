"""Follow one endpoint deployment to its end and say how it ended.

The CDK CLI runs in the background; this loop polls DescribeEndpoint (status,
blue/green stage, traffic on the new fleet) and the endpoint's alarms every
`poll` seconds, reports each change (a live line on a terminal, one JSON line
otherwise), and decides when both the CLI has exited and the endpoint has
settled. On real AWS the CLI returns only after CloudFormation has waited for
the endpoint; on the emulator it returns at once and the endpoint moves on:
waiting for both covers either.
"""

from __future__ import annotations

import subprocess
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

from scripts.lib.output import Output
from scripts.promotion.live import Deployed, EndpointState, Inspector

PROMOTED, ROLLED_BACK, DEPLOY_FAILED, TIMED_OUT = "promoted", "rolled-back", "deploy-failed", "timed-out"


@dataclass
class Outcome:
    kind: str
    reason: str
    live: Deployed | None
    statuses: list[str] = field(default_factory=list)
    cli_exit: int | None = None


def watch(inspector: Inspector, endpoint: str, target: str, proc: subprocess.Popen | None, timeout_s: float,
          poll_s: float, out: Output, cli_log_tail=lambda: "", clock=time.monotonic, sleep=time.sleep) -> Outcome:
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
                return _decide(state, target, rc, seen, cli_log_tail)
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


def _decide(state: EndpointState, target: str, rc: int, seen: list[str], cli_log_tail) -> Outcome:
    live = state.live
    on_target = live is not None and live.version == target
    if state.status == "Failed":
        return Outcome(DEPLOY_FAILED, f"endpoint Failed: {state.failure_reason or 'no reason given'}", live, seen, rc)
    if on_target and rc == 0 and not state.failure_reason:
        return Outcome(PROMOTED, f"{target} is live", live, seen, rc)
    if "RollingBack" in seen or (state.failure_reason and not on_target):
        return Outcome(ROLLED_BACK, f"SageMaker rolled back: {state.failure_reason or 'rollback alarm'}", live, seen, rc)
    if rc != 0:
        tail = cli_log_tail()
        return Outcome(DEPLOY_FAILED, f"cdk deploy exited {rc}: {tail.splitlines()[-1] if tail else 'no output'}",
                       live, seen, rc)
    return Outcome(DEPLOY_FAILED, f"the stack deployed but the endpoint runs {live.version if live else '?'}, "
                   f"not {target}", live, seen, rc)
