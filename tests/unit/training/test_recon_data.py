"""Reconstruction data pipeline: preprocessing, windows, QC, labels, sampler, augmentations, splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from leadlift.data.splits import assert_patient_disjoint, patient_kfold
from leadlift.data.store import prepare
from leadlift.data.windows import (
    QCBounds,
    gather_windows,
    preprocess_records,
    record_labels,
    window_chunks,
    window_index,
)
from leadlift.errors import ConfigError, InputError
from leadlift.preprocessing import bandpass, percentile_outlier_mask, remove_baseline
from leadlift.recon_config import ReconConfig, load_recon_config
from leadlift.training.recon import split_records
from leadlift.training.recon_data import ClassBalancedBatchSampler, ViewAugmenter


@pytest.fixture(scope="module")
def store(data_dir):
    return prepare("ptbxl", 100, data_dir, progress=False)


def test_preprocessing_is_bandpass_then_median_baseline(store) -> None:
    cfg = ReconConfig().data
    rows = np.arange(5)
    out = preprocess_records(store.signals, store.meta["n_valid"].to_numpy(), 100, cfg, rows=rows)
    x = np.asarray(store.signals[:5], dtype=np.float64)
    ref = remove_baseline(bandpass(x, 100, 0.5, 45.0, 4), 100, window_s=0.6)
    np.testing.assert_allclose(out[:5], ref, atol=1e-5)
    assert not out[5:].any()  # rows not asked for stay empty
    with pytest.raises(InputError):
        preprocess_records(store.signals, store.meta["n_valid"].to_numpy(), 500, cfg)


def test_windows_and_gather(store) -> None:
    idx = window_index(store.meta["n_valid"].to_numpy(), [0, 3], 256, 64)
    assert len(idx) == 24 and idx.starts.max() == 704  # (1000 - 256) // 64 + 1 = 12 per record
    rec = torch.from_numpy(np.asarray(store.signals[:4]))
    w = gather_windows(rec, idx, 256)
    np.testing.assert_array_equal(w[13].numpy(), np.asarray(store.signals[3, :, 64:320]))
    w3 = gather_windows(rec, idx, 256, leads=[7, 0])
    np.testing.assert_array_equal(w3[13].numpy(), np.asarray(store.signals[3, [7, 0], 64:320]))
    chunks = list(window_chunks(rec, idx, 256, chunk=10))
    assert [len(c) for c in chunks] == [10, 10, 4]
    np.testing.assert_array_equal(torch.cat(chunks).numpy(), w.numpy())


def test_qc_on_training_windows_equals_percentile_outlier_mask(store) -> None:
    rec = torch.from_numpy(np.asarray(store.signals[:300]))
    idx = window_index(store.meta["n_valid"].to_numpy(), np.arange(300), 256, 64)
    wins = gather_windows(rec, idx, 256).numpy()
    qc = QCBounds.fit(wins, 0.1, 99.9, 3)
    np.testing.assert_array_equal(qc.reject(wins), percentile_outlier_mask(wins, 0.1, 99.9, 3))
    np.testing.assert_array_equal(qc.reject_chunked(rec, idx, 256, chunk=500), qc.reject(wins))
    bad = wins[:2].copy()
    bad[0, :5] *= 50.0  # 5 leads far out of range
    bad[1, 0, 3] = np.nan
    assert qc.reject(bad).tolist() == [True, True]


def test_labels_superclass_sets_and_top_statement(store) -> None:
    labels, keys = record_labels(store.meta, "superclass")
    assert labels.shape == (len(store), 5)
    i = int(np.flatnonzero(labels.sum(1) > 1)[0])
    assert ";" in keys[i] and keys[int(np.flatnonzero(labels.sum(1) == 0)[0])] == "none"
    ids, top = record_labels(store.meta, "scp_top")
    assert ids.dtype == np.int64 and top[0] == "NORM"  # record 1: {"NORM": 100, "LVOLT": 0, "SR": 0}


def test_class_balanced_sampler() -> None:
    keys = np.array(["a"] * 100 + ["b"] * 5 + ["c"] * 2 + ["d"] * 40)
    s = ClassBalancedBatchSampler(keys, classes_per_batch=2, samples_per_class=4, n_batches=50, seed=1)
    batches = list(s)
    assert len(batches) == 50 and all(len(b) == 8 for b in batches)
    counts = {k: 0 for k in "abcd"}
    for b in batches:
        assert len({keys[i] for i in b}) == 2  # 2 classes x 4 items
        for i in b:
            counts[keys[i]] += 1
    assert min(counts.values()) > 0.5 * max(counts.values())  # rare classes are not drowned
    assert next(iter(s)) != batches[0]  # a new draw every iteration, reproducible from the seed
    s2 = ClassBalancedBatchSampler(keys, classes_per_batch=16, samples_per_class=4, n_batches=3)
    assert all(len(b) == 64 for b in s2)  # fewer classes than asked: more items per class


def test_augmenter_views(store) -> None:
    rec = torch.from_numpy(np.asarray(store.signals[:2]))
    x = gather_windows(rec, window_index(store.meta["n_valid"].to_numpy(), [0, 1], 256, 256), 256, [0, 1, 7])
    aug = ViewAugmenter(ReconConfig().supcon.augment, 100.0, ref_lead=1, seed=0)
    v1, v2 = aug.views(x)
    assert v1.shape == x.shape and v2.shape == x.shape and not torch.equal(v1, v2)
    spikes = torch.zeros(4, 3, 256)
    spikes[:, 1, [30, 110, 200]] = 1.5  # "R peaks" of the reference lead (II) at known samples
    aligned = aug.beat_align(spikes)
    assert (aligned[:, 1, 128] == 1.5).all()  # one of them was rolled to the centre
    assert (aligned.abs().sum(dim=-1) == spikes.abs().sum(dim=-1)).all()  # a roll, nothing lost


def test_no_patient_in_twosplit_records(store) -> None:
    cfg = ReconConfig()
    n_valid = store.meta["n_valid"].to_numpy()
    pid = store.meta["patient_id"].astype(str).to_numpy()
    parts = split_records(cfg, store.meta, n_valid)
    assert_patient_disjoint(pid, parts)
    assert set(store.meta["strat_fold"].to_numpy()[parts["test"]]) == {10}
    trainval = np.concatenate([parts["train"], parts["val"]])
    for tr, va in patient_kfold(pid[trainval], 5, seed=0):
        assert_patient_disjoint(pid, {"train": trainval[tr], "val": trainval[va], "test": parts["test"]})
    paper = split_records(load_recon_config(None, {"data.split": "patient_70_15_15"}), store.meta, n_valid)
    assert_patient_disjoint(pid, paper)
    share = len(paper["train"]) / len(store)
    assert 0.6 < share < 0.8


def test_config_errors_are_one_line(tmp_path) -> None:
    with pytest.raises(ConfigError, match="val_hop"):
        load_recon_config(None, {"train.val_hop": 100})
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  window: 256\n  colour: red\n")
    with pytest.raises(ConfigError) as exc:
        load_recon_config(bad)
    assert "\n" not in str(exc.value)
    with pytest.raises(ConfigError):
        load_recon_config(None, {"data.inputs": ["I", "X9"]})
