"""Field types shared by pin manifests and environment configs.

Each type checks one immutability or naming rule and, when it fails, says
what to write instead (`Invalid` carries the fix to the error line).
"""

from __future__ import annotations

import re
import typing
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator

from config.errors import Invalid

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
GIT_COMMIT = re.compile(r"^[0-9a-f]{40}$")
# <registry>/<repository>@sha256:<64 hex>: a tag (or tag + digest) is refused,
# because a tag can be moved to another image after the pin is reviewed.
DIGEST_IMAGE = re.compile(
    r"^(?P<registry>[0-9]{12}\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?)"
    r"/(?P<repository>[a-z0-9][a-z0-9._/-]*)@sha256:(?P<digest>[0-9a-f]{64})$"
)
# SageMaker names (endpoints, model package groups): ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$;
# lower case keeps S3 keys and tags predictable.
RESOURCE_NAME = re.compile(r"^[a-z0-9](-?[a-z0-9])*$")
VERSION = re.compile(r"^[a-z0-9][a-z0-9.-]{0,31}$")
ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# AWS region names (us-east-1, us-gov-west-1) and S3 bucket names (3-63 of a-z 0-9 . -).
REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# The form of a SageMaker instance type; which ones exist is checked against botocore (config/project.py).
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


class Strict(BaseModel):
    """Unknown keys are errors, not silently ignored; models are read-only; a boolean is never a number."""

    # allow_inf_nan=False: `.inf` would pass `gt=0` and reach CloudFormation as "Infinity".
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode takes true as 1 (bool is an int in Python): `min: true` would
        # validate as one instance.
        if isinstance(value, bool) and info.field_name and not _admits_bool(cls.model_fields[info.field_name].annotation):
            raise Invalid(f"{str(value).lower()} is a boolean, not a {_kind(cls.model_fields[info.field_name].annotation)}",
                          "write the value itself (true and false are booleans in YAML and JSON)")
        return value


def _admits_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    return any(_admits_bool(arg) for arg in typing.get_args(annotation) if not isinstance(arg, (int, str)))


def _kind(annotation: Any) -> str:
    """What the field takes, for the message: a number (int, float, a Literal of numbers) or text."""
    if annotation in (int, float) or (typing.get_origin(annotation) is typing.Literal
                                      and all(isinstance(a, int) for a in typing.get_args(annotation))):
        return "number"
    kinds = {_kind(arg) for arg in typing.get_args(annotation) if arg is not type(None)}
    return "number" if "number" in kinds else "value of this field's type"


def _sha256(value: str) -> str:
    if not SHA256_HEX.match(value):
        raise Invalid(f"'{value[:20]}...' is not a SHA-256",
                      "write the 64 lower-case hex digits of the file's SHA-256 "
                      "(python -m scripts pin-weights computes them)")
    return value


def _commit(value: str) -> str:
    if not GIT_COMMIT.match(value):
        raise Invalid(f"revision '{value}' is not a 40-hex commit id (branches and tags move)",
                      "use the full commit sha of the Hugging Face snapshot, e.g. from "
                      "`huggingface-cli download --revision` or the repo's commit page")
    return value


def _digest_image(value: str) -> str:
    if not DIGEST_IMAGE.match(value):
        hint = "it has a tag, which can be moved" if "@sha256:" not in value else "the digest is malformed"
        raise Invalid(f"image '{value}' is not pinned by digest ({hint})",
                      "write <account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<64 hex> "
                      "(python -m scripts pin-image resolves it)")
    return value


def _prefix(value: str) -> str:
    if not value.endswith("/") or value.startswith("/") or "//" in value or value.startswith("s3://"):
        raise Invalid(f"weights prefix '{value}' must be a key prefix ending in '/'",
                      "write <model>/<version>/ (no bucket, no leading '/', trailing '/')")
    return value


def _resource_name(value: str) -> str:
    if not RESOURCE_NAME.match(value) or len(value) > 48:
        raise Invalid(f"'{value}' is not a valid name",
                      "use 1-48 lower-case letters, digits and single hyphens, e.g. llama-3-2-3b-instruct")
    return value


def _version(value: str) -> str:
    if not VERSION.match(value):
        raise Invalid(f"version '{value}' is not a valid version name",
                      "use 1-32 lower-case letters, digits, '.' or '-', starting with a letter or digit, e.g. v2")
    return value


def _env_var(value: str) -> str:
    if not ENV_VAR.match(value):
        raise Invalid(f"'{value}' is not an environment variable name", "use upper case, digits and '_'")
    return value


Sha256 = Annotated[str, AfterValidator(_sha256)]
GitCommit = Annotated[str, AfterValidator(_commit)]
DigestImage = Annotated[str, AfterValidator(_digest_image)]
KeyPrefix = Annotated[str, AfterValidator(_prefix)]
ResourceName = Annotated[str, AfterValidator(_resource_name)]
Version = Annotated[str, AfterValidator(_version)]
EnvVarName = Annotated[str, AfterValidator(_env_var)]
