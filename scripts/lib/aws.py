"""AWS access for every command: boto3 clients, and one way to tell and describe an AWS error.

AWS_ENDPOINT_URL (moto, the emulator) is honoured by boto3 itself; `data_plane_client` also
takes an explicit endpoint URL (a local fake runtime in tests and benchmarks).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

# Adaptive retries back off on throttling and connection errors before a command gives up.
RETRIES = {"max_attempts": 10, "mode": "adaptive"}


@lru_cache(maxsize=None)
def client(service: str, region: str | None = None, attempts: int | None = None):
    """A control-plane client (cached per service and region) with adaptive retries; AWS_MAX_ATTEMPTS
    (botocore's own variable: total attempts) overrides how many, as users expect it to. `attempts`:
    fewer, for a check that should say "unknown" quickly rather than wait a minute."""
    configured = os.environ.get("AWS_MAX_ATTEMPTS", "")
    total = min(filter(None, (attempts, int(configured) if configured.isdigit() else None)), default=None)
    retries = {"total_max_attempts": total, "mode": "adaptive"} if total else RETRIES
    return _new(service, region, None, retries=retries, connect_timeout=10, read_timeout=60)


def data_plane_client(service: str, region: str | None, endpoint_url: str | None = None, *,
                      pool: int = 10, read_timeout: float = 70, **config: Any):
    """A client of its own for request-heavy work (InvokeEndpoint from evaluate, loadtest): `pool`
    connections and no botocore retries, because the caller counts and retries attempts itself
    (total_max_attempts 1: botocore's `max_attempts` would count retries, not attempts)."""
    return _new(service, region, endpoint_url, retries={"total_max_attempts": 1, "mode": "standard"},
                max_pool_connections=max(10, pool), connect_timeout=10, read_timeout=read_timeout, **config)


def _new(service: str, region: str | None, endpoint_url: str | None, **config: Any):
    """A client from a session of its own (boto3 sessions are not thread-safe to create clients from)
    that shares this process's one botocore data loader."""
    import boto3
    import botocore.session
    from botocore.config import Config

    session = botocore.session.Session()
    session.register_component("data_loader", _loader())
    return boto3.session.Session(botocore_session=session).client(
        service, region_name=region, endpoint_url=endpoint_url, config=Config(**config))


@lru_cache(maxsize=1)
def _loader():
    """botocore's loader of its JSON models (endpoints, partitions, service models), made once: a
    new session would read and parse them again, ~25 ms for SageMaker's model alone, for every
    client. botocore's own sessions share one loader the same way for all their clients."""
    import botocore.loaders
    import botocore.session

    # The search path a session would use: AWS_DATA_PATH or the config file's data_path, then botocore's.
    return botocore.loaders.create_loader(botocore.session.Session().get_config_variable("data_path"))


def is_aws_error(exc: BaseException) -> bool:
    """A botocore/boto3 failure (refused call, no credentials, unreachable endpoint), not a bug here."""
    return type(exc).__module__.startswith(("botocore", "boto3"))


def error_code(exc: BaseException) -> str:
    """The AWS error code of a refused call (ThrottlingException, ...), else the exception's class name."""
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") or exc.__class__.__name__


def describe_error(exc: BaseException) -> str:
    """One line for a botocore error: the AWS code and message, no traceback."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    operation = getattr(exc, "operation_name", "")
    if error:
        return f"AWS {operation} failed: {error.get('Code')}: {error.get('Message')}"
    return f"AWS call failed: {exc}"
