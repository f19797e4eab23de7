"""moto's CloudFormation, patched for our stacks and for the CDK CLI's way of deploying them.

- DependsOn is honoured for resources created because another one refers to them;
- AWS::SageMaker::Endpoint honours `EndpointName`, and an update becomes an UpdateEndpoint
  with the template's DeploymentConfig (moto deletes and recreates); SageMaker resources
  are updated in dependency order (Model, EndpointConfig, Endpoint); replaced Models and
  EndpointConfigs are kept; a resource removed by one update and added back by a later
  one is created again;
- handlers for the types of our stacks that moto's CloudFormation skips or breaks
  (`cfn_resources.py`; S3 buckets and KMS keys in `s3.py` and `kms.py`);
- the CDK CLI path (`cdk bootstrap`, `cdk deploy` by change sets): TemplateURL on
  127.0.0.1, exports registered by change sets, change sets scoped to their stack, the
  region's exports for a change set's stack, UsePreviousValue of an SSM-typed parameter;
- an injected stack failure (`fail_stack_update()`): the next change set executed on that
  stack applies nothing and ends UPDATE_ROLLBACK_COMPLETE;
- held stacks (`hold_stack_updates()`): UPDATE_IN_PROGRESS while their endpoint updates, as
  CloudFormation's endpoint handler waits for it; a change set on a stack in progress is
  refused, as CloudFormation refuses it.

Not modelled: CloudFormation waiting for the endpoint: moto's stacks finish at once, so a
stack update whose endpoint later rolls back still ends UPDATE_COMPLETE.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from localaws.moto_patches import Patcher, serving

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    # CloudFormation
    _sagemaker_endpoints(emu, patcher)
    _depends_on_first(patcher)
    _update_order(patcher)
    _resource_handlers(patcher)
    _change_sets(emu, patcher)
    _ssm_previous_value(patcher)
    _template_url(patcher)


def _sagemaker_endpoints(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.sagemaker import models

    endpoint_cls = models.FakeEndpoint

    def cfn_create_endpoint(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        backend = models.sagemaker_backends[account_id][region_name]
        return backend.create_endpoint(endpoint_name=props.get("EndpointName") or resource_name,
                                       endpoint_config_name=props["EndpointConfigName"],
                                       tags=props.get("Tags", []),
                                       deployment_config=props.get("DeploymentConfig"))

    def cfn_update_endpoint(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json["Properties"]
        backend = models.sagemaker_backends[account_id][region_name]
        name = props.get("EndpointName") or original_resource.endpoint_name
        if name != original_resource.endpoint_name:  # a new name replaces the endpoint, as in CloudFormation
            new = cfn_create_endpoint(cls, name, cloudformation_json, account_id, region_name)
            backend.delete_endpoint(original_resource.endpoint_name)
            return new
        original_resource.tags = props.get("Tags", [])
        e = serving(emu, account_id, region_name)
        live = (e.endpoints.live_config(name) if e is not None else None) or original_resource.endpoint_config_name
        new_config = props["EndpointConfigName"]
        if new_config != live or (e is not None and new_config not in backend.endpoint_configs):
            backend.update_endpoint(name, new_config, props.get("DeploymentConfig"),
                                    props.get("RetainAllVariantProperties", False),
                                    props.get("ExcludeRetainedVariantProperties"),
                                    props.get("RetainDeploymentConfig", False))
        return original_resource

    patcher.patch(endpoint_cls, "create_from_cloudformation_json", classmethod(cfn_create_endpoint))
    patcher.patch(endpoint_cls, "update_from_cloudformation_json", classmethod(cfn_update_endpoint))

    # A replaced Model or EndpointConfig: moto deletes the old one at once. CloudFormation
    # deletes it only in the cleanup after the endpoint update succeeded, and keeps it when
    # the update rolls back, so an endpoint that SageMaker rolled back still runs a config
    # whose model exists. The emulator keeps replaced ones (never cleaned up: a small leak).
    def keep_replaced(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    for replaced in (models.Model, models.FakeEndpointConfig):
        patcher.patch(replaced, "update_from_cloudformation_json", classmethod(keep_replaced))


def _depends_on_first(patcher: Patcher) -> None:
    """CloudFormation creates what a resource DependsOn before it. moto honours DependsOn only for the
    resources it iterates over; a resource it creates on the way, because another one refers to it
    (the Endpoint -> its config -> its Model), came before its dependencies (the Model before the
    role policy it waits for, which SageMaker then reads)."""
    from moto.cloudformation import parsing

    orig_getitem = parsing.ResourceMap.__getitem__

    def getitem(self, key):
        if key not in self._parsed_resources:
            depends = (self._resource_json_map.get(key) or {}).get("DependsOn") or []
            for dependency in [depends] if isinstance(depends, str) else depends:
                if dependency in self._resource_json_map:
                    self[dependency]
        return orig_getitem(self, key)

    patcher.patch(parsing.ResourceMap, "__getitem__", getitem)


def _update_order(patcher: Patcher) -> None:
    from moto.cloudformation import parsing

    # moto updates modified resources in template order ("Endpoint..." sorts before
    # "EndpointConfig..."), and only those whose JSON changed: a new EndpointConfig would
    # leave the Endpoint on the old one. Update SageMaker resources in dependency order,
    # and revisit endpoints and configs whenever a model or config changes.
    rank = {"AWS::CloudWatch::Alarm": 0, "AWS::SageMaker::Model": 1,
            "AWS::SageMaker::EndpointConfig": 2, "AWS::SageMaker::Endpoint": 3,
            "AWS::SageMaker::InferenceComponent": 4}
    orig_diff = parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self, other_template, parameters=None):
        actions = orig_diff(self, other_template, parameters)
        new, old = other_template["Resources"], self._resource_json_map
        types = {name: new[name]["Type"] for name in new}
        if any(types.get(n, "").startswith("AWS::SageMaker::") for n in actions["Modify"]):
            for name, kind in types.items():
                if kind in ("AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint",
                            "AWS::SageMaker::InferenceComponent") \
                        and name in old and name not in actions["Modify"]:
                    actions["Modify"].append(name)
        actions["Modify"].sort(key=lambda n: rank.get(types.get(n, ""), -1))
        return actions

    patcher.patch(parsing.ResourceMap, "build_resource_diff", build_resource_diff)

    # A resource removed by an update stayed in moto's parsed resources, so adding it back in
    # a later update (autoscaling restored after an instance-type change) created nothing.
    orig_map_update = parsing.ResourceMap.update

    def map_update(self, template, *args, **kwargs):
        removed = set(self._resource_json_map) - set(template.get("Resources", {}))
        result = orig_map_update(self, template, *args, **kwargs)
        for logical in removed:
            self._parsed_resources.pop(logical, None)
        return result

    patcher.patch(parsing.ResourceMap, "update", map_update)


def _resource_handlers(patcher: Patcher) -> None:
    from moto.cloudformation import parsing

    from localaws.cfn_resources import HANDLERS

    # AWS::CloudWatch::Alarm (moto's CloudFormation skips it): a real moto alarm; likewise
    # the other types of our stacks that it skips or lacks: the handlers of cfn_resources.py.
    orig_class_from_type = parsing.resource_class_from_type

    def resource_class_from_type(resource_type):
        return HANDLERS.get(resource_type) or orig_class_from_type(resource_type)

    patcher.patch(parsing, "resource_class_from_type", resource_class_from_type)


def _change_sets(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.cloudformation import exceptions as cfn_exceptions
    from moto.cloudformation import responses as cfn_responses
    from moto.cloudformation.models import CloudFormationBackend, Stack, cloudformation_backends
    from moto.core.responses import ActionResult, EmptyResult

    # moto executes a change set without rebuilding the stack's outputs or registering its
    # exports: the CDK CLI deploys by change sets, so Fn::ImportValue in the next stack
    # failed with "No export named ...".
    orig_execute = CloudFormationBackend.execute_change_set

    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None)
        stack = self.stacks.get(change_set.stack_id) if change_set is not None else None
        e = serving(emu, self.account_id, self.region_name)
        reason = None
        if e is not None and stack is not None and change_set.change_set_type == "UPDATE":
            reason = e.take_stack_failure(stack.name)
        if reason is not None:  # injected: roll back without applying anything
            stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
            stack._add_stack_event("UPDATE_FAILED", resource_status_reason=reason)
            stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
            stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
            stack.status = "UPDATE_ROLLBACK_COMPLETE"
            change_set.execution_status = "EXECUTE_FAILED"
            return
        orig_execute(self, change_set_name, stack_name)
        if stack is None:
            return
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            del self.exports[name]
        for export in stack.exports:
            self.exports[export.name] = export
        if e is not None and change_set.change_set_type == "UPDATE":
            e.stack_update_executed(stack)

    patcher.patch(CloudFormationBackend, "execute_change_set", execute_change_set)

    # A held stack (hold_stack_updates) completes when its endpoint settles: checked whenever
    # CloudFormation is asked about stacks. While it is in progress, CloudFormation refuses a new
    # change set: "Stack:<arn> is in UPDATE_IN_PROGRESS state and can not be updated."
    orig_describe_stacks = CloudFormationBackend.describe_stacks

    def describe_stacks(self, name_or_stack_id):
        e = serving(emu, self.account_id, self.region_name)
        if e is not None:
            e.settle_held_stacks()
        return orig_describe_stacks(self, name_or_stack_id)

    orig_create_change_set = CloudFormationBackend.create_change_set

    def create_change_set(self, stack_name, *args, **kwargs):
        e = serving(emu, self.account_id, self.region_name)
        if e is not None:
            e.settle_held_stacks()
            busy = e.stack_busy(stack_name)
            if busy:
                stack = next(s for s in self.stacks.values() if s.name == stack_name)
                raise cfn_exceptions.ValidationError(
                    message=f"Stack:{stack.stack_id} is in {busy} state and can not be updated.")
        return orig_create_change_set(self, stack_name, *args, **kwargs)

    patcher.patch(CloudFormationBackend, "describe_stacks", describe_stacks)
    patcher.patch(CloudFormationBackend, "create_change_set", create_change_set)

    # ... and looks change sets up by name across all stacks: the CDK CLI names every
    # stack's change set "cdk-deploy-change-set", deletes the old one and waits until it
    # is gone; moto deleted another stack's and the wait never ended. Scope by StackName,
    # and answer ChangeSetNotFoundException as AWS does.
    class ChangeSetNotFound(cfn_exceptions.CloudFormationError):
        code = "ChangeSetNotFoundException"

    def scoped_change_set(response) -> str:
        name, stack = response._get_param("ChangeSetName"), response._get_param("StackName")
        backend = response.cloudformation_backend
        if name in backend.change_sets:
            return name
        for arn, change_set in backend.change_sets.items():
            if change_set.change_set_name == name and (not stack or stack in (change_set.stack_name, change_set.stack_id)):
                return arn
        raise ChangeSetNotFound(f"ChangeSet [{name}] does not exist")

    def r_delete_change_set(self):
        # AWS's DeleteChangeSet has no not-found error, and the CLI relies on that when it
        # clears "cdk-deploy-change-set" of a dependency stack that has none.
        with contextlib.suppress(ChangeSetNotFound):
            self.cloudformation_backend.delete_change_set(change_set_name=scoped_change_set(self))
        return EmptyResult()

    def r_describe_change_set(self):
        return ActionResult(self.cloudformation_backend.describe_change_set(change_set_name=scoped_change_set(self)))

    def r_execute_change_set(self):
        self.cloudformation_backend.execute_change_set(stack_name=self._get_param("StackName"),
                                                       change_set_name=scoped_change_set(self))
        return EmptyResult()

    for name, method in (("delete_change_set", r_delete_change_set), ("describe_change_set", r_describe_change_set),
                         ("execute_change_set", r_execute_change_set)):
        patcher.patch(cfn_responses.CloudFormationResponse, name, method)

    # ... and builds a change set's stack without the region's exports (cross_stack_resources),
    # so its Fn::ImportValue fails even when the export exists. Default them to the region's.
    orig_create_resource_map = Stack._create_resource_map

    def create_resource_map(self):
        if not self.cross_stack_resources:
            self.cross_stack_resources = cloudformation_backends[self.account_id][self.region_name].exports
        return orig_create_resource_map(self)

    patcher.patch(Stack, "_create_resource_map", create_resource_map)


def _ssm_previous_value(patcher: Patcher) -> None:
    from moto.cloudformation import parsing

    # An update with UsePreviousValue for an SSM-typed parameter (the CDK's BootstrapVersion)
    # hands moto the previous *resolved* value, which it looks up as a parameter path:
    # AttributeError, HTTP 500. A value that names no parameter is taken as resolved.
    orig_parse_ssm = parsing.ResourceMap.parse_ssm_parameter

    def parse_ssm_parameter(self, value, value_type):
        from moto.ssm.models import ssm_backends

        if ssm_backends[self._account_id][self._region_name].get_parameter(value) is None:
            return value
        return orig_parse_ssm(self, value, value_type)

    patcher.patch(parsing.ResourceMap, "parse_ssm_parameter", parse_ssm_parameter)


def _template_url(patcher: Patcher) -> None:
    from moto.cloudformation import models as cfn_models
    from moto.cloudformation import responses as cfn_responses
    from moto.cloudformation import utils as cfn_utils

    # TemplateURL on the emulator itself (http://127.0.0.1:PORT/bucket/key, what the CDK CLI
    # sends when AWS_ENDPOINT_URL is set): moto reads the bucket from the host name
    # ("127") unless the host is "localhost", and answers "The specified bucket does not exist".
    orig_from_s3 = cfn_utils.get_stack_from_s3_url

    def get_stack_from_s3_url(template_url, account_id, partition):
        parts = urlparse(template_url)
        if parts.hostname in ("127.0.0.1", "localhost"):
            from moto.s3.models import s3_backends

            bucket, key = parts.path.lstrip("/").split("/", 1)
            return s3_backends[account_id][partition].get_object(bucket, unquote(key)).value.decode("utf-8")
        return orig_from_s3(template_url, account_id, partition)

    patcher.patch(cfn_utils, "get_stack_from_s3_url", get_stack_from_s3_url)
    for module in (cfn_responses, cfn_models):  # both import it by name
        if "get_stack_from_s3_url" in vars(module):
            patcher.patch(module, "get_stack_from_s3_url", get_stack_from_s3_url)
