"""Reconstruction of all 12 leads from each single lead: a 12×12 table (input × target).

Built on :func:`leadlift.evaluation.cross_lead.evaluate_reconstruction` (the API's path on PTB-XL
test records; Pearson r per window averaged, RMSE in mV over all samples). The diagonal is the
input lead as measured; "mean r" of an input lead is the mean over the 11 *other* leads (with one
input lead no limb lead can be derived, so all 11 are reconstructed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from leadlift.data.store import PreparedStore
from leadlift.ecg import STANDARD_LEADS
from leadlift.evaluation.cross_lead import evaluate_reconstruction
from leadlift.inference.backends import Backend


def single_lead_matrix(backend: Backend, store: PreparedStore, test_idx: np.ndarray,
                       train_idx: np.ndarray, inputs: Sequence[str] = STANDARD_LEADS,
                       keep_windows_for: str | None = "I",
                       say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Per-target metrics of reconstructing the 12 leads from each lead of ``inputs`` alone.

    Args:
        backend: an aligned per-lead MAE backend (:func:`leadlift.inference.load_backend`).
        store: the PTB-XL store at the model's rate.
        test_idx, train_idx: store rows of the test records and of the records a calibration is
            fitted on when the checkpoint has none.
        inputs: the single input leads (rows of the table).
        keep_windows_for: input lead whose predicted and true windows (mV) are returned
            under ``"_windows"`` (for plots), or None.
        say: status callback.

    Returns:
        ``{"leads", "inputs", "r": [[...]], "rmse": [[...]], "r_z": ..., "mean_r_other": {input:
        r}, "mean_rmse_other": {input: mV}, "mean_zero_rmse_other": {input: mV of the zero
        predictor on the same windows}, "n_test_windows", "window_samples", "fs"}`` — rows
        are inputs, columns the 12 target leads; r is Pearson per window averaged, RMSE in mV.
    """
    leads = list(STANDARD_LEADS)
    r = np.full((len(inputs), len(leads)), np.nan)
    rmse = np.full_like(r, np.nan)
    out: dict[str, Any] = {"leads": leads, "inputs": list(inputs)}
    for i, src in enumerate(inputs):
        if say:
            say(f"reconstructing 12 leads from {src}")
        res = evaluate_reconstruction(backend, store, test_idx, [src], train_idx=train_idx)
        for j, ld in enumerate(leads):
            r[i, j] = res["mV"][ld]["pearson_r"]
            rmse[i, j] = res["mV"][ld]["rmse"]
        zero = [res["zero_rmse_mv"][ld] for ld in leads if ld != src]
        out.setdefault("mean_zero_rmse_other", {})[src] = float(np.mean(zero))
        out.update(n_test_windows=res["n_test_windows"], n_test_records=res["n_test_records"],
                   window_samples=res["window_samples"], fs=res["fs"])
        if src == keep_windows_for:
            out["_windows"] = {"pred_mv": res["_pred_mv"], "true_mv": res["_true_mv"]}
    other = ~np.eye(len(leads), dtype=bool)[[leads.index(s) for s in inputs]]
    out["r"] = r.tolist()
    out["rmse"] = rmse.tolist()
    out["mean_r_other"] = {s: float(np.nanmean(r[i][other[i]])) for i, s in enumerate(inputs)}
    out["mean_rmse_other"] = {s: float(np.nanmean(rmse[i][other[i]])) for i, s in enumerate(inputs)}
    return out
