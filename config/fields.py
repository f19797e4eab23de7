"""Field types shared by pin manifests and environment configs.

Each type checks one immutability or naming rule and, when it fails, says
what to write instead (`Invalid` carries the fix to the error line).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, BaseModel

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


class Strict(BaseModel):
    """Unknown keys are errors, not silently ignored; models are read-only."""

    # allow_inf_nan=False: `.inf` would pass `gt=0` and reach CloudFormation as "Infinity".
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


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
