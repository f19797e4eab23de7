"""`--from-hub`: download one exact Hugging Face revision (needs network and, for Llama, HF_TOKEN).

huggingface_hub is imported only here and only when asked for, so the other
commands (and the tests) never need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.lib.errors import Exit, UserError

INSTALL = "pip install huggingface-hub"
NOT_FOUND = {"RepositoryNotFoundError", "RevisionNotFoundError", "GatedRepoError", "EntryNotFoundError",
             "HFValidationError"}


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise UserError("--from-hub: huggingface_hub is not installed; fix: "
                        f"{INSTALL}, or download the snapshot yourself and pass --source DIR") from None
    return huggingface_hub


def download(repo: str, revision: str, excludes: tuple[str, ...], cache_dir: Path | None = None) -> Path:
    """Path of the local snapshot of repo@revision (in the HF cache unless `cache_dir`)."""
    hub = _hub()
    try:
        path = hub.snapshot_download(repo_id=repo, revision=revision, cache_dir=cache_dir,
                                     ignore_patterns=list(excludes) + [".*"])
    except Exception as exc:  # noqa: BLE001 - turned into one line
        kind = exc.__class__.__name__
        first = (str(exc).strip().splitlines() or [kind])[0][:200]
        code = Exit.INVALID_INPUT if kind in NOT_FOUND else Exit.AWS_ERROR
        raise UserError(f"--from-hub: {repo}@{revision}: download failed ({kind}: {first}); fix: check the "
                        "repository name and commit, network access, and HF_TOKEN for gated repos "
                        "(meta-llama needs an accepted licence)", code) from None
    return Path(path)


def lfs_sha256(repo: str, revision: str) -> dict[str, str] | None:
    """{file: sha256} the Hub records for LFS files of repo@revision, or None if it cannot be asked."""
    hub = _hub()
    try:
        info = hub.HfApi().model_info(repo, revision=revision, files_metadata=True)
    except Exception:  # noqa: BLE001 - an extra cross-check, not required
        return None
    found: dict[str, str] = {}
    for sibling in getattr(info, "siblings", None) or []:
        lfs = getattr(sibling, "lfs", None)
        sha = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)
        if sha:
            found[sibling.rfilename] = sha
    return found
