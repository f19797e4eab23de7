"""Every AWS name this project derives from the config, defined once.

Stacks, commands, the emulator lab and the tests all name things through
these functions, so a stack, bucket, alarm or registry group is found under
the same name by the code that creates it and the code that reads it.
`endpoint_id` is an endpoint's key under `endpoints:` in environments/<env>.yaml
(e.g. intent-3b); `env` an environment's name (e.g. dev).

Names are fixed where something outside CloudFormation refers to them: the
endpoint (applications), alarms (the endpoint's AutoRollbackConfiguration and
operators), the registry groups (EventBridge rules, `approve`), the key alias
(roles in other stacks) and the deploy role (GitHub workflows derive its ARN).
"""

from __future__ import annotations

PREFIX = "llama"


def stack_prefix(env: str) -> str:
    """Every stack of an environment starts with this (the deploy role may touch only these)."""
    return f"{PREFIX}-{env}-"


def artifacts_stack(env: str) -> str:
    """The environment's weights and capture buckets, key and Model Registry groups; every endpoint
    stack of the environment imports from it, so `promote` synthesizes it with the endpoint's."""
    return f"{stack_prefix(env)}artifacts"


def endpoint_stack(env: str, endpoint_id: str) -> str:
    """One endpoint (or component endpoint) with its alarms and autoscaling: what `promote` deploys
    and `status` and `rollback` read the deployment state of."""
    return f"{stack_prefix(env)}{endpoint_id}"


def routing_stack(env: str, endpoint_id: str) -> str:
    """The client's routing parameter of one endpoint, alone in its stack: `route` deploys only it."""
    return f"{endpoint_stack(env, endpoint_id)}-routing"


def client_parameter_prefix(env: str, endpoint_id: str) -> str:
    """The client reads `<this>routing` and `<this>serving` (SSM; pinned_llama_client.settings)."""
    return f"/{PREFIX}/{env}/{endpoint_id}/"


def client_log_group(env: str, endpoint_id: str) -> str:
    """Where applications may send the client's EMF lines (CloudWatchLogsSink), and shadow-report reads them."""
    return f"{client_parameter_prefix(env, endpoint_id)}client"


def client_policy(env: str, endpoint_id: str) -> str:
    """The managed policy an application role attaches to use the client on this endpoint (named
    after the endpoint's stack, which creates it)."""
    return f"{endpoint_stack(env, endpoint_id)}-client"


def github_deploy_stack(env: str) -> str:
    """Also the deploy role's fixed name."""
    return f"{stack_prefix(env)}github-deploy"


def endpoint(env: str, endpoint_id: str) -> str:
    """The SageMaker endpoint name applications call."""
    return f"{env}-{endpoint_id}"


def package_group(env: str, model: str) -> str:
    """The Model Registry group holding every pinned version of `model` in `env`."""
    return f"{env}-{model}"


def weights_bucket(env: str, account: str, region: str) -> str:
    """The default when environments/<env>.yaml sets no `weights_bucket` (account and region in the
    name: bucket names are global). The artifacts stack creates it; `pin --env`, `verify` and
    promote's gates find the weights there."""
    return f"{PREFIX}-weights-{env}-{account}-{region}"


def capture_bucket(env: str, account: str, region: str) -> str:
    """Where the endpoints' data capture writes and `shadow-report` reads; named like the weights bucket."""
    return f"{PREFIX}-capture-{env}-{account}-{region}"


def capture_prefix(endpoint_name: str) -> str:
    """Data capture writes under s3://<capture bucket>/<endpoint>/<variant>/yyyy/mm/dd/hh/."""
    return f"{endpoint_name}/"


def key_alias(env: str) -> str:
    """The environment key's alias: how roles outside the artifacts stack find it without its id."""
    return f"alias/{PREFIX}-{env}"


def alarm(endpoint_name: str, signal: str) -> str:
    """<endpoint>-<signal>, e.g. dev-intent-3b-5xx: every alarm of an endpoint shares its name as prefix."""
    return f"{endpoint_name}-{signal}"


def alarm_prefix(endpoint_name: str) -> str:
    return f"{endpoint_name}-"


# The signals of a bad version: the alarms of an endpoint's AutoRollbackConfiguration
# (stacks/constructs/endpoint_alarms.py `rollback_alarms`; tests hold the two together).
# GPU memory, disk and no-traffic notify only.
ROLLBACK_SIGNALS = ("5xx", "4xx-rate", "latency-p99")


def rollback_alarms(endpoint_name: str) -> list[str]:
    """The alarms that roll a deployment of this endpoint back, and so gate a promotion."""
    return [alarm(endpoint_name, signal) for signal in ROLLBACK_SIGNALS]


def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def deploy_role_arn(env: str, account: str, region: str) -> str:
    """The GitHub deploy role of an environment (stacks/github_deploy_stack.py), known without AWS."""
    return f"arn:{partition(region)}:iam::{account}:role/{github_deploy_stack(env)}"


def inference_component(endpoint_name: str, component_id: str) -> str:
    """An inference component's fixed name, <endpoint>-<component>: what InvokeEndpoint's
    InferenceComponentName, the component's scalable target (inference-component/<name>) and its
    alarms (<name>-<signal>, under the endpoint's alarm prefix) are found by."""
    return f"{endpoint_name}-{component_id}"


def adapter_prefix(model: str, adapter: str, version: str) -> str:
    """Where an adapter version's archive lives in the weights bucket: under its base model's prefix."""
    return f"{model}/adapters/{adapter}/{version}/"


def _lock_file(owner: str, kind: str = "") -> str:
    """<owner>[.<kind>].lock: the one rule for the lock files in history/.locks/ of a checkout, so
    each kind of lock (promotion, `route`, config edit) gets its own file per owner."""
    return f"{owner}.{kind}.lock" if kind else f"{owner}.lock"


def route_lock_file(env: str, endpoint_id: str) -> str:
    """The `route` lock of one endpoint in a checkout (history/.locks/<this>)."""
    return _lock_file(endpoint(env, endpoint_id), "route")


def lock_file(env: str, endpoint_id: str) -> str:
    """The promotion lock of one endpoint in a checkout (history/.locks/<this>)."""
    return _lock_file(endpoint(env, endpoint_id))


def config_lock_file(env: str) -> str:
    """The lock every edit of environments/<env>.yaml takes in a checkout (history/.locks/<this>)."""
    return _lock_file(env, "config")


# Keys that name a pinned version on what AWS holds: a registry package's CustomerMetadataProperties
# and the tags of a Model built from the pin itself (stacks/constructs/pinned_model_package.py);
# `promote`, `status` and `approve` read them back.
PIN_MODEL, PIN_VERSION, PIN_MANIFEST = "pin-model", "pin-version", "pin-manifest-sha256"


def pin_identity(model: str, version: str, manifest_sha256: str) -> dict[str, str]:
    return {PIN_MODEL: model, PIN_VERSION: version, PIN_MANIFEST: manifest_sha256}
