"""Scoring, figures and tables of the reconstruction benchmark (paper 2 and its baselines).

Pure evaluation: windows in, metrics out. :func:`score_windows` scores learned leads on the
benchmark windows (limb leads assembled by the lead plan), :func:`cv_aggregate` summarises
folds, :func:`mae_predictions` runs an aligned MAE through the API's own path
(:func:`leadlift.inference.pipeline.reconstruct_records`) on the benchmark records, and
:func:`results_markdown` / :func:`write_results` write the report. Training lives in
:mod:`leadlift.training.recon`; :mod:`leadlift.workflows.recon_benchmark` runs both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leadlift.data.windows import EvalSet, gather_windows, window_index
from leadlift.ecg import ECG, STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.evaluation.metrics import reconstruction_table
from leadlift.models.recon import LeadPlan
from leadlift.recon_config import ReconConfig
from leadlift.serialization import to_plain

__all__ = ["METRIC_NAMES", "average", "cv_aggregate", "mae_predictions", "results_markdown", "score_windows",
           "write_results"]

METRIC_NAMES: tuple[str, ...] = ("pearson_r", "rmse", "r2", "bias", "var_ratio")


METHOD_TITLES: dict[str, str] = {
    "linear": "linear LS",
    "unet": "U-Net",
    "fusion_noemb": "fusion w/o embedding",
    "fusion": "pathology-aware fusion",
    "mae": "aligned MAE",
}


def mae_predictions(checkpoint: str | Path, plan: LeadPlan, cfg: ReconConfig, train: EvalSet,
                    eval_sets: Sequence[EvalSet]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Cross-lead reconstruction of the learned leads by an aligned per-lead MAE, on the benchmark's windows.

    Every record of an evaluation set (the benchmark's preprocessed records, input leads only) goes
    through :func:`leadlift.inference.pipeline.reconstruct_records` — exactly what
    :meth:`leadlift.api.LeadLift.reconstruct` does with the checkpoint (its own window length,
    half-window hop, Hann overlap-add, its stored amplitude calibration) — and the benchmark
    windows are cut from the reconstructed record. A checkpoint without a calibration gets one
    fitted on ``train``'s records.

    Returns:
        ``({set name: [N, n_learned, window] mV}, info)``.
    """
    from leadlift.inference.backends import MAEBackend, load_backend
    from leadlift.inference.calibration import fit_calibration
    from leadlift.inference.pipeline import reconstruct_records

    backend = load_backend(checkpoint)
    if not isinstance(backend, MAEBackend):
        raise InputError(f"{checkpoint} is not a per-lead MAE bank; cross-lead reconstruction needs one")
    if abs(backend.fs - cfg.data.fs) > 1e-6:
        raise InputError(f"the MAE expects {backend.fs:g} Hz but the benchmark runs at {cfg.data.fs:g} Hz; "
                         "use an MAE trained at the same rate")
    missing = [ld for ld in (*plan.inputs, *plan.learned) if ld not in backend.leads]
    if missing:
        raise InputError(f"the MAE has no model for lead(s) {', '.join(missing)}; use a 12-lead MAE checkpoint")
    n = backend.window
    in_idx = [STANDARD_LEADS.index(ld) for ld in plan.inputs]
    out_idx = [STANDARD_LEADS.index(ld) for ld in plan.learned]
    calibrated = "checkpoint"
    if backend.config.calibration is None:
        cal_idx = window_index(train.n_valid, np.unique(train.index.rows), n, n)
        cal = fit_calibration(gather_windows(train.records, cal_idx, n).numpy(),
                              data=f"{len(cal_idx)} benchmark training windows")
        backend.config = backend.config.model_copy(update={"calibration": cal})
        calibrated = f"fitted on {len(cal_idx)} training windows"
    out: dict[str, np.ndarray] = {}
    for e in eval_sets:
        result = np.zeros((len(e.index), len(out_idx), cfg.data.window), np.float32)
        rows = np.unique(e.index.rows)
        ecgs = [ECG(e.records[r, in_idx, : int(e.n_valid[r])].numpy(), cfg.data.fs, plan.inputs,
                    record_id=str(r), check_units=False) for r in rows]
        recs = reconstruct_records(backend, ecgs, hop=backend.hop, explicit=True, model_name=str(checkpoint))
        for r, rec in zip(rows, recs, strict=True):
            full = rec.signal[out_idx]
            for i in np.flatnonzero(e.index.rows == r):
                s = int(e.index.starts[i])
                result[i] = full[:, s:s + cfg.data.window]
        out[e.name] = result
    ratio, _ = backend.calibration(plan.inputs, plan.learned)
    info = {"checkpoint": str(checkpoint), "mae_window_samples": n, "calibration": calibrated,
            "calibration_ratio": dict(zip(plan.learned, map(float, ratio), strict=True))}
    return out, info


def score_windows(plan: LeadPlan, e: EvalSet, learned: np.ndarray, window: int) -> dict[str, dict[str, float]]:
    true = gather_windows(e.records, e.index, window).numpy()
    in_idx = [STANDARD_LEADS.index(ld) for ld in plan.inputs]
    full = plan.assemble(true[:, in_idx], learned)
    return reconstruction_table(true, full, STANDARD_LEADS)


def average(table: dict[str, dict[str, float]], leads: Sequence[str]) -> dict[str, float]:
    return {m: float(np.mean([table[ld][m] for ld in leads])) for m in METRIC_NAMES}


def cv_aggregate(fold_tables: list[dict[str, dict[str, float]]], leads: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ld in (*STANDARD_LEADS, "mean_reconstructed"):
        out[ld] = {}
        for m in METRIC_NAMES:
            vals = [(t[ld][m] if ld != "mean_reconstructed" else average(t, leads)[m]) for t in fold_tables]
            out[ld][m] = {"mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
                          "folds": [float(v) for v in vals]}
    return out


def _stitch(e: EvalSet, row: int, learned: np.ndarray, window: int, plan: LeadPlan) -> tuple[np.ndarray, np.ndarray]:
    """Whole-record truth and reconstruction (12 leads, samples covered by windows) of one record."""
    from leadlift.preprocessing import overlap_add

    sel = np.flatnonzero(e.index.rows == row)
    starts = e.index.starts[sel]
    end = int(starts.max()) + window
    true = e.records[row, :, :end].numpy()
    in_idx = [STANDARD_LEADS.index(ld) for ld in plan.inputs]
    pred = overlap_add(learned[sel].transpose(1, 0, 2), starts, end)  # [n_learned, end]
    full = plan.assemble(true[in_idx], pred.astype(np.float32))
    return true, full


def overlay_figures(out: Path, e: EvalSet, preds: dict[str, np.ndarray], plan: LeadPlan, fs: float, window: int,
                     n: int, meta_keys: np.ndarray | None, methods: Sequence[str]) -> list[str]:
    from leadlift.plotting import plot_ecg

    rows = list(dict.fromkeys(e.index.rows.tolist()))
    chosen: list[int] = []
    if meta_keys is not None:  # prefer different diagnoses
        seen: set[str] = set()
        for r in rows:
            if meta_keys[r] not in seen:
                seen.add(meta_keys[r])
                chosen.append(r)
            if len(chosen) == n:
                break
    chosen += [r for r in rows if r not in chosen][: max(n - len(chosen), 0)]
    paths = []
    src = ",".join(plan.inputs)
    for r in chosen[:n]:
        for m in methods:
            if m not in preds:
                continue
            true, full = _stitch(e, r, preds[m], window, plan)
            rid = str(e.record_ids[r])
            diag = f", {meta_keys[r]}" if meta_keys is not None else ""
            ref = ECG(true, fs, STANDARD_LEADS, record_id=rid, check_units=False)
            rec = ECG(full, fs, STANDARD_LEADS, record_id=rid, check_units=False)
            path = out / "figures" / f"overlay_{e.name}_{rid.replace('/', '_')}_{m}.png"
            plot_ecg(rec, path, title=f"{e.name} {rid}{diag}: {METHOD_TITLES.get(m, m)} from {src} (black) vs true "
                                      "(blue)", reference=ref, label="reconstructed", reference_label="true",
                     seconds=min(10.0, rec.duration_s))
            paths.append(str(path.relative_to(out)))
    return paths


def bar_chart(path: Path, tables: dict[str, dict[str, dict[str, float]]], leads: Sequence[str], title: str,
               plan: LeadPlan) -> None:
    """Per-lead Pearson r and RMSE (mV), one bar per method (derived limb leads marked)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    methods = list(tables)
    fig = Figure(figsize=(max(8.0, 1.1 * len(leads) + 2), 7.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    width = 0.8 / max(len(methods), 1)
    xs = np.arange(len(leads))
    lowest = 1.0
    for k, m in enumerate(methods):
        for ax, metric in zip(axes, ("pearson_r", "rmse"), strict=True):
            vals = [tables[m][ld][metric] for ld in leads]
            if metric == "pearson_r":
                lowest = min(lowest, *[v for v in vals if np.isfinite(v)])
            ax.bar(xs + (k - (len(methods) - 1) / 2) * width, vals, width, label=METHOD_TITLES.get(m, m))
    axes[0].set_ylabel("Pearson r (per window, mean)")
    axes[0].set_ylim(max(min(0.5, lowest - 0.05), -1.0), 1.0)
    axes[1].set_ylabel("RMSE (mV, all samples)")
    names = [f"{ld}\n(derived)" if ld in plan.derived and plan.exact else ld for ld in leads]
    axes[1].set_xticks(xs, names)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, ncols=min(len(methods), 5), fontsize=8, loc="upper center",
               bbox_to_anchor=(0.5, 0.955), frameon=False)
    fig.suptitle(title, fontsize=10)
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def _fmt(v: float, digits: int = 3) -> str:
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _lead_label(ld: str, plan: LeadPlan) -> str:
    if ld in plan.inputs:
        return f"{ld} (input)"
    if ld in plan.derived:
        return f"{ld} (derived{' exactly' if plan.exact else ' from I/II incl. reconstructed'})"
    return ld


def results_markdown(res: dict[str, Any]) -> str:
    """The results tables as Markdown (units in every header)."""
    plan = LeadPlan.from_inputs(res["leads"]["inputs"])
    scored = res["leads"]["scored"]
    src = ",".join(plan.inputs)
    methods = list(res["test"])
    d = res["data"]
    lines = [
        f"# 12-lead reconstruction from {src} — PTB-XL at {d['fs']:g} Hz",
        "",
        f"Command: `{res.get('command', 'leadlift reconstruct-benchmark')}` (config `{res['config']['name']}`, "
        f"leadlift {res['leadlift_version']}); wall time {res['seconds']:.0f} s on {res['threads']} CPU thread(s).",
        "",
        "Units and definitions: **RMSE in mV over all samples of all windows**; **Pearson r per window, then "
        "averaged**; R² over all samples; bias = mean(pred − true) in mV; var ratio = std(pred)/std(true) per "
        "window, averaged. Signals band-passed 0.5–45 Hz and baseline-corrected; windows of "
        f"{d['window']} samples ({d['window'] / d['fs']:g} s), hop {d['hop']}.",
        "",
        f"Split: {d['split_description']}. Test: {d['n_test_windows']} windows from {d['n_test_records']} records "
        f"({d['qc_rejected']['test']} rejected by QC). Training: {d['n_train_windows']} windows "
        f"({d['n_train_records']} records), validation {d['n_val_windows']} windows. No patient is in two parts.",
        "",
        f"Leads: inputs {', '.join(plan.inputs)}; learned {', '.join(plan.learned)}; derived "
        f"{', '.join(plan.derived) or '-'}"
        + (" (exact from I and II, excluded from the averages; they differ from the stored leads only through "
           "the 1-µV quantisation of the files and the non-linear median baseline filter)."
           if plan.exact and plan.derived else ".")
        + f" Averages are over the reconstructed leads {', '.join(scored)}.",
        "",
        "## Test fold: Pearson r / RMSE (mV) per lead",
        "",
        "| lead | " + " | ".join(f"{METHOD_TITLES.get(m, m)} r | {METHOD_TITLES.get(m, m)} RMSE (mV)" for m in methods)
        + " |",
        "|---|" + "---:|" * (2 * len(methods)),
    ]
    for ld in STANDARD_LEADS:
        if ld in plan.inputs:
            continue
        cells = []
        for m in methods:
            t = res["test"][m][ld]
            cells += [_fmt(t["pearson_r"]), _fmt(t["rmse"], 4)]
        lines.append(f"| {_lead_label(ld, plan)} | " + " | ".join(cells) + " |")
    cells = []
    for m in methods:
        a = res["summary"]["test"][m]
        cells += [f"**{_fmt(a['pearson_r'])}**", f"**{_fmt(a['rmse'], 4)}**"]
    lines.append("| **mean of reconstructed leads** | " + " | ".join(cells) + " |")

    g = res.get("goal")
    if g:
        lines += ["", "## Goal: half the linear baseline's RMSE", "",
                  f"Pathology-aware fusion mean RMSE {g['fusion_rmse']:.4f} mV vs linear {g['linear_rmse']:.4f} mV: "
                  f"ratio {g['ratio']:.3f} (goal ≤ 0.5; the fusion model would need {g['target_rmse']:.4f} mV, "
                  f"{g['gap_mv']:+.4f} mV away)."]

    lines += ["", "## Test fold: every metric per method", ""]
    for m in methods:
        lines += [f"### {METHOD_TITLES.get(m, m)}", "",
                  "| lead | r (per window) | RMSE (mV) | R² | bias (mV) | var ratio |",
                  "|---|---:|---:|---:|---:|---:|"]
        for ld in (*(x for x in STANDARD_LEADS if x not in plan.inputs), "mean"):
            t = res["summary"]["test"][m] if ld == "mean" else res["test"][m][ld]
            name = "**mean of reconstructed**" if ld == "mean" else _lead_label(ld, plan)
            lines.append(f"| {name} | {_fmt(t['pearson_r'])} | {_fmt(t['rmse'], 4)} | {_fmt(t['r2'])} | "
                         f"{_fmt(t['bias'], 4)} | {_fmt(t['var_ratio'])} |")
        lines.append("")

    cv = res.get("cv")
    if cv and cv.get("methods"):
        cm = list(cv["methods"])
        lines += [f"## {cv['n_folds']}-fold patient-grouped CV on train ∪ validation, scored on the fixed test "
                  "windows: mean ± std over folds", "",
                  f"Folds: {cv['description']}.", "",
                  "| lead | " + " | ".join(f"{METHOD_TITLES.get(m, m)} r | {METHOD_TITLES.get(m, m)} RMSE (mV)"
                                          for m in cm) + " |",
                  "|---|" + "---:|" * (2 * len(cm))]
        for ld in (*(x for x in STANDARD_LEADS if x not in plan.inputs), "mean_reconstructed"):
            cells = []
            for m in cm:
                t = cv["methods"][m][ld]
                cells += [f"{t['pearson_r']['mean']:.3f} ± {t['pearson_r']['std']:.3f}",
                          f"{t['rmse']['mean']:.4f} ± {t['rmse']['std']:.4f}"]
            name = "**mean of reconstructed**" if ld == "mean_reconstructed" else _lead_label(ld, plan)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        if "mae" in methods:
            lines += ["", "The MAE checkpoint is not trained by this benchmark, so it has no CV folds."]

    zs = res.get("zero_shot", {})
    for z in zs.values():
        zm = list(z["methods"])
        lines += ["", f"## Zero-shot: {z['title']} ({z['n_records']} record(s), {z['n_windows']} windows, "
                      f"{z['qc_rejected']} rejected by QC; main-split models)", "",
                  "| lead | " + " | ".join(f"{METHOD_TITLES.get(m, m)} r | {METHOD_TITLES.get(m, m)} RMSE (mV)"
                                          for m in zm) + " |",
                  "|---|" + "---:|" * (2 * len(zm))]
        for ld in (*(x for x in STANDARD_LEADS if x not in plan.inputs), "mean"):
            cells = []
            for m in zm:
                t = z["summary"][m] if ld == "mean" else z["methods"][m][ld]
                cells += [_fmt(t["pearson_r"]), _fmt(t["rmse"], 4)]
            label = "**mean of reconstructed**" if ld == "mean" else _lead_label(ld, plan)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")

    lines += ["", "## Training (main split)", "", "| method | epochs | best epoch | best val MSE (mV²) | seconds |",
              "|---|---:|---:|---:|---:|"]
    for m, inf in res["training"].items():
        if "best_val_mse" in inf:
            lines.append(f"| {METHOD_TITLES.get(m, m)} | {inf['epochs']} | {inf['best_epoch']} | "
                         f"{inf['best_val_mse']:.4f} | {inf['seconds']} |")
        elif m == "encoder" and "epochs" in inf:
            lines.append(f"| SupCon encoder | {inf['epochs']} | - | - (final SupCon loss {inf['final_loss']:.3f}) | "
                         f"{inf['seconds']} |")
        elif "seconds" in inf:
            lines.append(f"| {METHOD_TITLES.get(m, m)} | closed form | - | - | {inf['seconds']} |")
    if res.get("figures"):
        lines += ["", "Figures: " + ", ".join(f"`{p}`" for p in res["figures"])]
    return "\n".join(lines) + "\n"


def write_results(out: Path, results: dict[str, Any]) -> None:
    results.setdefault("seconds", results.get("seconds_main", 0.0))
    (out / "results.json").write_text(json.dumps(to_plain(results, finite=True), indent=2))
    (out / "results.md").write_text(results_markdown(results))
