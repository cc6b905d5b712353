"""Lightning data module for pretraining on a prepared store.

Randomness is a pure function of ``(seed, epoch, position)``: the sampler draws the epoch's
order from ``(seed, epoch)`` and hands every index together with its own crop seed, so a run
resumed from a checkpoint sees exactly the batches an uninterrupted run would have seen, and
DDP ranks split the same global order without overlap.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset, Sampler

from leadlift.config import DataConfig
from leadlift.data.datasets import CropDataset
from leadlift.data.splits import ptbxl_folds
from leadlift.data.store import PreparedStore, prepare
from leadlift.errors import DataNotFoundError, InputError
from leadlift.preprocessing import zscore


class SeededSampler(Sampler):
    """Epoch-seeded order, split across DDP ranks; yields ``(index, crop_seed)`` pairs.

    Args:
        n: dataset length.
        seed: experiment seed.
        shuffle: random order (train) or fixed order (validation).
        rank, world_size: this process's share (every ``world_size``-th item from ``rank``);
            the order is padded by wrapping so every rank gets the same number of items.
    """

    def __init__(self, n: int, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1) -> None:
        self.n, self.seed, self.shuffle = n, int(seed), shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return -(-self.n // self.world_size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        seeds = rng.integers(0, 2**31 - 1, size=self.n)
        total = len(self) * self.world_size
        order = np.resize(order, total)  # wrap to a multiple of world_size
        for pos in range(self.rank, total, self.world_size):
            i = int(order[pos])
            yield i, int(seeds[i] if self.shuffle else i)


class _SeededCrops(Dataset):
    """Random crops whose start is drawn from the per-item seed given by the sampler.

    With ``two_crops`` every item also holds ``signal2``: a second crop of the same record with
    its own start (random in training, the record's start in validation), the other view of the
    corrected objective's cross-crop contrastive loss.
    """

    def __init__(self, base: CropDataset, random: bool, eps: float, two_crops: bool = False) -> None:
        self.base, self.random, self.eps, self.two_crops = base, random, eps, two_crops

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, Any]:
        i, seed = key if isinstance(key, tuple) else (key, key)
        row = int(self.base.indices[i])
        slack = max(int(self.base.n_valid[row]) - self.base.crop, 0)
        rng = np.random.default_rng(seed)
        start = int(rng.integers(0, slack + 1)) if self.random else slack // 2
        item = self.base._item(row, start, self.base.crop)
        item["signal"] = zscore(item["signal"], eps=self.eps)
        if self.two_crops:
            start2 = int(rng.integers(0, slack + 1)) if self.random else 0
            item["signal2"] = zscore(self.base._item(row, start2, self.base.crop)["signal"], eps=self.eps)
        return item


class PretrainDataModule(L.LightningDataModule):
    """PTB-XL windows for MAE pretraining: train folds with random crops, val fold(s) centred.

    The store is prepared (or reused) in :meth:`prepare_data` on rank 0 only.
    """

    def __init__(self, cfg: DataConfig, data_dir: str | Path, seed: int,
                 store_dir: str | Path | None = None, two_crops: bool = False) -> None:
        super().__init__()
        self.cfg, self.data_dir, self.seed, self.store_dir = cfg, Path(data_dir), seed, store_dir
        self.two_crops = bool(two_crops)
        self.store: PreparedStore | None = None

    def prepare_data(self) -> None:
        prepare(self.cfg.dataset, self.cfg.fs, self.data_dir, store_dir=self.store_dir, progress=True)

    def setup(self, stage: str | None = None) -> None:
        if self.store is None:
            self.store = prepare(self.cfg.dataset, self.cfg.fs, self.data_dir, store_dir=self.store_dir,
                                 progress=False)
        parts = ptbxl_folds(self.store.meta["strat_fold"], train=self.cfg.train_folds, val=self.cfg.val_folds,
                            test=[f for f in range(1, 11) if f not in self.cfg.train_folds + self.cfg.val_folds])
        if len(parts["train"]) == 0:
            raise DataNotFoundError(f"no PTB-XL records of folds {self.cfg.train_folds} in {self.data_dir}")
        leads = self.cfg.lead_names
        self.train_set = _SeededCrops(CropDataset(self.store, parts["train"], crop=self.cfg.n_times, leads=leads),
                                      random=True, eps=self.cfg.zscore_eps, two_crops=self.two_crops)
        self.val_set = _SeededCrops(CropDataset(self.store, parts["val"], crop=self.cfg.n_times, leads=leads),
                                    random=False, eps=self.cfg.zscore_eps, two_crops=self.two_crops)
        _, world = self._rank()
        per_rank = len(self.train_set) // max(world, 1)
        if per_rank < self.cfg.batch_size:  # drop_last: not one full batch, so no training step at all
            raise InputError(f"batch size {self.cfg.batch_size} is larger than the {per_rank} training records per "
                             f"process ({len(self.train_set)} in folds {self.cfg.train_folds}); pass a smaller "
                             "--batch-size (data.batch_size)")

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def train_dataloader(self) -> DataLoader:
        rank, world = self._rank()
        sampler = SeededSampler(len(self.train_set), self.seed, shuffle=True, rank=rank, world_size=world)
        return DataLoader(self.train_set, batch_size=self.cfg.batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.cfg.num_workers, persistent_workers=self.cfg.num_workers > 0,
                          pin_memory=self._on_gpu())

    def val_dataloader(self) -> DataLoader:
        rank, world = self._rank()
        sampler = SeededSampler(len(self.val_set), self.seed, shuffle=False, rank=rank, world_size=world)
        return DataLoader(self.val_set, batch_size=self.cfg.batch_size, sampler=sampler,
                          num_workers=self.cfg.num_workers, persistent_workers=self.cfg.num_workers > 0,
                          pin_memory=self._on_gpu())

    def _on_gpu(self) -> bool:
        trainer = getattr(self, "trainer", None)
        return trainer is not None and getattr(trainer.strategy.root_device, "type", "cpu") == "cuda"
