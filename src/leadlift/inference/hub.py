"""Finding, saving and sharing checkpoints: bundled weights inside the package, a local folder, or a
Hugging Face Hub repo (through ``huggingface_hub``: its cache, tokens, offline mode and progress).

* :func:`resolve_model` — a bundled name (``mae-cpu``), a checkpoint folder, or ``org/name``
  downloaded with :func:`huggingface_hub.snapshot_download` (only the checkpoint's files);
* :func:`save_pretrained` — a loadable checkpoint folder (``config.yaml`` + ``model.safetensors``
  + a ``README.md`` model card with the Hub's YAML header), written atomically;
* :func:`push_to_hub` — such a folder uploaded with ``HfApi.create_repo`` / ``upload_folder``.

Every failure a person can cause or fix (repo not found, gated or private repo, offline with
nothing cached, no network, a repo that holds no leadlift checkpoint) is one line saying what to
do. Nothing here loads weights (see :mod:`leadlift.inference.backends`); ``huggingface_hub`` is
imported only when a repo id is used.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leadlift.atomic import atomic_path
from leadlift.errors import DataNotFoundError, DownloadError, InputError
from leadlift.inference.checkpoint import CONFIG_FILE, WEIGHTS_FILE, CheckpointConfig

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_RECONSTRUCTOR",
    "HUB_FILES",
    "RECOMMENDED_RECONSTRUCTORS",
    "available_models",
    "bundled_weights_dir",
    "hub_download",
    "push_to_hub",
    "recommended_model",
    "resolve_model",
    "save_pretrained",
]

log = logging.getLogger("leadlift.inference")

DEFAULT_MODEL = "mae-cpu"
"""Name of the bundled model used when none is given (the aligned per-lead MAE, CPU size): the
embedder of ``embed``; for reconstruction see :data:`DEFAULT_RECONSTRUCTOR`."""

DEFAULT_RECONSTRUCTOR = "recon-any"
"""Name of the bundled any-subset reconstructor: :func:`recommended_model`'s choice for every input
subset of fewer than 12 leads when it is installed."""

HUB_FILES: tuple[str, ...] = (CONFIG_FILE, WEIGHTS_FILE)
"""Files a checkpoint needs; a Hub download fetches these and the model card, nothing else."""

CARD_FILES: tuple[str, ...] = ("README.md", "MODEL_CARD.md")
"""Model-card names: ``README.md`` on the Hub, ``MODEL_CARD.md`` in bundled folders."""

_LOGIN = "pass token=... (or set HF_TOKEN) or log in once with `huggingface-cli login`"


# ======================================================================================= locating
def bundled_weights_dir() -> Path:
    """The folder inside the installed package that holds the bundled models (``weights/<name>/``)."""
    return Path(__file__).resolve().parents[1] / "weights"


def available_models() -> list[str]:
    """Names of the bundled models present in this installation."""
    root = bundled_weights_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "config.yaml").exists() and (p / "model.safetensors").exists())


RECOMMENDED_RECONSTRUCTORS: dict[frozenset[str], str] = {
    frozenset({"I"}): "recon-i",
    frozenset({"I", "II", "V2"}): "recon-i-ii-v2",
}
"""Bundled pathology-aware reconstructors by input lead set (see their MODEL_CARD.md)."""


def recommended_model(leads: Sequence[str]) -> str:
    """The bundled model to reconstruct from ``leads`` (never a silent downgrade).

    1. :data:`DEFAULT_RECONSTRUCTOR` (``recon-any``, any subset, with a calibrated spread) when it
       is bundled and ``leads`` has fewer than 12 leads;
    2. else the pathology-aware reconstructor trained for exactly that lead set
       (:data:`RECOMMENDED_RECONSTRUCTORS`) when it is bundled;
    3. else :data:`DEFAULT_MODEL` (the aligned MAE, an embedder whose reconstructions are weaker),
       with a warning on the ``leadlift`` logger (the CLI prints it as ``warning: ...``).
    """
    names = available_models()
    subset = frozenset(leads)
    if DEFAULT_RECONSTRUCTOR in names and len(subset) < 12:
        return DEFAULT_RECONSTRUCTOR
    name = RECOMMENDED_RECONSTRUCTORS.get(subset)
    if name is not None and name in names:
        return name
    key = ",".join(leads) or "no leads"
    log.warning("no bundled reconstructor for inputs %s (%s is not installed and no fixed-set reconstructor matches): "
                "falling back to %s, an embedding model whose reconstructions are weaker and have no spread; "
                "install %s or pass --model", key, DEFAULT_RECONSTRUCTOR, DEFAULT_MODEL, DEFAULT_RECONSTRUCTOR)
    return DEFAULT_MODEL


def _env_offline() -> bool:
    """Offline mode asked for in the environment now (``HF_HUB_OFFLINE`` as huggingface_hub reads
    it, but at call time; ``LEADLIFT_OFFLINE`` too)."""
    return any(os.environ.get(k, "").strip().lower() in {"1", "true", "yes", "on"}
               for k in ("LEADLIFT_OFFLINE", "HF_HUB_OFFLINE"))


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return (len(parts) == 2 and all(parts) and not name.startswith((".", "~"))
            and all(c.isalnum() or c in "-_." for p in parts for c in p))


def _cache_text(cache_dir: str | os.PathLike[str] | None) -> str:
    if cache_dir is not None:
        return str(cache_dir)
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def hub_download(repo_id: str, *, revision: str | None = None, cache_dir: str | os.PathLike[str] | None = None,
                 token: str | bool | None = None, local_files_only: bool = False) -> Path:
    """Download (or find in the Hugging Face cache) the checkpoint files of a Hub repo.

    Only ``config.yaml``, ``model.safetensors`` and the model card are fetched
    (:func:`huggingface_hub.snapshot_download` with ``allow_patterns``), into huggingface_hub's
    cache (``cache_dir``, default ``$HF_HUB_CACHE``, ``~/.cache/huggingface/hub``). A branch is
    re-resolved online each time, so a new commit on it is picked up; offline (``local_files_only``,
    ``HF_HUB_OFFLINE=1`` or ``LEADLIFT_OFFLINE=1``) the cached snapshot of that revision is used.

    Args:
        repo_id: ``"org/name"``.
        revision: branch, tag or commit hash (default: the repo's default branch, ``main``).
        cache_dir: huggingface_hub cache folder.
        token: Hub token for private or gated repos (default: ``HF_TOKEN`` or the
            ``huggingface-cli login`` token).
        local_files_only: never touch the network.
    Returns:
        The snapshot folder (files are links into the cache's blobs).
    Raises:
        DataNotFoundError: repo or revision not found, offline with nothing cached, or the repo
            holds no leadlift checkpoint.
        DownloadError: gated/private repo without access, no network, or an HTTP error.
    """
    import huggingface_hub
    from huggingface_hub import errors as hf

    from leadlift import __version__

    offline = bool(local_files_only) or _env_offline() or bool(huggingface_hub.constants.HF_HUB_OFFLINE)
    at = f"{repo_id}@{revision}" if revision else repo_id
    try:
        path = huggingface_hub.snapshot_download(
            repo_id, revision=revision, cache_dir=cache_dir, token=token, local_files_only=offline,
            allow_patterns=[*HUB_FILES, *CARD_FILES], library_name="leadlift", library_version=__version__)
    except hf.GatedRepoError:
        raise DownloadError(f"model repo {repo_id!r} is gated: accept its conditions on its Hub page, then "
                            f"{_LOGIN}") from None
    except hf.RepositoryNotFoundError:  # the Hub answers the same for a private repo without a token
        raise DataNotFoundError(f"model repo {repo_id!r} not found on the Hugging Face Hub (or it is private and "
                                f"no valid token was sent): check the name, or {_LOGIN}") from None
    except hf.RevisionNotFoundError:
        raise DataNotFoundError(f"revision {revision!r} of model repo {repo_id!r} not found; pass an existing "
                                "branch, tag or commit (revision=...)") from None
    except hf.LocalEntryNotFoundError:
        if offline:
            raise DataNotFoundError(
                f"model {at!r} is not in the Hugging Face cache ({_cache_text(cache_dir)}) and offline mode is on "
                "(local_files_only / HF_HUB_OFFLINE / LEADLIFT_OFFLINE); download it once online, or pass a local "
                "checkpoint folder") from None
        raise DownloadError(f"cannot reach the Hugging Face Hub to fetch {at!r} and it is not cached; no network? "
                            "Retry online, or pass a local checkpoint folder") from None
    except hf.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise DownloadError(f"access to model repo {repo_id!r} was refused (HTTP {status}); {_LOGIN}") from None
        raise DownloadError(f"downloading {at!r} from the Hugging Face Hub failed (HTTP {status or '?'}); try "
                            "again later or pass a local checkpoint folder") from None
    except hf.HFValidationError:
        raise InputError(f"{repo_id!r} is not a valid Hub repo id (org/name) or revision {revision!r} is not "
                         "valid") from None
    except OSError as exc:  # connection errors of the HTTP client, a full or unwritable cache
        raise DownloadError(f"fetching {at!r} from the Hugging Face Hub failed ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); retry, or pass a local "
                            "checkpoint folder") from None
    folder = Path(path)
    missing = [f for f in HUB_FILES if not (folder / f).exists()]
    if missing:
        raise DataNotFoundError(f"model repo {at!r} holds no leadlift checkpoint (no {' or '.join(missing)}); "
                                "pass a repo written by LeadLift.push_to_hub or a local checkpoint folder")
    return folder


def resolve_model(name_or_path: str | os.PathLike[str], revision: str | None = None,
                  cache_dir: str | os.PathLike[str] | None = None, token: str | bool | None = None,
                  local_files_only: bool = False) -> tuple[Path, str]:
    """Find the checkpoint folder for a bundled name, a local folder or a Hub repo id.

    Order: an existing local path (folder, or a file inside one) → a bundled model name →
    a Hugging Face ``org/name`` repo id (:func:`hub_download`; ``revision``, ``cache_dir``,
    ``token`` and ``local_files_only`` apply only there).

    Returns:
        ``(folder, source)`` with ``source`` one of ``"local"``, ``"bundled"``, ``"hub"``.
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        return (path.parent if path.is_file() else path), "local"
    bundled = bundled_weights_dir() / text
    if "/" not in text and (bundled / "config.yaml").exists():
        return bundled, "bundled"
    if _looks_like_repo_id(text):
        try:
            return hub_download(text, revision=revision, cache_dir=cache_dir, token=token,
                                local_files_only=local_files_only), "hub"
        except DataNotFoundError as exc:
            if "not found on the Hugging Face Hub" in str(exc):  # maybe a mistyped local path: say both
                raise DataNotFoundError(f"no local folder {text!r}, and as a repo id: {exc}") from None
            raise
    names = available_models()
    listing = f"bundled models: {', '.join(names)}" if names else "this installation bundles no weights"
    raise DataNotFoundError(
        f"model {text!r} not found: not a folder, not a bundled name ({listing}), not an org/name repo id; "
        "pass a checkpoint folder written by `leadlift pretrain`"
    )


# ======================================================================================= saving / sharing
def save_pretrained(network: Any, config: CheckpointConfig, folder: str | os.PathLike[str],
                    name: str | None = None) -> Path:
    """Write a loadable checkpoint folder: ``model.safetensors`` + ``config.yaml`` (with the
    weights' SHA256) + ``README.md``, the model card with the Hub's YAML header.

    The weights and config are staged and renamed into place by
    :func:`~leadlift.inference.checkpoint.export_model` (a kill leaves the previous checkpoint or
    the complete new one), the card is written to a temporary name and renamed; the result is
    then loaded back with checksum verification.

    Args:
        network: the model's ``torch.nn.Module`` (its state dict is saved, on the CPU).
        config: its typed checkpoint config (evaluation, calibration... are kept).
        folder: destination folder (created; other files in it are left alone).
        name: model name in the card's title and usage example (default: the folder name).
    """
    from leadlift.inference.checkpoint import export_model, load_checkpoint
    from leadlift.inference.model_card import model_card_markdown

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file; save_pretrained needs a folder")
    export_model(network, config, folder)
    card = model_card_markdown(folder, name=name or folder.name, require_evaluation=False)
    with atomic_path(folder / "README.md") as tmp:
        tmp.write_text(card)
    load_checkpoint(folder, verify=True, require_checksum=True)
    return folder


def push_to_hub(network: Any, config: CheckpointConfig, repo_id: str, *, token: str | bool | None = None,
                private: bool | None = None, revision: str | None = None,
                commit_message: str | None = None) -> str:
    """Upload the model to a Hub repo (created when missing): :func:`save_pretrained` into a
    temporary folder, then ``HfApi.create_repo`` + ``upload_folder`` of exactly that folder.

    Args:
        repo_id: ``"org/name"`` (or ``"name"`` under the token's user).
        token: Hub token with write access (default: ``HF_TOKEN`` or the login token).
        private: create the repo private (an existing repo keeps its visibility).
        revision: branch to commit to (created from the default branch when missing).
        commit_message: default ``"Upload leadlift model"``.
    Returns:
        The URL of the commit.
    """
    from huggingface_hub import HfApi
    from huggingface_hub import errors as hf

    api = HfApi(token=token)
    try:
        with tempfile.TemporaryDirectory(prefix="leadlift-push-") as tmp:
            folder = save_pretrained(network, config, Path(tmp) / "model", name=repo_id)
            repo = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            repo_id = getattr(repo, "repo_id", None) or repo_id
            if revision is not None:
                api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type="model")
            info = api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model", revision=revision,
                                     commit_message=commit_message or "Upload leadlift model",
                                     allow_patterns=[*HUB_FILES, "README.md"])
    except hf.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise DownloadError(f"the Hub refused to write to {repo_id!r} (HTTP {status}): use a token with write "
                                f"access; {_LOGIN}") from None
        raise DownloadError(f"uploading to {repo_id!r} failed (HTTP {status or '?'}); try again later") from None
    except hf.LocalTokenNotFoundError:
        raise DownloadError(f"pushing to the Hub needs a token: {_LOGIN}") from None
    except hf.HFValidationError:
        raise InputError(f"{repo_id!r} is not a valid Hub repo id; pass org/name") from None
    return str(getattr(info, "commit_url", info))
