"""Load every environment config and pin manifest of a repo, and check them together.

`load_project` is the single entry point for the stacks and the scripts: it
either returns a fully valid `Project` or raises `SpecErrors` with every
problem in every file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from config import naming
from config.adapter_pin import AdapterPin
from config.adapters import load_adapters
from config.catalog import INSTANCES, SUPPORTED_FAMILY, GpuInstance, sagemaker_instance_types
from config.components import ComponentEndpoint, LoraCapacity, base_container_environment, rolling_room_problem
from config.environment import Endpoint, Environment
from config.errors import Invalid, SpecError, SpecErrors
from config.fit import gpu_fit
from config.github import GitHub, load_github
from config.loader import Loaded, load_model
from config.pin import Approval, ApprovalStatus, Framework, Pin
from config.registry_content import registry_content
from config.registry_retention import limit_problem
from config.serving_env import container_environment

ENVIRONMENTS_DIR = "environments"
PINS_DIR = "model_artifacts"
SUFFIXES = (".yaml", ".yml", ".json")
MAX_ENDPOINT_NAME = 63
MAX_BUCKET_NAME = 63


@dataclass(frozen=True)
class Project:
    root: Path
    environments: dict[str, Environment]
    pins: dict[tuple[str, str], Pin]
    pin_files: dict[tuple[str, str], Path] = field(default_factory=dict)
    github: GitHub | None = None  # github.yaml: who may deploy from GitHub Actions (optional)
    adapters: dict[tuple[str, str], AdapterPin] = field(default_factory=dict)  # (adapter, version)
    adapter_files: dict[tuple[str, str], Path] = field(default_factory=dict)

    def pin_for(self, endpoint: Endpoint) -> Pin:
        return self.pins[(endpoint.model, endpoint.version)]

    def shadow_pin_for(self, endpoint: Endpoint) -> Pin | None:
        return self.pins[(endpoint.model, endpoint.shadow_version)] if endpoint.shadow_version else None

    def versions_of(self, model: str) -> list[str]:
        return sorted(v for m, v in self.pins if m == model)


def load_project(root: Path, only_env: str | None = None) -> Project:
    root = Path(root)
    errors: list[SpecError] = []
    pins, pin_files, broken_pins = _load_pins(root, errors)
    adapters, adapter_files = load_adapters(root, PINS_DIR, SUFFIXES, {k: p.value for k, p in pins.items()}, errors,
                                            _display)
    environments: dict[str, Loaded[Environment]] = {}
    env_files = _files(root / ENVIRONMENTS_DIR)
    for path in env_files:
        loaded, found = load_model(Environment, path, _display(root, path))
        errors += found
        if loaded:
            if loaded.value.name != path.stem:
                errors.append(loaded.error(("name",), f"name '{loaded.value.name}' differs from the file name",
                                           f"rename the file to {loaded.value.name}{path.suffix} or set name: {path.stem}"))
            environments[loaded.value.name] = loaded
    if not environments and not errors:
        errors.append(SpecError(f"{ENVIRONMENTS_DIR}/", "", "no environment config found",
                                f"add {ENVIRONMENTS_DIR}/<name>.yaml (see docs/configuration.md)"))
    if only_env is not None and only_env not in environments and not errors:
        errors.append(SpecError(f"{ENVIRONMENTS_DIR}/", "", f"no environment named '{only_env}'",
                                f"use one of: {', '.join(sorted(environments))}"))
    # Cross-file checks name only files that exist, and skip pins that failed
    # to load: their own errors are reported already.
    env_names = {p.stem for p in env_files}
    pin_values = {k: p.value for k, p in pins.items()}
    for loaded in environments.values():
        errors += check_environment(loaded, env_names, pin_values, broken_pins, adapters=adapters)
    github, found = load_github(root, env_names, {n: e.value for n, e in environments.items()})
    errors += found
    if errors:
        raise SpecErrors(errors)
    selected = {n: e.value for n, e in environments.items() if only_env in (None, n)}
    return Project(root, selected, pin_values, pin_files, github, adapters, adapter_files)


def _files(directory: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in directory.glob(pattern) if p.suffix in SUFFIXES and p.is_file())


def _display(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _load_pins(root: Path, errors: list[SpecError]) -> tuple[dict, dict, set]:
    pins: dict[tuple[str, str], Loaded[Pin]] = {}
    files: dict[tuple[str, str], Path] = {}
    broken: set[tuple[str, str]] = set()
    for path in _files(root / PINS_DIR, "*/*"):
        display = _display(root, path)
        loaded, found = load_model(Pin, path, display)
        errors += found
        if not loaded:
            broken.add((path.parent.name, path.stem))
            continue
        pin = loaded.value
        expected = (path.parent.name, path.stem)
        if pin.ref != expected:
            errors.append(loaded.error(("model",), f"pins {pin.model}/{pin.version} but lives at {display}",
                                       f"move it to {PINS_DIR}/{pin.model}/{pin.version}{path.suffix}"))
            continue
        if pin.ref in pins:
            errors.append(loaded.error(("version",), f"{pin.model}/{pin.version} is pinned twice",
                                       "keep one file per version"))
            continue
        try:
            if pin.registry is None:  # schema 1: its environment is derived (schema 2 carries it, checked)
                container_environment(pin)
        except Invalid as exc:
            errors.append(loaded.error(("serving", "extra_env"), exc.problem, exc.fix))
        pins[pin.ref] = loaded
        files[pin.ref] = path
    return pins, files, broken


def check_environment(loaded: Loaded[Environment], env_names: set[str], pins: dict[tuple[str, str], Pin],
                      broken_pins: frozenset | set = frozenset(),
                      without_rollback_alarms: frozenset[str] = frozenset(),
                      adapters: dict | None = None) -> list[SpecError]:
    """The checks that need the pins (and the other environments' names) as well as the config.
    `without_rollback_alarms`: endpoint keys deployed without alarm auto-rollback (a `rollback`'s
    override), whose waits need not cover the alarms' window. `adapters`: the adapter pins (None:
    a deployment override, whose adapters were checked with the config)."""
    env = loaded.value
    errors: list[SpecError] = []
    if env.promote_after is not None and env.promote_after not in env_names - {env.name}:
        errors.append(loaded.error(("promote_after",), f"no other environment named '{env.promote_after}'",
                                   f"use one of: {', '.join(sorted(env_names - {env.name}))}"))
    limit = limit_problem(env, pins)
    if limit:
        errors.append(loaded.error(("keep_versions",), *limit))
    for key, bucket in (("weights_bucket", env.weights_bucket_name), ("name", env.capture_bucket_name)):
        if len(bucket) > MAX_BUCKET_NAME:
            errors.append(loaded.error((key,), f"bucket name '{bucket}' is longer than S3's {MAX_BUCKET_NAME}",
                                       "set weights_bucket explicitly, or shorten the environment name"))
    for name, endpoint in env.endpoints.items():
        at = ("endpoints", name)
        full_name = env.endpoint_name(name)
        if len(full_name) > MAX_ENDPOINT_NAME:
            errors.append(loaded.error(at, f"endpoint name '{full_name}' is longer than {MAX_ENDPOINT_NAME}",
                                       "shorten the endpoint key or the environment name"))
        errors += _check_instance(loaded, at, endpoint)
        errors += _check_shadow(loaded, at, endpoint, pins, broken_pins)
        if name not in without_rollback_alarms:
            # Here, not in the Endpoint model: a rollback's override deploys without alarm rollback.
            errors += [loaded.error(at + tuple(p.field.split(".")), p.problem, p.fix)
                       for p in endpoint.rollback_window_problems()]
        pin = pins.get((endpoint.model, endpoint.version))
        if (endpoint.model, endpoint.version) in broken_pins:
            continue
        if pin is None:
            known = sorted(v for m, v in pins if m == endpoint.model)
            fix = (f"use a pinned version ({', '.join(known)})" if known
                   else f"pin {endpoint.model} first (python -m scripts pin-weights)")
            errors.append(loaded.error(at + ("version",),
                                       f"no pin {PINS_DIR}/{endpoint.model}/{endpoint.version}.yaml", fix))
            continue
        errors += _check_pin_on_endpoint(loaded, at, endpoint, pin)
    for name, component_endpoint in env.component_endpoints.items():
        errors += _check_component_endpoint(loaded, name, component_endpoint, pins, broken_pins, adapters)
    return errors


def _instance_problem(instance_type: str, allow_non_g5: bool) -> tuple[str, str] | None:
    """(problem, fix) when an instance type is unknown to SageMaker or this project, or not opted in."""
    instance = INSTANCES.get(instance_type)
    if instance is None or instance_type not in sagemaker_instance_types():
        g5 = ", ".join(i for i in sorted(INSTANCES) if i.startswith(f"ml.{SUPPORTED_FAMILY}."))
        return f"'{instance_type}' is not a GPU instance type this project supports", f"use an ml.g5 type: {g5}"
    if instance.family != SUPPORTED_FAMILY and not allow_non_g5:
        return (f"'{instance_type}' is not ml.g5",
                "use ml.g5, or set allow_non_g5_instance: true on this endpoint to opt in")
    return None


def _image_problem(pin: Pin, region: str) -> tuple[str, str] | None:
    if region in pin.container.images:
        return None
    return (f"{pin.model}/{pin.version} has no image pinned for {region}",
            f"python -m scripts pin-image --model {pin.model} --version {pin.version} --regions {region}")


def _placement_problem(pin: Pin, instance: GpuInstance, label: str) -> tuple[str, str] | None:
    """(problem, fix) when tensor parallelism does not match the GPUs or the model does not fit them."""
    tp = pin.serving.tensor_parallel_degree
    if tp != instance.gpus:
        return (f"{label} uses tensor_parallel_degree {tp} but {instance.name} has {instance.gpus} GPU(s)",
                f"choose an instance with {tp} GPU(s) or pin a version with tensor_parallel_degree {instance.gpus}")
    fit = gpu_fit(pin, instance)
    if not fit.fits:
        return (f"{label} does not fit {instance.name}: per GPU {fit.usable_gib:.1f} GiB usable, "
                f"weights {fit.weights_gib:.1f} GiB, KV cache for {pin.resources.min_concurrent_sequences} "
                f"sequence(s) of {pin.serving.max_model_len} tokens needs {fit.kv_needed_gib:.1f} GiB "
                f"but only {max(fit.kv_available_gib, 0):.1f} GiB is left",
                "choose an instance with more GPU memory, or pin lower serving.max_model_len / "
                "resources.min_concurrent_sequences")
    return None


def _registered_type_problem(pin: Pin, instance_type: str) -> tuple[str, str] | None:
    """The version's registry package lists the instance types it is meant for
    (SupportedRealtimeInferenceInstanceTypes); the one an endpoint really uses must be among them."""
    listed = registry_content(pin).instance_types
    if instance_type in listed:
        return None
    return (f"{instance_type} is not among the instance types {pin.model}/{pin.version}'s registry package lists "
            f"({', '.join(listed) or 'none'})",
            "pin a new version (pin-weights; its package lists every GPU type the model fits, any family), or "
            "use a listed type")


def _check_instance(loaded: Loaded[Environment], at: tuple, endpoint: Endpoint) -> list[SpecError]:
    problem = _instance_problem(endpoint.instance_type, endpoint.allow_non_g5_instance)
    return [loaded.error(at + ("instance_type",), *problem)] if problem else []


def _check_shadow(loaded: Loaded[Environment], at: tuple, endpoint: Endpoint, pins: dict,
                  broken_pins: set) -> list[SpecError]:
    """The shadow version: pinned, deployable here, fits its instance. Approval is not required:
    a shadow answers nobody, and its captured answers are how a version earns approval."""
    if endpoint.shadow_version is None or (endpoint.model, endpoint.shadow_version) in broken_pins:
        return []
    where = at + ("shadow_version",)
    pin = pins.get((endpoint.model, endpoint.shadow_version))
    if pin is None:
        known = sorted(v for m, v in pins if m == endpoint.model)
        return [loaded.error(where, f"no pin {PINS_DIR}/{endpoint.model}/{endpoint.shadow_version}.yaml",
                             f"use a pinned version of {endpoint.model} ({', '.join(known) or 'none yet'})")]
    image = _image_problem(pin, loaded.value.region)
    if image:
        return [loaded.error(where, *image)]
    instance_type = endpoint.shadow_instance_type or endpoint.instance_type
    if endpoint.shadow_instance_type is not None:
        where = at + ("shadow_instance_type",)
        problem = _instance_problem(instance_type, endpoint.allow_non_g5_instance)
        if problem:
            return [loaded.error(where, *problem)]
    instance = INSTANCES.get(instance_type)
    if instance is None:
        return []  # the endpoint's own instance_type error is reported already
    allowed = _instance_problem(instance_type, endpoint.allow_non_g5_instance) is None  # else reported
    placement = (_placement_problem(pin, instance, f"shadow {pin.model}/{pin.version}")
                 or (_registered_type_problem(pin, instance_type) if allowed else None))
    return [loaded.error(where, *placement)] if placement else []


def _check_pin_on_endpoint(loaded: Loaded[Environment], at: tuple, endpoint: Endpoint, pin: Pin) -> list[SpecError]:
    env = loaded.value
    errors = []
    label = f"{pin.model}/{pin.version}"
    approval = approval_problem(env, label, pin.approval, f"python -m scripts approve --model {pin.model} "
                                                          f"--version {pin.version} --report ...")
    if approval:
        errors.append(loaded.error(at + ("version",), *approval))
    image = _image_problem(pin, env.region)
    if image:
        errors.append(loaded.error(at + ("version",), *image))
    gpu_alarm = gpu_alarm_problem(endpoint.alarms.gpu_memory_percent, pin, label)
    if gpu_alarm:
        errors.append(loaded.error(at + ("alarms", "gpu_memory_percent"), *gpu_alarm))
    instance = INSTANCES.get(endpoint.instance_type)
    allowed = _instance_problem(endpoint.instance_type, endpoint.allow_non_g5_instance) is None  # else reported
    placement = ((_placement_problem(pin, instance, label)
                  or (_registered_type_problem(pin, endpoint.instance_type) if allowed else None))
                 if instance else None)  # unknown: _check_instance
    if placement:
        errors.append(loaded.error(at + ("instance_type",), *placement))
    return errors


def approval_problem(env: Environment, label: str, approval: Approval, approve: str) -> tuple[str, str] | None:
    """(problem, fix) when a version may not serve in `env`: Rejected anywhere, or not Approved where
    approval is required. `approve` is the command that would approve it."""
    if approval.status is ApprovalStatus.REJECTED:
        return (f"{label} was rejected ({approval.evidence or 'no evidence'})",
                "serve another version; a rejected version never serves, in any environment")
    if env.require_approved_versions and approval.status is not ApprovalStatus.APPROVED:
        return (f"{label} is {approval.status.value}, and {env.name} serves approved versions only",
                f"approve it first ({approve}) or pick an approved version")
    return None


def gpu_alarm_problem(gpu_memory_percent: float, pin: Pin, label: str) -> tuple[str, str] | None:
    reserved = pin.serving.gpu_memory_utilization * 100
    if gpu_memory_percent > reserved:
        return None
    # vLLM/TGI reserve this share of GPU memory at start-up: the alarm would never clear.
    return (f"{gpu_memory_percent:g}% is at or below the {reserved:g}% of GPU memory that {label} reserves at "
            "start-up (serving.gpu_memory_utilization), so the alarm would always fire",
            f"set alarms.gpu_memory_percent above {reserved:g}, e.g. {min(99, reserved + 5):g}")


def _check_component_endpoint(loaded: Loaded[Environment], key: str, endpoint: ComponentEndpoint, pins: dict,
                              broken_pins: set | frozenset, adapters: dict | None) -> list[SpecError]:
    """A component endpoint against the environment and the pins: names, scale to zero allowed here,
    the base pin (approved, deployable, fits, LMI with LoRA when adapters are served) and each adapter
    pin (trained on this base's weights, rank within the base's max_lora_rank, approved)."""
    env, at = loaded.value, ("component_endpoints", key)
    errors = []
    names = [env.endpoint_name(key)] + [naming.inference_component(env.endpoint_name(key), c) for c in endpoint.components]
    errors += [loaded.error(at, f"name '{n}' is longer than {MAX_ENDPOINT_NAME}",
                            "shorten the endpoint key, the component ids or the environment name")
               for n in names if len(n) > MAX_ENDPOINT_NAME]
    if key in env.endpoints:
        errors.append(loaded.error(at, f"'{key}' is also under endpoints: both would be endpoint {names[0]}",
                                   "give the component endpoint another key"))
    allowed = env.allow_scale_to_zero if env.allow_scale_to_zero is not None else not env.production
    if endpoint.scales_to_zero and not allowed:
        errors.append(loaded.error(at + ("instances", "min"),
                                   f"{env.name} does not allow scaling to zero (requests fail for minutes while an "
                                   "endpoint comes back from zero)",
                                   "set instances.min and base.copies.min to 1, or allow_scale_to_zero: true"
                                   + (" (production: only after deciding that callers can wait)"
                                      if env.production else "")))
    if env.production and not endpoint.scales_to_zero and endpoint.alarms.no_traffic_minutes is None:
        errors.append(loaded.error(at + ("alarms", "no_traffic_minutes"), f"component endpoint {key} has no "
                                   "alarms.no_traffic_minutes", "production endpoints need a no-traffic alarm"))
    problem = _instance_problem(endpoint.instance_type, endpoint.allow_non_g5_instance)
    if problem:
        errors.append(loaded.error(at + ("instance_type",), *problem))
    base = endpoint.base
    if (base.model, base.version) in broken_pins:
        return errors
    pin = pins.get((base.model, base.version))
    if pin is None:
        return errors + [loaded.error(at + ("base", "version"), f"no pin {PINS_DIR}/{base.model}/{base.version}.yaml",
                                      f"pin {base.model} first (python -m scripts pin-weights)")]
    errors += [loaded.error(at + ("base", "version"), *p) for p in (
        approval_problem(env, f"{pin.model}/{pin.version}", pin.approval,
                         f"python -m scripts approve --model {pin.model} --version {pin.version} --report ..."),
        _image_problem(pin, env.region), _lora_problem(pin, base.lora if endpoint.adapters else None)) if p]
    gpu_alarm = gpu_alarm_problem(endpoint.alarms.gpu_memory_percent, pin, f"{pin.model}/{pin.version}")
    if gpu_alarm:
        errors.append(loaded.error(at + ("alarms", "gpu_memory_percent"), *gpu_alarm))
    instance = INSTANCES.get(endpoint.instance_type)
    placement = ((_placement_problem(pin, instance, f"{pin.model}/{pin.version}")
                  or (_registered_type_problem(pin, endpoint.instance_type) if problem is None else None))
                 if instance else None)
    if placement:
        errors.append(loaded.error(at + ("instance_type",), *placement))
    room = rolling_room_problem(endpoint, instance.gpus, pin.serving.tensor_parallel_degree,
                                endpoint.instance_type) if instance else None
    if room:
        errors.append(loaded.error(at + ("instances", "max"), *room))
    if adapters is None:  # a deployment override: the adapters were checked with the config
        return errors
    for component_id, component in endpoint.adapters.items():
        where = at + ("adapters", component_id)
        adapter = adapters.get((component.adapter, component.version))
        if adapter is None:
            known = sorted(v for a, v in adapters if a == component.adapter)
            errors.append(loaded.error(where + ("version",), f"no adapter pin {PINS_DIR}/{base.model}/adapters/"
                                       f"{component.adapter}/{component.version}.yaml",
                                       f"use a pinned version ({', '.join(known)})" if known else
                                       "pin it first (python -m scripts pin-adapter)"))
            continue
        problems = [approval_problem(env, adapter.label, adapter.approval,
                                     f"python -m scripts approve --adapter {adapter.adapter} --version "
                                     f"{adapter.version} --report ...")]
        if adapter.base.model != base.model:
            problems.append((f"{adapter.label} adapts {adapter.base.model}, the base component serves {base.model}",
                             f"pin {component.adapter} against {base.model}, or serve it on a {adapter.base.model} base"))
        else:
            problems.append(adapter.base_problem(pin))
        if adapter.lora.rank > base.lora.max_lora_rank:
            problems.append((f"{adapter.label} has rank {adapter.lora.rank}, above the base's lora.max_lora_rank "
                             f"{base.lora.max_lora_rank}", f"raise base.lora.max_lora_rank to at least "
                                                           f"{adapter.lora.rank}"))
        errors += [loaded.error(where + ("version",), *p) for p in problems if p]
    return errors


def _lora_problem(pin: Pin, lora: LoraCapacity | None) -> tuple[str, str] | None:
    """Adapter components need LMI >= 0.31 (efficient multi-adapter inference; aws-samples
    sagemaker-genai-hosting-examples, multi_adapter_hosting.ipynb) and room for the LoRA options
    among the container's 16 environment entries. None: no adapters, nothing to check."""
    if lora is None:
        return None
    if pin.container.framework is not Framework.DJL_LMI or _version(pin.container.framework_version) < (0, 31):
        return (f"{pin.model}/{pin.version} runs {pin.container.framework.value} {pin.container.framework_version}; "
                "adapter components need LMI (djl-lmi) 0.31.0 or later",
                "serve a base version pinned on djl-lmi >= 0.31.0")
    try:
        base_container_environment(pin, lora, with_adapters=True)
    except Invalid as exc:
        return (exc.problem, exc.fix)
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])
