"""The experiment configs shipped with leadlift (package data: ``src/leadlift/configs/*.yaml``).

Pretraining configs start with ``mae_`` (read with :func:`leadlift.config.load_config`),
reconstruction configs with ``recon_`` (:func:`leadlift.recon_config.load_recon_config`). Both
loaders, and the ``-c/--config`` option of the CLI, take either a path to a YAML file or the
NAME of a shipped config, with dashes or underscores and with or without ``.yaml``:
``mae-cpu``, ``mae_cpu``, ``mae_cpu.yaml`` and ``recon-tiny`` all work.

The files are read through :mod:`importlib.resources`, so they are found in a source checkout,
an editable install and a normal ``pip install`` alike.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from leadlift.errors import ConfigError

if TYPE_CHECKING:  # importlib.resources.abc is Python >= 3.11; only the type is needed
    from importlib.resources.abc import Traversable

__all__ = ["CONFIG_SUFFIX", "available_configs", "config_path", "normalise_name", "read_config_text",
           "resolve_config"]

CONFIG_SUFFIX = ".yaml"
"""Suffix of every shipped config file."""


def _package_dir() -> Traversable:
    return files(__name__)


def available_configs(prefix: str | None = None) -> list[str]:
    """Sorted names (file stems, e.g. ``mae_cpu``) of the shipped configs.

    Args:
        prefix: keep only names starting with it (``"mae_"`` or ``"recon_"``).
    """
    names = sorted(p.name[: -len(CONFIG_SUFFIX)] for p in _package_dir().iterdir()
                   if p.is_file() and p.name.endswith(CONFIG_SUFFIX))
    return [n for n in names if prefix is None or n.startswith(prefix)]


def normalise_name(name: str) -> str:
    """``"mae-cpu.yaml"`` → ``"mae_cpu"``: the file stem a config name refers to."""
    stem = name.strip()
    for suffix in (CONFIG_SUFFIX, ".yml"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return stem.replace("-", "_").lower()


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or (os.altsep is not None and os.altsep in text)


def resolve_config(name_or_path: str | Path) -> Path | Traversable:
    """The file a ``--config`` value refers to: an existing file path as given, else the shipped
    config of that name.

    Raises:
        ConfigError: neither an existing file nor a shipped name (the message lists the names).
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    text = str(name_or_path)
    names = available_configs()
    listing = ", ".join(n.replace("_", "-") for n in names)
    if not isinstance(name_or_path, Path) and not _looks_like_path(text):
        stem = normalise_name(text)
        if stem in names:
            return _package_dir() / f"{stem}{CONFIG_SUFFIX}"
        raise ConfigError(f"unknown config {text!r}; pass a YAML file path or one of the shipped configs: {listing}")
    stem = normalise_name(path.name)
    if stem in names:
        raise ConfigError(f"config file {text} not found; the shipped configs are addressed by name: "
                          f"-c {stem.replace('_', '-')} (all: {listing})")
    raise ConfigError(f"config file {text} not found; pass an existing YAML file or one of the shipped configs: "
                      f"{listing}")


def config_path(name_or_path: str | Path) -> Path:
    """Filesystem path of a config given by path or by shipped NAME (see :func:`resolve_config`)."""
    found = resolve_config(name_or_path)
    return found if isinstance(found, Path) else Path(str(found))


def read_config_text(name_or_path: str | Path) -> tuple[str, str]:
    """``(YAML text, source)`` of a config given by path or by shipped NAME; ``source`` is the path
    as given, or ``NAME (shipped)`` for a packaged config (used in error messages)."""
    found = resolve_config(name_or_path)
    source = str(found) if isinstance(found, Path) else f"{found.name[: -len(CONFIG_SUFFIX)]} (shipped config)"
    try:
        return found.read_text(encoding="utf-8"), source
    except OSError as exc:
        raise ConfigError(f"cannot read config {source} ({exc.strerror or exc}); check the file's permissions"
                          ) from None
