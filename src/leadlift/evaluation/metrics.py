"""Reconstruction metrics, per target lead, following the protocol rules of SPEC.md.

* RMSE over all samples (in the unit of the inputs: mV for de-normalised signals).
* Pearson r per window, then averaged over windows (windows whose truth or prediction is flat
  are left out of the average, and counted).
* R² over all samples (1 − SSE/SST around the lead's overall mean).
* Amplitude bias (mean of prediction − truth) and variance ratio (std of prediction / std of
  truth, per window, averaged): reconstructions regress to the mean and RMSE alone hides it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from leadlift.errors import InputError


def pearson_per_window(true: np.ndarray, pred: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Pearson r of every window along the last axis: ``[..., T]`` → ``[...]`` (NaN if flat)."""
    t = true - true.mean(axis=-1, keepdims=True)
    p = pred - pred.mean(axis=-1, keepdims=True)
    num = (t * p).sum(axis=-1)
    den = np.sqrt((t * t).sum(axis=-1) * (p * p).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    return np.where(den > eps, r, np.nan)


def lead_metrics(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Metrics of one lead from windows ``[n_windows, n_samples]`` (same unit for both)."""
    true = np.asarray(true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if true.shape != pred.shape or true.ndim != 2:
        raise InputError(f"truth {true.shape} and prediction {pred.shape} must both be [n_windows, n_samples]")
    r = pearson_per_window(true, pred)
    err = pred - true
    sst = ((true - true.mean()) ** 2).sum()
    std_t, std_p = true.std(axis=-1), pred.std(axis=-1)
    ok = std_t > 1e-8
    return {
        "rmse": float(np.sqrt((err**2).mean())),
        "pearson_r": float(np.nanmean(r)) if np.isfinite(r).any() else float("nan"),
        "r2": float(1 - (err**2).sum() / sst) if sst > 0 else float("nan"),
        "bias": float(err.mean()),
        "var_ratio": float(np.mean(std_p[ok] / std_t[ok])) if ok.any() else float("nan"),
        "n_windows": int(true.shape[0]),
        "n_flat_windows": int((~np.isfinite(r)).sum()),
    }


def reconstruction_table(true: np.ndarray, pred: np.ndarray, leads: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per-lead metrics from ``[n_windows, n_leads, n_samples]`` arrays → ``{lead: metrics}``."""
    if true.shape != pred.shape or true.ndim != 3 or true.shape[1] != len(leads):
        raise InputError(f"expected [n_windows, {len(leads)}, n_samples] arrays, got {true.shape} and {pred.shape}")
    return {lead: lead_metrics(true[:, i], pred[:, i]) for i, lead in enumerate(leads)}


def bootstrap_weights(n: int, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """``[n_boot, n]`` counts of each item in ``n_boot`` resamples with replacement (the one bootstrap of
    leadlift: probes, MI and the reconstruction benchmark all draw with it)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    w = np.zeros((n_boot, n))
    np.add.at(w, (np.arange(n_boot)[:, None], idx), 1.0)
    return w


def percentile_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite ``values``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(v, a)), float(np.quantile(v, 1 - a))
