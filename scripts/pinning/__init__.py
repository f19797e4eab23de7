"""Owning the weights: hashing, S3 upload and verification, ECR digest resolution.

The `pin-weights`, `pin-image` and `verify` commands are thin wrappers over
this package; `verification` is meant to be reused by `promote`.

Modules:
- `hashing`: streamed SHA-256 of files, in parallel, with S3 composite part digests.
- `snapshot`: what a Hugging Face snapshot directory holds, and what is refused.
- `s3_objects`: head / upload / confirm / stream-hash S3 objects with SHA-256 checksums.
- `images`: serving image URI per region (the SageMaker SDK, sagemaker-core) and ECR digests.
- `manifests`: read, compare, seal and write pin manifests.
- `hub`: `--from-hub` download of one exact Hugging Face revision.
- `verification`: prove that a bucket and ECR hold what the pins say.

"""
