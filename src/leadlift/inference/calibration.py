"""Fitting an aligned MAE's amplitude calibration (its decoders output z-scores; users want mV).

Applying it is :meth:`leadlift.inference.checkpoint.Calibration.ratio_mean` (used by the MAE
backend); fitting it needs training windows in mV, which the caller gathers (release: PTB-XL
folds 1–8; evaluation: the same folds for a checkpoint that ships none).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from leadlift.ecg import STANDARD_LEADS, parse_leads
from leadlift.inference.checkpoint import Calibration, CalibrationSet, calibration_key

__all__ = ["CALIBRATION_INPUT_SETS", "Predictor", "amplitude_ratios", "attach_calibration", "fit_calibration",
           "mae_predictor"]

Predictor = Callable[[np.ndarray, tuple[str, ...]], np.ndarray]
"""``(z [N, S, W] z-scored inputs, input lead names) → [N, 12, W]`` z-scored predictions."""

CALIBRATION_INPUT_SETS: tuple[tuple[str, ...], ...] = (
    *((lead,) for lead in STANDARD_LEADS),
    ("I", "II"),
    ("I", "II", "V2"),
)
"""Input-lead sets calibrated explicitly (others use per-lead typical amplitudes)."""


def amplitude_ratios(windows: np.ndarray, in_idx: Sequence[int],
                     pred_std: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Median per-lead ratio std(lead)/mean std(inputs) and median per-lead mean.

    Args:
        windows: ``[N, 12, W]`` training windows in mV.
        in_idx: rows of the input leads.
        pred_std: optional ``[N, 12]`` std of the model's z-scored predictions of the same
            windows; the ratio is then std(lead) / (mean std(inputs) × pred_std), so that the
            calibrated output has the lead's typical amplitude (variance ratio ≈ 1 at the median)
            instead of assuming that the prediction has unit std.
    Returns:
        ``{"ratio": [12], "mean": [12] mV}``.
    """
    std = windows.std(axis=-1)  # [N, L]
    ref = std[:, list(in_idx)].mean(axis=1, keepdims=True)
    ok = ref[:, 0] > 1e-6
    if pred_std is not None:
        ref = ref * pred_std
        ok &= (pred_std > 1e-6).all(axis=1)
    return {"ratio": np.median(std[ok] / ref[ok], axis=0), "mean": np.median(windows.mean(axis=-1), axis=0)}


def mae_predictor(model: Any, n_views: int, batch_size: int = 512) -> Predictor:
    """A :data:`Predictor` from an aligned per-lead MAE (its :meth:`cross_reconstruct`)."""
    import torch

    from leadlift.ecg import STANDARD_LEADS

    def predict(z: np.ndarray, leads: tuple[str, ...]) -> np.ndarray:
        device = next(model.parameters()).device
        out = []
        with torch.inference_mode():
            for s in range(0, len(z), batch_size):
                x = torch.from_numpy(np.ascontiguousarray(z[s:s + batch_size], dtype=np.float32)).to(device)
                out.append(model.cross_reconstruct(x, leads, STANDARD_LEADS, n_views=n_views).cpu().numpy())
        return np.concatenate(out)

    return predict


def fit_calibration(windows: np.ndarray, data: str,
                    input_sets: Sequence[Sequence[str]] = CALIBRATION_INPUT_SETS,
                    predict: Predictor | None = None, eps: float = 1e-6) -> Calibration:
    """The calibration of an MAE from training windows ``[N, 12, W]`` (mV, standard lead order).

    One ratio vector per input set (rounded to 6 decimals, as stored in ``config.yaml``), the
    median per-lead mean, and the median per-lead window std (``lead_std``) for other input sets.
    ``data`` describes the windows (dataset, folds, counts) for the model card.

    With ``predict`` (a model trained to decode every lead, e.g. :func:`mae_predictor` of a
    ``cross_decode`` checkpoint) the ratios are fitted on the model's own predictions of the
    windows: its z-scored output is shrunk towards 0 where it is unsure (the MSE optimum), and the
    ratio restores the lead's typical amplitude (no flat leads). ``pred_std`` (the median std of
    the predictions from single leads) then serves input sets not calibrated explicitly.
    """
    leads = list(STANDARD_LEADS)
    sets: dict[str, CalibrationSet] = {}
    mean = np.median(windows.mean(axis=-1), axis=0)
    singles: list[np.ndarray] = []
    for raw in input_sets:
        names = parse_leads(list(raw))
        in_idx = [leads.index(n) for n in names]
        pred_std = None
        if predict is not None:
            x = windows[:, in_idx].astype(np.float64)
            z = (x - x.mean(axis=-1, keepdims=True)) / (x.std(axis=-1, keepdims=True) + eps)
            pred_std = predict(z.astype(np.float32), names).std(axis=-1)  # [N, 12]
            if len(names) == 1:
                singles.append(np.median(pred_std, axis=0))
        cal = amplitude_ratios(windows, in_idx, pred_std)
        sets[calibration_key(names)] = CalibrationSet(ratio=[round(float(v), 6) for v in cal["ratio"]])
    method = ("median std(lead)/(mean std(inputs) x std(model prediction)) per window, fitted on the model's "
              "own predictions" if predict is not None else "median std(lead)/mean std(inputs) per window")
    return Calibration(
        method=f"{method}; median per-lead mean (leadlift.inference.calibration.fit_calibration)",
        pred_std=[round(float(v), 6) for v in np.median(singles, axis=0)] if singles else None,
        data=data, units="mV", leads=leads,
        mean=[round(float(v), 6) for v in mean],
        lead_std=[round(float(v), 6) for v in np.median(windows.std(axis=-1), axis=0)],
        input_sets=sets,
    )


def attach_calibration(backend: Any, windows: np.ndarray, data: str) -> None:
    """Give an MAE backend whose checkpoint has no calibration one fitted on ``windows`` ``[N, 12, W]``
    (mV), in memory only (the checkpoint on disk is untouched). Used by evaluations of uncalibrated
    checkpoints (random-init twins, fresh baselines); shipped models carry their own. A model
    trained to decode every patch (one decoding pass) is calibrated on its own predictions."""
    predict = mae_predictor(backend.model, backend.n_views) if backend.n_views == 1 else None
    backend.config = backend.config.model_copy(
        update={"calibration": fit_calibration(windows, data=data, predict=predict)})
