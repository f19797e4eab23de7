"""boto3 clients with one retry policy; AWS_ENDPOINT_URL (moto, the emulator) is honoured by boto3."""

from __future__ import annotations

from functools import lru_cache

import boto3
from botocore.config import Config

# Adaptive retries back off on throttling before a command gives up.
RETRIES = Config(retries={"max_attempts": 10, "mode": "adaptive"}, connect_timeout=10, read_timeout=60)


@lru_cache(maxsize=None)
def client(service: str, region: str | None = None):
    return boto3.session.Session().client(service, region_name=region, config=RETRIES)


def describe_error(exc: Exception) -> str:
    """One line for a botocore error: the AWS code and message, no traceback."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    operation = getattr(exc, "operation_name", "")
    if error:
        return f"AWS {operation} failed: {error.get('Code')}: {error.get('Message')}"
    return f"AWS call failed: {exc}"
