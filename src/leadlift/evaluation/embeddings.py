"""Frozen embeddings of prepared stores, from a checkpoint or a random-initialised twin.

An :class:`Encoder` bundles a model with the preprocessing its checkpoint prescribes
(``config["preprocessing"]``: fs, window length, per-lead per-window z-score). Records are cut
into non-overlapping windows of the model's length from their start (padding is never used);
each window is z-scored per lead and embedded without masking (the CLS token). A record's
embedding is the mean of its windows' embeddings.

Embedding "views": a per-lead bank (:class:`~leadlift.models.LeadBankMAE`) gives one
``D``-dimensional embedding per lead (views named after the leads); a 12-channel MAE
(:class:`~leadlift.models.MultiChannelMAE`) gives a single view named ``"12-lead"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from leadlift.data.store import PreparedStore
from leadlift.data.windows import window_index as windows_of
from leadlift.errors import InputError
from leadlift.inference.backends import load_network, zscore_windows
from leadlift.inference.checkpoint import CheckpointConfig
from leadlift.models import LeadBankMAE
from leadlift.models.registry import build_network

#: Name of the embedding view of a 12-channel model (and of the concatenated per-lead views).
TWELVE_LEAD = "12-lead"


@dataclass
class Encoder:
    """A frozen encoder and the preprocessing it expects.

    Attributes:
        model: the model in eval mode (``LeadBankMAE`` or ``MultiChannelMAE``).
        config: the checkpoint config (``config["preprocessing"]`` is used here).
        name: label used in tables (e.g. ``"checkpoint"``, ``"random init"``).
        source: where the weights came from (a path, or ``"random init (seed 0)"``).
    """

    model: nn.Module
    config: CheckpointConfig
    name: str
    source: str = ""

    @property
    def per_lead(self) -> bool:
        """True for a per-lead bank (one embedding per lead), False for a 12-channel model."""
        return isinstance(self.model, LeadBankMAE)

    @property
    def fs(self) -> float:
        """Sampling rate in Hz the model was trained at."""
        return float(self.config.preprocessing.fs)

    @property
    def n_times(self) -> int:
        """Window length in samples."""
        return int(self.config.preprocessing.window_samples)

    @property
    def eps(self) -> float:
        """Epsilon of the per-window z-score (mV)."""
        return float(self.config.preprocessing.zscore_eps)

    @property
    def leads(self) -> tuple[str, ...]:
        """Leads the model has an encoder for (bank) or expects as channels (12-channel)."""
        return tuple(self.model.leads)

    @property
    def embed_dim(self) -> int:
        """Embedding width D."""
        return int(self.model.embed_dim)

    def views(self, store_leads: Sequence[str]) -> tuple[str, ...]:
        """Embedding views available for a store with ``store_leads``."""
        if self.per_lead:
            return tuple(ld for ld in store_leads if ld in self.leads)
        return (TWELVE_LEAD,) if set(self.leads) <= set(store_leads) else ()

    @torch.no_grad()
    def embed_windows(self, windows: np.ndarray, leads: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Embed windows in mV.

        Args:
            windows: ``[N, len(leads), n_times]`` signals in mV (not normalised).
            leads: lead names of the rows of ``windows``.
            batch_size: windows per forward pass.

        Returns:
            ``[N, V, D]`` float32 CLS embeddings, one per view (see :meth:`views`).
        """
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 3 or windows.shape[1] != len(leads) or windows.shape[2] != self.n_times:
            raise InputError(f"windows have shape {windows.shape}, expected [N, {len(leads)}, {self.n_times}]")
        views = self.views(leads)
        if not views:
            raise InputError(f"the model needs leads {','.join(self.leads)} but the data has {','.join(leads)}")
        if self.per_lead:
            rows = [list(leads).index(v) for v in views]
        else:
            rows = [list(leads).index(ld) for ld in self.leads]
        out = np.empty((len(windows), len(views), self.embed_dim), dtype=np.float32)
        for s in range(0, len(windows), batch_size):
            x = torch.from_numpy(zscore_windows(windows[s:s + batch_size][:, rows], self.eps)[0])
            if self.per_lead:
                e = self.model.embed(x, leads=list(views))
            else:
                e = self.model.embed(x)[:, None]
            out[s:s + len(x)] = e.numpy()
        return out


def load_encoder(path: str | Path, name: str | None = None) -> Encoder:
    """Load a checkpoint folder written by ``leadlift pretrain`` as a frozen :class:`Encoder`."""
    model, cfg = load_network(path)
    if cfg.kind != "mae":
        raise InputError(f"{path} is a reconstructor checkpoint; embeddings need an MAE checkpoint (leadlift pretrain)")
    return Encoder(model=model, config=cfg, name=name or Path(path).name, source=str(path))


def random_encoder(config: CheckpointConfig | dict[str, Any], seed: int = 0, name: str = "random init") -> Encoder:
    """A randomly initialised encoder of the architecture in ``config`` (a checkpoint config, typed
    or as read from ``config.yaml``; weights from ``seed``; the global torch RNG is left
    untouched). Its config carries no calibration or evaluation."""
    if not isinstance(config, CheckpointConfig):
        from leadlift.inference.checkpoint import parse_checkpoint_config

        config = parse_checkpoint_config(config, "random_encoder config")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_network(config.model.class_name, config.model.kwargs)
    cfg = config.model_copy(update={"calibration": None, "evaluation": None, "weights_sha256": None})
    return Encoder(model=model.eval(), config=cfg, name=name, source=f"random init (seed {seed})")


def window_index(store: PreparedStore, indices: Sequence[int] | np.ndarray,
                 n_times: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows of ``n_times`` samples from the start of each record.

    Returns:
        ``(row, start)``: store row and first sample of every window (records shorter than
        ``n_times`` valid samples give none; zero padding is never used).
    """
    idx = windows_of(store.meta["n_valid"].to_numpy(), indices, n_times, n_times)
    return idx.rows.astype(int), idx.starts.astype(int)


def _iter_windows(store: PreparedStore, rows: np.ndarray, starts: np.ndarray, n_times: int,
                  chunk: int) -> Iterator[tuple[int, np.ndarray]]:
    for s in range(0, len(rows), chunk):
        r, st = rows[s:s + chunk], starts[s:s + chunk]
        block = np.stack([np.asarray(store.signals[ri, :, si:si + n_times], dtype=np.float32)
                          for ri, si in zip(r, st, strict=True)])
        yield s, block


@dataclass
class StoreEmbeddings:
    """Embeddings of some records of a store.

    Attributes:
        views: names of the embedding views (leads, or ``("12-lead",)``).
        rows: ``[R]`` store rows that have at least one window.
        record: ``[R, V, D]`` per-record embeddings (mean over the record's windows).
        window: ``[W, V, D]`` per-window embeddings.
        window_row: ``[W]`` store row of each window.
        window_start: ``[W]`` first sample of each window (at the store's fs).
    """

    views: tuple[str, ...]
    rows: np.ndarray
    record: np.ndarray
    window: np.ndarray
    window_row: np.ndarray
    window_start: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    def view(self, name: str, level: str = "record") -> np.ndarray:
        """``[R, D]`` (or ``[W, D]`` with ``level="window"``) embeddings of one view; ``"12-lead"``
        on a per-lead bank is the concatenation of the 12 lead views ``[R, 12·D]``."""
        data = self.record if level == "record" else self.window
        if name in self.views:
            return data[:, self.views.index(name)]
        if name == TWELVE_LEAD and len(self.views) > 1:
            return data.reshape(len(data), -1)
        raise InputError(f"no embedding view {name!r}; available: {', '.join(self.views)}")


def embed_store(encoder: Encoder, store: PreparedStore, indices: Sequence[int] | np.ndarray | None = None,
                batch_size: int = 256, progress: Callable[[int, int], None] | None = None) -> StoreEmbeddings:
    """Embed records of ``store`` (all by default) with ``encoder``.

    Args:
        encoder: the frozen encoder; the store must be at its sampling rate.
        store: a prepared store (``signals`` ``[n, leads, samples]`` in mV).
        indices: store rows to embed.
        batch_size: windows per forward pass.
        progress: called as ``progress(done_windows, total_windows)``.

    Returns:
        :class:`StoreEmbeddings` with per-window and per-record embeddings.
    """
    if abs(store.fs - encoder.fs) > 1e-9:
        raise InputError(f"the checkpoint expects {encoder.fs:g} Hz but the {store.dataset} store is "
                         f"{store.fs:g} Hz; prepare it with --fs {encoder.fs:g}")
    idx = np.arange(len(store)) if indices is None else np.asarray(indices, dtype=int)
    rows, starts = window_index(store, idx, encoder.n_times)
    if len(rows) == 0:
        raise InputError(f"no record of the {store.dataset} store has {encoder.n_times} valid samples "
                         f"({encoder.n_times / encoder.fs:g} s); the checkpoint's window is too long")
    views = encoder.views(store.leads)
    win = np.empty((len(rows), len(views), encoder.embed_dim), dtype=np.float32)
    for s, block in _iter_windows(store, rows, starts, encoder.n_times, chunk=batch_size):
        win[s:s + len(block)] = encoder.embed_windows(block, store.leads, batch_size=batch_size)
        if progress is not None:
            progress(s + len(block), len(rows))
    uniq, inverse = np.unique(rows, return_inverse=True)
    counts = np.bincount(inverse).astype(np.float32)
    rec = np.zeros((len(uniq), len(views), encoder.embed_dim), dtype=np.float64)
    np.add.at(rec, inverse, win)
    rec = (rec / counts[:, None, None]).astype(np.float32)
    pos = {int(r): i for i, r in enumerate(uniq)}
    keep = np.asarray(list(dict.fromkeys(int(r) for r in idx if int(r) in pos)), dtype=int)  # caller's order
    return StoreEmbeddings(views=views, rows=keep, record=rec[[pos[r] for r in keep]], window=win,
                           window_row=rows, window_start=starts)


def api_embeddings(encoder: Encoder, store: PreparedStore, rows: Sequence[int] | np.ndarray,
                   leads: Sequence[str] | None = None, hop_s: float | None = None,
                   records_per_batch: int = 64) -> np.ndarray:
    """Per-lead embeddings of whole records exactly as ``leadlift.load(...).embed`` returns them.

    The evaluation's window protocol (:func:`embed_store`) embeds non-overlapping windows from
    each record's start; the API pools a recording over windows every ``embed_hop_s`` of the
    checkpoint (50 ms for ``mae-cpu``). This runs the inference pipeline itself
    (:func:`leadlift.inference.pipeline.embed_records`), so a number computed from it is what a
    user's ``embed()`` gives.

    Args:
        encoder: the frozen encoder (its network and checkpoint config).
        store: a prepared store at the encoder's rate (mV).
        rows: store rows to embed (each record's ``n_valid`` samples are used).
        leads: leads to embed (default: every lead of the store the encoder has).
        hop_s: window hop in seconds (default: the checkpoint's ``embed_hop_s``).
        records_per_batch: records sent to the pipeline at once.

    Returns:
        ``[R, len(leads), D]`` float32: per lead, the mean of its window embeddings.
    """
    from leadlift.ecg import ECG
    from leadlift.inference.backends import backend_from_network
    from leadlift.inference.pipeline import embed_records

    if abs(store.fs - encoder.fs) > 1e-9:
        raise InputError(f"the checkpoint expects {encoder.fs:g} Hz but the store is {store.fs:g} Hz; "
                         f"prepare it with --fs {encoder.fs:g}")
    leads = tuple(leads) if leads is not None else encoder.views(store.leads)
    backend = backend_from_network(encoder.model, encoder.config, encoder.name)
    hop = backend.embed_hop if hop_s is None else max(1, round(hop_s * backend.fs))
    li = [list(store.leads).index(ld) for ld in leads]
    n_valid = store.meta["n_valid"].to_numpy()
    rows = np.asarray(rows, dtype=int)
    out = np.empty((len(rows), len(leads), encoder.embed_dim), dtype=np.float32)
    for s in range(0, len(rows), records_per_batch):
        ecgs = [ECG(np.asarray(store.signals[r, li, : n_valid[r]], dtype=np.float64), store.fs, leads)
                for r in rows[s:s + records_per_batch]]
        for i, e in enumerate(embed_records(backend, ecgs, hop, refuse_flat=False)):
            out[s + i] = e.per_lead.mean(axis=0)
    return out
