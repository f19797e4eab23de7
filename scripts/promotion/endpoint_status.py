"""One status row per endpoint: the config and its pin against what SageMaker serves."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from scripts.lib.aws import client, describe_error, is_aws_error
from scripts.lib.errors import UserError
from scripts.promotion import checks, history
from scripts.promotion.live import Inspector
from config.environment import Environment
from config.project import Project


@dataclass
class StatusRow:
    endpoint: str
    config_version: str
    deployed_version: str | None = None
    registry: str = "?"
    status: str = "?"
    in_flight: str = ""
    alarms: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    last_promotion: str = ""
    error: str = ""

    @property
    def needs_attention(self) -> bool:
        return bool(self.drift or self.alarms or self.in_flight or self.error or self.status != "InService")

    def cells(self) -> list[str]:
        return [self.endpoint, self.config_version, self.deployed_version or "-", self.registry,
                self.error or self.status, self.in_flight or "-", ", ".join(self.alarms) or "-",
                "; ".join(self.drift) or "none", self.last_promotion or "-"]

    def to_dict(self) -> dict:
        return {**asdict(self), "needs_attention": self.needs_attention}


def endpoint_rows(root: Path, project: Project, env: Environment) -> list[StatusRow]:
    from scripts.evaluation.approval import find_package

    sagemaker = client("sagemaker", env.region)
    inspector = Inspector(sagemaker, client("cloudwatch", env.region))
    records = history.read(root)
    rows = []
    account = _caller_account(env)
    for key, endpoint in env.endpoints.items():
        name = env.endpoint_name(key)
        pin = project.pin_for(endpoint)
        row = StatusRow(name, endpoint.version)
        last = [r for r in records if r.get("env") == env.name and r.get("endpoint") == key
                and r.get("outcome") != "started"]
        if last:
            r = last[-1]
            row.last_promotion = (f"{r.get('kind')} {r.get('from_version')}→{r.get('to_version')} {r.get('outcome')} "
                                  f"({str(r.get('finished_at'))[:16]}Z)")
        if account != env.account:  # another account's answer would read as "not deployed"
            row.error = f"credentials are for account {account}, {env.name} is {env.account}"
            rows.append(row)
            continue
        try:
            state = inspector.endpoint(name)
            if not state.exists:
                row.status, row.drift = "not deployed", [f"{name} does not exist"]
                rows.append(row)
                continue
            row.status = state.status or "?"
            row.deployed_version = state.live.version if state.live else None
            if state.pending is not None:
                row.in_flight = f"→ {state.pending.version} ({state.stage or state.status})"
            row.alarms = inspector.firing_alarms(name)
            try:
                row.registry = find_package(sagemaker, env.package_group(endpoint.model), pin).get("ModelApprovalStatus", "?")
            except UserError:
                row.registry = "not registered"
            if row.deployed_version != endpoint.version:
                row.drift.append(f"config {endpoint.version}, deployed {row.deployed_version}")
            else:
                row.drift += checks.live_problems(state, pin, env)
            if state.live and state.live.instance_type != endpoint.instance_type:
                row.drift.append(f"instance {state.live.instance_type}, config {endpoint.instance_type}")
        except Exception as exc:  # one unreachable account must not hide the others
            if not is_aws_error(exc):
                raise
            row.error = describe_error(exc)
        rows.append(row)
    return rows


def _caller_account(env: Environment) -> str:
    try:
        return client("sts", env.region).get_caller_identity()["Account"]
    except Exception as exc:  # no credentials: every row says so
        if not is_aws_error(exc):
            raise
        return f"unknown ({describe_error(exc)})"
