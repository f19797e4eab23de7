"""Load every adapter pin of a repo (`model_artifacts/<model>/adapters/<adapter>/<version>.yaml`).

Each pin is checked alone (config/adapter_pin.py), then against where it lives and against its
base: the base pin must exist and its weights must be the ones the adapter was trained on. A
model version may not be named `adapters`: its weights prefix would hold every adapter archive,
and SageMaker would load them into /opt/ml/model with the weights.
"""

from __future__ import annotations

from pathlib import Path

from config.adapter_pin import AdapterPin
from config.errors import SpecError
from config.loader import Loaded, load_model
from config.pin import Pin

ADAPTERS_DIR = "adapters"  # under model_artifacts/<model>/


def adapter_pin_path(pins_dir: Path, model: str, adapter: str, version: str) -> Path:
    return pins_dir / model / ADAPTERS_DIR / adapter / f"{version}.yaml"


def load_adapters(root: Path, pins_dir: str, suffixes: tuple[str, ...], pins: dict[tuple[str, str], Pin],
                  errors: list[SpecError], display) -> tuple[dict[tuple[str, str], AdapterPin], dict]:
    """({(adapter, version): AdapterPin}, {(adapter, version): path}); problems go to `errors`."""
    adapters: dict[tuple[str, str], AdapterPin] = {}
    files: dict[tuple[str, str], Path] = {}
    # base pins whose own file failed to load: their errors are reported already
    broken = {(p.parent.name, p.stem) for p in (root / pins_dir).glob("*/*")
              if p.suffix in suffixes and (p.parent.name, p.stem) not in pins}
    for path in sorted((root / pins_dir).glob(f"*/{ADAPTERS_DIR}/*/*")):
        if path.suffix not in suffixes or not path.is_file():
            continue
        shown = display(root, path)
        loaded, found = load_model(AdapterPin, path, shown)
        errors += found
        if not loaded:
            continue
        adapter = loaded.value
        model, name, version = path.parent.parent.parent.name, path.parent.name, path.stem
        if (adapter.base.model, adapter.adapter, adapter.version) != (model, name, version):
            errors.append(loaded.error(("adapter",), f"pins {adapter.base.model} adapter {adapter.adapter}/"
                                       f"{adapter.version} but lives at {shown}",
                                       f"move it to {pins_dir}/{adapter.base.model}/{ADAPTERS_DIR}/"
                                       f"{adapter.adapter}/{adapter.version}{path.suffix}"))
            continue
        if adapter.ref in adapters:
            errors.append(loaded.error(("adapter",), f"adapter {name}/{version} is pinned under two models",
                                       "adapter names are unique: rename one"))
            continue
        if (adapter.base.model, adapter.base.version) not in broken:
            errors += _base_errors(loaded, pins)
        adapters[adapter.ref] = adapter
        files[adapter.ref] = path
    for model, version in pins:
        if version == ADAPTERS_DIR:
            errors.append(SpecError(f"{pins_dir}/{model}/{version}.yaml", "version",
                                    f"a version named '{ADAPTERS_DIR}' would have the adapters' prefix "
                                    f"{model}/{ADAPTERS_DIR}/ as its weights", "name the version otherwise"))
    return adapters, files


def _base_errors(loaded: Loaded[AdapterPin], pins: dict[tuple[str, str], Pin]) -> list[SpecError]:
    adapter = loaded.value
    problem = adapter.base_problem(pins.get((adapter.base.model, adapter.base.version)))
    return [loaded.error(("base",), *problem)] if problem else []
