"""The serving container's environment, derived from a pin's serving settings.

Weights arrive through `ModelDataSource` (uncompressed S3 prefix) in
/opt/ml/model, so both containers load from there and never from the Hub.
A model package container takes at most 16 environment entries.
"""

from __future__ import annotations

from config.errors import Invalid
from config.pin import Framework, Pin
from config.registry_v1 import MODEL_DIR, _lmi, _tgi  # noqa: F401 (MODEL_DIR: re-exported)

MAX_ENTRIES = 16


def container_environment(pin: Pin) -> dict[str, str]:
    """Environment variables for the pin's serving container; raises `Invalid` if unusable. The current
    derivation, frozen into each new pin (config/registry_content.py): today the same rendering as
    schema 1's (config/registry_v1.py); a change is made here, never there."""
    base = _lmi(pin) if pin.container.framework is Framework.DJL_LMI else _tgi(pin)
    clashes = sorted(set(base) & set(pin.serving.extra_env))
    if clashes:
        raise Invalid(f"extra_env sets {', '.join(clashes)}, which the serving settings already set",
                      "change the typed serving setting instead of extra_env")
    env = {**base, **pin.serving.extra_env}
    if len(env) > MAX_ENTRIES:
        raise Invalid(f"{len(env)} container environment entries, SageMaker allows {MAX_ENTRIES}",
                      f"remove {len(env) - MAX_ENTRIES} extra_env entries")
    return dict(sorted(env.items()))
