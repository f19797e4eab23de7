"""SageMaker endpoint instance quotas, read from Service Quotas, and what a deployment needs of them.

Service Quotas (service code `sagemaker`) has one quota per instance type, named
"<instance type> for endpoint usage"; its code differs per type and is not published in the SDK,
so it is found by name. A blue/green deployment brings the new fleet up at full size next to the
old one (and a shadow variant's next to its old one), and auto scaling is blocked while it runs
("Update endpoints that use auto scaling"): the quota must hold both fleets, and whatever the
account's other endpoints of that type run. The emulator answers the same API (localaws/quotas.py).

    quota = endpoint_instance_quota(client("service-quotas", region), "ml.g5.xlarge")  # None: not listed
    need = deployment_instances(endpoint, live_instances=3)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from config.environment import Endpoint

SERVICE_CODE = "sagemaker"


def quota_name(instance_type: str) -> str:
    return f"{instance_type} for endpoint usage"


def endpoint_instance_quota(service_quotas: Any, instance_type: str) -> int | None:
    """The account's applied quota of `instance_type` instances for endpoints, or None when Service
    Quotas lists no such quota (an instance type SageMaker hosting does not offer in that region)."""
    wanted = quota_name(instance_type)
    pages = service_quotas.get_paginator("list_service_quotas").paginate(ServiceCode=SERVICE_CODE)
    for page in pages:
        for quota in page.get("Quotas", []):
            if quota.get("QuotaName") == wanted:
                return int(quota["Value"])
    return None


def deployment_instances(endpoint: Endpoint, live_instances: int, live_shadow_instances: int = 0) -> Counter:
    """Instances per type an update of `endpoint` runs at its peak: the live fleet (`live_instances`,
    which auto scaling may have grown past `instances.initial`) and the new one of the same size
    (RetainAllVariantProperties keeps the count), plus both shadow fleets when it has a shadow."""
    need: Counter = Counter({endpoint.instance_type: 2 * live_instances})
    if endpoint.shadow_version:
        shadow_type = endpoint.shadow_instance_type or endpoint.instance_type
        need[shadow_type] += live_shadow_instances + endpoint.instances.initial
    return need
