"""Errors InvokeEndpoint answers instead of a body, for the emulator's `responder` to raise.

The shapes are SageMaker runtime's (botocore's sagemaker-runtime service model, InvokeEndpoint;
the same as localaws/runtime_endpoint.py answers on loopback):

- `model_error(status, body)`: the container answered non-2xx: `ModelError` (HTTP 424) with
  `OriginalStatusCode`, `OriginalMessage`, `LogStreamArn` and SageMaker's "Received server error
  (N) from primary with message" text;
- `throttling()`: SageMaker's own `ThrottlingException` (400, Common Errors);
- `not_ready()`: `ModelNotReadyException` (429);
- `no_capacity()`: an endpoint whose inference components are scaled to zero: `ValidationError`
  (400) "Inference Component has no capacity to process this request. ApplicationAutoScaling may
  be in-progress (if configured) or try to increase the capacity by invoking
  UpdateInferenceComponentRuntimeConfig API." (AWS ML blog, "Unlock cost savings with the new
  scale down to zero feature in SageMaker Inference", December 2024).
"""

from __future__ import annotations

import json
from typing import Any

NO_CAPACITY_MESSAGE = ("Inference Component has no capacity to process this request. ApplicationAutoScaling may be "
                       "in-progress (if configured) or try to increase the capacity by invoking "
                       "UpdateInferenceComponentRuntimeConfig API.")


class InvokeFault(Exception):
    """Raised by a responder: the InvokeEndpoint call answers `status` with this error."""

    def __init__(self, status: int, code: str, body: dict[str, Any]):
        super().__init__(f"{code} ({status})")
        self.status, self.code, self.body = status, code, body

    def response(self) -> tuple[int, dict[str, str], str]:
        # moto's server takes the status from the headers' "status" when a handler sets one
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": self.code, "status": str(self.status)}
        return self.status, headers, json.dumps(self.body)


def model_error(endpoint: str, status: int, container_body: dict[str, Any] | str, account: str = "111111111111",
                region: str = "us-east-1") -> InvokeFault:
    original = container_body if isinstance(container_body, str) else json.dumps(container_body)
    return InvokeFault(424, "ModelError", model_error_body(endpoint, status, original, account, region))


def throttling() -> InvokeFault:
    return InvokeFault(400, "ThrottlingException", {"message": "Rate exceeded"})


def not_ready() -> InvokeFault:
    return InvokeFault(429, "ModelNotReadyException", {"message": "Model is not ready: try again later"})


def no_capacity() -> InvokeFault:
    return InvokeFault(400, "ValidationError", {"message": NO_CAPACITY_MESSAGE})


def model_error_body(endpoint: str, status: int, original: str, account: str = "111111111111", region: str = "us-east-1") -> dict:
    """SageMaker runtime's ModelError body for a container's non-2xx answer (also the emulator's)."""
    kind = "client" if status < 500 else "server"
    log_group = f"/aws/sagemaker/Endpoints/{endpoint}"
    return {"ErrorCode": "CLIENT_ERROR_FROM_MODEL" if kind == "client" else "INTERNAL_FAILURE_FROM_MODEL",
            "LogStreamArn": f"arn:aws:logs:{region}:{account}:log-group:{log_group}",
            "Message": f'Received {kind} error ({status}) from primary with message "{original}". See '
                       f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:"
                       f"group={log_group} in account {account} for more information.",
            "OriginalMessage": original, "OriginalStatusCode": status}
