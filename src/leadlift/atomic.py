"""Atomic output files: write to a temporary name in the same folder, then rename.

A reader of the final path therefore sees either the previous file (or nothing) or the complete
new file, never a half-written one; a failure or a kill leaves no partial output behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


def temp_sibling(path: Path, suffix: str | None = None) -> Path:
    """A fresh hidden temporary name next to ``path`` (same folder, so ``os.replace`` is atomic).

    The temporary name ends in ``suffix`` (default: ``path``'s own suffix), because some writers
    (NumPy, EDF) look at the extension.
    """
    suffix = path.suffix if suffix is None else suffix
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists (or cannot be signalled by us)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files :func:`atomic_path` left in ``folder`` when its process was killed
    (names ``.<stem>.tmp-<pid>-<id><suffix>`` of processes no longer running). Returns them."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.glob(".*.tmp-*"):
        try:
            pid = int(p.name.split(".tmp-", 1)[1].split("-", 1)[0])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not pid_alive(pid) and p.is_file():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p)
    return removed


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed over ``path``.

    Missing parent folders are created. On any exception the temporary file is removed and the
    exception propagates; ``path`` itself is left untouched.

    Example::

        with atomic_path("out.csv") as tmp:
            tmp.write_text(...)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(path)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir_files(folder: str | os.PathLike[str], names: list[str]) -> Iterator[Path]:
    """Yield a temporary folder in which the files ``names`` are to be written; on success each is
    moved into ``folder`` (in the given order, so list the file others depend on last, e.g. a
    WFDB header after its signal file). The temporary folder is always removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".leadlift-tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        for name in names:
            _fsync(tmp / name)
            os.chmod(tmp / name, 0o644)
        for name in names:
            os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
