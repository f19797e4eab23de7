"""One status row per endpoint: the config and its pin against what SageMaker serves, and what
CloudFormation and the history say about it.

A row that could not be read from AWS says so (`error`, `aws_error`, drift unknown): `status`
then exits 3, never "no drift". A run recorded as `started` with no final record is shown
as unfinished: it is deploying now, or it was killed (the next promote/rollback closes it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scripts.lib.aws import client, describe_error, is_aws_error
from scripts.lib.errors import UserError
from scripts.promotion import checks, history
from scripts.promotion import stack as stacks
from scripts.promotion.live import Inspector
from config import naming
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
    aws_error: bool = False  # AWS could not be read: the row's deployed side is unknown

    @property
    def needs_attention(self) -> bool:
        return bool(self.drift or self.alarms or self.in_flight or self.error or self.status != "InService")

    def cells(self) -> list[str]:
        return [self.endpoint, self.config_version, self.deployed_version or "-", self.registry,
                self.error or self.status, self.in_flight or "-", ", ".join(self.alarms) or "-",
                "unknown" if self.error else "; ".join(self.drift) or "none", self.last_promotion or "-"]

    def to_dict(self) -> dict:
        return {**asdict(self), "needs_attention": self.needs_attention}


def endpoint_rows(root: Path, project: Project, env: Environment, records: list[dict] | None = None) -> list[StatusRow]:
    from scripts.evaluation.approval import find_package

    sagemaker = client("sagemaker", env.region)
    cloudformation = client("cloudformation", env.region)
    inspector = Inspector(sagemaker, client("cloudwatch", env.region))
    records = history.read(root) if records is None else records
    rows = []
    account, account_error = _caller_account(env)
    for key, endpoint in env.endpoints.items():
        name = env.endpoint_name(key)
        pin = project.pin_for(endpoint)
        row = StatusRow(name, endpoint.version, last_promotion=last_promotion(records, env.name, key))
        if account_error:
            row.error, row.aws_error = account_error, True
            rows.append(row)
            continue
        if account != env.account:  # another account's answer would read as "not deployed"
            row.error = f"credentials are for account {account}, {env.name} is {env.account}"
            rows.append(row)
            continue
        with aws_errors_in(row):
            state = inspector.endpoint(name)
            if not state.exists:
                row.status, row.drift = "not deployed", [f"{name} does not exist"]
                rows.append(row)
                continue
            row.status = state.status or "?"
            row.deployed_version = state.live.version if state.live else None
            stack = stacks.read(cloudformation, naming.endpoint_stack(env.name, key))
            in_flight = [f"→ {state.pending.version} ({state.stage or state.status})"] if state.pending else []
            if stack.in_progress:
                in_flight.append(f"stack {stack.status}")
            row.in_flight = "; ".join(in_flight)
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
            if state.live and stack.deployed(state.live.config_name, state.live.config_arn) is False:
                row.drift.append(f"stack {stack.name} deployed {stack.endpoint_config.rsplit('/', 1)[-1]} "
                                 f"({stack.version or '?'}), the endpoint serves {state.live.config_name}: "
                                 "SageMaker rolled back after CloudFormation finished")
        rows.append(row)
    return rows


@contextmanager
def aws_errors_in(row: StatusRow) -> Iterator[None]:
    """Read a row from AWS; an AWS error becomes the row's error (its drift unknown, `status` exits 3)
    rather than the command's: one unreachable account must not hide the others. Anything else raises."""
    try:
        yield
    except Exception as exc:
        if not is_aws_error(exc):
            raise
        row.error, row.aws_error = describe_error(exc), True


def last_promotion(records: list[dict], env: str, endpoint: str) -> str:
    """The last final record of the endpoint, or the unfinished run if one is newer."""
    mine = history.of_endpoint(records, env, endpoint)
    open_runs = history.unfinished(records, env, endpoint)
    last = next((r for r in reversed(mine) if r.get("outcome") != history.STARTED), None)
    if open_runs and (last is None or mine.index(open_runs[-1]) > mine.index(last)):
        r = open_runs[-1]
        return (f"{r.get('kind')} {r.get('from_version')}→{r.get('to_version')} UNFINISHED (started "
                f"{str(r.get('started_at'))[:16]}Z by {r.get('by')}): deploying now, or killed")
    if last is None:
        return ""
    return (f"{last.get('kind')} {last.get('from_version')}→{last.get('to_version')} {last.get('outcome')} "
            f"({str(last.get('finished_at'))[:16]}Z)")


def _caller_account(env: Environment) -> tuple[str | None, str | None]:
    """(account, None), or (None, the AWS error) when the credentials cannot be used."""
    try:
        return client("sts", env.region).get_caller_identity()["Account"], None
    except Exception as exc:  # no credentials, endpoint unreachable: every row says so
        if not is_aws_error(exc):
            raise
        return None, describe_error(exc)
