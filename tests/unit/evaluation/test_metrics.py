"""Reconstruction metrics against hand-computed values and scipy/sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import r2_score

from leadlift.errors import InputError
from leadlift.evaluation.metrics import lead_metrics, pearson_per_window, reconstruction_table


def test_pearson_per_window_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    t, p = rng.normal(size=(5, 50)), rng.normal(size=(5, 50))
    p[1] = 2 * t[1] + 3  # perfectly correlated
    r = pearson_per_window(t, p)
    for i in range(5):
        assert r[i] == pytest.approx(pearsonr(t[i], p[i]).statistic, abs=1e-12)
    assert r[1] == pytest.approx(1.0)
    assert np.isnan(pearson_per_window(np.ones((1, 10)), p[:1, :10]))[0]


def test_lead_metrics_hand_computed() -> None:
    true = np.array([[0.0, 1.0, 0.0, -1.0], [1.0, 1.0, 1.0, 1.0]])
    pred = np.array([[0.0, 0.5, 0.0, -0.5], [1.5, 1.5, 1.5, 1.5]])
    m = lead_metrics(true, pred)
    err = pred - true
    assert m["rmse"] == pytest.approx(np.sqrt((err**2).mean()))  # sqrt((0.25*2 + 0.25*4)/8)
    assert m["rmse"] == pytest.approx(np.sqrt(1.5 / 8))
    assert m["bias"] == pytest.approx(err.mean())
    assert m["pearson_r"] == pytest.approx(1.0)  # window 2 is flat -> excluded
    assert m["n_flat_windows"] == 1
    assert m["var_ratio"] == pytest.approx(0.5)  # only the non-flat window counts
    assert m["r2"] == pytest.approx(r2_score(true.ravel(), pred.ravel()))


def test_reconstruction_table_scores_each_lead_against_its_own_truth() -> None:
    """Each lead's row is :func:`lead_metrics` of that lead's column: a good (I), a scaled-down and
    shifted (V1) and an inverted (V2) prediction give their own, different numbers."""
    rng = np.random.default_rng(1)
    true = rng.normal(size=(4, 3, 50))
    pred = np.stack([true[:, 0] + 0.1 * rng.normal(size=(4, 50)), 0.5 * true[:, 1] + 0.2, -true[:, 2]], axis=1)
    table = reconstruction_table(true, pred, ["I", "V1", "V2"])
    assert list(table) == ["I", "V1", "V2"]
    for i, lead in enumerate(["I", "V1", "V2"]):
        assert table[lead] == pytest.approx(lead_metrics(true[:, i], pred[:, i]))
    assert 0.9 < table["I"]["pearson_r"] < 1 and table["I"]["rmse"] == pytest.approx(0.1, rel=0.3)
    assert table["V1"]["pearson_r"] == pytest.approx(1.0) and table["V1"]["var_ratio"] == pytest.approx(0.5)
    assert table["V1"]["bias"] == pytest.approx(0.2 - 0.5 * true[:, 1].mean())
    assert table["V2"]["pearson_r"] == pytest.approx(-1.0) and table["V2"]["var_ratio"] == pytest.approx(1.0)
    with pytest.raises(InputError):
        reconstruction_table(true, pred[:, :1], ["I", "V1", "V2"])


def test_pearson_is_averaged_and_variance_ratio_is_a_mean_of_ratios() -> None:
    """Three windows with r = 1, 1, −1 and std ratios 1, 1, 3 (with different truth amplitudes): the
    mean r is 1/3 (a median would give 1) and the variance ratio is the mean of per-window ratios
    (5/3; a ratio of mean stds would give another number)."""
    t = np.sin(np.linspace(0, 6 * np.pi, 100))
    true = np.stack([t, 2 * t, 4 * t])
    pred = np.stack([t, 2 * t, -12 * t])
    m = lead_metrics(true, pred)
    assert m["pearson_r"] == pytest.approx(1 / 3, abs=1e-12)
    assert m["var_ratio"] == pytest.approx(5 / 3, abs=1e-12)


def test_bootstrap_draws_every_item() -> None:
    """Each resample draws n items with replacement, every item (the last one too) is drawn."""
    from leadlift.evaluation.metrics import bootstrap_weights

    w = bootstrap_weights(7, n_boot=500, seed=1)
    assert w.shape == (500, 7) and (w.sum(axis=1) == 7).all()
    assert (w.sum(axis=0) > 0).all() and abs(w[:, -1].mean() - 1.0) < 0.15
