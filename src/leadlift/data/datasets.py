"""PyTorch ``Dataset``s over a prepared store (no file parsing here: the store is memory-mapped).

* :class:`CropDataset` — one item per record, a crop of ``crop`` samples (random for training,
  centred or from the start for evaluation), any subset/order of leads.
* :class:`WindowDataset` — every fixed window (``window`` samples, ``hop``) of every record,
  deterministic (used for segment-level training and evaluation).

Items are dicts: ``signal`` (float32 tensor ``[n_leads, n_samples]`` in mV), ``index`` (row of
the store) and, when ``label_columns`` are given, ``labels`` (float32 tensor ``[n_labels]``).
Per-window normalisation is left to the model pipeline (a ``transform`` callable may be given).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from leadlift.data.store import PreparedStore
from leadlift.ecg import parse_leads
from leadlift.errors import InputError

Transform = Callable[[np.ndarray], np.ndarray]


class _StoreBase(Dataset):
    def __init__(self, store: PreparedStore, indices: Sequence[int] | np.ndarray | None,
                 leads: Sequence[str] | str | None, label_columns: Sequence[str],
                 transform: Transform | None) -> None:
        self.store = store
        self.indices = np.arange(len(store)) if indices is None else np.asarray(indices, dtype=int)
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= len(store)):
            raise InputError(f"indices out of range for a store of {len(store)} records")
        if leads is None:
            self.leads = store.leads
        else:
            self.leads = parse_leads(leads)
            missing = [n for n in self.leads if n not in store.leads]
            if missing:
                raise InputError(f"lead(s) {', '.join(missing)} not in the store (it has "
                                 f"{', '.join(store.leads)})")
        self.lead_index = np.array([store.leads.index(n) for n in self.leads])
        self.label_columns = list(label_columns)
        missing_cols = [c for c in self.label_columns if c not in store.meta.columns]
        if missing_cols:
            raise InputError(f"label column(s) {missing_cols} not in the store's metadata")
        self.labels = (store.meta[self.label_columns].to_numpy(dtype=np.float32)
                       if self.label_columns else None)
        self.n_valid = store.meta["n_valid"].to_numpy(dtype=int)
        self.transform = transform

    @property
    def fs(self) -> float:
        return self.store.fs

    def _item(self, row: int, start: int, length: int) -> dict[str, Any]:
        x = np.asarray(self.store.signals[row, :, start:start + length])[self.lead_index]
        if x.shape[-1] < length:  # only for records shorter than the crop: zero-pad the end
            x = np.pad(x, ((0, 0), (0, length - x.shape[-1])))
        if self.transform is not None:
            x = self.transform(x)
        item: dict[str, Any] = {"signal": torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
                                "index": int(row)}
        if self.labels is not None:
            item["labels"] = torch.from_numpy(self.labels[row])
        return item


class CropDataset(_StoreBase):
    """One crop per record.

    Args:
        store: an opened :class:`~leadlift.data.store.PreparedStore`.
        indices: store rows to use (e.g. a split's train indices); default all.
        crop: crop length in samples (default: the store's full length).
        mode: ``"random"`` (uniform start within the valid samples, torch's RNG — seed it and
            Lightning's workers for reproducibility), ``"center"`` or ``"start"``.
        leads: lead names to return, in that order (default: the store's leads).
        label_columns: metadata columns returned as ``labels``.
        transform: optional function applied to the numpy crop ``[n_leads, crop]``.
    """

    def __init__(self, store: PreparedStore, indices: Sequence[int] | np.ndarray | None = None,
                 crop: int | None = None, mode: str = "random", leads: Sequence[str] | str | None = None,
                 label_columns: Sequence[str] = (), transform: Transform | None = None) -> None:
        super().__init__(store, indices, leads, label_columns, transform)
        if mode not in ("random", "center", "start"):
            raise InputError(f"crop mode {mode!r} unknown; use random, center or start")
        self.crop = int(crop) if crop is not None else store.n_samples
        if not 0 < self.crop <= store.n_samples:
            raise InputError(f"crop of {crop} samples does not fit records of {store.n_samples} samples")
        self.mode = mode

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = int(self.indices[i])
        slack = max(int(self.n_valid[row]) - self.crop, 0)
        if self.mode == "random":
            start = int(torch.randint(0, slack + 1, ()).item())
        elif self.mode == "center":
            start = slack // 2
        else:
            start = 0
        return self._item(row, start, self.crop)


class WindowDataset(_StoreBase):
    """Every window of ``window`` samples with step ``hop`` inside each record's valid samples.

    ``self.windows`` is an ``[n_windows, 2]`` array of (store row, start sample); ``self.groups``
    gives the patient id of each window (for patient-wise splits of segments).
    """

    def __init__(self, store: PreparedStore, window: int, hop: int,
                 indices: Sequence[int] | np.ndarray | None = None,
                 leads: Sequence[str] | str | None = None, label_columns: Sequence[str] = (),
                 transform: Transform | None = None) -> None:
        super().__init__(store, indices, leads, label_columns, transform)
        if window <= 0 or hop <= 0:
            raise InputError(f"window={window} and hop={hop} must be positive sample counts")
        self.window, self.hop = int(window), int(hop)
        pairs = [(row, s) for row in self.indices
                 for s in range(0, int(self.n_valid[row]) - self.window + 1, self.hop)]
        self.windows = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        pid = store.meta["patient_id"].astype(str).to_numpy()
        self.groups = pid[self.windows[:, 0]] if len(self.windows) else np.array([], dtype=str)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row, start = self.windows[i]
        item = self._item(int(row), int(start), self.window)
        item["start"] = int(start)
        return item
