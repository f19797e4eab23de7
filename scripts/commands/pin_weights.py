"""`pin-weights`: hash a model snapshot, upload it to S3 with SHA-256 checksums, write its pin manifest.

Thin: the work is in scripts/pinning/ (hashing, s3_objects, images, manifests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from scripts.lib import flags
from scripts.lib.errors import CheckFailed, Exit, Problem, UserError, fail
from scripts.lib.output import Output, human_bytes
from scripts.lib.repo import repo_root
from scripts.pinning import manifests
from scripts.pinning.hashing import MIB
from scripts.pinning.snapshot import DEFAULT_EXCLUDES
from config.errors import SpecError
from config.pin import Framework

HELP = """Hash a Hugging Face snapshot, upload it to S3 and write its pin manifest.

\b
Every file of the snapshot (--source DIR, or --from-hub REPO downloaded at
--revision) is hashed with SHA-256, uploaded to s3://BUCKET/MODEL/VERSION/
with S3 SHA-256 checksums (multipart for large files), confirmed by S3's
checksums, and only then is model_artifacts/MODEL/VERSION.yaml written.

\b
A pin is born complete: weights, serving container and serving settings.
Where the rest comes from, later sources overriding earlier ones:
  --like VERSION     an existing pin of the same model: container (images
                     by digest), serving, resources, source licence/repo;
  --settings FILE    YAML with any of: description, source {hub_repo,
                     license}, serving {...}, resources {...};
  --framework/--framework-version/--regions
                     resolve the serving image per region to a digest in
                     ECR (as pin-image does) instead of copying it.
A first version of a new model therefore needs --settings and --framework,
--framework-version, --regions; later versions usually only --like.
pin-image then adds regions to an existing pin; it never creates one.

\b
Versions are immutable. Refused with exit 2, before anything is uploaded
or written: a revision that is not a 40-hex commit, a directory without
config.json or *.safetensors, an existing manifest with other content, an
object under the prefix that differs from the local file or is not part
of the snapshot. Re-running the same command is idempotent: objects already
present with the same SHA-256 are not uploaded again, so an interrupted
upload is resumed by re-running it (no manifest is written until every
object is confirmed).

\b
Excluded from the snapshot: hidden files and folders (.cache/, .git*) and
original/* (Meta's pickled checkpoint); add patterns with --exclude.
--from-hub needs `pip install huggingface-hub`, network and HF_TOKEN
(Llama repos are gated).

\b
Exit codes: 0 pinned (or already pinned), 1 S3 did not confirm an object,
2 refused (nothing uploaded or written), 3 AWS or Hub error (re-run to resume),
130 interrupted (Ctrl-C, SIGTERM: multipart uploads aborted, no pin; re-run to resume).

\b
Examples:
  python -m scripts pin-weights --model llama-3-2-3b-instruct --version v3 \\
      --like v2 --source ~/snapshots/Llama-3.2-3B-Instruct \\
      --revision 0cb88a4f764b7a12671c53f0838cd831a0843b95 --env dev
  python -m scripts pin-weights --model llama-3-2-1b-instruct --version v1 \\
      --from-hub meta-llama/Llama-3.2-1B-Instruct \\
      --revision 9213176726f574b556790deb65791e0c5aa438b6 --bucket my-weights \\
      --settings settings.yaml --framework huggingface-llm \\
      --framework-version 2.4.0 --regions us-east-1,eu-west-1
"""


@click.command("pin-weights", help=HELP)
@click.option("--model", required=True, help="Model name (folder under model_artifacts/), e.g. llama-3-2-3b-instruct.")
@click.option("--version", "version", required=True, help="Version to pin, e.g. v3.")
@click.option("--source", type=click.Path(path_type=Path), help="Local snapshot directory (holds config.json).")
@click.option("--from-hub", "hub", metavar="REPO", help="Download REPO at --revision from the Hugging Face Hub.")
@click.option("--revision", required=True, metavar="SHA", help="The snapshot's 40-hex commit on the Hub.")
@click.option("--hub-repo", metavar="REPO", help="source.hub_repo (default: --from-hub, settings or --like).")
@click.option("--license", "license_", metavar="NAME", help="source.license, e.g. llama3.2.")
@click.option("--bucket", help="Weights bucket.")
@click.option("--env", "env", help="Use this environment's weights bucket and region.")
@click.option("--region", help="The bucket's region (default: the environment's, or your AWS config).")
@click.option("--like", metavar="VERSION", help="Copy container, serving and resources from this pin of the model.")
@click.option("--settings", type=click.Path(path_type=Path), help="YAML: description, source, serving, resources.")
@click.option("--framework", type=click.Choice([f.value for f in Framework]), help="Serving container framework.")
@click.option("--framework-version", metavar="X.Y.Z", help="Serving container version, e.g. 0.31.0 (LMI), 2.4.0 (TGI).")
@click.option("--regions", metavar="R1,R2", help="Regions to resolve the image for (with --framework-version).")
@click.option("--description", help="The pin's description.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out matching files (repeatable).")
@click.option("--part-size-mb", type=click.IntRange(5, 5120), default=64, show_default=True,
              help="Multipart part size; files this large or larger are uploaded in parts.")
@click.option("--workers", type=click.IntRange(1, 64), help="Hashing threads (default: CPU count).")
@click.option("--dry-run", is_flag=True, help="Hash and check everything, upload and write nothing.")
@click.option("--json", "json_mode", is_flag=True, default=None, help="JSON lines output.")
def command(model: str, version: str, source: Path | None, hub: str | None, revision: str, hub_repo: str | None,
            license_: str | None, bucket: str | None, env: str | None, region: str | None, like: str | None,
            settings: Path | None, framework: str | None, framework_version: str | None, regions: str | None,
            description: str | None, exclude: tuple[str, ...], part_size_mb: int, workers: int | None,
            dry_run: bool, json_mode: bool | None) -> None:
    root = repo_root()
    out = Output(json_mode)
    region_list, errors = flags.parse_regions(regions)
    errors = flags.check_model(model) + flags.check_version(version) + flags.check_revision(revision) + errors
    if like:
        errors += flags.check_version(like, "--like")
        if like == version:
            errors.append(flags.flag_error("--like", "is the version being pinned", "name an existing version"))
    if bool(source) == bool(hub):
        errors.append(flags.flag_error("--source/--from-hub", "give exactly one of them",
                                    "pass the snapshot directory as --source, or --from-hub REPO"))
    if framework and not framework_version:
        errors.append(flags.flag_error("--framework-version", "missing (needed with --framework)",
                                    "pass the container version, e.g. 0.31.0"))
    if region_list and not framework_version:
        errors.append(flags.flag_error("--regions", "needs --framework-version",
                                    "pass --framework-version too, or add regions later with pin-image"))
    if settings is not None and not settings.is_file():
        errors.append(flags.flag_error("--settings", f"{settings} is not a file", "pass a YAML settings file"))
    fail(errors)
    bucket, region = manifests.weights_bucket_and_region(root, bucket, env, region)
    assert bucket is not None
    part_size = part_size_mb * MIB
    excludes = DEFAULT_EXCLUDES + tuple(exclude)

    existing = manifests.load_pin(root, model, version)
    like_pin = manifests.load_pin(root, model, like) if like else None
    if like and like_pin is None:
        known = [v for m, v in manifests.all_pin_keys(root) if m == model]
        raise UserError(f"--like: no pin model_artifacts/{model}/{like}.yaml; fix: "
                        + (f"use one of: {', '.join(known)}" if known else
                           "for a first version pass --settings and --framework/--framework-version/--regions"))
    base = like_pin or existing
    extra = manifests.read_settings(settings, root) if settings else {}
    shown = str(settings) if settings else manifests.display(root, manifests.pin_path(root, model, version))
    source_settings = extra.get("source") or {}
    hub_repo = hub_repo or hub or source_settings.get("hub_repo") or (base.source.hub_repo if base else None)
    problems: list[SpecError] = []
    if not hub_repo:
        problems.append(flags.flag_error("--hub-repo", "missing: the pin records where the weights come from",
                                      "pass --hub-repo meta-llama/<repo> (or --from-hub)"))
    if base is None and not ("serving" in extra and "resources" in extra):
        problems.append(flags.flag_error("--like/--settings", f"a new pin of {model} needs serving and resources "
                                      "settings", "pass --like <existing version> or --settings FILE (see --help)"))
    if base is None and not framework:
        problems.append(flags.flag_error("--like/--framework", f"a new pin of {model} needs a serving container",
                                      "pass --like <existing version>, or --framework, --framework-version "
                                      "and --regions"))
    fail(problems)

    content: dict[str, Any] = {}
    if base is not None:
        content = base.model_dump(mode="json", include={"serving", "resources", "container"})
    for section in ("serving", "resources"):
        if section in extra:
            merged = {**content.get(section, {}), **(extra[section] or {})}
            content[section] = merged
    license_value = license_ or source_settings.get("license") or (base.source.license if base else None)
    data = {
        "model": model, "version": version,
        "description": description or extra.get("description") or (existing.description if existing else None),
        "source": {"hub_repo": hub_repo, "revision": revision, "license": license_value},
        "weights": {"prefix": f"{model}/{version}/",
                    "files": [{"path": "config.json", "size": 1, "sha256": "0" * 64},
                              {"path": "model.safetensors", "size": 1, "sha256": "0" * 64}]},
        **content,
    }
    # New pins freeze today's registry content (schema 2); a re-run keeps what the existing pin has.
    data["schema_version"] = existing.schema_version if existing is not None else 2
    if existing is not None and existing.registry is not None:
        data["registry"] = existing.registry.model_dump(mode="json")
    if existing is not None:
        data["approval"] = existing.approval.model_dump(mode="json", exclude_none=True)
    if framework_version:
        data["container"] = _resolve_container(out, framework or (base.container.framework.value if base else ""),
                                               framework_version, region_list or
                                               (sorted(base.container.images) if base else []))
    # Everything but the file hashes is checked now, before hours of hashing.
    draft = manifests.seal_checked(data, shown)
    if existing is not None:
        _refuse_changes(root, existing, [d for d in manifests.differences(existing, draft)
                                         if not d.startswith("weights: ")])

    directory = _snapshot_directory(source, hub, revision, excludes)
    files, digests = _hash(out, directory, excludes, part_size, workers, hub, revision)
    data["weights"]["files"] = [{"path": f.name, "size": digests[f.name].size, "sha256": digests[f.name].sha256}
                                for f in files]
    pin = manifests.seal_checked(data, shown)
    if existing is not None and existing.content_hash() != pin.content_hash():
        _refuse_changes(root, existing, manifests.differences(existing, pin) or ["content differs"])

    _store(out, root, pin, bucket, region, files, digests, part_size, existing is not None, dry_run)


def _refuse_changes(root: Path, existing, diffs: list[str]) -> None:
    """Versions are immutable: an existing pin may only be re-run with the same content."""
    where = manifests.display(root, manifests.existing_pin_file(root, existing.model, existing.version))
    fail([Problem(where, "", f"{existing.model}/{existing.version} is already pinned with other "
                               f"content: {d}", f"pins are immutable: pin a new --version (e.g. --like "
                               f"{existing.version})") for d in diffs])


def _resolve_container(out: Output, framework: str, framework_version: str, regions: list[str]) -> dict:
    from scripts.lib.aws import client
    from scripts.pinning import images

    if not framework:
        raise UserError("--framework: missing; fix: pass --framework djl-lmi or huggingface-llm")
    if not regions:
        raise UserError("--regions: missing; fix: pass the regions to pin the image for, e.g. us-east-1")
    pinned: dict[str, str] = {}
    tags = set()
    out.event("lookup", f"image URIs from {images.lookup_source()}", source=images.lookup_source())
    for region in regions:
        ref = images.lookup(framework, framework_version, region)
        digest = images.resolve_digest(client("ecr", region), ref)
        pinned[region] = ref.pinned(digest)
        tags.add(ref.tag)
        out.event("image", f"{region}: {ref.uri} -> {digest}", region=region, tag=ref.tag, digest=digest)
    if len(tags) != 1:
        raise UserError(f"--regions: the image tag differs between regions ({', '.join(sorted(tags))}); "
                        "fix: pin the regions in separate versions")
    return {"framework": framework, "framework_version": framework_version, "tag": tags.pop(), "images": pinned}


def _snapshot_directory(source: Path | None, hub: str | None, revision: str, excludes: tuple[str, ...]) -> Path:
    if hub:
        from scripts.pinning import hub as hf

        return hf.download(hub, revision, excludes)
    assert source is not None
    return source.expanduser()


def _hash(out: Output, directory: Path, excludes: tuple[str, ...], part_size: int, workers: int | None,
          hub: str | None, revision: str):
    from scripts.pinning import hashing, s3_objects, snapshot

    files, errors = snapshot.scan(directory, str(directory), excludes)
    fail(errors)
    total = sum(f.size for f in files)
    out.event("hashing", f"hashing {len(files)} file(s), {human_bytes(total)} in {directory}",
              files=len(files), bytes=total)
    with out.progress("sha256", total, unit_bytes=True) as ticker:
        try:
            by_path = hashing.hash_files([f.path for f in files], workers=workers,
                                         part_size_for=lambda size: s3_objects.part_size_for(size, part_size),
                                         on_bytes=ticker.advance)
        except hashing.FileChanged as exc:
            raise UserError(f"{exc}; fix: let the download finish, then re-run") from None
        except OSError as exc:
            raise UserError(f"{exc.filename or directory}: cannot be read ({exc.strerror or exc}); "
                            "fix: check the file's permissions, or --exclude it") from None
    digests = {f.name: by_path[str(f.path)] for f in files}
    if hub:
        from scripts.pinning import hub as hf

        expected = hf.lfs_sha256(hub, revision)
        if expected is None:
            out.event("hub-check", "could not read the Hub's LFS checksums; relying on the local hashes only")
        else:
            bad = [name for name, sha in expected.items() if name in digests and digests[name].sha256 != sha]
            if bad:
                raise CheckFailed(f"--from-hub: {', '.join(bad)}: sha256 differs from the Hub's LFS record; "
                                  "fix: delete the corrupted files from the HF cache and re-run")
            out.event("hub-check", f"{len(expected)} LFS file(s) match the Hub's sha256", files=len(expected))
    return files, digests


def _store(out: Output, root: Path, pin, bucket: str, region: str | None, files, digests, part_size: int,
           already_pinned: bool, dry_run: bool) -> None:
    from botocore.exceptions import ClientError

    from scripts.lib.aws import client, describe_error
    from scripts.pinning import s3_objects, verification

    s3 = client("s3", region)
    prefix = pin.weights.prefix
    try:
        exists, bucket_findings = verification.check_bucket(s3, bucket)
    except ClientError as exc:
        if "AccessDenied" not in str(exc.response.get("Error", {}).get("Code", "")):
            raise UserError(f"--bucket: {bucket}: {describe_error(exc)}; fix: check the bucket name, its region "
                            "(--region) and your credentials", Exit.AWS_ERROR) from None
        exists, bucket_findings = True, [verification.Finding(
            "", "bucket", bucket, "versioning and Object Lock could not be checked (access denied); "
            "python -m scripts verify checks them")]
    if not exists:
        raise UserError(f"--bucket: {bucket} does not exist; fix: deploy the environment's weights bucket first, "
                        "or check the name")
    for finding in bucket_findings:
        out.event("warning", f"warning: s3://{bucket}: {finding.problem}", problem=finding.problem)

    present = s3_objects.list_keys(s3, bucket, prefix)
    local = {prefix + f.name: f for f in files}
    errors = [Problem(f"s3://{bucket}/{key}", "", "is under the prefix but not in the snapshot (SageMaker "
                        "would load it too)", "pin under a new --version; versions are immutable")
              for key in sorted(set(present) - set(local))]
    uploads: list[s3_objects.Upload] = []
    unsure: list[tuple[s3_objects.Upload, s3_objects.StoredObject]] = []
    for key, f in local.items():
        upload = s3_objects.Upload(str(f.path), key, digests[f.name])
        if key not in present:
            uploads.append(upload)
            continue
        obj = s3_objects.head(s3, bucket, key)
        verdict = None if obj is None else s3_objects.matches_local(obj, upload.digest)
        if obj is None:
            uploads.append(upload)
        elif verdict is None:
            unsure.append((upload, obj))
        elif not verdict:
            errors.append(_differs(bucket, key))
    if unsure:
        with out.progress("checking existing objects", sum(o.size for _, o in unsure), unit_bytes=True) as ticker:
            streamed = s3_objects.stream_many(s3, bucket, [o for _, o in unsure], 4, ticker.advance)
        for upload, obj in unsure:
            if streamed[obj.key] != (upload.digest.size, upload.digest.sha256):
                errors.append(_differs(bucket, upload.key))
    fail(errors)

    skipped = len(local) - len(uploads)
    size = sum(u.digest.size for u in uploads)
    out.event("plan", f"s3://{bucket}/{prefix}: {skipped} object(s) already present, {len(uploads)} to upload "
              f"({human_bytes(size)})", present=skipped, upload=len(uploads), bytes=size)
    manifest = manifests.pin_path(root, pin.model, pin.version)
    summary = {"model": pin.model, "version": pin.version, "bucket": bucket, "prefix": prefix,
               "files": len(local), "uploaded": len(uploads), "skipped": skipped,
               "manifest": manifests.display(root, manifest), "manifest_sha256": pin.manifest_sha256}
    if dry_run:
        out.event("dry-run", "dry run: nothing uploaded, no manifest written")
        out.result({**summary, "dry_run": True, "uploaded": 0, "would_upload": len(uploads)})
        return

    if uploads:
        with out.progress("upload", size, unit_bytes=True) as ticker:
            failures = s3_objects.upload_all(s3, bucket, uploads, part_size, concurrency=8, on_bytes=ticker.advance)
        if failures:
            key, exc = failures[0]
            reason = describe_error(exc) if hasattr(exc, "response") else f"{exc.__class__.__name__}: {exc}"
            raise UserError(f"upload failed for {len(failures)} of {len(uploads)} file(s) (first: {key}: {reason}); "
                            "no manifest was written; fix: re-run the same command: objects already uploaded "
                            "are checked and skipped", Exit.AWS_ERROR)
    problems = s3_objects.confirm(s3, bucket, [s3_objects.Upload(str(f.path), key, digests[f.name])
                                               for key, f in local.items()], workers=8)
    if problems:
        raise CheckFailed(f"{problems[0]} ({len(problems)} object(s) not confirmed); no manifest was written; "
                          "fix: re-run; if it persists, pin a new --version")
    out.event("confirmed", f"S3 confirmed {len(local)} object(s) by SHA-256", objects=len(local))
    if already_pinned:
        out.event("already-pinned", f"{pin.model}/{pin.version} is already pinned with the same content; "
                  "manifest unchanged", **summary)
    else:
        manifests.write_pin(root, pin)
        out.event("pinned", f"pinned {pin.model}/{pin.version}: {summary['manifest']} "
                  f"(manifest_sha256 {pin.manifest_sha256[:12]}...)", **summary)
    out.result({**summary, "already_pinned": already_pinned})


def _differs(bucket: str, key: str) -> SpecError:
    return Problem(f"s3://{bucket}/{key}", "sha256", "the stored object differs from the local file",
                     "versions are immutable: pin under a new --version (or restore the local file)")
