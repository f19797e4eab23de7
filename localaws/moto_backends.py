"""Lookups into moto's backends in this process, shared by the endpoint simulation
(`bluegreen.py`), the patches (`moto_patches/`) and the CloudFormation handlers
(`cfn_resources.py`). moto is imported on first use, not when localaws is imported."""

from __future__ import annotations


def reset_moto() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def sagemaker_backend(account_id: str, region: str):
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account_id][region]


def model_package(backend, name: str):
    """A model package by versioned ARN or name, as a Model's ModelPackageName gives it."""
    return backend.model_packages.get(backend.model_package_name_mapping.get(name, name))


def cloudwatch_backend(account_id: str, region: str):
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account_id][region]


def alarm_state(account_id: str, region: str, name: str) -> str | None:
    alarm = cloudwatch_backend(account_id, region).alarms.get(name)
    return alarm.state_value if alarm is not None else None


def autoscaling_backend(account_id: str, region: str):
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    return applicationautoscaling_backends[account_id][region]


def autoscaled(account_id: str, region: str, resource_id: str) -> bool:
    """Is that SageMaker variant (endpoint/NAME/variant/VARIANT) a scalable target?"""
    targets = autoscaling_backend(account_id, region).targets
    return resource_id in targets.get("sagemaker:variant:DesiredInstanceCount", {})


def sagemaker_arn(account_id: str, region: str, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:{kind}/{name}"


def validation_error(message: str):
    """SageMaker's ValidationException, as moto raises it."""
    from moto.sagemaker.exceptions import ValidationError

    return ValidationError(message=message)
