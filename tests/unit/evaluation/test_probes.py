"""AUROC, bootstrap and the linear probe against scikit-learn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from leadlift.errors import InputError
from leadlift.evaluation.metrics import bootstrap_weights, percentile_ci
from leadlift.evaluation.probes import auroc, linear_probe


def test_auroc_hand_computed() -> None:
    # positives 0.8, 0.4; negatives 0.5, 0.1: pairs (0.8>0.5, 0.8>0.1, 0.4<0.5, 0.4>0.1) -> 3/4
    assert auroc(np.array([1, 0, 1, 0]), np.array([0.8, 0.5, 0.4, 0.1])) == pytest.approx(0.75)
    # a tie between a positive and a negative counts one half
    assert auroc(np.array([1, 0]), np.array([0.3, 0.3])) == pytest.approx(0.5)
    assert np.isnan(auroc(np.array([1, 1]), np.array([0.1, 0.2])))


@pytest.mark.parametrize("seed", range(4))
def test_auroc_matches_sklearn_with_ties_and_weights(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 80)
    s = rng.integers(0, 10, 80).astype(float)  # many ties
    w = rng.integers(0, 4, 80).astype(float)
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auroc(y, s, w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    batch = auroc(y, s, np.stack([w, np.ones(80)]))
    assert batch[0] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    assert batch[1] == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_bootstrap_weights_are_resample_counts() -> None:
    w = bootstrap_weights(10, n_boot=50, seed=1)
    assert w.shape == (50, 10) and np.all(w.sum(axis=1) == 10) and np.all(w >= 0)
    np.testing.assert_array_equal(w, bootstrap_weights(10, n_boot=50, seed=1))
    assert percentile_ci(np.arange(101.0)) == pytest.approx((2.5, 97.5))


def test_auroc_rejects_bad_input() -> None:
    with pytest.raises(InputError):
        auroc(np.array([1, 0]), np.array([0.1, np.nan]))
    with pytest.raises(InputError):
        auroc(np.array([1, 0, 1]), np.array([0.1, 0.2]))


def test_linear_probe_on_known_data() -> None:
    rng = np.random.default_rng(0)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, (n, 3))
        y[:, 2] = 0  # a label absent everywhere -> NaN, left out of the macro mean
        x = rng.normal(size=(n, 8))
        x[:, 0] += 3 * y[:, 0]  # label 0: easy
        x[:, 1] += 0.5 * y[:, 1]  # label 1: hard
        return x, y

    (xtr, ytr), (xva, yva), (xte, yte) = make(300), make(150), make(200)
    res = linear_probe(xtr, ytr, xva, yva, xte, yte, ["easy", "hard", "absent"], cs=(0.01, 1.0), n_boot=200)
    easy, hard = res["per_class"]["easy"], res["per_class"]["hard"]
    assert easy["auroc"] > 0.95 and 0.55 < hard["auroc"] < easy["auroc"]
    assert easy["C"] in (0.01, 1.0)
    assert easy["ci"][0] <= easy["auroc"] <= easy["ci"][1]
    assert np.isnan(res["per_class"]["absent"]["auroc"])
    assert res["macro_auroc"] == pytest.approx((easy["auroc"] + hard["auroc"]) / 2)
    assert res["macro_ci"][0] <= res["macro_auroc"] <= res["macro_ci"][1]
    assert (res["n_train"], res["n_val"], res["n_test"]) == (300, 150, 200)
    roc = easy["roc"]
    assert roc["fpr"][0] == 0 and roc["fpr"][-1] == 1 and roc["tpr"][-1] == 1
