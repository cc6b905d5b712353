"""Prepared store: a dataset read once, resampled, and kept as one memory-mapped array.

Layout inside ``<data_dir>/leadlift-prepared/<dataset>-<fs>hz/``::

    CURRENT                  # name of the live version folder (replaced atomically)
    v-<fingerprint>/
        signals.npy          # float32 [n_records, n_leads, n_samples], mV (np.load(mmap_mode="r"))
        meta.parquet         # the reader's metadata + store_index, n_valid (valid samples per row)
        manifest.json        # dataset, fs, leads, shape, source fingerprint, leadlift version

A store is built in a temporary folder and published by renaming it and then atomically
replacing ``CURRENT``; a killed ``prepare`` therefore never leaves a half store (the previous
version stays live, the temporary folder is cleaned up by the next run). The fingerprint covers
the build options and the size/mtime of every source file, so ``prepare`` returns at once when
nothing changed and rebuilds when anything did.

Records shorter than the store's length are zero-padded at the end (``n_valid`` says how many
samples are real); longer ones are cut (``seconds`` option) — datasets never crop into padding.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

import leadlift
from leadlift.atomic import atomic_path, pid_alive
from leadlift.data.readers import READERS, DatasetReader, canonical_name, get_reader
from leadlift.ecg import ECG
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError
from leadlift.paths import prepared_root
from leadlift.preprocessing import resample

STORE_FORMAT = 1


def store_name(dataset: str, fs: float, seconds: float | None = None) -> str:
    """Folder name of a store, e.g. ``ptbxl-100hz``, ``ptbdb-100hz-30s`` or ``cinc2021-ptb-1000hz``.

    ``dataset`` is the reader's store label (:meth:`DatasetReader.store_label`: the dataset name,
    plus the sub-database for readers whose options select other records)."""
    name = f"{dataset}-{fs:g}hz"
    return name if seconds is None else f"{name}-{seconds:g}s"


def _atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _fingerprint(reader: DatasetReader, options: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": STORE_FORMAT, **options}, sort_keys=True).encode())
    for f in sorted(reader.source_files()):
        try:
            st = f.stat()
        except FileNotFoundError:
            continue
        h.update(f"{f.relative_to(reader.root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _clean_stale(root: Path, keep: str | None) -> None:
    """Remove version folders other than ``keep`` and temp folders of dead processes."""
    for child in root.iterdir():
        if child.name.startswith("tmp-"):
            try:
                pid = int(child.name.split("-")[1])
            except (IndexError, ValueError):
                pid = -1
            if pid != os.getpid() and not pid_alive(pid):
                shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith("v-") and child.name != keep:
            shutil.rmtree(child, ignore_errors=True)


@dataclass
class PreparedStore:
    """A prepared store opened read-only (memory-mapped).

    Attributes:
        path: the store folder (``.../ptbxl-100hz``).
        signals: ``[n_records, n_leads, n_samples]`` float32 memmap in mV.
        meta: metadata table, row ``i`` describes ``signals[i]``.
        manifest: build information (dataset, fs, leads, fingerprint...).
    """

    path: Path
    signals: np.ndarray
    meta: pd.DataFrame
    manifest: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> PreparedStore:
        """Open the live version of the store at ``path``."""
        path = Path(path)
        current = path / "CURRENT"
        if not current.exists():
            raise DataNotFoundError(f"no prepared store at {path}; run `leadlift prepare` first")
        version = path / current.read_text().strip()
        try:
            manifest = json.loads((version / "manifest.json").read_text())
            signals = np.load(version / "signals.npy", mmap_mode="r")
            meta = pd.read_parquet(version / "meta.parquet")
        except (OSError, ValueError) as exc:
            raise CorruptFileError(f"prepared store {version} is unreadable ({exc}); delete {path} and "
                                   "run `leadlift prepare` again") from None
        if tuple(signals.shape) != tuple(manifest["shape"]) or len(meta) != signals.shape[0]:
            raise CorruptFileError(f"prepared store {version} is inconsistent; delete {path} and run "
                                   "`leadlift prepare` again")
        return cls(path=path, signals=signals, meta=meta, manifest=manifest)

    @property
    def fs(self) -> float:
        """Sampling rate of the stored signals in Hz."""
        return float(self.manifest["fs"])

    @property
    def leads(self) -> tuple[str, ...]:
        return tuple(self.manifest["leads"])

    @property
    def dataset(self) -> str:
        return str(self.manifest["dataset"])

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[2])

    def __len__(self) -> int:
        return int(self.signals.shape[0])

    def ecg(self, index: int) -> ECG:
        """Record ``index`` as an :class:`ECG` (without padding)."""
        row = self.meta.iloc[index]
        sig = np.asarray(self.signals[index, :, : int(row["n_valid"])])
        return ECG(sig, self.fs, self.leads, record_id=str(row["record_id"]),
                   patient_id=str(row["patient_id"]), check_units=False)


def record_windows(store: PreparedStore, rows: Sequence[int] | np.ndarray, window: int) -> np.ndarray:
    """Non-overlapping windows of ``window`` samples from the start of each record's valid part:
    ``[N, n_leads, window]`` float32 mV (records shorter than a window give none; no padding)."""
    from leadlift.data.windows import window_index

    idx = window_index(store.meta["n_valid"].to_numpy(), rows, window, window)
    if len(idx) == 0:
        raise InputError(f"no window of {window} samples in the selected records")
    return np.stack([np.asarray(store.signals[r, :, s:s + window]) for r, s in zip(idx.rows, idx.starts, strict=True)]
                    ).astype(np.float32)


def prepare(
    dataset: str,
    fs: float,
    data_dir: str | Path,
    seconds: float | None = None,
    store_dir: str | Path | None = None,
    force: bool = False,
    progress: bool = True,
    reader_options: dict[str, Any] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> PreparedStore:
    """Read ``dataset`` once, resample every record to ``fs`` and write a prepared store.

    Args:
        dataset: dataset name (``ptbxl``, ``ptbdb``, ``ecgid``, ``cinc2021``, ``brugada``).
        fs: target sampling rate in Hz (polyphase resampling from each record's own rate).
        data_dir: the data directory (already resolved, see :mod:`leadlift.paths`).
        seconds: fixed record length in seconds (longer records are cut, shorter ones padded);
            default: the longest record present.
        store_dir: where to put the store (default ``<data_dir>/leadlift-prepared``).
        force: rebuild even when an up-to-date store exists.
        progress: show a progress bar.
        reader_options: extra keyword arguments of the reader (e.g. PTB-XL ``fs=500``, CinC 2021
            ``subset="ptb"``); unknown ones raise :class:`InputError`. Options that select other
            records get their own store folder (``cinc2021-ptb-1000hz``).
        on_status: called with one-line status messages (the CLI prints them).

    Returns:
        The opened store. When an up-to-date store exists it is returned without reading
        any record.
    """
    if not np.isfinite(fs) or fs <= 0:
        raise InputError(f"--fs {fs} is not a positive sampling rate in Hz; pass e.g. --fs 100")
    if seconds is not None and seconds <= 0:
        raise InputError(f"--seconds {seconds} must be positive")
    say = on_status or (lambda _msg: None)
    reader_options = dict(reader_options or {})
    if dataset == "ptbxl" and "fs" not in reader_options:
        reader_options["fs"] = 100 if fs <= 100 else 500  # use the closest published rate
    reader = get_reader(dataset, data_dir, **reader_options)
    meta = reader.metadata()
    if len(meta) == 0:
        raise DataNotFoundError(f"{reader.title}: no records present under {reader.root}; download the "
                                "dataset or point --data-dir at a copy")
    options = {"dataset": reader.name, "fs": float(fs), "seconds": seconds, "reader": reader_options}
    fingerprint = _fingerprint(reader, options)
    root = Path(store_dir) if store_dir is not None else prepared_root(Path(data_dir))
    path = root / store_name(reader.store_label(**reader_options), fs, seconds)
    path.mkdir(parents=True, exist_ok=True)
    with _store_lock(path, say):
        return _build_or_reuse(path, reader, meta, fingerprint, fs, seconds, force, progress, say, reader_options)


@contextlib.contextmanager
def _store_lock(path: Path, say: Callable[[str], None]) -> Iterator[None]:
    """One ``prepare`` per store folder at a time (other processes wait): without it a second run
    could delete the version the first just published."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(path / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        say(f"another leadlift process is preparing {path}; waiting for it to finish")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _build_or_reuse(path: Path, reader: DatasetReader, meta: pd.DataFrame, fingerprint: str, fs: float,
                    seconds: float | None, force: bool, progress: bool, say: Callable[[str], None],
                    reader_options: dict[str, Any]) -> PreparedStore:
    """The body of :func:`prepare`, run under the store's lock."""
    current = path / "CURRENT"
    if not force and current.exists():
        try:
            store = PreparedStore.open(path)
            if store.manifest.get("fingerprint") == fingerprint:
                _clean_stale(path, keep=current.read_text().strip())
                say(f"{path} is up to date ({len(store)} records); nothing to do")
                return store
            say(f"{path} is out of date (sources or options changed); rebuilding")
        except (CorruptFileError, DataNotFoundError):
            say(f"{path} is damaged; rebuilding")

    _clean_stale(path, keep=current.read_text().strip() if current.exists() else None)
    src_fs = meta["fs"].to_numpy(dtype=float)
    if "n_samples" in meta.columns:
        src_len = meta["n_samples"].to_numpy(dtype=float)
    else:  # fixed-length datasets (PTB-XL: 10 s)
        first = reader.read(0)
        src_len = np.full(len(meta), first.n_samples, dtype=float)
    out_len = np.round(src_len * fs / src_fs).astype(int)
    n_samples = round(seconds * fs) if seconds is not None else int(out_len.max())
    first = reader.read(0)
    leads = first.leads if first.n_leads < 12 else first.to_standard12().leads

    tmp = path / f"tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    t0 = time.perf_counter()
    try:
        signals = np.lib.format.open_memmap(tmp / "signals.npy", mode="w+", dtype=np.float32,
                                            shape=(len(meta), len(leads), n_samples))
        n_valid = np.zeros(len(meta), dtype=np.int64)
        bar = tqdm(range(len(meta)), desc=f"prepare {reader.name} @ {fs:g} Hz", unit="rec",
                   disable=not progress, mininterval=1.0)
        for i in bar:
            ecg = reader.read(i).select(leads)
            x = resample(ecg.signal, ecg.fs, fs)
            n = min(x.shape[-1], n_samples)
            signals[i, :, :n] = x[:, :n]
            n_valid[i] = n
        signals.flush()
        del signals
        table = meta.copy()
        table.insert(0, "store_index", np.arange(len(meta)))
        table["n_valid"] = n_valid
        table.to_parquet(tmp / "meta.parquet", index=False)
        manifest = {
            "format": STORE_FORMAT,
            "dataset": reader.name,
            "title": reader.title,
            "fs": float(fs),
            "seconds": seconds,
            "leads": list(leads),
            "shape": [len(meta), len(leads), n_samples],
            "units": "mV",
            "dtype": "float32",
            "fingerprint": fingerprint,
            "source": str(reader.root),
            "reader_options": reader_options,
            "leadlift_version": leadlift.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.perf_counter() - t0, 2),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        for f in tmp.iterdir():  # make the data durable before publishing it
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        version = path / f"v-{fingerprint}-{uuid.uuid4().hex[:6]}"
        os.replace(tmp, version)
        _atomic_write_text(current, version.name + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _clean_stale(path, keep=version.name)
    store = PreparedStore.open(path)
    say(f"wrote {path} ({len(store)} records x {len(leads)} leads x {n_samples} samples @ {fs:g} Hz) "
        f"in {manifest['build_seconds']:.1f} s")
    return store


def open_store(dataset: str, fs: float, data_dir: str | Path, seconds: float | None = None,
               store_dir: str | Path | None = None,
               reader_options: dict[str, Any] | None = None) -> PreparedStore:
    """Open an existing store by dataset and fs (see :func:`prepare` for the location rule;
    pass the same ``reader_options``, e.g. ``{"subset": "ptb"}``, as to :func:`prepare`)."""
    root = Path(store_dir) if store_dir is not None else prepared_root(Path(data_dir))
    label = READERS[canonical_name(dataset)].store_label(**(reader_options or {}))
    path = root / store_name(label, fs, seconds)
    if not (path / "CURRENT").exists():
        how = (f"call prepare({dataset!r}, {fs:g}, data_dir, reader_options={reader_options!r})" if reader_options
               else f"run `leadlift prepare {dataset} --fs {fs:g}`")
        raise DataNotFoundError(f"no prepared store {path}; {how} first")
    return PreparedStore.open(path)
