"""Training data of the reconstruction experiments (paper 2): SupCon augmentations, the
class-balanced batch sampler, batch-level datasets and the ``LightningDataModule``.

Windows, their preprocessing, QC and labels come from :mod:`leadlift.data.windows` (shared with
evaluation and benchmarks); this module turns them into training batches.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler

from leadlift.data.windows import WindowIndex, gather_windows
from leadlift.errors import InputError
from leadlift.models.recon import joint_zscore
from leadlift.preprocessing import r_peaks
from leadlift.recon_config import AugmentConfig

__all__ = [
    "ClassBalancedBatchSampler",
    "RankShare",
    "ReconBatches",
    "ReconDataModule",
    "SupConBatches",
    "ViewAugmenter",
    "batch_loader",
]


# ---------------------------------------------------------------------------------------- sampler
class ClassBalancedBatchSampler(Sampler[list[int]]):
    """Batches of ``classes_per_batch`` classes × ``samples_per_class`` items (16 × 4 in the paper).

    Each batch draws its classes uniformly without replacement, then its items of each class
    without replacement (with replacement when a class has fewer items). When there are fewer
    classes than ``classes_per_batch``, every class is used and ``samples_per_class`` grows so the
    batch size stays ``classes_per_batch × samples_per_class``. Deterministic for a seed: the
    ``k``-th iteration uses ``seed + k``.

    Args:
        keys: class key of every item ``[N]`` (e.g. ``"MI;STTC"``).
        n_batches: batches per iteration (default ``N // batch size``, at least 1).
    """

    def __init__(self, keys: Sequence[Any] | np.ndarray, classes_per_batch: int = 16, samples_per_class: int = 4,
                 n_batches: int | None = None, seed: int = 0) -> None:
        keys = np.asarray(keys)
        if len(keys) == 0:
            raise InputError("no items to sample batches from")
        self.classes, inverse = np.unique(keys, return_inverse=True)
        self.members = [np.flatnonzero(inverse == c) for c in range(len(self.classes))]
        self.batch_size = int(classes_per_batch) * int(samples_per_class)
        self.n_classes = min(int(classes_per_batch), len(self.classes))
        self.per_class = math.ceil(self.batch_size / self.n_classes)
        self.n_batches = int(n_batches) if n_batches else max(len(keys) // self.batch_size, 1)
        self.seed = int(seed)
        self._iteration = 0

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng(self.seed + self._iteration)
        self._iteration += 1
        for _ in range(self.n_batches):
            chosen = rng.choice(len(self.classes), size=self.n_classes, replace=False)
            batch = []
            for c in chosen:
                m = self.members[c]
                batch.append(rng.choice(m, size=self.per_class, replace=len(m) < self.per_class))
            idx = np.concatenate(batch)[: self.batch_size]
            rng.shuffle(idx)
            yield idx.tolist()


class RankShare(Sampler[list[int]]):
    """This process's share of a batch sampler under DDP: every ``world_size``-th batch from
    ``rank`` of the same seeded sequence, the same number on every rank (the sequence is cut to a
    multiple of ``world_size``), so the ranks see disjoint batches and step in lockstep, and one
    process (``world_size=1``) sees exactly the single-process sequence.

    Args:
        batches: a batch sampler whose sequence is the same on every rank (seeded).
        rank, world_size: this process and the number of processes.
        even: cut the sequence to a multiple of ``world_size`` (training: the ranks must step
            together); False keeps every batch (validation: the ranks may differ by one batch).
    """

    def __init__(self, batches: Sampler[list[int]], rank: int = 0, world_size: int = 1, even: bool = True) -> None:
        if not 0 <= rank < world_size:
            raise InputError(f"rank {rank} is outside a world of {world_size} processes")
        self.batches, self.rank, self.world_size, self.even = batches, int(rank), int(world_size), even

    def __len__(self) -> int:
        n = len(self.batches)  # type: ignore[arg-type]
        return n // self.world_size if self.even else len(range(self.rank, n, self.world_size))

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self) * self.world_size if self.even else len(self.batches)  # type: ignore[arg-type]
        for k, batch in enumerate(self.batches):
            if k >= n:
                break
            if k % self.world_size == self.rank:
                yield batch


# ---------------------------------------------------------------------------------------- augmentation
class ViewAugmenter:
    """Two augmented views of a batch for SupCon (all operations vectorised in torch, mV).

    * basic view: Gaussian noise (``noise_std`` mV), a per-lead amplitude factor
      ``N(1, scale_std)``, a circular shift in ``[-shift_max, shift_max]`` samples and lead drop
      (each lead zeroed with probability ``lead_drop_p``, at least one lead kept);
    * beat-aligned view (``beat_aligned``): the window is first rolled so that a randomly chosen
      R peak of the reference lead sits at the centre, then augmented with 5/8 of the shift and
      4/5 of the other strengths.

    Args:
        cfg: augmentation strengths.
        fs: sampling rate in Hz (R-peak spacing).
        ref_lead: row of the lead used for R-peak detection.
        seed: seed of the internal generators.
    """

    def __init__(self, cfg: AugmentConfig, fs: float, ref_lead: int = 0, seed: int = 0) -> None:
        self.cfg, self.fs, self.ref_lead = cfg, float(fs), int(ref_lead)
        self.gen = torch.Generator().manual_seed(int(seed))
        self.rng = np.random.default_rng(int(seed))

    def _roll(self, x: Tensor, shifts: Tensor) -> Tensor:
        t = x.shape[-1]
        idx = (torch.arange(t)[None, :] - shifts[:, None]) % t  # out[t] = x[t - shift]
        return torch.gather(x, -1, idx[:, None, :].expand_as(x))

    def basic(self, x: Tensor, strength: float = 1.0, shift_scale: float = 1.0) -> Tensor:
        """``[B, C, T]`` mV → augmented copy."""
        c = self.cfg
        b, n_leads, _ = x.shape
        y = x
        if c.noise_std > 0:
            y = y + torch.randn(y.shape, generator=self.gen) * (c.noise_std * strength)
        if c.scale_std > 0:
            y = y * (1 + torch.randn((b, n_leads, 1), generator=self.gen) * (c.scale_std * strength))
        shift_max = round(c.shift_max * shift_scale)
        if shift_max > 0:
            y = self._roll(y, torch.randint(-shift_max, shift_max + 1, (b,), generator=self.gen))
        if c.lead_drop_p > 0 and n_leads > 1:
            drop = torch.rand((b, n_leads), generator=self.gen) < c.lead_drop_p * strength
            all_dropped = drop.all(dim=1)
            if all_dropped.any():  # keep one random lead
                keep = torch.randint(0, n_leads, (b,), generator=self.gen)
                drop[all_dropped, keep[all_dropped]] = False
            y = y * (~drop)[..., None]
        return y

    def beat_align(self, x: Tensor) -> Tensor:
        """Roll each window so that a random R peak of the reference lead is at the centre."""
        ref = x[:, self.ref_lead].numpy()
        t = x.shape[-1]
        shifts = np.zeros(len(ref), dtype=np.int64)
        for i, sig in enumerate(ref):
            peaks = r_peaks(sig, self.fs)
            if len(peaks):
                shifts[i] = t // 2 - int(self.rng.choice(peaks))
        return self._roll(x, torch.from_numpy(shifts))

    def views(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Two views ``([B, C, T], [B, C, T])`` in mV."""
        if self.cfg.beat_aligned:
            v1 = self.basic(self.beat_align(x), strength=0.8, shift_scale=0.5)
        else:
            v1 = self.basic(x)
        return v1, self.basic(x)


# ---------------------------------------------------------------------------------------- datasets
class SupConBatches(Dataset):
    """Batch-level dataset for SupCon: ``dataset[list_of_window_ids]`` → ``{"views": [2B, C, T]``
    (two views, jointly z-scored), ``"labels"``: ``[B]`` or ``[B, n_classes]``}``.

    Args:
        records: preprocessed records ``[R, L, T]`` (mV, float32 tensor).
        index: the windows.
        window: window length in samples.
        leads: rows of ``records`` fed to the encoder (the input leads).
        labels: per-window labels (``[N]`` int or ``[N, C]`` multi-hot).
        augmenter: the view generator.
        eps: std floor of the joint z-score.
    """

    def __init__(self, records: Tensor, index: WindowIndex, window: int, leads: Sequence[int],
                 labels: np.ndarray, augmenter: ViewAugmenter, eps: float = 1e-6) -> None:
        self.records, self.index, self.window, self.leads = records, index, int(window), list(leads)
        self.labels = torch.as_tensor(labels)
        self.augmenter, self.eps = augmenter, float(eps)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, ids: Sequence[int]) -> dict[str, Tensor]:
        ids = np.asarray(ids, dtype=np.int64)
        x = gather_windows(self.records, self.index.subset(ids), self.window, self.leads)
        v1, v2 = self.augmenter.views(x)
        views = torch.cat([joint_zscore(v1, self.eps)[0], joint_zscore(v2, self.eps)[0]])
        return {"views": views, "labels": self.labels[torch.from_numpy(ids)]}


class ReconBatches(Dataset):
    """Batch-level dataset for reconstruction: ``dataset[list_of_window_ids]`` →
    ``{"x": [B, n_inputs, T] mV, "y": [B, n_learned, T] mV, "h": [B, E] (if embeddings given)}``.
    """

    def __init__(self, records: Tensor, index: WindowIndex, window: int, inputs: Sequence[int],
                 targets: Sequence[int], embeddings: Tensor | None = None) -> None:
        self.records, self.index, self.window = records, index, int(window)
        self.inputs, self.targets = list(inputs), list(targets)
        if embeddings is not None and len(embeddings) != len(index):
            raise InputError(f"{len(embeddings)} embeddings for {len(index)} windows")
        self.embeddings = embeddings

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, ids: Sequence[int]) -> dict[str, Tensor]:
        ids = np.asarray(ids, dtype=np.int64)
        w = gather_windows(self.records, self.index.subset(ids), self.window)
        item = {"x": w[:, self.inputs], "y": w[:, self.targets]}
        if self.embeddings is not None:
            item["h"] = self.embeddings[torch.from_numpy(ids)]
        return item


def batch_loader(dataset: Dataset, batch_size: int | None = None, shuffle: bool = False, seed: int = 0,
                 sampler: Sampler[list[int]] | None = None, drop_last: bool = False, rank: int = 0,
                 world_size: int = 1, num_workers: int = 0, pin_memory: bool = False, even: bool = True) -> DataLoader:
    """A ``DataLoader`` that hands whole index lists to a batch-level dataset (no per-item collate);
    under DDP (``world_size > 1``) each rank gets its :class:`RankShare` of the batches."""
    if sampler is None:
        if batch_size is None:
            raise InputError("pass batch_size or a batch sampler")
        base = (RandomSampler(range(len(dataset)), generator=torch.Generator().manual_seed(seed))  # type: ignore[arg-type]
                if shuffle else SequentialSampler(range(len(dataset))))  # type: ignore[arg-type]
        sampler = BatchSampler(base, batch_size, drop_last=drop_last and len(dataset) >= batch_size)
    if world_size > 1:
        sampler = RankShare(sampler, rank, world_size, even=even)
    return DataLoader(dataset, sampler=sampler, batch_size=None, num_workers=num_workers,
                      persistent_workers=num_workers > 0, pin_memory=pin_memory)


class ReconDataModule(L.LightningDataModule):
    """Batches of the reconstruction experiments as a ``LightningDataModule``.

    Under DDP every rank draws the same seeded batch sequence and keeps its share
    (:class:`RankShare`); pass ``use_distributed_sampler=False`` to the trainer.

    Args:
        train: a batch-level dataset (:class:`ReconBatches` or :class:`SupConBatches`).
        val: validation dataset (None: no validation, e.g. SupCon).
        batch_size: training windows per batch and process (ignored when ``train_sampler`` is given).
        val_batch_size: validation windows per batch.
        seed: seed of the training shuffle.
        train_sampler: a batch sampler to use instead (e.g. :class:`ClassBalancedBatchSampler`).
        num_workers: DataLoader worker processes (0: batches are cut in the training process).
    """

    def __init__(self, train: Dataset, val: Dataset | None = None, batch_size: int | None = None,
                 val_batch_size: int = 512, seed: int = 0, train_sampler: Sampler[list[int]] | None = None,
                 num_workers: int = 0) -> None:
        super().__init__()
        self.train, self.val = train, val
        self.batch_size, self.val_batch_size, self.seed = batch_size, val_batch_size, seed
        self.train_sampler = train_sampler
        self.num_workers = int(num_workers)

    def _where(self) -> dict[str, Any]:
        trainer = getattr(self, "trainer", None)
        rank, world = (0, 1) if trainer is None else (int(trainer.global_rank), int(trainer.world_size))
        on_gpu = trainer is not None and getattr(trainer.strategy.root_device, "type", "cpu") == "cuda"
        return {"rank": rank, "world_size": world, "num_workers": self.num_workers, "pin_memory": on_gpu}

    def train_dataloader(self) -> DataLoader:
        where = self._where()
        if self.train_sampler is not None:
            loader = batch_loader(self.train, sampler=self.train_sampler, **where)
        else:
            loader = batch_loader(self.train, self.batch_size, shuffle=True, seed=self.seed, drop_last=True, **where)
        if len(loader) == 0:
            raise InputError(f"no training batch for each of the {where['world_size']} processes; use fewer "
                             "devices or a smaller batch size")
        return loader

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        if self.val is None:
            return []
        where = self._where()
        # every rank needs at least one validation batch (Lightning refuses an empty loader)
        size = max(1, min(self.val_batch_size, math.ceil(len(self.val) / where["world_size"])))
        return batch_loader(self.val, size, even=False, **where)
