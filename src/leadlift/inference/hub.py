"""Finding a checkpoint: bundled weights inside the package, a local folder, or a Hugging Face-style
repo id fetched into the user cache. Nothing here loads weights (see :mod:`leadlift.inference.backends`)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from leadlift.atomic import atomic_path
from leadlift.errors import DataNotFoundError, DownloadError

__all__ = [
    "DEFAULT_MODEL",
    "RECOMMENDED_RECONSTRUCTORS",
    "available_models",
    "bundled_weights_dir",
    "recommended_model",
    "resolve_model",
]

DEFAULT_MODEL = "mae-cpu"
"""Name of the bundled model used when none is given (the aligned per-lead MAE, CPU size)."""

HUB_FILES: tuple[str, ...] = ("config.yaml", "model.safetensors")
"""Files fetched for a Hugging Face-style repo id (``MODEL_CARD.md`` too when present)."""


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
    """The bundled model to reconstruct from ``leads``: the pathology-aware reconstructor trained
    for exactly that lead set when one is bundled, else the aligned MAE (any lead subset)."""
    name = RECOMMENDED_RECONSTRUCTORS.get(frozenset(leads))
    return name if name is not None and name in available_models() else DEFAULT_MODEL


def _cache_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("LEADLIFT_CACHE", "")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("leadlift")) / "models"


def _offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in {"1", "true", "yes"}
               for k in ("LEADLIFT_OFFLINE", "HF_HUB_OFFLINE"))


def _looks_like_repo_id(name: str) -> bool:
    parts = name.split("/")
    return (len(parts) == 2 and all(parts) and not name.startswith((".", "~"))
            and all(c.isalnum() or c in "-_." for p in parts for c in p))


def _hub_download(repo_id: str, revision: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    """Fetch ``config.yaml`` + ``model.safetensors`` of a Hugging Face-style repo into the cache.

    A complete cached copy is used without touching the network. The endpoint is
    ``$HF_ENDPOINT`` (default ``https://huggingface.co``); files are downloaded to temporary
    names and renamed, so an interrupted download leaves no partial file under the real name.
    """
    folder = _cache_root(cache_dir) / "hub" / repo_id.replace("/", "--") / revision
    if all((folder / f).exists() for f in HUB_FILES):
        return folder
    if _offline():
        raise DataNotFoundError(
            f"model {repo_id!r} is not in the cache ({folder}) and offline mode is on "
            "(LEADLIFT_OFFLINE/HF_HUB_OFFLINE); download config.yaml and model.safetensors into a "
            "folder and pass that folder"
        )
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _fetch_files(repo_id, revision, endpoint, folder)
    except BaseException:
        if not any(folder.iterdir()):  # nothing fetched: leave no empty cache folder behind
            folder.rmdir()
        raise
    return folder


def _fetch_files(repo_id: str, revision: str, endpoint: str, folder: Path) -> None:
    for name in (*HUB_FILES, "MODEL_CARD.md"):
        url = f"{endpoint}/{repo_id}/resolve/{revision}/{name}"
        try:
            with (urllib.request.urlopen(url, timeout=30) as resp, atomic_path(folder / name) as tmp,
                  open(tmp, "wb") as fh):
                while chunk := resp.read(1 << 20):
                    fh.write(chunk)
        except urllib.error.HTTPError as exc:
            if name not in HUB_FILES and exc.code == 404:
                continue
            if exc.code in (401, 403, 404):
                raise DataNotFoundError(
                    f"{repo_id}: {name} not found at {endpoint} (HTTP {exc.code}); check the repo id and "
                    "revision, or pass a local checkpoint folder"
                ) from None
            raise DownloadError(f"downloading {url} failed (HTTP {exc.code}); try again later or pass a "
                                "local checkpoint folder") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(
                f"cannot reach {endpoint} to fetch {repo_id!r} ({reason}); no network? Download "
                "config.yaml and model.safetensors into a folder and pass its path"
            ) from None


def resolve_model(name_or_path: str | os.PathLike[str], revision: str = "main",
                  cache_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Find the checkpoint folder for a bundled name, a local folder or a repo id.

    Order: an existing local path (folder, or a file inside one) → a bundled model name →
    a Hugging Face-style ``org/name`` repo id (downloaded into the cache when needed).

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
            return _hub_download(text, revision, cache_dir), "hub"
        except (DataNotFoundError, DownloadError) as exc:  # maybe a mistyped local path: say both
            raise type(exc)(f"no local folder {text!r}, and as a repo id: {exc}") from None
    names = available_models()
    listing = f"bundled models: {', '.join(names)}" if names else "this installation bundles no weights"
    raise DataNotFoundError(
        f"model {text!r} not found: not a folder, not a bundled name ({listing}), not an org/name repo id; "
        "pass a checkpoint folder written by `leadlift pretrain`"
    )
