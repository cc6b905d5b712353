"""Prepared store: a dataset read once, resampled, and kept as one memory-mapped array.

Layout inside ``<data_dir>/leadlift-prepared/<dataset>-<fs>hz/``::

    CURRENT                  # name of the live version folder (replaced atomically)
    v-<fingerprint>/
        signals.npy          # [n_records, n_leads, n_samples] in mV, float32 or float16
                             # (np.load(mmap_mode="r")); with --shards N instead
                             # signals-00000-of-0000N.npy ... (consecutive row ranges)
        meta.parquet         # the reader's metadata + store_index, n_valid (valid samples per row)
        manifest.json        # dataset, fs, leads, shape, dtype, shards, source fingerprint, version

A store is built in a temporary folder and published by renaming it and then atomically
replacing ``CURRENT``; a killed ``prepare`` therefore never leaves a half store (the previous
version stays live, the temporary folder is cleaned up by the next run). The fingerprint covers
the build options and the size/mtime of every source file, so ``prepare`` returns at once when
nothing changed and rebuilds when anything did.

Records shorter than the store's length are zero-padded at the end (``n_valid`` says how many
samples are real); longer ones are cut (``seconds`` option) — datasets never crop into padding.

Building scales with the record count: records are read and resampled by a pool of worker
processes (``workers``), each writing its rows straight into the output file at their offsets
(``os.pwrite``; the parent never holds signal data, so memory stays flat as the dataset grows).
``dtype="float16"`` halves the store (rounding error ≤ 0.05 % of a value, ≤ 0.5 µV below 1 mV;
the datasets hand out float32);
``shards=N`` splits the rows over N files so nodes or DataLoader workers can read disjoint files
(:attr:`PreparedStore.shards`).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
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
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError, LeadliftError
from leadlift.paths import prepared_root
from leadlift.preprocessing import resample

STORE_FORMAT = 1
STORE_DTYPES = ("float32", "float16")
"""Storage types of the signal array (values are always mV; readers see float32)."""
_CHUNK = 32  # records per worker task


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


class ShardedSignals:
    """The rows of a sharded store as one read-only array-like ``[n_records, n_leads, n_samples]``.

    Supports what the datasets need: ``len``, ``shape``, ``dtype``, integer / slice / index-array
    rows with any further NumPy indices (``x[i, :, a:b]``, ``x[rows, :, :n]``), and
    ``np.asarray(x)`` (reads everything). Each part is a memory-mapped shard file.
    """

    ndim = 3

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        if not parts:
            raise CorruptFileError("a sharded store without shard files")
        self.parts = list(parts)
        self.bounds = np.cumsum([0, *[len(p) for p in self.parts]])
        self.shape = (int(self.bounds[-1]), *self.parts[0].shape[1:])
        self.dtype = self.parts[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        first, rest = (key[0], tuple(key[1:])) if isinstance(key, tuple) else (key, ())
        n = len(self)
        if isinstance(first, (int, np.integer)):
            i = int(first) + (n if int(first) < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"row {int(first)} is out of range for {n} records")
            s = int(np.searchsorted(self.bounds, i, side="right") - 1)
            return self.parts[s][(i - int(self.bounds[s]), *rest)]
        rows = np.arange(n)[first] if isinstance(first, slice) else np.asarray(first)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = np.where(rows < 0, rows + n, rows).astype(np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"row index out of range for {n} records")
        shard = np.searchsorted(self.bounds, rows, side="right") - 1
        pieces: list[np.ndarray] = []
        order: list[np.ndarray] = []
        for s in np.unique(shard):
            pos = np.flatnonzero(shard == s)
            pieces.append(np.asarray(self.parts[int(s)][(rows[pos] - int(self.bounds[s]), *rest)]))
            order.append(pos)
        if not pieces:
            return np.asarray(self.parts[0][(np.zeros(0, dtype=np.int64), *rest)])
        out = np.concatenate(pieces)
        return out[np.argsort(np.concatenate(order), kind="stable")]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.concatenate([np.asarray(p) for p in self.parts])
        return out if dtype is None else out.astype(dtype)


@dataclass
class PreparedStore:
    """A prepared store opened read-only (memory-mapped).

    Attributes:
        path: the store folder (``.../ptbxl-100hz``).
        signals: ``[n_records, n_leads, n_samples]`` memmap in mV (float32, or float16 when built
            with ``dtype="float16"``; a :class:`ShardedSignals` when built with shards).
        meta: metadata table, row ``i`` describes ``signals[i]``.
        manifest: build information (dataset, fs, leads, dtype, shards, fingerprint...).
    """

    path: Path
    signals: np.ndarray | ShardedSignals
    meta: pd.DataFrame
    manifest: dict[str, Any]
    version: str = ""

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
            files = [f["file"] for f in manifest.get("shards", [])] or ["signals.npy"]
            parts = [np.load(version / f, mmap_mode="r") for f in files]
            signals: np.ndarray | ShardedSignals = parts[0] if len(parts) == 1 else ShardedSignals(parts)
            meta = pd.read_parquet(version / "meta.parquet")
        except (OSError, ValueError) as exc:
            raise CorruptFileError(f"prepared store {version} is unreadable ({exc}); delete {path} and "
                                   "run `leadlift prepare` again") from None
        if tuple(signals.shape) != tuple(manifest["shape"]) or len(meta) != signals.shape[0]:
            raise CorruptFileError(f"prepared store {version} is inconsistent; delete {path} and run "
                                   "`leadlift prepare` again")
        return cls(path=path, signals=signals, meta=meta, manifest=manifest, version=version.name)

    @property
    def fs(self) -> float:
        """Sampling rate of the stored signals in Hz."""
        return float(self.manifest["fs"])

    @property
    def version_dir(self) -> Path:
        """The version folder (``v-<fingerprint>-<id>``) whose files this store reads."""
        return self.path / (self.version or (self.path / "CURRENT").read_text().strip())

    @property
    def dtype(self) -> str:
        """Storage type of the signals (``float32`` or ``float16``; values in mV)."""
        return str(self.manifest.get("dtype", "float32"))

    @property
    def shards(self) -> list[tuple[int, int]]:
        """Row ranges ``[start, stop)`` of the shard files (one range when not sharded): give each
        node or DataLoader worker its own ranges to read disjoint files."""
        sh = self.manifest.get("shards") or [{"rows": [0, len(self)]}]
        return [(int(x["rows"][0]), int(x["rows"][1])) for x in sh]

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
        sig = np.asarray(self.signals[index, :, : int(row["n_valid"])], dtype=np.float32)
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
    workers: int | None = None,
    dtype: str | None = None,
    shards: int | None = None,
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
        workers: reader processes (default: the CPU count; small datasets use fewer, 1 reads in
            this process).
        dtype: ``"float32"`` or ``"float16"`` storage. None: keep an existing store's type
            (float32 for a new one); a different explicit type rebuilds.
        shards: number of signal files (None: keep an existing store's; 1 for a new one).

    Returns:
        The opened store. When an up-to-date store exists it is returned without reading
        any record.
    """
    if not np.isfinite(fs) or fs <= 0:
        raise InputError(f"--fs {fs} is not a positive sampling rate in Hz; pass e.g. --fs 100")
    if seconds is not None and seconds <= 0:
        raise InputError(f"--seconds {seconds} must be positive")
    if dtype is not None and dtype not in STORE_DTYPES:
        raise InputError(f"--dtype {dtype} is not a store type; use {' or '.join(STORE_DTYPES)}")
    if shards is not None and (isinstance(shards, bool) or int(shards) != shards or shards < 1):
        raise InputError(f"--shards {shards} must be a positive whole number")
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
        raise InputError(f"--workers {workers} must be a positive whole number")
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
    build = _Build(dtype=dtype, shards=None if shards is None else int(shards),
                   workers=int(workers) if workers is not None else (os.cpu_count() or 1))
    with _store_lock(path, say):
        return _build_or_reuse(path, reader, meta, fingerprint, fs, seconds, force, progress, say, reader_options,
                               build)


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


@dataclass(frozen=True)
class _Build:
    """How to write a store: storage type and shards (None: keep the existing store's), workers."""

    dtype: str | None
    shards: int | None
    workers: int


def _matches(store: PreparedStore, build: _Build) -> bool:
    return ((build.dtype is None or build.dtype == store.dtype)
            and (build.shards is None or build.shards == len(store.shards)))


def _build_or_reuse(path: Path, reader: DatasetReader, meta: pd.DataFrame, fingerprint: str, fs: float,
                    seconds: float | None, force: bool, progress: bool, say: Callable[[str], None],
                    reader_options: dict[str, Any], build: _Build) -> PreparedStore:
    """The body of :func:`prepare`, run under the store's lock."""
    current = path / "CURRENT"
    if not force and current.exists():
        try:
            store = PreparedStore.open(path)
            if store.manifest.get("fingerprint") == fingerprint and _matches(store, build):
                _clean_stale(path, keep=current.read_text().strip())
                say(f"{path} is up to date ({len(store)} records); nothing to do")
                return store
            say(f"{path} is out of date (sources or options changed); rebuilding")
        except (CorruptFileError, DataNotFoundError):
            say(f"{path} is damaged; rebuilding")

    _clean_stale(path, keep=current.read_text().strip() if current.exists() else None)
    src_fs = meta["fs"].to_numpy(dtype=float)
    first = reader.read(0)
    if "n_samples" in meta.columns:
        src_len = meta["n_samples"].to_numpy(dtype=float)
    else:  # fixed-length datasets (PTB-XL: 10 s)
        src_len = np.full(len(meta), first.n_samples, dtype=float)
    out_len = np.round(src_len * fs / src_fs).astype(int)
    n_samples = round(seconds * fs) if seconds is not None else int(out_len.max())
    leads = first.leads if first.n_leads < 12 else first.to_standard12().leads
    dtype = build.dtype or "float32"
    n_shards = max(1, min(build.shards or 1, len(meta)))
    bounds = [round(k * len(meta) / n_shards) for k in range(n_shards + 1)]
    files = (["signals.npy"] if n_shards == 1
             else [f"signals-{k:05d}-of-{n_shards:05d}.npy" for k in range(n_shards)])
    workers = max(1, min(build.workers, math.ceil(len(meta) / (4 * _CHUNK))))

    need = len(meta) * len(leads) * n_samples * np.dtype(dtype).itemsize
    free = shutil.disk_usage(path).free
    if need > free:
        raise InputError(f"the store would need {need / 1e9:,.1f} GB ({len(meta)} records x {len(leads)} leads x "
                         f"{n_samples} samples at {fs:g} Hz, {dtype}) but {path} has {free / 1e9:,.1f} GB free; "
                         "pass a lower --fs, a shorter --seconds, --dtype float16 or another --store-dir")
    tmp = path / f"tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    t0 = time.perf_counter()
    try:
        layout = []
        for k, f in enumerate(files):
            arr = np.lib.format.open_memmap(tmp / f, mode="w+", dtype=np.dtype(dtype),
                                            shape=(bounds[k + 1] - bounds[k], len(leads), n_samples))
            offset = arr.offset
            del arr  # allocated (sparse) and closed: the workers write the rows
            layout.append((str(tmp / f), bounds[k], bounds[k + 1], int(offset)))
        job = _Job(reader=reader.without_metadata(), leads=tuple(leads), fs=float(fs), n_samples=n_samples, dtype=dtype,
                   layout=tuple(layout))
        n_valid = _fill(job, meta, workers, progress, f"prepare {reader.name} @ {fs:g} Hz")
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
            "dtype": dtype,
            "shards": [{"file": f, "rows": [bounds[k], bounds[k + 1]]} for k, f in enumerate(files)]
            if n_shards > 1 else [],
            "fingerprint": fingerprint,
            "source": str(reader.root),
            "reader_options": reader_options,
            "leadlift_version": leadlift.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.perf_counter() - t0, 2),
            "workers": workers,
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
    say(f"wrote {path} ({len(store)} records x {len(leads)} leads x {n_samples} samples @ {fs:g} Hz, {dtype}"
        + (f", {n_shards} shards" if n_shards > 1 else "") + f") in {manifest['build_seconds']:.1f} s "
        f"with {workers} worker{'s' if workers > 1 else ''}")
    return store


@dataclass(frozen=True)
class _Job:
    """What a worker needs to write rows: the reader, the output layout
    ``(file, first_row, stop_row, data_offset)`` per shard, and the target format."""

    reader: DatasetReader
    leads: tuple[str, ...]
    fs: float
    n_samples: int
    dtype: str
    layout: tuple[tuple[str, int, int, int], ...]


_JOB: _Job | None = None  # the job of a worker process (set by _init_worker)


def _init_worker(job: _Job) -> None:
    global _JOB
    _JOB = job


def _write_rows(start: int, frame: pd.DataFrame, job: _Job | None = None) -> list[tuple[int, int]]:
    """Read, resample and write the records of ``frame`` (the metadata rows of store rows
    ``start, start + 1, ...``) into their place in the output files; returns ``[(row, n_valid)]``.
    Runs in a worker (``job`` from the initializer; it holds no metadata table, so worker memory
    does not grow with the dataset) or in the caller."""
    job = job or _JOB
    assert job is not None
    itemsize = np.dtype(job.dtype).itemsize
    row_bytes = len(job.leads) * job.n_samples * itemsize
    out: list[tuple[int, int]] = []
    fds: dict[str, int] = {}
    try:
        for i, (_, meta_row) in enumerate(frame.iterrows(), start=int(start)):
            name = str(meta_row.get("record_id", f"#{i}"))
            try:
                ecg = job.reader.read_row(meta_row).select(job.leads)
                x = resample(ecg.signal, ecg.fs, job.fs)
            except LeadliftError as exc:  # one line already; make sure it names the record
                if name in str(exc):
                    raise
                raise type(exc)(f"{job.reader.title}: record {name}: {exc}") from None
            except Exception as exc:  # a library's error on a damaged file: name the record
                raise CorruptFileError(f"{job.reader.title}: record {name} could not be read "
                                       f"({type(exc).__name__}: {exc})") from None
            n = min(x.shape[-1], job.n_samples)
            row = np.zeros((len(job.leads), job.n_samples), dtype=job.dtype)
            row[:, :n] = x[:, :n]
            file, first, _, offset = next(lay for lay in job.layout if lay[1] <= i < lay[2])
            if file not in fds:
                fds[file] = os.open(file, os.O_WRONLY)
            os.pwrite(fds[file], row.tobytes(), offset + (i - first) * row_bytes)
            out.append((i, n))
    finally:
        for fd in fds.values():
            os.close(fd)
    return out


def _fill(job: _Job, meta: pd.DataFrame, workers: int, progress: bool, desc: str) -> np.ndarray:
    """Write every record of ``meta`` (in this process or a pool of ``workers``); returns ``n_valid``.

    Tasks are chunks of ``_CHUNK`` metadata rows, handed out a few per worker at a time, so neither
    the caller nor the workers hold more than a bounded number of them."""
    n = len(meta)
    n_valid = np.zeros(n, dtype=np.int64)
    tasks = ((s, meta.iloc[s:s + _CHUNK]) for s in range(0, n, _CHUNK))
    bar = tqdm(total=n, desc=desc, unit="rec", disable=not progress, mininterval=1.0)

    def record(done: list[tuple[int, int]]) -> None:
        for i, k in done:
            n_valid[i] = k
        bar.update(len(done))

    try:
        if workers <= 1:
            for start, frame in tasks:
                record(_write_rows(start, frame, job))
            return n_valid
        # loky (joblib's process pool): fresh worker processes that neither fork the caller (which
        # may hold torch/BLAS threads) nor re-run its __main__ script
        from joblib.externals.loky import get_reusable_executor
        from joblib.externals.loky.process_executor import BrokenProcessPool

        pool = get_reusable_executor(max_workers=workers, timeout=30, initializer=_init_worker, initargs=(job,))
        pending: set[Future] = set()
        try:
            while True:
                for start, frame in itertools.islice(tasks, 4 * workers - len(pending)):
                    pending.add(pool.submit(_write_rows, start, frame))
                if not pending:
                    break
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    record(fut.result())
        except BrokenProcessPool:
            raise LeadliftError(f"a prepare worker process died (out of memory?); run again with fewer "
                                f"--workers (now {workers})") from None
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
        return n_valid
    finally:
        bar.close()


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
