"""moto's Application Auto Scaling, patched to accept inference components as scalable targets.

moto 5.2 knows `sagemaker:variant:DesiredInstanceCount` but not
`sagemaker:inference-component:DesiredCopyCount` on `inference-component/<name>` (both in
botocore's application-autoscaling model, ScalableDimension), and refuses the second with
"Unsupported service namespace, resource type or scalable dimension".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localaws.moto_patches import Patcher

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator

DIMENSION = "sagemaker:inference-component:DesiredCopyCount"


def install(emu: AwsEmulator, patcher: Patcher) -> None:
    from moto.applicationautoscaling import models, responses

    orig_valid = models._target_params_are_valid
    orig_validate_params = responses.ApplicationAutoScalingResponse._validate_params

    def validate_params(self) -> None:  # the API's enum check, before the model's
        if self._get_param("ScalableDimension") == DIMENSION and self._get_param("ServiceNamespace") == "sagemaker":
            return
        orig_validate_params(self)

    def target_params_are_valid(namespace: str, r_id: str, dimension: str) -> bool:
        if dimension == DIMENSION and namespace == "sagemaker" and r_id.startswith("inference-component/"):
            return True
        return orig_valid(namespace, r_id, dimension)

    patcher.patch(models, "_target_params_are_valid", target_params_are_valid)
    patcher.patch(responses.ApplicationAutoScalingResponse, "_validate_params", validate_params)
