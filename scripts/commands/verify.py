"""`verify`: prove that stored weights and images are what the pins say.

Thin: the checks are in scripts/pinning/verification.py (reused by promote).
"""

from __future__ import annotations

import click

from scripts.lib import flags
from scripts.lib.errors import CheckFailed, UserError, fail
from scripts.lib.output import Output, human_bytes
from scripts.lib.repo import repo_root
from scripts.pinning import manifests

HELP = """Prove that the weights bucket and ECR hold exactly what the pins say.

\b
Which pins: --model M --version V, --adapter A --version V (an adapter pin), or
--all (every model and adapter pin in the repo), or --env E alone (the pins E's
endpoints and component endpoints serve, adapters included). Which bucket:
--bucket B, or --env E (its weights_bucket_name and region).

\b
Checks, per pin:
  - every pinned file exists under the pin's prefix with the pinned size and
    SHA-256: by S3's full-object checksum where there is one; objects
    uploaded in parts carry only a composite checksum ("xxx-N") and are
    streamed and hashed (that reads the whole object);
  - no other object is under the prefix (SageMaker would load it too);
  - every pinned image digest exists in ECR (unless --skip-images; where
    ECR cannot be asked the image is reported as unverified).
And for the bucket: versioning and Object Lock are enabled.

\b
Warnings (reported, not failing): objects without retention or legal hold,
a bucket without default retention. Mismatches are listed in a table (JSON
lines with --json, plus a final JSON result).

\b
Exit codes: 0 everything matches, 1 a mismatch, 2 invalid input, 3 AWS error.
"""


@click.command("verify", help=HELP)
@click.option("--model", help="Model of the pin to verify.")
@click.option("--version", "version", help="Version of the pin to verify.")
@click.option("--adapter", help="Adapter of the adapter pin to verify (with --version).")
@click.option("--all", "all_pins", is_flag=True, help="Verify every pin in the repo.")
@click.option("--bucket", help="Weights bucket.")
@click.option("--env", "env", help="Environment: its weights bucket and region (and, alone, its pins).")
@click.option("--region", help="The bucket's region (default: the environment's, or your AWS config).")
@click.option("--skip-images", is_flag=True, help="Do not check image digests in ECR.")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Parallel S3 requests and streamed hashes.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(model: str | None, version: str | None, adapter: str | None, all_pins: bool, bucket: str | None,
            env: str | None, region: str | None, skip_images: bool, workers: int, json_mode: bool | None) -> None:
    from scripts.pinning import adapters as adapter_pins

    root = repo_root()
    out = Output(json_mode)
    errors = []
    single = bool(model or version or adapter)
    if adapter and model:
        errors.append(flags.flag_error("--adapter", "given with --model", "pass --adapter A --version V alone"))
    elif single and not ((model or adapter) and version):
        errors.append(flags.flag_error("--model/--version", "give both", "pass --model M --version V, or --all"))
    if single and all_pins:
        errors.append(flags.flag_error("--all", "given with --model/--version", "pass one of them"))
    if not single and not all_pins and not env:
        errors.append(flags.flag_error("--model/--version/--all", "nothing to verify",
                                    "pass --model M --version V, --all, or --env E"))
    if model:
        errors += flags.check_model(model)
    if version:
        errors += flags.check_version(version)
    fail(errors)
    bucket, region = manifests.weights_bucket_and_region(root, bucket, env, region)
    assert bucket is not None
    wanted_adapters: list[tuple[str, str]] = []
    if single:
        keys = [] if adapter else [(model, version)]
        wanted_adapters = [(adapter, version)] if adapter else []
    elif all_pins:
        keys = manifests.all_pin_keys(root)
        wanted_adapters = [(a, v) for _, a, v in adapter_pins.adapter_keys(root)]
        if not keys:
            raise UserError("--all: no pin manifests in model_artifacts/; fix: pin a version first (pin-weights)")
    else:
        config = manifests.environment(root, env)
        components = config.component_endpoints.values()
        keys = sorted({(e.model, e.version) for e in config.endpoints.values()}
                      | {(c.base.model, c.base.version) for c in components})
        wanted_adapters = sorted({(a.adapter, a.version) for c in components for a in c.adapters.values()})
    pins = manifests.load_pins(root, keys)
    adapters = adapter_pins.load_adapter_pins(root, wanted_adapters)

    from scripts.lib.aws import client
    from scripts.pinning import verification

    out.event("verify", f"verifying {len(pins)} pin(s)" + (f" and {len(adapters)} adapter pin(s)" if adapters else "")
              + f" against s3://{bucket}"
              + ("" if skip_images else " and ECR"), bucket=bucket, pins=[f"{m}/{v}" for m, v in keys],
              adapters=[f"{a}/{v}" for a, v in wanted_adapters])
    progress = lambda description, total: out.progress(description, total, unit_bytes=True)  # noqa: E731
    s3 = client("s3", region)
    report = verification.verify(pins, bucket, s3, ecr_for=None if skip_images else (lambda r: client("ecr", r)),
                                 workers=workers, progress=progress)
    if adapters and not any(f.kind == "bucket" and f.problem == "bucket does not exist" for f in report.findings):
        adapter_pins.verify_adapters(s3, bucket, adapters, report, workers, progress)
    if report.findings:
        out.table("verify: findings", verification.COLUMNS, [f.row() for f in report.findings])
    summary = (f"{len(pins)} pin(s), " + (f"{len(adapters)} adapter pin(s), " if adapters else "")
               + f"{report.objects_checked} object(s) ({report.objects_by_checksum} by S3 "
               f"checksum, {report.objects_streamed} streamed, {human_bytes(report.bytes_streamed)}), "
               f"{report.images_checked} image(s)" + (" (images skipped)" if skip_images else ""))
    data = report.to_dict()
    out.event("verified" if report.ok else "mismatch",
              f"{'ok' if report.ok else 'MISMATCH'}: {summary}; {data['mismatches']} mismatch(es), "
              f"{data['warnings']} warning(s), {data['unverified']} unverified")
    out.result(data)
    if not report.ok:
        raise CheckFailed(f"verify: {data['mismatches']} mismatch(es) in s3://{bucket} / ECR; "
                          "fix: see the table above; re-pin a new version or restore the objects")
