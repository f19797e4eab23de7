"""Can the account run both fleets of a blue/green update? The endpoint-usage quota gate.

Blue/green provisions the new fleet at full size next to the old one, a shadow variant's
fleet included, and the account-level quota "<instance type> for endpoint usage"
(Service Quotas, service code `sagemaker`) counts every instance of that type serving
endpoints in the account and region. SageMaker refuses an UpdateEndpoint that would go
over it (ResourceLimitExceeded: "The account-level service limit 'ml.g5.xlarge for
endpoint usage' is 4 Instances, with current utilization of 2 Instances and a request
delta of 4 Instances"). While the update runs, auto scaling is blocked ("Update
endpoints that use auto scaling"), so the count at the start holds until the end.

The quota is found by name: quota codes (L-...) are opaque and differ per instance type.
ListServiceQuotas returns applied values only ("If the applied quota value is not
available for a quota, the quota is not retrieved", API reference), so a quota never
raised is read from ListAWSDefaultServiceQuotas. Usage is counted from the endpoints
themselves (ListEndpoints, DescribeEndpoint, DescribeEndpointConfig): live and pending
fleets, production and shadow variants.

A quota that cannot be read (no servicequotas permission, an ErrorReason, no such quota,
Service Quotas unreachable) makes the gate `unknown`, with the reason: it does not refuse
(SageMaker itself refuses an over-quota update before the old fleet is touched), and it
never says `pass`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from config.environment import Endpoint
from scripts.lib.aws import describe_error, error_code, is_aws_error
from scripts.promotion.gates import FAIL, PASS, UNKNOWN, Gate

SERVICE_CODE = "sagemaker"


def quota_name(instance_type: str) -> str:
    return f"{instance_type} for endpoint usage"


@dataclass(frozen=True)
class Quota:
    name: str
    code: str
    value: float
    applied: bool  # False: the AWS default (no applied value is available)


class QuotaUnreadable(Exception):
    pass


def read_quota(quotas: Any, instance_type: str) -> Quota:
    name = quota_name(instance_type)
    for operation, applied in (("list_service_quotas", True), ("list_aws_default_service_quotas", False)):
        try:
            pages = quotas.get_paginator(operation).paginate(ServiceCode=SERVICE_CODE)
            found = next((q for page in pages for q in page.get("Quotas", []) if q.get("QuotaName") == name), None)
        except Exception as exc:
            if not is_aws_error(exc):
                raise
            raise QuotaUnreadable(describe_error(exc).splitlines()[0][:200]) from None
        if found is None:
            continue
        error = found.get("ErrorReason")
        if error:
            raise QuotaUnreadable(f"{name}: {error.get('ErrorCode')}: {error.get('ErrorMessage', '')}".strip())
        if found.get("Value") is None:
            raise QuotaUnreadable(f"{name}: Service Quotas returned no value")
        return Quota(name, found.get("QuotaCode", "?"), float(found["Value"]), applied)
    raise QuotaUnreadable(f"no quota named '{name}' in Service Quotas ({SERVICE_CODE})")


def instances_in_use(sagemaker: Any) -> tuple[dict[str, Counter], list[str]]:
    """(instance type -> {endpoint name: instances}, endpoints that could not be described) over every
    endpoint of the account and region: the live fleet and, while an update runs, the new one.
    A role that may describe only its own endpoints gets a lower bound and the names it missed."""
    usage: dict[str, Counter] = {}
    configs: dict[str, dict[str, str]] = {}
    missed = []
    for page in sagemaker.get_paginator("list_endpoints").paginate():
        for summary in page.get("Endpoints", []):
            name = summary["EndpointName"]
            try:
                described = sagemaker.describe_endpoint(EndpointName=name)
                config = described.get("EndpointConfigName")
                if config and config not in configs:
                    configs[config] = _variant_types(sagemaker.describe_endpoint_config(EndpointConfigName=config))
            except Exception as exc:
                if not is_aws_error(exc) or error_code(exc) not in ("AccessDenied", "AccessDeniedException"):
                    raise
                missed.append(name)
                continue
            types = configs.get(config, {})
            for variant in described.get("ProductionVariants", []) + described.get("ShadowProductionVariants", []):
                _count(usage, types.get(variant.get("VariantName")), name, variant.get("CurrentInstanceCount"))
            pending = described.get("PendingDeploymentSummary") or {}
            for variant in pending.get("ProductionVariants", []) + pending.get("ShadowProductionVariants", []):
                _count(usage, variant.get("InstanceType"), name, variant.get("CurrentInstanceCount"))
    return usage, missed


def new_fleets(endpoint: Endpoint, live_count: int | None) -> Counter:
    """instance type -> instances of the new fleet(s). RetainAllVariantProperties keeps the count
    autoscaling reached, so the new production fleet is as large as the live one."""
    count = live_count or endpoint.instances.initial
    fleets = Counter({endpoint.instance_type: count})
    if endpoint.shadow_version:
        fleets[endpoint.shadow_instance_type or endpoint.instance_type] += count
    return fleets


def quota_gate(quotas: Any, sagemaker: Any, endpoint: Endpoint, live_count: int | None) -> Gate:
    fleets = new_fleets(endpoint, live_count)
    try:
        usage, missed = instances_in_use(sagemaker)
    except Exception as exc:
        if not is_aws_error(exc):
            raise
        return Gate("quota", UNKNOWN, f"could not count the instances in use: {describe_error(exc)[:200]}",
                    "grant sagemaker:ListEndpoints, DescribeEndpoint, DescribeEndpointConfig")
    details, over, unknown = [], [], []
    for instance_type, needed in sorted(fleets.items()):
        used = sum(usage.get(instance_type, Counter()).values())
        try:
            quota = read_quota(quotas, instance_type)
        except QuotaUnreadable as exc:
            unknown.append(f"{quota_name(instance_type)}: unreadable ({exc}); in use {used}, this update adds {needed}")
            continue
        total = used + needed
        where = ", ".join(f"{e} {n}" for e, n in sorted(usage.get(instance_type, Counter()).items())) or "none"
        line = (f"{quota.name} ({quota.code}{'' if quota.applied else ', AWS default'}) {quota.value:g}: "
                f"in use {used} ({where}) + new fleet {needed} = {total}")
        (over if total > quota.value else details).append(line)
    if over:
        return Gate("quota", FAIL, "; ".join(over + details) + " (blue/green runs both fleets at full size)",
                    "request an increase of that quota in Service Quotas, or free instances of that type in "
                    "this account and region first")
    if unknown:
        return Gate("quota", UNKNOWN, "; ".join(unknown + details),
                    "grant servicequotas:ListServiceQuotas and ListAWSDefaultServiceQuotas to check it")
    if missed:
        return Gate("quota", UNKNOWN, "; ".join(details) + f" (at least: {len(missed)} endpoint(s) could not be "
                                                          f"described: {', '.join(missed[:5])})",
                    "grant sagemaker:DescribeEndpoint and DescribeEndpointConfig on the account's endpoints")
    return Gate("quota", PASS, "; ".join(details))


def _variant_types(config: dict) -> dict[str, str]:
    return {v["VariantName"]: v.get("InstanceType") for v in
            config.get("ProductionVariants", []) + config.get("ShadowProductionVariants", []) if v.get("VariantName")}


def _count(usage: dict[str, Counter], instance_type: str | None, endpoint: str, count: int | None) -> None:
    if instance_type and count:
        usage.setdefault(instance_type, Counter())[endpoint] += int(count)
