"""Which pinned versions an environment keeps registered and exported, within CloudFormation's limits.

Every registered version is a ModelPackage and an export of the artifacts stack, and a template
holds at most 200 outputs and 500 resources (CloudFormation quotas): registering every version
forever stops the artifacts stack from deploying after a couple of hundred pins. An environment
keeps, per model it serves:

- every version live or shadow there (an endpoint stack imports its export: CloudFormation
  refuses to remove an export in use);
- the newest `keep_versions` pinned versions (by version name, numbers compared as numbers:
  v2 < v10), the candidates for promotion and the rollback targets.

A version that drops out is retired: its resource leaves the template, and since packages are
`DeletionPolicy: Retain` the package stays in the registry with its history (approval, metadata).
Registering it again later creates a new registry version of the same pin (`find_package` takes
the newest). Validation refuses an environment that would go above the limits, with the count.
"""

from __future__ import annotations

import re

from config.environment import Environment
from config.pin import Pin

OUTPUT_LIMIT = 200  # CloudFormation: outputs per template
RESOURCE_LIMIT = 500  # CloudFormation: resources per template
# The artifacts stack's own exports (the key's ARN today) and its fixed resources (key, alias, three
# buckets and policies), with room for a few more of each.
RESERVED_OUTPUTS = 10
RESERVED_RESOURCES = 30


def version_order(version: str) -> tuple:
    """v2 < v10 < v10a; 2025-01-05 < 2025-02-01."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", version))


def registered_pins(env: Environment, pins: dict[tuple[str, str], Pin]) -> list[Pin]:
    """The versions `env`'s artifacts stack registers and exports (see the module docstring)."""
    kept: set[tuple[str, str]] = set()
    bases = [c.base for c in env.component_endpoints.values()]  # component endpoints' base models
    for model in sorted({e.model for e in env.endpoints.values()} | {b.model for b in bases}):
        deployable = sorted((p for p in pins.values() if p.model == model and env.region in p.container.images),
                            key=lambda p: version_order(p.version))
        kept |= {p.ref for p in deployable[-env.keep_versions:]}
    kept |= {(e.model, v) for e in env.endpoints.values() for v in (e.version, e.shadow_version) if v}
    kept |= {(b.model, b.version) for b in bases}
    return [pins[ref] for ref in sorted(kept) if ref in pins]


def limit_problem(env: Environment, pins: dict[tuple[str, str], Pin]) -> tuple[str, str] | None:
    """(problem, fix) when the artifacts stack would hold more outputs or resources than CloudFormation allows."""
    registered = registered_pins(env, pins)
    models = len({p.model for p in registered})
    outputs, resources = len(registered) + RESERVED_OUTPUTS, len(registered) + models + RESERVED_RESOURCES
    if outputs <= OUTPUT_LIMIT and resources <= RESOURCE_LIMIT:
        return None
    return (f"{len(registered)} registered versions make the artifacts stack hold {outputs} outputs and {resources} "
            f"resources (with {RESERVED_OUTPUTS} outputs and {RESERVED_RESOURCES} resources of its own); CloudFormation "
            f"allows {OUTPUT_LIMIT} outputs and {RESOURCE_LIMIT} resources per template",
            f"lower keep_versions (now {env.keep_versions}): retired versions keep their registry packages")
