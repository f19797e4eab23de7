"""`pin-adapter`: pin a PEFT LoRA adapter against the exact base pin it was trained on.

Thin: reading, archiving and hashing are in scripts/pinning/adapters.py; S3 checks, upload and
confirmation reuse scripts/pinning/s3_objects.py and verification.py, as pin-weights does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from config.adapter_pin import AdapterPin, base_weights_sha256
from config.adapters import adapter_pin_path
from config.fields import RESOURCE_NAME, SHA256_HEX
from config.loader import errors_of, require
from config.manifest_io import render_adapter, seal_adapter, write_atomic
from config.project import PINS_DIR
from scripts.lib import flags
from scripts.lib.errors import CheckFailed, Exit, Problem, UserError, fail
from scripts.lib.output import Output, human_bytes
from scripts.lib.repo import repo_root
from scripts.pinning import manifests
from scripts.pinning.hashing import MIB

HELP = """Pin a PEFT LoRA adapter: archive, hash, upload to the weights bucket, write its pin.

\b
--source is the directory PEFT's save_pretrained wrote (adapter_config.json and
*.safetensors at its root). Its files are hashed with SHA-256 and packed into one
deterministic adapter.tar.gz (what an adapter inference component loads), uploaded to
s3://BUCKET/MODEL/adapters/ADAPTER/VERSION/ with S3 SHA-256 checksums, confirmed, and only
then is model_artifacts/MODEL/adapters/ADAPTER/VERSION.yaml written.

\b
The pin names the base it was trained on (--base-version of --model, with the SHA-256 of that
pin's weight files): an adapter serves only on those exact base weights. Rank, alpha and target
modules are read from adapter_config.json. Where the training data came from is required:
--training-data (a URI or a path) with its SHA-256 (--training-data-sha256, or computed when
--training-data is a local file).

\b
Versions are immutable. Refused with exit 2, before anything is uploaded or written: a
directory that is not a LoRA adapter, a base that is not pinned, an adapter_config.json naming
another Hub model than the base pin's source, an existing pin with other content, another
object under the prefix. Re-running the same command is idempotent.

\b
Exit codes: 0 pinned (or already pinned), 1 S3 did not confirm the archive, 2 refused
(nothing uploaded or written), 3 AWS error (re-run to resume), 130 interrupted (Ctrl-C,
SIGTERM: nothing written; re-run to resume).

\b
Example:
  python -m scripts pin-adapter --model llama-3-2-3b-instruct --base-version v1 \\
      --adapter support-intents --version v2 --source ~/runs/support-2025-03/adapter \\
      --training-data s3://my-training-data/support/2025-03/train.jsonl \\
      --training-data-sha256 <64 hex> --env dev
"""


@click.command("pin-adapter", help=HELP)
@click.option("--model", required=True, help="Base model (folder under model_artifacts/).")
@click.option("--base-version", required=True, help="The base pin the adapter was trained on, e.g. v1.")
@click.option("--adapter", required=True, help="Adapter name, e.g. support-intents.")
@click.option("--version", "version", required=True, help="Adapter version to pin, e.g. v2.")
@click.option("--source", required=True, type=click.Path(path_type=Path), help="PEFT adapter directory.")
@click.option("--training-data", required=True, metavar="URI|PATH", help="Where the training data is.")
@click.option("--training-data-sha256", metavar="HEX", help="Its SHA-256 (computed for a local file).")
@click.option("--training-code", metavar="URL", help="Repository of the training code.")
@click.option("--training-code-revision", metavar="SHA", help="Its 40-hex commit.")
@click.option("--method", type=click.Choice(["lora", "qlora", "dora"]), default="lora", show_default=True)
@click.option("--description", help="The pin's description.")
@click.option("--bucket", help="Weights bucket.")
@click.option("--env", "env", help="Use this environment's weights bucket and region.")
@click.option("--region", help="The bucket's region (default: the environment's, or your AWS config).")
@click.option("--part-size-mb", type=click.IntRange(5, 5120), default=64, show_default=True,
              help="Multipart part size for the archive.")
@click.option("--dry-run", is_flag=True, help="Hash and check everything, upload and write nothing.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(model: str, base_version: str, adapter: str, version: str, source: Path, training_data: str,
            training_data_sha256: str | None, training_code: str | None, training_code_revision: str | None,
            method: str, description: str | None, bucket: str | None, env: str | None, region: str | None,
            part_size_mb: int, dry_run: bool, json_mode: bool | None) -> None:
    from scripts.pinning import adapters as adapter_files

    root, out = repo_root(), Output(json_mode)
    errors = flags.check_model(model) + flags.check_version(base_version, "--base-version") + \
        flags.check_version(version)
    if not RESOURCE_NAME.match(adapter) or len(adapter) > 48:
        errors.append(flags.flag_error("--adapter", f"'{adapter}' is not a valid adapter name",
                                       "use 1-48 lower-case letters, digits and single hyphens, e.g. support-intents"))
    if training_code_revision is not None:
        errors += [Problem("--training-code-revision", "", e.problem, e.fix) for e in flags.check_revision(training_code_revision)]
    data_sha = _training_data_sha256(training_data, training_data_sha256, errors)
    fail(errors)
    bucket, region = manifests.weights_bucket_and_region(root, bucket, env, region)
    base = manifests.load_pin(root, model, base_version)
    if base is None:
        raise UserError(f"--base-version: no pin {PINS_DIR}/{model}/{base_version}.yaml; fix: pin the base first "
                        "(pin-weights), or name the version the adapter was trained on")
    directory, problems = adapter_files.read_directory(source.expanduser(), str(source))
    fail(problems)
    mismatch = adapter_files.hub_repo_mismatch(directory.base_model, base.source.hub_repo)
    if mismatch:
        raise UserError(f"--source: {mismatch}; fix: pin it against a base pinned from that model")
    path = adapter_pin_path(root / PINS_DIR, model, adapter, version)
    existing = require(AdapterPin, path, manifests.display(root, path)) if path.is_file() else None
    data = {"adapter": adapter, "version": version,
            "description": description or (existing.description if existing else None),
            "base": {"model": model, "version": base_version, "weights_sha256": base_weights_sha256(base)},
            "lora": directory.lora,
            "training": {"data": training_data, "data_sha256": data_sha, "method": method, "code": training_code,
                         "code_revision": training_code_revision},
            "weights": {"prefix": f"{model}/adapters/{adapter}/{version}/",
                        "files": [{"path": "adapter.tar.gz", "size": 1, "sha256": "0" * 64}],
                        "members": adapter_files.hash_members(directory)}}
    if existing is not None:
        data["approval"] = existing.approval.model_dump(mode="json", exclude_none=True)
    with tempfile.TemporaryDirectory(prefix="pin-adapter-") as work:
        archive = adapter_files.build_archive(directory, Path(work) / "adapter.tar.gz")
        digest = adapter_files.archive_digest(archive, part_size_mb * MIB)
        if existing is not None and _same_content(existing, data):
            # The archive on S3 is the pinned one: gzip output may differ between machines.
            digest = _stored_digest(existing, digest)
        data["weights"]["files"] = [{"path": "adapter.tar.gz", "size": digest.size, "sha256": digest.sha256}]
        pin = _seal(data, manifests.display(root, path))
        if existing is not None and existing.content_hash() != pin.content_hash():
            fail([Problem(manifests.display(root, path), "", f"adapter {adapter}/{version} is already pinned with "
                          "other content", "pins are immutable: pin a new --version")])
        out.event("adapter", f"{adapter}/{version}: rank {pin.lora.rank}, {len(pin.weights.members)} file(s), "
                  f"archive {human_bytes(digest.size)} (sha256 {digest.sha256[:12]}…), base {model}/{base_version}",
                  adapter=adapter, version=version, rank=pin.lora.rank, archive_sha256=digest.sha256)
        uploaded = _store(out, pin, bucket, region, archive, digest, part_size_mb * MIB, dry_run)
    summary = {"adapter": adapter, "version": version, "base": f"{model}/{base_version}", "bucket": bucket,
               "artifact_url": pin.artifact_url(bucket), "manifest": manifests.display(root, path),
               "manifest_sha256": pin.manifest_sha256, "uploaded": uploaded, "dry_run": dry_run,
               "already_pinned": existing is not None}
    if not dry_run and existing is None:
        write_atomic(path, render_adapter(pin))
        out.event("pinned", f"pinned adapter {adapter}/{version}: {summary['manifest']}", **summary)
    out.result(summary)


def _training_data_sha256(data: str, given: str | None, errors: list) -> str:
    local = Path(data).expanduser()
    if given is not None:
        if not SHA256_HEX.match(given):
            errors.append(flags.flag_error("--training-data-sha256", "is not 64 lower-case hex digits",
                                           "give the SHA-256 of the training data (sha256sum FILE)"))
        return given
    if local.is_file():
        from scripts.pinning.hashing import hash_file

        return hash_file(local).sha256
    errors.append(flags.flag_error("--training-data-sha256", f"missing, and {data} is not a local file",
                                   "give the SHA-256 of the training data"))
    return "0" * 64


def _same_content(existing: AdapterPin, data: dict) -> bool:
    members = {(m.path, m.size, m.sha256) for m in existing.weights.members}
    return members == {(m["path"], m["size"], m["sha256"]) for m in data["weights"]["members"]}


def _stored_digest(existing: AdapterPin, built):
    from scripts.pinning.hashing import FileDigest

    archive = existing.weights.archive
    return built if built.sha256 == archive.sha256 else FileDigest(archive.size, archive.sha256)


def _seal(data: dict, shown: str) -> AdapterPin:
    from pydantic import ValidationError

    try:
        return seal_adapter(data)
    except ValidationError as exc:
        fail([Problem(e.file, e.field, e.problem, e.fix) for e in errors_of(AdapterPin, data, shown, exc)])
        raise AssertionError("unreachable") from None


def _store(out: Output, pin: AdapterPin, bucket: str, region: str | None, archive: Path, digest, part_size: int,
           dry_run: bool) -> bool:
    """Upload the archive unless S3 holds it already; True if uploaded. Refuses strays and other bytes."""
    from scripts.lib.aws import client
    from scripts.pinning import s3_objects, verification

    s3 = client("s3", region)
    exists, findings = verification.check_bucket(s3, bucket)
    if not exists:
        raise UserError(f"--bucket: {bucket} does not exist; fix: deploy the environment's weights bucket first")
    for finding in findings:
        out.event("warning", f"warning: s3://{bucket}: {finding.problem}", problem=finding.problem)
    key = pin.weights.prefix + pin.weights.archive.path
    stray = sorted(set(s3_objects.list_keys(s3, bucket, pin.weights.prefix)) - {key})
    fail([Problem(f"s3://{bucket}/{k}", "", "is under the adapter's prefix but not its archive",
                  "pin under a new --version; versions are immutable") for k in stray])
    stored = s3_objects.head(s3, bucket, key)
    if stored is not None:
        verdict = s3_objects.matches_local(stored, digest)
        if verdict is None:
            verdict = s3_objects.stream_sha256(s3, bucket, key, stored.version_id) == (digest.size, digest.sha256)
        if not verdict:
            fail([Problem(f"s3://{bucket}/{key}", "sha256", "the stored archive differs from the pinned one",
                          "versions are immutable: pin under a new --version")])
        out.event("present", f"s3://{bucket}/{key} already holds this archive")
        return False
    if dry_run:
        out.event("dry-run", f"dry run: would upload {human_bytes(digest.size)} to s3://{bucket}/{key}")
        return False
    upload = s3_objects.Upload(str(archive), key, digest)
    failures = s3_objects.upload_all(s3, bucket, [upload], part_size, concurrency=4)
    if failures:
        raise UserError(f"upload of s3://{bucket}/{key} failed ({failures[0][1]}); no pin was written; fix: re-run",
                        Exit.AWS_ERROR)
    problems = s3_objects.confirm(s3, bucket, [upload], workers=1)
    if problems:
        raise CheckFailed(f"{problems[0]}; no pin was written; fix: re-run")
    out.event("confirmed", f"S3 confirmed s3://{bucket}/{key} by SHA-256")
    return True
