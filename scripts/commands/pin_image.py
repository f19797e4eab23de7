"""`pin-image`: resolve the serving image of an existing pin to a digest in more regions.

Thin: the lookup and ECR calls are in scripts/pinning/images.py.
"""

from __future__ import annotations

import click

from scripts.lib import flags
from scripts.lib.errors import Problem, UserError, fail
from scripts.lib.output import Output
from scripts.lib.repo import repo_root
from scripts.pinning import manifests
from config.pin import Framework

HELP = """Pin the serving image of an existing pin, by digest, in more regions.

\b
For each region in --regions, the image URI (registry account, repository)
comes from the SageMaker SDK (sagemaker-core's image_uris.retrieve(framework,
region, version, image_scope="inference")); the pin's own container.tag is resolved to
a digest in that region's ECR registry (BatchGetImage), and
<registry>/<repository>@sha256:<digest> is added to container.images. The
manifest is re-sealed (manifest_sha256) and written atomically; its
approval is kept, since framework, version and tag do not change.

\b
Pins are immutable, so pin-image only ever adds regions:
  - the pin must exist: a new version is made by pin-weights (which takes
    --framework/--framework-version/--regions itself, or --like);
  - --framework / --framework-version, if given, must be the pin's: a new
    container is a new version (pin-weights --like V --framework-version X);
  - a region already pinned is re-checked: the same digest is a no-op, a
    different one (the tag was moved) is refused.
A tag that does not exist in a region's registry is refused (exit 2).

\b
Exit codes: 0 pinned or nothing to do, 2 refused (nothing written),
3 AWS error.

\b
Example:
  python -m scripts pin-image --model llama-3-2-3b-instruct --version v2 \\
      --regions us-west-2,eu-central-1
"""


@click.command("pin-image", help=HELP)
@click.option("--model", required=True, help="Model name, e.g. llama-3-2-3b-instruct.")
@click.option("--version", "version", required=True, help="The pinned version, e.g. v2.")
@click.option("--regions", required=True, metavar="R1,R2", help="Regions to pin the image in (comma-separated).")
@click.option("--framework", type=click.Choice([f.value for f in Framework]),
              help="Must match the pin (a check, not a change).")
@click.option("--framework-version", metavar="X.Y.Z", help="Must match the pin (a check, not a change).")
@click.option("--dry-run", is_flag=True, help="Resolve and check, write nothing.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(model: str, version: str, regions: str, framework: str | None, framework_version: str | None,
            dry_run: bool, json_mode: bool | None) -> None:
    root = repo_root()
    out = Output(json_mode)
    region_list, errors = flags.parse_regions(regions)
    errors = flags.check_model(model) + flags.check_version(version) + errors
    if not region_list and not errors:
        errors.append(flags.flag_error("--regions", "empty", "list regions like us-east-1,eu-west-1"))
    fail(errors)

    pin = manifests.load_pin(root, model, version)
    if pin is None:
        raise UserError(f"--version: no pin model_artifacts/{model}/{version}.yaml; fix: create it with "
                        f"python -m scripts pin-weights (with --like or --framework/--framework-version/--regions); "
                        "pin-image only adds regions to an existing pin")
    container = pin.container
    mismatch = []
    if framework and framework != container.framework.value:
        mismatch.append(f"framework {framework} (the pin has {container.framework.value})")
    if framework_version and framework_version != container.framework_version:
        mismatch.append(f"framework version {framework_version} (the pin has {container.framework_version})")
    if mismatch:
        raise UserError(f"--framework-version: {model}/{version}: {' and '.join(mismatch)}; fix: pins are "
                        f"immutable: pin a new version with python -m scripts pin-weights --like {version} "
                        f"--framework-version {framework_version or container.framework_version} ...")

    from scripts.lib.aws import client
    from scripts.pinning import images

    out.event("lookup", f"image URIs from {images.lookup_source()}", source=images.lookup_source())
    added: dict[str, str] = {}
    unchanged: list[str] = []
    refused: list = []
    for region in region_list:
        ref = images.lookup(container.framework.value, container.framework_version, region)
        if ref.tag != container.tag:
            out.event("note", f"{region}: the lookup gives tag {ref.tag}; resolving the pin's tag {container.tag}",
                      region=region, lookup_tag=ref.tag, pinned_tag=container.tag)
            ref = ref.with_tag(container.tag)
        digest = images.resolve_digest(client("ecr", region), ref)
        image = ref.pinned(digest)
        current = container.images.get(region)
        if current == image:
            unchanged.append(region)
            out.event("unchanged", f"{region}: already pinned at {digest}", region=region, digest=digest)
        elif current is not None:
            refused.append(Problem(manifests.display(root, manifests.existing_pin_file(root, model, version)),
                                      f"container.images.{region}",
                                      f"tag {container.tag} now resolves to {digest}, the pin has {current}",
                                      "pinned images never change: pin a new version "
                                      f"(python -m scripts pin-weights --like {version} ...)"))
        else:
            added[region] = image
            out.event("resolved", f"{region}: {ref.uri} -> {digest}", region=region, digest=digest, image=image)
    fail(refused)
    others = {d.split("@")[1] for r, d in container.images.items()}
    for region, image in added.items():
        if others and image.split("@")[1] not in others:
            out.event("note", f"{region}: digest differs from the pin's other regions (ECR images are usually "
                      "identical across regions); check the release notes if this is unexpected", region=region)
    result = {"model": model, "version": version, "added": sorted(added), "unchanged": unchanged,
              "manifest": manifests.display(root, manifests.pin_path(root, model, version))}
    if not added:
        out.event("nothing-to-do", f"{model}/{version}: every requested region is already pinned")
        out.result({**result, "written": False})
        return
    data = pin.model_dump(mode="json", exclude_none=True, exclude={"manifest_sha256"})
    data["container"]["images"] = {**data["container"]["images"], **added}
    shown = manifests.display(root, manifests.existing_pin_file(root, model, version))
    new_pin = manifests.seal_checked(data, shown)
    if dry_run:
        out.event("dry-run", f"dry run: would add {', '.join(sorted(added))}; nothing written")
        out.result({**result, "written": False, "dry_run": True})
        return
    old_path = manifests.existing_pin_file(root, model, version)
    path = manifests.write_pin(root, new_pin)
    if old_path is not None and old_path != path:
        old_path.unlink()  # a .yml/.json pin is rewritten as .yaml (render writes YAML)
    out.event("pinned", f"{model}/{version}: added {', '.join(sorted(added))} "
              f"(manifest_sha256 {new_pin.manifest_sha256[:12]}...)", **result)
    out.result({**result, "written": True, "manifest_sha256": new_pin.manifest_sha256})
