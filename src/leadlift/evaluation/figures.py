"""Figures of the evaluation report (PNG, matplotlib Agg; no pyplot state is touched).

Every function takes plain result dicts (as stored in ``results.json``) and a target path, and
returns the path written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _save(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return path


def _heat(ax: Any, m: np.ndarray, rows: Sequence[str], cols: Sequence[str], vmin: float, vmax: float,
          cmap: str, title: str, fmt: str = "{:.2f}") -> Any:
    im = ax.imshow(m, vmin=vmin, vmax=vmax, cmap=cmap, aspect="equal")
    ax.set_xticks(range(len(cols)), cols, rotation=90, fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_title(title, fontsize=9)
    if m.shape[0] * m.shape[1] <= 160:
        for (i, j), v in np.ndenumerate(m):
            if np.isfinite(v):
                shade = (v - vmin) / (vmax - vmin + 1e-12)
                txt = fmt.format(v)
                if abs(v) < 1:  # ".83" / "-.12" keeps the cells readable
                    txt = txt.replace("0.", ".", 1)
                r, g, b = im.cmap(shade)[:3]
                ax.text(j, i, txt, ha="center", va="center", fontsize=5,
                        color="white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black")
    return im


def heatmaps(mats: dict[str, np.ndarray], rows: Sequence[str], cols: Sequence[str], path: str | Path,
             title: str, vmin: float, vmax: float, cmap: str = "viridis", xlabel: str = "",
             ylabel: str = "") -> Path:
    """Side-by-side heatmaps with a shared colour scale, one per model (``{model label: [R, C]}``)."""
    n = len(mats)
    fig = Figure(figsize=(3.6 * n + 0.8, 3.9))
    axes = fig.subplots(1, n, squeeze=False)[0]
    im = None
    for k, (ax, (name, m)) in enumerate(zip(axes, mats.items(), strict=True)):
        im = _heat(ax, np.asarray(m, dtype=float), rows, cols, vmin, vmax, cmap, name)
        ax.set_xlabel(xlabel, fontsize=8)
        if k == 0:
            ax.set_ylabel(ylabel, fontsize=8)
    if im is not None:
        fig.colorbar(im, ax=list(axes), shrink=0.8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def cosine_histograms(hists: dict[str, dict[str, Sequence[float]]], path: str | Path) -> Path:
    """Distributions of same-ECG vs different-ECG cosine similarity (off-diagonal lead pairs)."""
    n = len(hists)
    fig = Figure(figsize=(3.4 * n, 2.8))
    axes = fig.subplots(1, n, squeeze=False)[0]
    bins = np.linspace(-1, 1, 81)
    for ax, (name, h) in zip(axes, hists.items(), strict=True):
        ax.hist(h["diff"], bins=bins, alpha=0.5, density=True, label="different ECGs", color="#7f7f7f")
        ax.hist(h["same"], bins=bins, density=True, label="same ECG", color="#d62728", histtype="step", lw=1.4)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("cosine similarity (lead j vs lead k)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    return _save(fig, path)


def roc_grid(curves: dict[str, dict[str, dict[str, Any]]], views: Sequence[str], path: str | Path) -> Path:
    """ROC curves on the test fold: rows = models, columns = embedding views, one line per label.

    ``curves[model][view]`` is a probe result (``per_class[label]["roc"]``, ``auroc``).
    """
    models = list(curves)
    fig = Figure(figsize=(3.2 * len(views), 3.0 * len(models)))
    axes = fig.subplots(len(models), len(views), squeeze=False)
    for i, m in enumerate(models):
        for j, v in enumerate(views):
            ax = axes[i][j]
            res = curves[m].get(v)
            ax.plot([0, 1], [0, 1], ls=":", color="#999999", lw=0.8)
            if res is not None:
                for c, (label, row) in enumerate(res["per_class"].items()):
                    if "roc" in row:
                        ax.plot(row["roc"]["fpr"], row["roc"]["tpr"], color=CLASS_COLORS[c % len(CLASS_COLORS)],
                                lw=1.2, label=f"{label} {row['auroc']:.3f}")
                ax.legend(fontsize=6, loc="lower right", title=f"macro {res['macro_auroc']:.3f}", title_fontsize=6)
            ax.set_title(f"{m} — {v}", fontsize=8)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.tick_params(labelsize=6)
            if i == len(models) - 1:
                ax.set_xlabel("false positive rate", fontsize=7)
            if j == 0:
                ax.set_ylabel("true positive rate", fontsize=7)
    return _save(fig, path)


def probe_bars(probes: dict[str, dict[str, dict[str, Any]]], views: Sequence[str], path: str | Path,
               title: str = "PTB-XL superdiagnostic macro AUROC (test fold, 95 % bootstrap CI)") -> Path:
    """Grouped bars of macro AUROC per embedding view, one bar per model, with CI whiskers."""
    models = list(probes)
    fig = Figure(figsize=(max(6.0, 0.25 * len(views) * max(1, len(models)) + 2.0), 3.2))
    ax = fig.subplots()
    width = 0.8 / max(1, len(models))
    x = np.arange(len(views))
    for k, m in enumerate(models):
        vals = np.array([probes[m].get(v, {}).get("macro_auroc", np.nan) for v in views], dtype=float)
        ci = np.array([probes[m].get(v, {}).get("macro_ci", [np.nan, np.nan]) for v in views], dtype=float)
        err = np.abs(np.stack([vals - ci[:, 0], ci[:, 1] - vals]))
        ax.bar(x + (k - (len(models) - 1) / 2) * width, vals, width, yerr=np.nan_to_num(err), capsize=1.5,
               label=m, color=CLASS_COLORS[k % len(CLASS_COLORS)], error_kw={"lw": 0.7})
    ax.axhline(0.5, color="#999999", lw=0.8, ls=":")
    ax.set_xticks(x, views, fontsize=7)
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("macro AUROC", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncols=len(models))
    return _save(fig, path)
