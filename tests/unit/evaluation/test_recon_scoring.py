"""Scoring of the reconstruction benchmark: metrics rebuilt from per-record sums, the paired
bootstrap over records, the zero predictor — on real PTB-XL windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from leadlift.data.store import prepare
from leadlift.data.windows import EvalSet, gather_windows, window_index
from leadlift.ecg import STANDARD_LEADS
from leadlift.evaluation.metrics import bootstrap_weights, lead_metrics, percentile_ci, reconstruction_table
from leadlift.evaluation.recon_benchmark import metrics_from_sums, score_set, window_lead_stats
from leadlift.models.recon import LeadPlan

WINDOW = 256


@pytest.fixture(scope="module")
def test_set(data_dir) -> EvalSet:
    """Six real PTB-XL test records (fold 10, 100 Hz), windows of 256 samples with hop 128."""
    store = prepare("ptbxl", 100, data_dir, progress=False)
    rows = np.flatnonzero(store.meta["strat_fold"].to_numpy() == 10)[:6]
    records = torch.from_numpy(np.asarray(store.signals[rows], dtype=np.float32))
    n_valid = store.meta["n_valid"].to_numpy()[rows]
    idx = window_index(n_valid, np.arange(len(rows)), WINDOW, 128)
    return EvalSet("test", records, idx, n_valid, store.meta["record_id"].astype(str).to_numpy()[rows])


def _preds(e: EvalSet, plan: LeadPlan) -> dict[str, np.ndarray]:
    true = gather_windows(e.records, e.index, WINDOW).numpy()
    learned = true[:, [STANDARD_LEADS.index(ld) for ld in plan.learned]]
    rng = np.random.default_rng(0)
    return {"zero": np.zeros_like(learned), "fir": learned * 0.8,
            "noisy": learned + rng.normal(0, 0.05, learned.shape).astype(np.float32)}


def test_sums_rebuild_the_metric_definitions(test_set: EvalSet) -> None:
    true = gather_windows(test_set.records, test_set.index, WINDOW).numpy().astype(np.float64)
    pred = true * 0.7 + np.sin(np.arange(WINDOW)) * 0.01
    table = reconstruction_table(true, pred, STANDARD_LEADS)
    rebuilt = metrics_from_sums(window_lead_stats(true, pred).sum(axis=0))
    for i, ld in enumerate(STANDARD_LEADS):
        for k in ("rmse", "pearson_r", "r2", "bias", "var_ratio"):
            assert rebuilt[k][i] == pytest.approx(table[ld][k], rel=1e-9, abs=1e-12), (ld, k)


def test_zero_predictor_rmse_is_the_rms_of_the_test_signals(test_set: EvalSet) -> None:
    plan = LeadPlan.from_inputs("I,II,V2")
    res = score_set(plan, test_set, _preds(test_set, plan), WINDOW, n_boot=0)
    true = gather_windows(test_set.records, test_set.index, WINDOW).numpy().astype(np.float64)
    for ld in plan.learned:
        rms = float(np.sqrt(np.mean(true[:, STANDARD_LEADS.index(ld)] ** 2)))
        assert res["per_lead"]["zero"][ld]["rmse"] == pytest.approx(rms, rel=1e-9)
    assert np.isnan(res["learned"]["zero"]["pearson_r"])  # a flat prediction has no correlation
    # the derived limb leads are assembled from the measured I and II: identical for every method
    assert res["derived"]["zero"] == res["derived"]["noisy"]


def test_paired_bootstrap_ci_matches_a_hand_computation(test_set: EvalSet) -> None:
    """Resample records with replacement (the same draws for every method), pool the drawn records'
    windows, recompute the learned-lead mean RMSE: the percentile interval equals score_set's."""
    plan = LeadPlan.from_inputs("I,II,V2")
    preds = _preds(test_set, plan)
    n_boot, seed = 60, 3
    res = score_set(plan, test_set, preds, WINDOW, n_boot=n_boot, seed=seed,
                    contrasts=[("noisy", "zero", "noise vs nothing")])
    true = gather_windows(test_set.records, test_set.index, WINDOW).numpy().astype(np.float64)
    in_idx = [STANDARD_LEADS.index(ld) for ld in plan.inputs]
    learned_idx = [STANDARD_LEADS.index(ld) for ld in plan.learned]
    records = np.unique(test_set.index.rows)
    counts = bootstrap_weights(len(records), n_boot, seed)
    by_method: dict[str, list[float]] = {m: [] for m in preds}
    for c in counts:
        sel = np.concatenate([np.repeat(np.flatnonzero(test_set.index.rows == r), int(k))
                              for r, k in zip(records, c, strict=True)])
        for m, p in preds.items():
            full = plan.assemble(true[sel][:, in_idx], p[sel].astype(np.float64))
            by_method[m].append(np.mean([lead_metrics(true[sel][:, i], full[:, i])["rmse"] for i in learned_idx]))
    for m in preds:
        assert res["ci"][m]["learned"]["rmse"] == pytest.approx(list(percentile_ci(np.asarray(by_method[m]))), rel=1e-9)
    diff = np.asarray(by_method["noisy"]) - np.asarray(by_method["fir"])
    assert res["ci"]["noisy"]["vs_reference"]["rmse"]["ci"] == pytest.approx(list(percentile_ci(diff)), rel=1e-9)
    assert "vs_reference" not in res["ci"]["fir"]  # the reference itself
    (contrast,) = res["contrasts"]
    contrast_diff = np.asarray(by_method["noisy"]) - np.asarray(by_method["zero"])
    assert contrast["rmse"]["ci"] == pytest.approx(list(percentile_ci(contrast_diff)), rel=1e-9)
    lo, hi = res["ci"]["zero"]["learned"]["rmse"]
    assert lo <= res["learned"]["zero"]["rmse"] <= hi


def test_bar_chart_with_a_method_without_any_correlation(tmp_path) -> None:
    """From V2 alone the zero predictor has no Pearson r on any lead (every output is 0 mV): the
    per-lead chart still draws (it once crashed on the empty list of finite r values)."""
    import math

    from leadlift.evaluation.recon_benchmark import bar_chart
    from leadlift.models.recon import LeadPlan

    plan = LeadPlan.from_inputs("V2")
    leads = ["I", "II", "V1"]
    tables = {"zero": {ld: {"pearson_r": math.nan, "rmse": 0.2} for ld in leads},
              "fir": {ld: {"pearson_r": 0.6, "rmse": 0.15} for ld in leads}}
    bar_chart(tmp_path / "chart.png", tables, leads, "from V2", plan)
    assert (tmp_path / "chart.png").stat().st_size > 0
