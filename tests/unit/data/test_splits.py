"""Patient-independent splits on real metadata: no patient in two parts."""

from __future__ import annotations

import numpy as np
import pytest

from leadlift.data.readers import ECGIDReader, PTBXLReader
from leadlift.data.splits import assert_patient_disjoint, patient_kfold, patient_split, ptbxl_folds
from leadlift.errors import InputError


def test_ptbxl_folds_real(data_dir) -> None:
    meta = PTBXLReader(data_dir).metadata()
    parts = ptbxl_folds(meta["strat_fold"])
    assert sum(len(v) for v in parts.values()) == len(meta)
    assert set(meta["strat_fold"].iloc[parts["test"]]) == {10}
    assert set(meta["strat_fold"].iloc[parts["val"]]) == {9}
    assert_patient_disjoint(meta["patient_id"], parts)
    with pytest.raises(InputError, match="two parts"):
        ptbxl_folds(meta["strat_fold"], train=(1, 9), val=(9,))


def test_patient_kfold_real(data_dir) -> None:
    meta = ECGIDReader(data_dir).metadata()  # 90 persons with 2-20 records each
    folds = patient_kfold(meta["person"], n_splits=5, seed=3)
    assert len(folds) == 5
    all_test = np.concatenate([te for _, te in folds])
    assert sorted(all_test) == list(range(len(meta)))
    for tr, te in folds:
        assert_patient_disjoint(meta["person"], {"train": tr, "test": te})
        assert 0.1 < len(te) / len(meta) < 0.3
    assert [t.tolist() for _, t in folds] == [t.tolist() for _, t in patient_kfold(meta["person"], 5, seed=3)]


def test_patient_split_by_segment_count(data_dir) -> None:
    meta = ECGIDReader(data_dir).metadata()
    # segments: every record contributes (20 s - 2.56 s) / 0.64 s + 1 = 28 windows; repeat per window
    groups = np.repeat(meta["person"].to_numpy(), 28)
    parts = patient_split(groups, (0.7, 0.15, 0.15), seed=0)
    assert_patient_disjoint(groups, parts)
    shares = {k: len(v) / len(groups) for k, v in parts.items()}
    assert abs(shares["train"] - 0.7) < 0.03 and abs(shares["val"] - 0.15) < 0.03
    assert sum(len(v) for v in parts.values()) == len(groups)


def test_disjointness_check_catches_leak() -> None:
    groups = np.array(["a", "a", "b", "c"])
    with pytest.raises(AssertionError, match="'a'"):
        assert_patient_disjoint(groups, {"train": np.array([0, 2]), "test": np.array([1, 3])})
