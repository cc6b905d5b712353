"""How far a reconstruction's predictive spread can be trusted: interval coverage and error ranking.

Conventions: ``true``, ``mean`` and ``spread`` are windows ``[N, L, T]`` in mV (``spread`` the
calibrated predictive standard deviation); the nominal interval is ``mean ± z·spread``.

* **Coverage** — the share of samples whose true value lies in the interval, per lead (calibrated
  at 90 % it should be close to 0.90 on data the calibration never saw).
* **Ranking** — Spearman correlation between a window's mean spread and its mean absolute error,
  per lead and pooled over (window, lead) pairs: does a larger spread flag a worse reconstruction?
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from leadlift.errors import InputError

__all__ = ["coverage", "spread_error_spearman", "uncertainty_scores"]


def _check(true: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> None:
    if not (true.shape == mean.shape == spread.shape) or true.ndim != 3:
        raise InputError(f"true, mean and spread need the same shape [N, L, T], got {true.shape}, {mean.shape}, "
                         f"{spread.shape}")


def coverage(true: np.ndarray, mean: np.ndarray, spread: np.ndarray, z: float) -> np.ndarray:
    """Share of samples with ``|true − mean| ≤ z·spread``, per lead: ``[L]``."""
    _check(true, mean, spread)
    inside = np.abs(true - mean) <= z * spread
    return inside.mean(axis=(0, 2))


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def spread_error_spearman(true: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> tuple[float, np.ndarray]:
    """Spearman ρ between each window's mean spread and mean absolute error (mV):
    ``(pooled over all (window, lead) pairs, per lead [L])``."""
    _check(true, mean, spread)
    err = np.abs(true - mean).mean(axis=2)  # [N, L]
    sp = spread.mean(axis=2)
    per = np.array([_rho(sp[:, k], err[:, k]) for k in range(err.shape[1])])
    return _rho(sp.ravel(), err.ravel()), per


def uncertainty_scores(true: np.ndarray, mean: np.ndarray, spread: np.ndarray, z: float, level: float,
                       leads: Sequence[str]) -> dict[str, Any]:
    """Coverage and ranking of one model on one set of windows (see the module docstring).

    Returns ``{"level", "z", "coverage": {lead: share}, "coverage_min", "coverage_max",
    "spearman": pooled ρ, "spearman_per_lead": {lead: ρ}, "mean_spread_mv": {lead}, "n_windows"}``.
    """
    cov = coverage(true, mean, spread, z)
    pooled, per = spread_error_spearman(true, mean, spread)
    return {
        "level": float(level), "z": float(z),
        "coverage": {ld: round(float(c), 4) for ld, c in zip(leads, cov, strict=True)},
        "coverage_min": round(float(cov.min()), 4), "coverage_max": round(float(cov.max()), 4),
        "spearman": round(pooled, 4),
        "spearman_per_lead": {ld: round(float(r), 4) for ld, r in zip(leads, per, strict=True)},
        "mean_spread_mv": {ld: round(float(spread[:, k].mean()), 5) for k, ld in enumerate(leads)},
        "n_windows": int(true.shape[0]),
    }
