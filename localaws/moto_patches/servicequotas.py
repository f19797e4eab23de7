"""moto's Service Quotas, answering for SageMaker's endpoint instance quotas in the emulator's account
and region (moto knows only `vpc` and has no ListServiceQuotas).

- ListServiceQuotas(ServiceCode=sagemaker): "<type> for endpoint usage" for every hosting instance
  type in botocore's SageMaker model (ProductionVariantInstanceType), paged by MaxResults/NextToken
  (at most 100 a page, as the API allows);
- GetServiceQuota(ServiceCode=sagemaker, QuotaCode=...): one of them;
- ListAWSDefaultServiceQuotas(ServiceCode=sagemaker): the same quotas at the emulator's default value.
Values come from `localaws/quotas.py QuotaBook`, set by `AwsEmulator.set_quota()`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from localaws.moto_patches import Patcher, serving
from localaws.quotas import DEFAULT_INSTANCES, SERVICE_CODE, QuotaBook

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator

PAGE = 100


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.servicequotas.responses import ServiceQuotasResponse

    from localaws.moto_patches.sagemaker import botocore_instance_types

    types = sorted(botocore_instance_types())

    def book(response) -> QuotaBook | None:
        e = serving(emu, response.current_account, response.region)
        return e.endpoints.quotas if e is not None else None

    def params(response) -> dict:
        return json.loads(response.body or "{}")

    def list_service_quotas(self):
        args, quotas = params(self), book(self)
        if args.get("ServiceCode") != SERVICE_CODE or quotas is None:
            raise JsonRESTError("NoSuchResourceException", "This service is not available in the current Region.")
        start, size = int(args.get("NextToken") or 0), min(int(args.get("MaxResults") or PAGE), PAGE)
        answer = {"Quotas": [quotas.quota(t) for t in types[start:start + size]]}
        if start + size < len(types):
            answer["NextToken"] = str(start + size)
        return json.dumps(answer)

    orig_get = ServiceQuotasResponse.get_service_quota

    def get_service_quota(self):
        args, quotas = params(self), book(self)
        if args.get("ServiceCode") != SERVICE_CODE or quotas is None:
            return orig_get(self)
        found = next((quotas.quota(t) for t in types if quotas.quota(t)["QuotaCode"] == args.get("QuotaCode")), None)
        if found is None:
            raise JsonRESTError("NoSuchResourceException", f"The request failed because the specified quota "
                                f"{args.get('QuotaCode')} does not exist.")
        return json.dumps({"Quota": found})

    orig_defaults = ServiceQuotasResponse.list_aws_default_service_quotas

    def list_aws_default_service_quotas(self):
        args, quotas = params(self), book(self)
        if args.get("ServiceCode") != SERVICE_CODE or quotas is None:
            return orig_defaults(self)
        defaults = QuotaBook(quotas.account_id, quotas.region)
        return json.dumps({"Quotas": [{**defaults.quota(t), "Value": float(DEFAULT_INSTANCES)} for t in types]})

    patcher.patch(ServiceQuotasResponse, "list_service_quotas", list_service_quotas)
    patcher.patch(ServiceQuotasResponse, "get_service_quota", get_service_quota)
    patcher.patch(ServiceQuotasResponse, "list_aws_default_service_quotas", list_aws_default_service_quotas)
