"""Reconstructor training at scale: DDP batch sharing, the memory-mapped preprocessing cache, and
two CPU processes training the reconstructor with DDP to identical weights."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, RandomSampler

from leadlift.data.store import prepare
from leadlift.data.windows import cached_preprocessed_records, preprocess_records
from leadlift.errors import InputError
from leadlift.recon_config import load_recon_config
from leadlift.training.recon_data import ClassBalancedBatchSampler, RankShare


def _batches(seed: int = 3) -> BatchSampler:
    return BatchSampler(RandomSampler(range(103), generator=torch.Generator().manual_seed(seed)), 8, drop_last=True)


def test_rank_share_splits_the_single_process_sequence() -> None:
    single = list(_batches())
    assert len(single) == 12
    shares = [list(RankShare(_batches(), r, 3)) for r in range(3)]
    assert [len(s) for s in shares] == [4, 4, 4] == [len(RankShare(_batches(), r, 3)) for r in range(3)]
    assert [b for k in range(4) for b in (shares[0][k], shares[1][k], shares[2][k])] == single  # interleaved
    five = [list(RankShare(_batches(), r, 5)) for r in range(5)]
    assert [len(s) for s in five] == [2] * 5  # 12 batches cut to 10: ranks step together
    seen = [i for s in five for b in s for i in b]
    assert len(seen) == len(set(seen))  # disjoint
    val = [list(RankShare(_batches(), r, 5, even=False)) for r in range(5)]
    assert [len(s) for s in val] == [3, 3, 2, 2, 2]  # validation keeps every batch
    assert list(RankShare(_batches(), 0, 1)) == single
    with pytest.raises(InputError):
        RankShare(_batches(), 2, 2)


def test_rank_share_of_the_class_balanced_sampler_is_deterministic() -> None:
    keys = np.repeat(np.arange(6), 10)
    a = list(RankShare(ClassBalancedBatchSampler(keys, 3, 2, n_batches=6, seed=1), 1, 2))
    b = list(RankShare(ClassBalancedBatchSampler(keys, 3, 2, n_batches=6, seed=1), 1, 2))
    full = list(ClassBalancedBatchSampler(keys, 3, 2, n_batches=6, seed=1))
    assert a == b == full[1::2]


def test_preprocessing_cache_is_a_memory_map_equal_to_the_in_memory_result(data_dir, tmp_path) -> None:
    store = prepare("ptbxl", 100, data_dir, store_dir=tmp_path, progress=False, workers=1)
    cfg = load_recon_config("recon-tiny").data
    rows = np.flatnonzero(store.meta["strat_fold"].to_numpy() <= 2)
    cached = cached_preprocessed_records(store, cfg, rows)
    assert isinstance(cached, np.memmap) and cached.dtype == np.float32
    files = list((store.version_dir / "cache").glob("preprocessed-*.npy"))
    assert len(files) == 1
    ref = preprocess_records(store.signals, store.meta["n_valid"].to_numpy(), store.fs, cfg, rows=rows)
    np.testing.assert_array_equal(np.asarray(cached), ref)
    mtime = files[0].stat().st_mtime_ns
    again = cached_preprocessed_records(store, cfg, rows)  # reused, not rebuilt
    assert files[0].stat().st_mtime_ns == mtime and again.shape == ref.shape
    cached_preprocessed_records(store, cfg, rows[:5])  # other rows: another file
    assert len(list((store.version_dir / "cache").glob("preprocessed-*.npy"))) == 2
    t = torch.from_numpy(again)  # copy-on-write: a writable tensor that never writes the file back
    t[0, 0, 0] += 1.0
    assert np.load(files[0], mmap_mode="r")[0, 0, 0] == ref[0, 0, 0]


def test_ddp_two_cpu_processes_train_the_reconstructor_identically(data_dir, tmp_path) -> None:
    out = tmp_path / "ddp"
    res = subprocess.run(
        [sys.executable, "-m", "leadlift.cli", "train-recon", "--config", "recon-tiny", "--method", "fusion",
         "--inputs", "I,II,V2", "--data-dir", str(data_dir), "--store-dir", str(tmp_path / "stores"),
         "--out", str(out), "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu", "--no-progress"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    ranks = [json.loads(p.read_text()) for p in sorted((out / "ranks").glob("rank-*.json"))]
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["world_size"] == 2 for r in ranks)
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]  # SupCon encoder + reconstructor
    assert (out / "model.safetensors").exists() and (out / "config.yaml").exists()
    assert res.stdout.count("done in") == 1  # one process exported and evaluated
    assert not (out / "checkpoints").exists()


def test_preprocessing_cache_built_by_workers_equals_one_process(data_dir, tmp_path) -> None:
    store = prepare("ptbxl", 100, data_dir, store_dir=tmp_path, progress=False, workers=1, shards=2)
    cfg = load_recon_config("recon-tiny").data
    rows = np.flatnonzero(store.meta["strat_fold"].to_numpy() <= 6)  # > 2 chunks of 256 records
    pooled = cached_preprocessed_records(store, cfg, rows, workers=2)
    ref = preprocess_records(store.signals, store.meta["n_valid"].to_numpy(), store.fs, cfg, rows=rows)
    np.testing.assert_array_equal(np.asarray(pooled), ref)  # across shard files, rows in their places
    others = np.setdiff1d(np.arange(len(store)), rows)
    assert not np.asarray(pooled)[others].any()  # rows not asked for stay zero
