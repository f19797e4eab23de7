"""moto's SageMaker and SageMaker Runtime, patched for endpoints that host inference components.

- the inference-component API, which moto lacks, answered by the emulator's `ComponentSimulator`
  (`inference_components.py`): Create/Update/Describe/Delete/ListInferenceComponents and
  UpdateInferenceComponentRuntimeConfig;
- endpoint configs for components: a variant without ModelName (moto requires one) and the
  config's ExecutionRoleArn (moto drops it), from the API and from CloudFormation;
- DescribeEndpoint of such an endpoint: the variant's current instances (ManagedInstanceScaling,
  down to zero) from `component_scaling.py`;
- InvokeEndpoint with InferenceComponentName (header X-Amzn-SageMaker-Inference-Component, botocore's
  sagemaker-runtime model): answered through `emulator.component_responder` by what serves now,
  or refused as SageMaker refuses it (no component named, unknown component, no capacity).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from localaws.moto_backends import validation_error
from localaws.moto_patches import Patcher, serving

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator

COMPONENT_HEADER = "X-Amzn-SageMaker-Inference-Component"


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    _api(emu, patcher)
    _endpoint_configs(patcher)
    _describe_endpoint(emu, patcher)
    _invoke(emu, patcher)


def _components(emu: AwsEmulator, response):
    e = serving(emu, response.current_account, response.region)
    if e is None:
        raise validation_error("Inference components are modelled only in the emulator's account and region")
    return e.components


def _api(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker import responses

    def create(self):
        component = _components(emu, self).create(
            self._get_param("InferenceComponentName"), self._get_param("EndpointName"), self._get_param("VariantName"),
            self._get_param("Specification"), self._get_param("Specifications"), self._get_param("RuntimeConfig"))
        return ActionResult({"InferenceComponentArn": component.arn})

    def update(self):
        component = _components(emu, self).update(self._get_param("InferenceComponentName"),
                                                   self._get_param("Specification"), self._get_param("RuntimeConfig"),
                                                   self._get_param("DeploymentConfig"))
        return ActionResult({"InferenceComponentArn": component.arn})

    def update_runtime(self):
        desired = self._get_param("DesiredRuntimeConfig") or {}
        component = _components(emu, self).update_runtime(self._get_param("InferenceComponentName"),
                                                           int(desired.get("CopyCount", 0)))
        return ActionResult({"InferenceComponentArn": component.arn})

    def describe(self):
        return ActionResult(_components(emu, self).describe(self._get_param("InferenceComponentName")))

    def delete(self):
        _components(emu, self).delete(self._get_param("InferenceComponentName"))
        return EmptyResult()

    def list_all(self):
        sim = _components(emu, self)
        endpoint, status = self._get_param("EndpointNameEquals"), self._get_param("StatusEquals")
        found = []
        for name in sorted(sim.components):
            d = sim.describe(name)
            if endpoint in (None, d["EndpointName"]) and status in (None, d["InferenceComponentStatus"]):
                found.append({k: d[k] for k in ("InferenceComponentName", "InferenceComponentArn", "EndpointName",
                                                "EndpointArn", "VariantName", "InferenceComponentStatus",
                                                "CreationTime", "LastModifiedTime")})
        return ActionResult({"InferenceComponents": found})

    for name, method in (("create_inference_component", create), ("update_inference_component", update),
                         ("update_inference_component_runtime_config", update_runtime),
                         ("describe_inference_component", describe), ("delete_inference_component", delete),
                         ("list_inference_components", list_all)):
        patcher.patch(responses.SageMakerResponse, name, method)


def _endpoint_configs(patcher: Patcher) -> None:
    from moto.core.responses import ActionResult
    from moto.sagemaker import models, responses

    backend_cls = models.SageMakerModelBackend
    orig_validate = backend_cls.validate_production_variants
    orig_create = backend_cls.create_endpoint_config

    def validate_production_variants(self, production_variants):
        # A variant for inference components names no model (the components bring theirs).
        orig_validate(self, [v for v in production_variants if v.get("ModelName")])

    def create_endpoint_config(self, *args, execution_role_arn=None, shadow_production_variants=None, **kwargs):
        config = orig_create(self, *args, **kwargs)
        if execution_role_arn:
            config.execution_role_arn = execution_role_arn  # DescribeEndpointConfig's ExecutionRoleArn
        # moto drops them; the instance quotas count a shadow fleet too (sagemaker_rules.py keeps them the same way)
        config.shadow_production_variants = shadow_production_variants
        return config

    def r_create_endpoint_config(self):
        config = self.sagemaker_backend.create_endpoint_config(
            endpoint_config_name=self._get_param("EndpointConfigName"),
            async_inference_config=self._get_param("AsyncInferenceConfig"),
            production_variants=self._get_param("ProductionVariants"),
            data_capture_config=self._get_param("DataCaptureConfig"), tags=self._get_param("Tags"),
            kms_key_id=self._get_param("KmsKeyId"), execution_role_arn=self._get_param("ExecutionRoleArn"),
            shadow_production_variants=self._get_param("ShadowProductionVariants"))
        return ActionResult({"EndpointConfigArn": config.endpoint_config_arn})

    def cfn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        return models.sagemaker_backends[account_id][region_name].create_endpoint_config(
            endpoint_config_name=resource_name, production_variants=p["ProductionVariants"],
            data_capture_config=p.get("DataCaptureConfig", {}), async_inference_config=p.get("AsyncInferenceConfig", {}),
            kms_key_id=p.get("KmsKeyId"), tags=p.get("Tags", []), execution_role_arn=p.get("ExecutionRoleArn"),
            shadow_production_variants=p.get("ShadowProductionVariants"))

    patcher.patch(backend_cls, "validate_production_variants", validate_production_variants)
    patcher.patch(backend_cls, "create_endpoint_config", create_endpoint_config)
    patcher.patch(responses.SageMakerResponse, "create_endpoint_config", r_create_endpoint_config)
    patcher.patch(models.FakeEndpointConfig, "create_from_cloudformation_json", classmethod(cfn_create))


def _describe_endpoint(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.sagemaker import models

    backend_cls = models.SageMakerModelBackend
    orig_describe = backend_cls.describe_endpoint

    def describe_endpoint(self, endpoint_name):
        response = orig_describe(self, endpoint_name)
        e = serving(emu, self.account_id, self.region_name)
        if e is None or not e.components.hosts_components(endpoint_name):
            return response
        e.components.tick()
        instances = e.components.scaler.current_instances(endpoint_name)
        variants = []
        for summary in response.get("ProductionVariants", []):
            config = e.components.variant(endpoint_name, summary.get("VariantName"))
            summary = {**summary, "CurrentInstanceCount": instances, "DesiredInstanceCount": instances}
            if config.get("ManagedInstanceScaling"):
                summary["ManagedInstanceScaling"] = config["ManagedInstanceScaling"]
            variants.append(summary)
        return {**response, "ProductionVariants": variants}

    patcher.patch(backend_cls, "describe_endpoint", describe_endpoint)


def _invoke(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.sagemakerruntime import responses as runtime_responses

    orig_invoke = runtime_responses.SageMakerRuntimeResponse.invoke_endpoint

    def r_invoke_endpoint(self):
        e = serving(emu, self.current_account, self.region)
        name = self._get_param("EndpointName") or self.path.split("/")[2]
        component = self.headers.get(COMPONENT_HEADER)
        if e is None or (component is None and not e.components.hosts_components(name)):
            return orig_invoke(self)
        try:
            payload = json.loads(self.body or b"{}")
        except ValueError:
            raise validation_error("Request body is not JSON") from None
        answer = e.invoke_component(name, component, payload)
        return 200, {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": "primary"}, \
            json.dumps(answer)

    patcher.patch(runtime_responses.SageMakerRuntimeResponse, "invoke_endpoint", r_invoke_endpoint)
