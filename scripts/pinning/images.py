"""Serving images: the URI of a framework version per region, and its digest in ECR.

The URI (registry account, repository, tag) comes from the SageMaker Python
SDK v3 (`sagemaker.core.image_uris.retrieve`, package `sagemaker-core`, pinned
in requirements.txt), which knows each region's registry account. Tests
replace `lookup_uri` (a module attribute, looked up at call time) with their own.

The digest comes from ECR: BatchGetImage by tag, which needs only the pull
permission SageMaker itself uses (DescribeImages as a fallback).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from scripts.lib.aws import error_code
from scripts.lib.errors import Exit, UserError

IMAGE_URI = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.(?P<domain>amazonaws\.com(?:\.cn)?)"
    r"/(?P<repository>[a-z0-9][a-z0-9._/-]*):(?P<tag>[\w][\w.-]{0,127})$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Accept manifest lists / OCI indexes too: BatchGetImage fails with UnsupportedImageType otherwise.
MEDIA_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]


@dataclass(frozen=True)
class ImageRef:
    account: str
    region: str
    domain: str
    repository: str
    tag: str

    @property
    def registry(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.{self.domain}"

    @property
    def uri(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"

    def with_tag(self, tag: str) -> "ImageRef":
        return ImageRef(self.account, self.region, self.domain, self.repository, tag)

    def pinned(self, digest: str) -> str:
        return f"{self.registry}/{self.repository}@{digest}"


def parse_uri(uri: str) -> ImageRef:
    match = IMAGE_URI.match(uri)
    if not match:
        raise UserError(f"image lookup: '{uri}' is not an ECR image URI with a tag; "
                        "fix: report this (the image lookup returned an unexpected URI)")
    return ImageRef(match["account"], match["region"], match["domain"], match["repository"], match["tag"])


def sagemaker_core_uri(framework: str, version: str, region: str) -> str:
    """Image URI from the SageMaker Python SDK v3."""
    from sagemaker.core import image_uris  # about 2-4 s to import: only pin-image pays it

    try:
        return image_uris.retrieve(framework=framework, region=region, version=version, image_scope="inference")
    except (ValueError, KeyError) as exc:
        raise UserError(f"--framework-version: the SageMaker SDK has no {framework} {version} image for "
                        f"{region} ({str(exc).strip().splitlines()[0][:200]}); fix: check the framework "
                        "version and region") from None


def lookup_source() -> str:
    """Where `lookup` takes image URIs from, for the user."""
    return "sagemaker-core" if lookup_uri is sagemaker_core_uri else "a custom lookup"


# Replaceable (tests): (framework, version, region) -> "<registry>/<repository>:<tag>".
lookup_uri: Callable[[str, str, str], str] = sagemaker_core_uri


def lookup(framework: str, version: str, region: str) -> ImageRef:
    ref = parse_uri(lookup_uri(framework, version, region))
    if ref.region != region:
        raise UserError(f"image lookup: the image for {region} is in {ref.region}; fix: report this")
    return ref


def resolve_digest(ecr: Any, ref: ImageRef) -> str:
    """The digest `ref.tag` points to now; UserError (exit 2) when the tag or repository does not exist."""
    from botocore.exceptions import ClientError

    where = f"{ref.uri}"
    try:
        response = ecr.batch_get_image(registryId=ref.account, repositoryName=ref.repository,
                                       imageIds=[{"imageTag": ref.tag}], acceptedMediaTypes=MEDIA_TYPES)
    except ClientError as exc:
        code = error_code(exc)
        if code == "RepositoryNotFoundException":
            raise UserError(f"--regions: {where}: repository '{ref.repository}' does not exist in registry "
                            f"{ref.account} ({ref.region}); fix: check the framework and region") from None
        if code in ("AccessDeniedException", "AccessDenied"):
            return _describe_digest(ecr, ref, exc)
        raise
    for image in response.get("images", []):
        digest = image.get("imageId", {}).get("imageDigest")
        if digest and DIGEST.match(digest):
            return digest
    failure = (response.get("failures") or [{}])[0]
    code = failure.get("failureCode", "no image returned")
    raise UserError(f"--framework-version: {where}: tag '{ref.tag}' cannot be resolved in ECR ({code}); "
                    "fix: check the framework version (the tag may not exist in this region)")


def _describe_digest(ecr: Any, ref: ImageRef, denied: Exception) -> str:
    from botocore.exceptions import ClientError

    try:
        details = ecr.describe_images(registryId=ref.account, repositoryName=ref.repository,
                                      imageIds=[{"imageTag": ref.tag}])["imageDetails"]
    except ClientError as exc:
        if error_code(exc) == "ImageNotFoundException":
            raise UserError(f"--framework-version: {ref.uri}: tag '{ref.tag}' does not exist; "
                            "fix: check the framework version") from None
        raise UserError(f"{ref.uri}: ECR refused BatchGetImage and DescribeImages "
                        f"({error_code(denied)}); fix: allow ecr:BatchGetImage on "
                        f"arn:aws:ecr:{ref.region}:{ref.account}:repository/{ref.repository} "
                        "for the credentials you use", Exit.AWS_ERROR) from None
    digest = details[0]["imageDigest"] if details else ""
    if not DIGEST.match(digest):
        raise UserError(f"--framework-version: {ref.uri}: tag '{ref.tag}' cannot be resolved in ECR; "
                        "fix: check the framework version")
    return digest


def digest_state(ecr: Any, account: str, repository: str, digest: str) -> tuple[str, str]:
    """("present" | "missing" | "unverified", detail) for a pinned digest.

    "unverified" means ECR could not be asked (no access, no endpoint): the
    caller reports it without counting it as a mismatch.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = ecr.batch_get_image(registryId=account, repositoryName=repository,
                                       imageIds=[{"imageDigest": digest}], acceptedMediaTypes=MEDIA_TYPES)
    except ClientError as exc:
        code = error_code(exc)
        if code == "RepositoryNotFoundException":
            return "missing", f"repository {repository} not found in registry {account}"
        if code == "ImageNotFoundException":
            return "missing", "image digest not found"
        return "unverified", f"ECR: {code}"
    except BotoCoreError as exc:
        return "unverified", f"ECR unreachable: {exc.__class__.__name__}"
    if any(i.get("imageId", {}).get("imageDigest") == digest for i in response.get("images", [])):
        return "present", ""
    code = (response.get("failures") or [{}])[0].get("failureCode", "")
    if code in ("ImageNotFound", ""):
        return "missing", "image digest not found"
    return "unverified", f"ECR: {code}"
