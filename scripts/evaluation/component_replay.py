"""Shadow a component with production's captured traffic: replay the requests, compare the answers.

SageMaker mirrors requests only to a ShadowProductionVariant, and documents data capture for
variants, not for inference components. So a component is shadowed the seed's way (phase 2:
"call both, use production's, compare"): the requests captured on the endpoint that serves
production are sent again, each as captured, to one inference component (InvokeEndpoint with
InferenceComponentName), and each answer pairs with the captured one by eventId
(capture.compare). LMI reads both request forms production may have sent ({"inputs"} and
{"messages"}), so the body goes unchanged. Requests that fail are counted, not retried: a
component at zero copies stops the replay with the reason (it takes minutes to come back).
"""

from __future__ import annotations

import json
from dataclasses import replace

from scripts.evaluation.capture import Record

REPLAYED = "component"


def replay(runtime, endpoint_name: str, component: str, records: list[Record], limit: int) -> tuple[list[Record], dict]:
    """(the component's answers as records paired to production's by eventId, {sent, failed, errors})."""
    from botocore.exceptions import ClientError

    from scripts.evaluation.clients import NO_CAPACITY
    from scripts.lib.errors import Exit, UserError

    answers, failed, errors = [], 0, {}
    chosen = records[-limit:] if limit else records
    for index, record in enumerate(chosen):
        try:
            json.loads(record.request)
        except json.JSONDecodeError:
            failed += 1
            errors["not JSON"] = errors.get("not JSON", 0) + 1
            continue
        try:
            response = runtime.invoke_endpoint(EndpointName=endpoint_name, InferenceComponentName=component,
                                               Body=record.request.encode(), ContentType="application/json",
                                               Accept="application/json")
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", "")
            if NO_CAPACITY in message:
                raise UserError(f"--component: {component} has no copy running (scaled to zero); this request asked "
                                "it back, which takes minutes; fix: rerun shadow-report when `status` shows copies",
                                Exit.AWS_ERROR) from None
            code = exc.response.get("Error", {}).get("Code", "?")
            failed += 1
            errors[code] = errors.get(code, 0) + 1
            continue
        body = response["Body"].read().decode("utf-8", errors="replace")
        event = record.event_id or f"replay-{index}"
        answers.append(replace(record, variant=REPLAYED, source=f"replay of {record.source}", event_id=event,
                               inference_id=record.inference_id, response=body))
    return answers, {"sent": len(chosen), "failed": failed, "errors": errors}
