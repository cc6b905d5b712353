"""Fitting an aligned MAE's amplitude calibration (its decoders output z-scores; users want mV).

Applying it is :meth:`leadlift.inference.checkpoint.Calibration.ratio_mean` (used by the MAE
backend); fitting it needs training windows in mV, which the caller gathers (release: PTB-XL
folds 1–8; evaluation: the same folds for a checkpoint that ships none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from leadlift.ecg import STANDARD_LEADS, parse_leads
from leadlift.inference.checkpoint import Calibration, CalibrationSet, calibration_key

__all__ = ["CALIBRATION_INPUT_SETS", "amplitude_ratios", "attach_calibration", "fit_calibration"]

CALIBRATION_INPUT_SETS: tuple[tuple[str, ...], ...] = (
    *((lead,) for lead in STANDARD_LEADS),
    ("I", "II"),
    ("I", "II", "V2"),
)
"""Input-lead sets calibrated explicitly (others use per-lead typical amplitudes)."""


def amplitude_ratios(windows: np.ndarray, in_idx: Sequence[int]) -> dict[str, np.ndarray]:
    """Median per-lead ratio std(lead)/mean std(inputs) and median per-lead mean.

    Args:
        windows: ``[N, 12, W]`` training windows in mV.
        in_idx: rows of the input leads.
    Returns:
        ``{"ratio": [12], "mean": [12] mV}``.
    """
    std = windows.std(axis=-1)  # [N, L]
    ref = std[:, list(in_idx)].mean(axis=1, keepdims=True)
    ok = ref[:, 0] > 1e-6
    return {"ratio": np.median(std[ok] / ref[ok], axis=0), "mean": np.median(windows.mean(axis=-1), axis=0)}


def fit_calibration(windows: np.ndarray, data: str,
                    input_sets: Sequence[Sequence[str]] = CALIBRATION_INPUT_SETS) -> Calibration:
    """The calibration of an MAE from training windows ``[N, 12, W]`` (mV, standard lead order).

    One ratio vector per input set (rounded to 6 decimals, as stored in ``config.yaml``), the
    median per-lead mean, and the median per-lead window std (``lead_std``) for other input sets.
    ``data`` describes the windows (dataset, folds, counts) for the model card.
    """
    leads = list(STANDARD_LEADS)
    sets: dict[str, CalibrationSet] = {}
    mean = np.median(windows.mean(axis=-1), axis=0)
    for raw in input_sets:
        names = parse_leads(list(raw))
        cal = amplitude_ratios(windows, [leads.index(n) for n in names])
        sets[calibration_key(names)] = CalibrationSet(ratio=[round(float(v), 6) for v in cal["ratio"]])
    return Calibration(
        method="median std(lead)/mean std(inputs) per window; median per-lead mean "
               "(leadlift.inference.calibration.fit_calibration)",
        data=data, units="mV", leads=leads,
        mean=[round(float(v), 6) for v in mean],
        lead_std=[round(float(v), 6) for v in np.median(windows.std(axis=-1), axis=0)],
        input_sets=sets,
    )


def attach_calibration(backend: Any, windows: np.ndarray, data: str) -> None:
    """Give an MAE backend whose checkpoint has no calibration one fitted on ``windows`` ``[N, 12, W]``
    (mV), in memory only (the checkpoint on disk is untouched). Used by evaluations of uncalibrated
    checkpoints (random-init twins, fresh baselines); shipped models carry their own."""
    backend.config = backend.config.model_copy(update={"calibration": fit_calibration(windows, data=data)})
