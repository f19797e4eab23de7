"""Patches to moto's code, one module per patched service, applied while an emulator runs.

Each module's `install(emulator, patcher)` replaces moto functions and methods through the
`Patcher`, which records the originals so that `undo()` restores moto as it was. The
patches are process-wide: one emulator runs at a time (`AwsEmulator.start()` refuses a
second). A comment at each patch names the AWS behaviour it follows or the moto defect it
works around: after a moto upgrade, the file named for the service is where to look.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localaws.emulator import AwsEmulator


class Patcher:
    """Sets attributes of moto's classes and modules, and puts the originals back."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any, bool]] = []

    def patch(self, obj: Any, name: str, value: Any) -> None:
        existed = name in vars(obj)
        self._originals.append((obj, name, vars(obj).get(name), existed))
        setattr(obj, name, value)

    def undo(self) -> None:
        """Restore every patched attribute, last patched first."""
        for obj, name, original, existed in reversed(self._originals):
            if existed:
                setattr(obj, name, original)
            else:
                delattr(obj, name)
        self._originals.clear()


def serving(emulator: AwsEmulator, account_id: str, region: str) -> AwsEmulator | None:
    """The emulator, for a request in its account and region; None: other accounts and
    regions get plain moto."""
    if emulator.account_id != account_id or emulator.region != region:
        return None
    return emulator


def install(emulator: AwsEmulator, patcher: Patcher) -> None:
    """Patch moto for `emulator`, service by service."""
    from localaws import cfn_components
    from localaws.moto_patches import (applicationautoscaling, cloudformation, cloudwatch, kms, logs, s3, sagemaker,
                                       sagemaker_components, sagemaker_rules, servicequotas, ssm)

    # sagemaker_components after sagemaker and cfn_components after cloudformation: each wraps the other's patch
    for service in (sagemaker, sagemaker_rules, cloudwatch, s3, cloudformation, kms, logs, servicequotas, ssm,
                    sagemaker_components, applicationautoscaling, cfn_components):
        service.install(emulator, patcher)
