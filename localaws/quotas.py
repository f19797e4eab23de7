"""The account's SageMaker endpoint instance quotas, as Service Quotas reports them and as
CreateEndpoint / UpdateEndpoint enforce them, in the emulator's account and region.

Service Quotas (service code `sagemaker`) has one quota per instance type named
"<instance type> for endpoint usage" (e.g. "ml.g5.xlarge for endpoint usage", unit None,
applied per account and region). AWS's quota codes differ per type and are not in botocore:
clients look a quota up by its name (ListServiceQuotas); the codes here are the emulator's own
(stable, `L-` + 8 hex digits). The default value here is `DEFAULT_INSTANCES`; AWS's defaults vary
by account and type (often 0 for GPU types on a new account).

SageMaker counts every instance of that type in the account's endpoints: a blue/green update
runs the new fleet at full size next to the old one until the old one is terminated, and a
shadow variant is a fleet of its own ("Update endpoints that use auto scaling"; deployment
guardrails). A CreateEndpoint or UpdateEndpoint that would go above the quota is refused with
ResourceLimitExceeded and the account-level message SageMaker answers ("The account-level
service limit '<name>' is N Instances, with current utilization of U Instances and a request
delta of D Instances. ..."). Whether real SageMaker refuses an UpdateEndpoint at the call or
fails the update later is for real AWS to show: UpdateEndpoint lists ResourceLimitExceeded
among its errors (botocore's SageMaker model).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter

SERVICE_CODE = "sagemaker"
SERVICE_NAME = "Amazon SageMaker"
DEFAULT_INSTANCES = 100


def quota_name(instance_type: str) -> str:
    return f"{instance_type} for endpoint usage"


def quota_code(instance_type: str) -> str:
    return "L-" + hashlib.sha256(quota_name(instance_type).encode()).hexdigest()[:8].upper()


class QuotaBook:
    """Endpoint instance quotas of one account and region (the control API sets them)."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id, self.region = account_id, region
        self._values: dict[str, int] = {}
        self._lock = threading.Lock()

    def set(self, instance_type: str, value: int) -> None:
        with self._lock:
            self._values[instance_type] = value

    def value(self, instance_type: str) -> int:
        with self._lock:
            return self._values.get(instance_type, DEFAULT_INSTANCES)

    def quota(self, instance_type: str) -> dict:
        """A ServiceQuota as GetServiceQuota / ListServiceQuotas answer it (botocore's service-quotas model)."""
        code = quota_code(instance_type)
        return {"ServiceCode": SERVICE_CODE, "ServiceName": SERVICE_NAME, "QuotaCode": code,
                "QuotaName": quota_name(instance_type), "Value": float(self.value(instance_type)), "Unit": "None",
                "Adjustable": True, "GlobalQuota": False, "QuotaAppliedAtLevel": "ACCOUNT",
                "QuotaArn": f"arn:aws:servicequotas:{self.region}:{self.account_id}:{SERVICE_CODE}/{code}"}

    def refuse_if_exceeded(self, in_use: Counter, needed: Counter) -> None:
        """ResourceLimitExceeded when `needed` more instances would go above a type's quota."""
        from moto.core.exceptions import JsonRESTError

        for instance_type, delta in sorted(needed.items()):
            limit, used = self.value(instance_type), in_use.get(instance_type, 0)
            if used + delta > limit:
                raise JsonRESTError(
                    "ResourceLimitExceeded",
                    f"The account-level service limit '{quota_name(instance_type)}' is {limit} Instances, with "
                    f"current utilization of {used} Instances and a request delta of {delta} Instances. Please use "
                    "AWS Service Quotas to request an increase for this quota. If AWS Service Quotas is not "
                    "available, contact AWS support to request an increase for this quota.")


def fleet(variants: list[dict]) -> Counter:
    """Instances per type that these variants run."""
    counts: Counter = Counter()
    for variant in variants:
        if variant.get("InstanceType"):
            counts[variant["InstanceType"]] += int(variant.get("InitialInstanceCount") or 0)
    return counts
