"""Linear probes on frozen embeddings, AUROC and bootstrap confidence intervals.

Protocol (PTB-XL): standardise the embeddings with statistics of the training part, fit one
L2-regularised logistic regression per label (one-vs-rest, so each label is an independent
binary probe, e.g. MI vs rest), pick the inverse regularisation ``C`` per label by AUROC on the
validation part, and score the test part. 95 % intervals: percentile bootstrap over test
records (the same resamples for every label, so the macro AUROC gets an interval too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.preprocessing import StandardScaler

from leadlift.errors import InputError
from leadlift.evaluation.metrics import bootstrap_weights, percentile_ci

#: Inverse regularisation strengths tried on the validation part.
DEFAULT_CS: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)


def auroc(y: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray | float:
    """Area under the ROC curve (ties count one half), optionally with sample weights.

    Args:
        y: ``[n]`` binary labels (1 = positive).
        scores: ``[n]`` scores (higher = more positive).
        weights: ``[n]`` or ``[B, n]`` non-negative sample weights, e.g. bootstrap counts;
            with ``[B, n]`` all B weighted AUROCs are computed at once.

    Returns:
        A float (``weights`` None or 1-D) or ``[B]`` array; NaN when a class has no weight.
    """
    y = np.asarray(y).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise InputError(f"labels {y.shape} and scores {s.shape} must both be [n]")
    if not np.all(np.isfinite(s)):
        raise InputError("scores contain NaN or infinity")
    order = np.argsort(s, kind="mergesort")
    s, y = s[order], y[order]
    w = np.ones((1, len(s))) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))[:, order]
    wpos, wneg = w * y, w * ~y
    cum = np.concatenate([np.zeros((len(w), 1)), np.cumsum(wneg, axis=1)], axis=1)  # [B, n+1]
    # first and one-past-last sorted position of each sample's tie group
    new_group = np.r_[True, s[1:] != s[:-1]]
    first = np.maximum.accumulate(np.where(new_group, np.arange(len(s)), 0))
    end_of_group = np.r_[np.flatnonzero(new_group)[1:], len(s)]
    last = end_of_group[np.cumsum(new_group) - 1]
    below, tied = cum[:, first], cum[:, last] - cum[:, first]
    num = (wpos * (below + 0.5 * tied)).sum(axis=1)
    den = wpos.sum(axis=1) * wneg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.where(den > 0, num / den, np.nan)
    return float(res[0]) if weights is None or np.ndim(weights) == 1 else res


def _fit(x: np.ndarray, y: np.ndarray, c: float, seed: int) -> LogisticRegression:
    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    return clf.fit(x, y)


def linear_probe(
    x_train: np.ndarray, y_train: np.ndarray,
    x_val: np.ndarray, y_val: np.ndarray,
    x_test: np.ndarray, y_test: np.ndarray,
    labels: Sequence[str],
    cs: Sequence[float] = DEFAULT_CS,
    n_boot: int = 1000,
    seed: int = 0,
    roc_points: int = 101,
) -> dict[str, Any]:
    """Logistic-regression probe per label, C tuned on validation AUROC, scored on test.

    Args:
        x_train, x_val, x_test: ``[n, D]`` frozen embeddings.
        y_train, y_val, y_test: ``[n, K]`` binary labels (K = ``len(labels)``).
        labels: label names.
        cs: candidate inverse regularisation strengths.
        n_boot: bootstrap resamples of the test records.
        seed: seed of the bootstrap and of the solver.
        roc_points: points of the stored test ROC curve per label (interpolated on a
            fixed false-positive-rate grid).

    Returns:
        ``{"macro_auroc", "macro_ci", "n_train", "n_val", "n_test", "per_class": {label:
        {"auroc", "ci", "C", "val_auroc", "n_pos_test", "roc": {"fpr", "tpr"}}}}``; labels with
        a single class in train/val/test are reported with NaN and left out of the macro mean.
    """
    ys = [np.asarray(y, dtype=int).reshape(len(x), -1) for y, x in ((y_train, x_train), (y_val, x_val),
                                                                     (y_test, x_test))]
    if any(y.shape[1] != len(labels) for y in ys):
        raise InputError(f"label arrays must have {len(labels)} columns ({', '.join(labels)})")
    scaler = StandardScaler().fit(x_train)
    xtr, xva, xte = (scaler.transform(x) for x in (x_train, x_val, x_test))
    weights = bootstrap_weights(len(xte), n_boot, seed) if n_boot > 0 else None
    grid = np.linspace(0, 1, roc_points)
    per_class: dict[str, Any] = {}
    boot_rows = []
    for k, name in enumerate(labels):
        ytr, yva, yte = ys[0][:, k], ys[1][:, k], ys[2][:, k]
        row: dict[str, Any] = {"n_pos_test": int(yte.sum()), "n_pos_train": int(ytr.sum())}
        if min(len(set(ytr)), len(set(yva)), len(set(yte))) < 2:
            row.update(auroc=float("nan"), ci=[float("nan")] * 2, C=None, val_auroc=float("nan"))
            per_class[name] = row
            continue
        best = max(((auroc(yva, _fit(xtr, ytr, c, seed).decision_function(xva)), c) for c in cs),
                   key=lambda t: (t[0], -t[1]))
        clf = _fit(xtr, ytr, best[1], seed)
        score = clf.decision_function(xte)
        row.update(auroc=auroc(yte, score), C=best[1], val_auroc=best[0])
        if weights is not None:
            b = auroc(yte, score, weights)
            boot_rows.append(b)
            row["ci"] = list(percentile_ci(b))
        fpr, tpr, _ = roc_curve(yte, score)
        row["roc"] = {"fpr": grid.tolist(), "tpr": np.interp(grid, fpr, tpr).round(4).tolist()}
        per_class[name] = row
    valid = [r["auroc"] for r in per_class.values() if np.isfinite(r["auroc"])]
    macro = float(np.mean(valid)) if valid else float("nan")
    macro_ci = list(percentile_ci(np.nanmean(np.stack(boot_rows), axis=0))) if boot_rows else [float("nan")] * 2
    return {"macro_auroc": macro, "macro_ci": macro_ci, "n_train": len(xtr), "n_val": len(xva),
            "n_test": len(xte), "per_class": per_class}
