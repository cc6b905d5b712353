"""Where leadlift finds data: one rule, used by every command and by the Python API.

1. an explicit ``data_dir`` argument (``--data-dir`` on the command line), else
2. the environment variable ``LEADLIFT_DATA``, else
3. ``<user cache dir>/leadlift/data`` (e.g. ``~/.cache/leadlift/data`` on Linux).

The data directory holds one folder per dataset in its PhysioNet layout (``ptb-xl/``,
``ptbdb/``, ``ecgiddb/``, ``challenge-2021/``) and the prepared stores (``leadlift-prepared/``).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DATA = "LEADLIFT_DATA"
PREPARED_FOLDER = "leadlift-prepared"


def default_data_dir() -> Path:
    """The fallback data directory under the user's cache directory."""
    return Path(platformdirs.user_cache_dir("leadlift")) / "data"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Apply the data-directory rule (argument, else ``$LEADLIFT_DATA``, else the cache default).

    The path is returned absolute; it is not required to exist (``leadlift download`` creates it).
    """
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser().resolve()
    env = os.environ.get(ENV_DATA, "")
    if env:
        return Path(env).expanduser().resolve()
    return default_data_dir()


def data_dir_source(data_dir: str | os.PathLike[str] | None = None) -> str:
    """Say which rule chose the data directory (for ``leadlift datasets``)."""
    if data_dir is not None and str(data_dir) != "":
        return "--data-dir"
    if os.environ.get(ENV_DATA, ""):
        return f"${ENV_DATA}"
    return "default (user cache dir)"


def prepared_root(data_dir: Path) -> Path:
    """Folder of the prepared stores inside a data directory."""
    return Path(data_dir) / PREPARED_FOLDER
