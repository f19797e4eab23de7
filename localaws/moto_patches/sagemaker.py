"""moto's SageMaker and SageMaker Runtime, patched for the emulator's endpoint model.

- instance types: endpoint configs accept every `ProductionVariantInstanceType` in
  botocore's own SageMaker service model (moto's hand list predates ml.g5.*);
- CreateEndpoint, DescribeEndpoint, DeleteEndpoint and ListEndpoints go through the
  emulator's `EndpointSimulator` (`endpoint_sim.py`); UpdateEndpoint, which moto lacks,
  is answered by it, with DeploymentConfig, RetainAllVariantProperties and
  RetainDeploymentConfig;
- InvokeEndpoint on the emulator's endpoints answers through `emulator.responder`, or with the
  error it raises (`localaws/invoke_faults.py`: ModelError, throttling, scaled to zero);
- throttling: a fraction of SageMaker calls answer ThrottlingException (`throttle()`);
- what SageMaker refuses (an unapproved versioned package, rollback alarms the execution role
  cannot read, instance quotas): `sagemaker_rules.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.catalog import sagemaker_instance_types
from localaws.moto_backends import sagemaker_arn, validation_error
from localaws.moto_patches import Patcher, sagemaker_rules as rules, serving

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator


def botocore_instance_types() -> list[str]:
    """ProductionVariantInstanceType from botocore's SageMaker model (no hand list), as validation reads it."""
    return sorted(sagemaker_instance_types())


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    _instance_types(patcher)
    _endpoint_lifecycle(emu, patcher)
    _invoke_endpoint(emu, patcher)
    _throttling(emu, patcher)


def _instance_types(patcher: Patcher) -> None:
    from moto.sagemaker import models

    # instance types from botocore
    valid_types = set(botocore_instance_types())

    def validate_instance_type(self, instance_type: str) -> None:
        if instance_type not in valid_types:
            raise validation_error(f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
                                   f"Member must satisfy enum value set: {sorted(valid_types)}")

    patcher.patch(models.FakeEndpointConfig, "validate_instance_type", validate_instance_type)


def _endpoint_lifecycle(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.sagemaker import models, responses

    # endpoint lifecycle on the backend
    backend_cls = models.SageMakerModelBackend
    orig_create = backend_cls.create_endpoint
    orig_describe = backend_cls.describe_endpoint
    orig_delete = backend_cls.delete_endpoint

    def create_endpoint(self, endpoint_name, endpoint_config_name, tags, deployment_config=None):
        e = serving(emu, self.account_id, self.region_name)
        if e is not None and endpoint_name in self.endpoints:
            arn = sagemaker_arn(e.account_id, e.region, "endpoint", endpoint_name)
            raise validation_error(f"Cannot create already existing endpoint \"{arn}\".")
        if e is not None:
            rules.refuse_unreadable_rollback_alarms(self, e.account_id, e.region, endpoint_config_name,
                                                    deployment_config)
            e.endpoints.refuse_over_quota(endpoint_config_name)
        endpoint = orig_create(self, endpoint_name, endpoint_config_name, tags)
        if e is not None:
            config = self.endpoint_configs[endpoint_config_name]
            e.endpoints.create(endpoint_name, endpoint_config_name, config.production_variants, deployment_config)
        return endpoint

    def describe_endpoint(self, endpoint_name):
        response = orig_describe(self, endpoint_name)
        e = serving(emu, self.account_id, self.region_name)
        return e.endpoints.describe(endpoint_name, response) if e is not None else response

    def delete_endpoint(self, endpoint_name):
        orig_delete(self, endpoint_name)
        e = serving(emu, self.account_id, self.region_name)
        if e is not None:
            e.endpoints.delete(endpoint_name)

    def update_endpoint(self, endpoint_name, endpoint_config_name, deployment_config=None,
                        retain_all_variant_properties=False, exclude_retained_variant_properties=None,
                        retain_deployment_config=False):
        e = serving(emu, self.account_id, self.region_name)
        if e is None:
            raise validation_error("UpdateEndpoint is modelled only in the emulator's account and region")
        if endpoint_name not in self.endpoints:
            arn = sagemaker_arn(e.account_id, e.region, "endpoint", endpoint_name)
            raise validation_error(f"Could not find endpoint \"{arn}\".")
        rules.refuse_unreadable_rollback_alarms(self, e.account_id, e.region, endpoint_config_name,
                                                deployment_config or e.endpoints.retained_deployment_config(
                                                    endpoint_name, retain_deployment_config))
        e.endpoints.update(endpoint_name, endpoint_config_name, deployment_config,
                           bool(retain_all_variant_properties), exclude_retained_variant_properties,
                           bool(retain_deployment_config))
        return self.endpoints[endpoint_name]

    def tick_before(method):
        def wrapper(self, *args, **kwargs):
            e = serving(emu, self.account_id, self.region_name)
            if e is not None:
                e.tick()
            return method(self, *args, **kwargs)
        return wrapper

    patcher.patch(backend_cls, "create_endpoint", create_endpoint)
    patcher.patch(backend_cls, "describe_endpoint", describe_endpoint)
    patcher.patch(backend_cls, "delete_endpoint", delete_endpoint)
    patcher.patch(backend_cls, "update_endpoint", update_endpoint)
    patcher.patch(backend_cls, "list_endpoints", tick_before(backend_cls.list_endpoints))

    # the API actions: DeploymentConfig on CreateEndpoint, and UpdateEndpoint's parameters
    response_cls = responses.SageMakerResponse

    def r_create_endpoint(self):
        endpoint = self.sagemaker_backend.create_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
            tags=self._get_param("Tags"),
            deployment_config=self._get_param("DeploymentConfig"),
        )
        return responses.ActionResult({"EndpointArn": endpoint.arn})

    def r_update_endpoint(self):
        endpoint = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
            deployment_config=self._get_param("DeploymentConfig"),
            retain_all_variant_properties=self._get_param("RetainAllVariantProperties"),
            exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties"),
            retain_deployment_config=self._get_param("RetainDeploymentConfig"),
        )
        return responses.ActionResult({"EndpointArn": endpoint.arn})

    patcher.patch(response_cls, "create_endpoint", r_create_endpoint)
    patcher.patch(response_cls, "update_endpoint", r_update_endpoint)


def _invoke_endpoint(emu: AwsEmulator, patcher: Patcher) -> None:
    import json

    from moto.sagemakerruntime import responses as runtime_responses

    from localaws.invoke_faults import InvokeFault

    # InvokeEndpoint: moto answers canned data for any name; the emulator answers for its
    # endpoints while they serve, through `emu.responder`, and knows which version answers.
    orig_invoke = runtime_responses.SageMakerRuntimeResponse.invoke_endpoint

    def r_invoke_endpoint(self):
        e = serving(emu, self.current_account, self.region)
        if e is None:
            return orig_invoke(self)
        try:
            payload = json.loads(self.body or b"{}")
        except ValueError:
            raise validation_error("Request body is not JSON") from None
        try:
            answer = e.invoke(self._get_param("EndpointName") or self.path.split("/")[2], payload)
        except InvokeFault as fault:  # the responder's error (localaws/invoke_faults.py)
            return fault.response()
        return 200, {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": "primary"}, \
            json.dumps(answer)

    patcher.patch(runtime_responses.SageMakerRuntimeResponse, "invoke_endpoint", r_invoke_endpoint)


def _throttling(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.sagemaker import responses

    # throttling: raised before the action runs, answered as a JSON error like AWS's
    response_cls = responses.SageMakerResponse
    orig_auth = response_cls._authenticate_and_authorize_normal_action

    def authenticate(self, *args, **kwargs):
        if emu.throttles(self._get_action()):
            raise JsonRESTError("ThrottlingException", "Rate exceeded")
        return orig_auth(self, *args, **kwargs)

    patcher.patch(response_cls, "_authenticate_and_authorize_normal_action", authenticate)
