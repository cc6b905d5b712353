"""Windows over prepared records: preprocessing, window indices, window QC and record labels.

Used by training (paper 2's reconstructor), evaluation and benchmarks alike, so every consumer
cuts, cleans and rejects windows the same way:

1. every record of a prepared store is band-passed (Butterworth 0.5–45 Hz, order 4, zero-phase)
   and then its baseline is removed (0.6-s running median), once, in float64
   (:func:`preprocess_records`); signals stay in **mV**;
2. windows of ``window`` samples with step ``hop`` inside each record's valid samples
   (:func:`window_index`); batches are gathered from a zero-copy ``unfold`` view
   (:func:`gather_windows`), so no window array is ever materialised;
3. window QC (:class:`QCBounds`): per lead, the amplitude range (max − min) and RMS of a window
   are compared with the ``[0.1, 99.9]`` percentiles of the **training** windows; a window with
   more than 3 leads out of range (or a non-finite sample) is rejected. The bounds are fitted once
   and applied unchanged to validation, test and zero-shot windows;
4. labels (:func:`record_labels`): PTB-XL diagnostic superclasses as a multi-hot ``[R, 5]``
   matrix, or the single most likely SCP statement (``scp_top``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from leadlift.conventions import SUPERCLASSES
from leadlift.errors import InputError
from leadlift.preprocessing import bandpass, remove_baseline

if TYPE_CHECKING:
    from leadlift.data.store import PreparedStore
    from leadlift.recon_config import ReconDataConfig

__all__ = [
    "EvalSet", "QCBounds", "WindowIndex", "gather_windows", "preprocess_records", "record_labels", "window_index",
]


# ---------------------------------------------------------------------------------------- records
def _check_rate(fs: float, cfg: ReconDataConfig) -> None:
    if abs(float(fs) - cfg.fs) > 1e-6:
        raise InputError(f"records are at {fs:g} Hz but the config expects {cfg.fs:g} Hz; prepare the store "
                         f"with --fs {cfg.fs:g}")


def preprocess_records(signals: np.ndarray, n_valid: Sequence[int] | np.ndarray, fs: float,
                       cfg: ReconDataConfig, rows: Sequence[int] | np.ndarray | None = None,
                       chunk: int = 256, out: np.ndarray | None = None) -> np.ndarray:
    """Band-pass, then remove the baseline of every record (valid samples only).

    Args:
        signals: ``[R, L, T]`` in mV (e.g. a store's memmap).
        n_valid: valid samples of each record (the rest is padding and stays 0).
        fs: sampling rate in Hz; must equal ``cfg.fs``.
        cfg: the data config (band-pass edges and order, baseline window).
        rows: only these records (the others stay 0); default all.
        chunk: records filtered at once (bounds the float64 working memory).
        out: a zero-filled ``[R, L, T]`` float32 array to write into (e.g. a memory-mapped file,
            see :func:`cached_preprocessed_records`); default a new in-memory array.
    Returns:
        ``[R, L, T]`` float32 in mV (``out`` when given).
    """
    _check_rate(fs, cfg)
    n_valid = np.asarray(n_valid, dtype=int)
    use = np.zeros(len(n_valid), dtype=bool)
    use[np.arange(len(n_valid)) if rows is None else np.asarray(rows, dtype=int)] = True
    if out is None:
        out = np.zeros(signals.shape, dtype=np.float32)
    elif tuple(out.shape) != tuple(signals.shape) or out.dtype != np.float32:
        raise InputError(f"out must be float32 {tuple(signals.shape)}, not {out.dtype} {tuple(out.shape)}")
    for length in np.unique(n_valid[use]):
        rows = np.flatnonzero((n_valid == length) & use)
        for s in range(0, len(rows), chunk):
            r = rows[s:s + chunk]
            x = np.asarray(signals[r, :, :length], dtype=np.float64)
            x = bandpass(x, cfg.fs, cfg.bandpass_low_hz, cfg.bandpass_high_hz, cfg.bandpass_order)
            if cfg.baseline_window_s is not None:
                x = remove_baseline(x, cfg.fs, window_s=cfg.baseline_window_s)
            out[r, :, :length] = x
    return out


def cached_preprocessed_records(store: PreparedStore, cfg: ReconDataConfig,
                                rows: Sequence[int] | np.ndarray | None = None,
                                workers: int | None = None) -> np.ndarray:
    """:func:`preprocess_records` of a store, kept as a memory-mapped file so that training reads
    windows from disk instead of holding the dataset in RAM (memory flat in the record count).

    The file lives in the store's live version folder (``cache/preprocessed-<key>.npy``; it goes
    with that version) and is keyed by the version, the preprocessing settings and ``rows``; it is
    written once, atomically, and reused by later runs and by the other DDP processes. It is built
    by ``workers`` processes (default: the CPU count; small selections use fewer), each filtering
    chunks of records straight from the store's files into the cache file. Where the store is
    read-only the result is computed in memory instead.

    Returns:
        ``[R, L, T]`` float32 mV, a copy-on-write memory map (writable, never written back).
    """
    import hashlib
    import math
    import os

    from leadlift.atomic import atomic_path

    chosen = None if rows is None else np.asarray(rows, dtype=np.int64)
    key = hashlib.sha256(json.dumps({
        "version": store.version_dir.name, "fingerprint": store.manifest.get("fingerprint"),
        "fs": cfg.fs, "band": [cfg.bandpass_low_hz, cfg.bandpass_high_hz, cfg.bandpass_order],
        "baseline_window_s": cfg.baseline_window_s,
        "rows": None if chosen is None else hashlib.sha256(chosen.tobytes()).hexdigest(),
    }, sort_keys=True).encode()).hexdigest()[:20]
    path = store.version_dir / "cache" / f"preprocessed-{key}.npy"
    n_valid = store.meta["n_valid"].to_numpy()
    if not path.exists():
        _check_rate(store.fs, cfg)
        use = np.arange(len(n_valid)) if chosen is None else chosen
        chunks = [(length, part) for length in np.unique(n_valid[use])
                  for grp in [np.sort(use[n_valid[use] == length])]
                  for part in np.array_split(grp, math.ceil(len(grp) / _CACHE_CHUNK))]
        n_workers = max(1, min(workers or os.cpu_count() or 1, math.ceil(len(use) / (2 * _CACHE_CHUNK))))
        try:
            with atomic_path(path) as tmp:
                out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=tuple(store.signals.shape))
                del out  # allocated (sparse, zeros); the chunks are written into it
                files = [f["file"] for f in store.manifest.get("shards", [])] or ["signals.npy"]
                job = (str(store.version_dir), files, str(tmp), float(store.fs), cfg)
                if n_workers == 1:
                    for length, part in chunks:
                        _preprocess_chunk(job, int(length), part)
                else:
                    from joblib.externals.loky import get_reusable_executor

                    pool = get_reusable_executor(max_workers=n_workers, timeout=30)
                    for fut in [pool.submit(_preprocess_chunk, job, int(length), part) for length, part in chunks]:
                        fut.result()
        except PermissionError:
            return preprocess_records(store.signals, n_valid, store.fs, cfg, rows=chosen)
    cached = np.load(path, mmap_mode="c")
    if tuple(cached.shape) != tuple(store.signals.shape):  # damaged: rebuild once
        path.unlink(missing_ok=True)
        return cached_preprocessed_records(store, cfg, rows, workers)
    return cached


_CACHE_CHUNK = 256  # records filtered per task (bounds the float64 working memory)


def _preprocess_chunk(job: tuple[str, list[str], str, float, ReconDataConfig], length: int,
                      rows: np.ndarray) -> None:
    """Band-pass and baseline-correct ``rows`` (all of ``length`` valid samples) of a store version's
    signal files and write them into the cache file ``out`` (runs in a worker or in the caller)."""
    from pathlib import Path

    from leadlift.data.store import ShardedSignals

    version, files, out_path, _fs, cfg = job
    parts = [np.load(Path(version) / f, mmap_mode="r") for f in files]
    signals = parts[0] if len(parts) == 1 else ShardedSignals(parts)
    x = np.asarray(signals[rows, :, :length], dtype=np.float64)
    x = bandpass(x, cfg.fs, cfg.bandpass_low_hz, cfg.bandpass_high_hz, cfg.bandpass_order)
    if cfg.baseline_window_s is not None:
        x = remove_baseline(x, cfg.fs, window_s=cfg.baseline_window_s)
    out = np.load(out_path, mmap_mode="r+")
    out[rows, :, :length] = x
    out.flush()
    del out


@dataclass(frozen=True)
class WindowIndex:
    """Windows as (record row, start sample) pairs: ``rows`` and ``starts``, both ``[N]`` int64."""

    rows: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, keep: np.ndarray) -> WindowIndex:
        """The windows where ``keep`` (bool ``[N]`` or indices) selects."""
        return WindowIndex(self.rows[keep], self.starts[keep])


def window_index(n_valid: Sequence[int] | np.ndarray, rows: Sequence[int] | np.ndarray, window: int,
                 hop: int) -> WindowIndex:
    """Every window of ``window`` samples, step ``hop``, inside the valid part of each record in ``rows``."""
    n_valid = np.asarray(n_valid, dtype=int)
    r_out, s_out = [], []
    for r in np.asarray(rows, dtype=int):
        starts = np.arange(0, int(n_valid[r]) - window + 1, hop, dtype=np.int64)
        r_out.append(np.full(len(starts), r, dtype=np.int64))
        s_out.append(starts)
    if not r_out:
        return WindowIndex(np.zeros(0, np.int64), np.zeros(0, np.int64))
    return WindowIndex(np.concatenate(r_out), np.concatenate(s_out))


def gather_windows(records: Tensor, index: WindowIndex | tuple[np.ndarray, np.ndarray], window: int,
                   leads: Sequence[int] | None = None) -> Tensor:
    """Windows ``[N, n_leads, window]`` (mV) cut from ``records`` ``[R, L, T]`` (float32 tensor).

    Uses a zero-copy ``unfold`` view; only the gathered batch is allocated.
    """
    rows, starts = (index.rows, index.starts) if isinstance(index, WindowIndex) else index
    view = records.unfold(-1, window, 1)  # [R, L, T - window + 1, window]
    r = torch.as_tensor(np.asarray(rows), dtype=torch.long)
    s = torch.as_tensor(np.asarray(starts), dtype=torch.long)
    if leads is None:
        return view[r, :, s]
    lead_t = torch.as_tensor(list(leads), dtype=torch.long)
    return view[r[:, None], lead_t[None, :], s[:, None]]


def window_chunks(records: Tensor, index: WindowIndex, window: int, chunk: int = 8192) -> Iterator[Tensor]:
    """:func:`gather_windows` over ``index`` in chunks of at most ``chunk`` windows (bounded memory):
    yields ``[≤ chunk, n_leads, window]`` mV tensors in index order."""
    for s in range(0, len(index), chunk):
        yield gather_windows(records, index.subset(slice(s, s + chunk)), window)


# ---------------------------------------------------------------------------------------- QC
def _qc_features(windows: np.ndarray | Tensor) -> np.ndarray:
    """``[2, N, L]``: amplitude range (max − min, mV) and RMS (mV) per window and lead."""
    data = windows.numpy() if isinstance(windows, Tensor) else np.asarray(windows)
    data = data.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        feats = np.stack([np.ptp(data, axis=-1), np.sqrt(np.mean(data**2, axis=-1))])
    feats[~np.isfinite(feats)] = np.nan
    return feats


@dataclass(frozen=True)
class QCBounds:
    """Per-lead percentile bounds of window range and RMS, fitted on training windows.

    Attributes:
        low, high: ``[2, L]`` lower/upper bounds (row 0 range, row 1 RMS, mV).
        max_bad_leads: a window with more bad leads than this is rejected.
    """

    low: np.ndarray
    high: np.ndarray
    max_bad_leads: int

    @classmethod
    def fit(cls, windows: np.ndarray | Tensor, low_pct: float = 0.1, high_pct: float = 99.9,
            max_bad_leads: int = 3) -> QCBounds:
        """Fit on ``[N, L, T]`` windows (mV)."""
        if windows.shape[0] == 0:
            raise InputError("no windows to fit the QC bounds on; check the split and the window length")
        f = _qc_features(windows)
        return cls(np.nanpercentile(f, low_pct, axis=1), np.nanpercentile(f, high_pct, axis=1), int(max_bad_leads))

    @classmethod
    def fit_chunked(cls, records: Tensor, index: WindowIndex, window: int, low_pct: float = 0.1,
                    high_pct: float = 99.9, max_bad_leads: int = 3, chunk: int = 8192) -> QCBounds:
        """:meth:`fit` on windows gathered from ``records`` in chunks (bounded memory)."""
        feats = [_qc_features(w) for w in window_chunks(records, index, window, chunk)]
        if not feats:
            raise InputError("no windows to fit the QC bounds on; check the split and the window length")
        f = np.concatenate(feats, axis=1)
        return cls(np.nanpercentile(f, low_pct, axis=1), np.nanpercentile(f, high_pct, axis=1), int(max_bad_leads))

    def reject(self, windows: np.ndarray | Tensor) -> np.ndarray:
        """Bool ``[N]``, True = reject (too many out-of-range leads, or non-finite values)."""
        f = _qc_features(windows)
        bad = ~((f >= self.low[:, None, :]) & (f <= self.high[:, None, :]))  # NaN -> bad
        data = windows.numpy() if isinstance(windows, Tensor) else np.asarray(windows)
        nonfinite = ~np.isfinite(data).all(axis=(-2, -1))
        return (bad.any(axis=0).sum(axis=-1) > self.max_bad_leads) | nonfinite

    def reject_chunked(self, records: Tensor, index: WindowIndex, window: int, chunk: int = 8192) -> np.ndarray:
        """:meth:`reject` on windows gathered from ``records`` in chunks."""
        out = [self.reject(w) for w in window_chunks(records, index, window, chunk)]
        return np.concatenate(out) if out else np.zeros(0, dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        return {"range_mv": [self.low[0].tolist(), self.high[0].tolist()],
                "rms_mv": [self.low[1].tolist(), self.high[1].tolist()], "max_bad_leads": self.max_bad_leads}


# ---------------------------------------------------------------------------------------- labels
def _top_statement(codes: str) -> str:
    try:
        d = json.loads(codes) if isinstance(codes, str) and codes else {}
    except json.JSONDecodeError:
        return "none"
    if not d:
        return "none"
    best = max(d.values())
    return next(k for k, v in d.items() if v == best)  # first listed among the most likely


def record_labels(meta: pd.DataFrame, kind: str = "superclass") -> tuple[np.ndarray, np.ndarray]:
    """SupCon labels of every record and the class key the balanced sampler uses.

    Args:
        meta: PTB-XL metadata (superclass 0/1 columns, ``scp_codes`` JSON).
        kind: ``"superclass"`` — multi-hot ``[R, 5]`` over NORM, MI, STTC, CD, HYP; the class key
            is the label *set* (``"MI;STTC"``, ``"none"`` when empty). ``"scp_top"`` — the single
            most likely SCP statement (ties: the first listed) as an integer id ``[R]``; the key is
            the statement.
    Returns:
        ``(labels, keys)``: labels as above (float32 multi-hot or int64 ids), keys ``[R]`` str.
    """
    if kind == "superclass":
        missing = [c for c in SUPERCLASSES if c not in meta.columns]
        if missing:
            raise InputError(f"metadata lacks superclass columns {missing}; superclass labels need PTB-XL")
        m = meta[list(SUPERCLASSES)].to_numpy(dtype=np.float32)
        keys = np.array([";".join(c for c, v in zip(SUPERCLASSES, row, strict=True) if v > 0) or "none"
                         for row in m])
        return m, keys
    if kind == "scp_top":
        if "scp_codes" not in meta.columns:
            raise InputError("metadata lacks scp_codes; scp_top labels need PTB-XL")
        keys = np.array([_top_statement(c) for c in meta["scp_codes"]])
        _, ids = np.unique(keys, return_inverse=True)
        return ids.astype(np.int64), keys
    raise InputError(f"label kind {kind!r} unknown; use 'superclass' or 'scp_top'")


@dataclass
@dataclass
class EvalSet:
    """Windows to score: preprocessed ``records`` ``[R, 12, T]`` (mV) and the window ``index``."""

    name: str
    records: Tensor
    index: WindowIndex
    n_valid: np.ndarray
    record_ids: np.ndarray
