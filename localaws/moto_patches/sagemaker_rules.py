"""What SageMaker refuses that moto lets through, in the emulator's account and region.

- CreateModel from a versioned model package that is not Approved: "For versioned models,
  the value of [ModelApprovalStatus] must be set to Approved to deploy the model"
  (API reference, CreateModelPackage, ModelApprovalStatus). Refused as a ValidationException;
  AWS does not document the message's wording, so the one here is the emulator's.
- CreateEndpoint / UpdateEndpoint with an AutoRollbackConfiguration whose alarms the models'
  execution role may not describe: "Ensure that your IAM execution role has permission to
  perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify"
  (developer guide, "Auto-Rollback Configuration and Monitoring"). The role's inline and
  attached policies are read from moto's IAM and evaluated by `localaws/iam_policy.py`; a
  role IAM does not know is refused too. Real SageMaker may instead accept the call and fail
  the deployment later: only real AWS shows when it checks.
- Endpoint instance quotas: `localaws/quotas.py` (enforced by `endpoint_sim.py`; this module keeps
  the ShadowProductionVariants moto drops, since a shadow fleet counts too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localaws.iam_policy import ALLOW, evaluate
from localaws.moto_backends import model_package, validation_error
from localaws.moto_patches import Patcher, serving

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.sagemaker import models

    backend_cls = models.SageMakerModelBackend
    orig_create_model = backend_cls.create_model

    def create_model(self, model_name, execution_role_arn, primary_container, vpc_config, containers, tags):
        if serving(emu, self.account_id, self.region_name) is not None:
            for container in ([primary_container] if primary_container else []) + list(containers or []):
                refuse_unapproved_package(self, container.get("ModelPackageName"))
        return orig_create_model(self, model_name, execution_role_arn, primary_container, vpc_config,
                                 containers, tags)

    patcher.patch(backend_cls, "create_model", create_model)
    _shadow_variants(patcher)


def _shadow_variants(patcher: Patcher) -> None:
    """moto drops an endpoint config's ShadowProductionVariants; kept here for the instance quotas."""
    from moto.sagemaker import models, responses

    orig_cfn = models.FakeEndpointConfig.create_from_cloudformation_json.__func__

    def cfn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        config = orig_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        config.shadow_production_variants = cloudformation_json.get("Properties", {}).get("ShadowProductionVariants")
        return config

    orig_response = responses.SageMakerResponse.create_endpoint_config

    def r_create_endpoint_config(self):
        answer = orig_response(self)
        config = self.sagemaker_backend.endpoint_configs.get(self._get_param("EndpointConfigName"))
        if config is not None:
            config.shadow_production_variants = self._get_param("ShadowProductionVariants")
        return answer

    patcher.patch(models.FakeEndpointConfig, "create_from_cloudformation_json", classmethod(cfn_create))
    patcher.patch(responses.SageMakerResponse, "create_endpoint_config", r_create_endpoint_config)


def refuse_unapproved_package(backend, name: str | None) -> None:
    if not name:
        return
    package = model_package(backend, name)
    if package is None:
        raise validation_error(f"Model package {name} does not exist.")
    status = getattr(package, "model_approval_status", None)
    if getattr(package, "model_package_group_name", None) and status != "Approved":
        raise validation_error(
            f"Model package {package.arn} is {status}: a versioned model package must be Approved to be "
            "deployed (ModelApprovalStatus).")


def refuse_unreadable_rollback_alarms(backend, account_id: str, region: str, config_name: str,
                                      deployment_config: dict | None) -> None:
    """ValidationException when a model of the config runs with a role that cannot describe a rollback alarm."""
    alarms = [a["AlarmName"] for a in
              ((deployment_config or {}).get("AutoRollbackConfiguration") or {}).get("Alarms") or []]
    if not alarms:
        return
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        return  # moto answers the missing config itself
    roles = {backend._models[v["ModelName"]].execution_role_arn for v in config.production_variants
             if v.get("ModelName") in backend._models}
    for role_arn in sorted(roles):
        documents = role_policies(account_id, role_arn)
        for name in alarms:
            alarm_arn = f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}"
            verdicts = [evaluate(d, "cloudwatch:DescribeAlarms", alarm_arn) for d in documents or []]
            if documents is None or "Deny" in verdicts or ALLOW not in verdicts:
                raise validation_error(
                    f"The execution role {role_arn} is not authorized to perform cloudwatch:DescribeAlarms on "
                    f"{alarm_arn}: SageMaker cannot monitor the AutoRollbackConfiguration alarm {name}.")


def role_policies(account_id: str, role_arn: str) -> list[str] | None:
    """The policy documents of a role (inline and attached), or None when IAM has no such role."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id]["aws"]
    role = next((r for r in iam.get_roles() if r.arn == role_arn), None)
    if role is None:
        return None
    documents = list(role.policies.values())
    for policy in role.managed_policies.values():
        documents += [v.document for v in policy.versions if v.is_default]
    return documents
