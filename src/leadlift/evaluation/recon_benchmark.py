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
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leadlift.data.windows import EvalSet, gather_windows, window_index
from leadlift.ecg import ECG, STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.evaluation.metrics import bootstrap_weights, pearson_per_window, percentile_ci
from leadlift.models.recon import LeadPlan
from leadlift.recon_config import ReconConfig
from leadlift.serialization import to_plain

__all__ = [
    "METRIC_NAMES",
    "average",
    "checkpoint_predictions",
    "cv_aggregate",
    "results_markdown",
    "score_windows",
    "write_results",
]

METRIC_NAMES: tuple[str, ...] = ("pearson_r", "rmse", "r2", "bias", "var_ratio")


METHOD_TITLES: dict[str, str] = {
    "zero": "zero predictor",
    "linear": "instantaneous LS",
    "fir": "FIR LS",
    "unet": "U-Net",
    "fusion_noemb": "fusion w/o embedding",
    "fusion_random": "fusion + random frozen encoder",
    "fusion": "fusion + SupCon encoder (pathology-aware)",
    "mae": "aligned MAE",
}
METHOD_NOTES: dict[str, str] = {
    "zero": "0 mV for every learned lead",
    "linear": "y = W x + b per sample: can only rescale the inputs",
    "fir": "least squares over a ±L neighbourhood of the inputs, L chosen on validation",
    "fusion_random": "the same fusion model with an untrained, frozen encoder: isolates what SupCon adds",
}
REFERENCE = "fir"
"""Every method's learned-lead means are compared with this method (paired bootstrap CIs)."""
CONTRASTS: tuple[tuple[str, str, str], ...] = (
    ("fusion", "fusion_random", "what SupCon training of the encoder adds (same fusion model, same data)"),
    ("fusion_random", "fusion_noemb", "what an embedding view adds at all, trained or not"),
    ("fusion_noemb", "unet", "the fusion decoder vs the U-Net, both without an embedding"),
)
"""Controls that isolate one component each: ``(method, control, what the difference measures)``."""
STATS: tuple[str, ...] = ("sse", "n", "st", "st2", "se", "r_sum", "r_cnt", "vr_sum", "vr_cnt")
"""Per-window sums from which every metric of :func:`leadlift.evaluation.metrics.lead_metrics` is rebuilt."""


def checkpoint_predictions(checkpoint: str | Path, plan: LeadPlan, cfg: ReconConfig, train: EvalSet,
                    eval_sets: Sequence[EvalSet], spreads: dict[str, np.ndarray] | None = None
                    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The learned leads as a leadlift checkpoint reconstructs them, on the benchmark's windows.

    Any checkpoint format works: an aligned per-lead MAE (cross-lead decoding), or a reconstructor
    whose input leads are the benchmark's.

    Every record of an evaluation set (the benchmark's preprocessed records, input leads only) goes
    through :func:`leadlift.inference.pipeline.reconstruct_records` — exactly what
    :meth:`leadlift.api.LeadLift.reconstruct` does with the checkpoint (its own window length,
    half-window hop, Hann overlap-add, its stored amplitude calibration) — and the benchmark
    windows are cut from the reconstructed record. A checkpoint without a calibration gets one
    fitted on ``train``'s records.

    Returns:
        ``({set name: [N, n_learned, window] mV}, info)``.
    """
    from leadlift.inference.backends import AnySubsetBackend, MAEBackend, load_backend
    from leadlift.inference.calibration import attach_calibration
    from leadlift.inference.pipeline import reconstruct_records

    backend = load_backend(checkpoint)
    if abs(backend.fs - cfg.data.fs) > 1e-6:
        raise InputError(f"{checkpoint} works at {backend.fs:g} Hz but the benchmark runs at {cfg.data.fs:g} Hz; "
                         "use a checkpoint trained at the same rate")
    if isinstance(backend, MAEBackend):
        missing = [ld for ld in (*plan.inputs, *plan.learned) if ld not in backend.leads]
        if missing:
            raise InputError(f"the MAE has no model for lead(s) {', '.join(missing)}; use a 12-lead MAE checkpoint")
    elif not isinstance(backend, AnySubsetBackend) and set(backend.leads) != set(plan.inputs):
        raise InputError(f"{checkpoint} reconstructs from {','.join(backend.leads)}, the benchmark from "
                         f"{','.join(plan.inputs)}; pass a checkpoint for the same input leads")
    n = backend.window
    in_idx = [STANDARD_LEADS.index(ld) for ld in plan.inputs]
    out_idx = [STANDARD_LEADS.index(ld) for ld in plan.learned]
    calibrated = "checkpoint" if isinstance(backend, MAEBackend) else "n/a"
    if isinstance(backend, MAEBackend) and backend.config.calibration is None:
        cal_idx = window_index(train.n_valid, np.unique(train.index.rows), n, n)
        attach_calibration(backend, gather_windows(train.records, cal_idx, n).numpy(),
                           f"{len(cal_idx)} benchmark training windows")
        calibrated = f"fitted on {len(cal_idx)} training windows"
    out: dict[str, np.ndarray] = {}
    for e in eval_sets:
        result = np.zeros((len(e.index), len(out_idx), cfg.data.window), np.float32)
        spread = np.zeros_like(result)
        rows = np.unique(e.index.rows)
        ecgs = [ECG(e.records[r, in_idx, : int(e.n_valid[r])].numpy(), cfg.data.fs, plan.inputs,
                    record_id=str(r), check_units=False) for r in rows]
        recs = reconstruct_records(backend, ecgs, hop=backend.hop, explicit=True, model_name=str(checkpoint),
                                   refuse_flat=False)
        for r, rec in zip(rows, recs, strict=True):
            full = rec.signal[out_idx]
            sp = rec.spread[out_idx] if rec.spread is not None else None
            for i in np.flatnonzero(e.index.rows == r):
                s = int(e.index.starts[i])
                result[i] = full[:, s:s + cfg.data.window]
                if sp is not None:
                    spread[i] = sp[:, s:s + cfg.data.window]
        out[e.name] = result
        if spreads is not None and recs and recs[0].spread is not None:
            spreads[e.name] = spread
    info: dict[str, Any] = {"checkpoint": str(checkpoint), "kind": backend.kind, "window_samples": n,
                            "calibration": calibrated}
    if backend.uncertainty_level is not None:
        info["uncertainty"] = {"level": backend.uncertainty_level, "z": backend.uncertainty_z}
    if isinstance(backend, MAEBackend):
        ratio, _ = backend.calibration(plan.inputs, plan.learned)
        info["calibration_ratio"] = dict(zip(plan.learned, map(float, ratio), strict=True))
    return out, info


def window_lead_stats(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per window and lead, the sums every reconstruction metric is built from: ``[N, L, len(STATS)]``.

    Args:
        true, pred: ``[N, L, T]`` in mV.
    """
    true = np.asarray(true, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    err = pred - true
    r = pearson_per_window(true, pred)
    std_t, std_p = true.std(axis=-1), pred.std(axis=-1)
    ok_vr = std_t > 1e-8
    out = np.stack([
        (err ** 2).sum(-1), np.full(err.shape[:2], float(true.shape[-1])), true.sum(-1), (true ** 2).sum(-1),
        err.sum(-1), np.where(np.isfinite(r), r, 0.0), np.isfinite(r).astype(float),
        np.where(ok_vr, std_p / np.where(ok_vr, std_t, 1.0), 0.0), ok_vr.astype(float),
    ], axis=-1)
    return out


def metrics_from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics from summed :data:`STATS` ``[..., len(STATS)]`` (the same definitions as
    :func:`leadlift.evaluation.metrics.lead_metrics`): RMSE over all samples, Pearson r per window
    averaged, R² around the overall mean, bias, variance ratio per window averaged."""
    g = {k: sums[..., i] for i, k in enumerate(STATS)}
    with np.errstate(invalid="ignore", divide="ignore"):
        sst = g["st2"] - g["st"] ** 2 / g["n"]
        return {
            "rmse": np.sqrt(g["sse"] / g["n"]),
            "pearson_r": np.where(g["r_cnt"] > 0, g["r_sum"] / np.maximum(g["r_cnt"], 1), np.nan),
            "r2": np.where(sst > 0, 1 - g["sse"] / np.where(sst > 0, sst, 1.0), np.nan),
            "bias": g["se"] / g["n"],
            "var_ratio": np.where(g["vr_cnt"] > 0, g["vr_sum"] / np.maximum(g["vr_cnt"], 1), np.nan),
        }


def record_sums(stats: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Window statistics ``[N, L, S]`` summed per record (``rows`` ``[N]``) → ``[R, L, S]`` (records
    in sorted order of ``rows``)."""
    _, inv = np.unique(rows, return_inverse=True)
    out = np.zeros((int(inv.max()) + 1 if len(inv) else 0, *stats.shape[1:]))
    np.add.at(out, inv, stats)
    return out


def _mean(values: np.ndarray, axis: int | None = None) -> Any:
    """Mean over leads; NaN (not a warning) when a metric is undefined for every lead."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.nanmean(values, axis=axis)
    return float(out) if axis is None else out


def score_set(plan: LeadPlan, e: EvalSet, preds: dict[str, np.ndarray], window: int, n_boot: int = 1000,
              seed: int = 0, reference: str = REFERENCE,
              contrasts: Sequence[tuple[str, str, str]] = CONTRASTS) -> dict[str, Any]:
    """Score every method's learned-lead predictions on one set of windows, with paired bootstrap CIs.

    The full 12 leads are assembled by the lead plan (inputs as measured, limb leads derived), then
    scored against the truth per lead. Means are over the **learned** leads only; the derived limb
    leads form a separate block. 95 % CIs come from a paired bootstrap over **records** (all of a
    record's windows are drawn together; the same draws for every method), for every mean and for
    every difference against ``reference`` (when it is among the methods); none with fewer than 2
    records.

    Args:
        plan: the lead plan; e: the windows; preds: ``{method: [N, n_learned, window] mV}``.
        window: window length in samples; n_boot: resamples (0: point estimates only).
    Returns:
        ``{"per_lead": {method: {lead: metrics}}, "learned": {method: means}, "contrasts": [paired
        differences of :data:`CONTRASTS`], "derived": {method:
        means}, "ci": {method: {"learned": {metric: [lo, hi]}, "vs_reference": {metric: {"diff",
        "ci"}}}}, "reference", "n_records", "n_windows", "n_boot"}``.
    """
    true = gather_windows(e.records, e.index, window).numpy()
    in_idx = [STANDARD_LEADS.index(ld) for ld in plan.inputs]
    learned = [STANDARD_LEADS.index(ld) for ld in plan.learned]
    derived = [STANDARD_LEADS.index(ld) for ld in plan.derived]
    sums: dict[str, np.ndarray] = {}
    out: dict[str, Any] = {"per_lead": {}, "learned": {}, "derived": {}, "ci": {}, "contrasts": [],
                           "reference": reference,
                           "n_windows": len(e.index), "n_records": len(np.unique(e.index.rows)), "n_boot": n_boot}
    for m, p in preds.items():
        full = plan.assemble(true[:, in_idx], p)
        st = window_lead_stats(true, full)
        sums[m] = record_sums(st, e.index.rows)
        point = metrics_from_sums(st.sum(axis=0))  # {metric: [12]}; r is undefined (NaN) for a flat prediction
        out["per_lead"][m] = {ld: {**{k: float(v[i]) for k, v in point.items()},
                                   "n_windows": len(st), "n_flat_windows": int(len(st) - st[:, i, 6].sum())}
                              for i, ld in enumerate(STANDARD_LEADS)}
        out["learned"][m] = {k: _mean(v[learned]) for k, v in point.items()}
        out["derived"][m] = {k: _mean(v[derived]) for k, v in point.items()} if derived else {}
    if n_boot > 0 and sums and out["n_records"] >= 2:
        first = next(iter(sums.values()))
        counts = bootstrap_weights(first.shape[0], n_boot, seed)  # the same draws for every method
        boot: dict[str, dict[str, np.ndarray]] = {}
        for m, rs in sums.items():
            b = metrics_from_sums((counts @ rs.reshape(rs.shape[0], -1)).reshape(n_boot, *rs.shape[1:]))
            boot[m] = {k: _mean(v[:, learned], axis=1) for k, v in b.items()}
        for m in sums:
            ci: dict[str, Any] = {"learned": {k: list(percentile_ci(v)) for k, v in boot[m].items()}}
            if reference in boot and m != reference:
                ci["vs_reference"] = {k: {"diff": out["learned"][m][k] - out["learned"][reference][k],
                                          "ci": list(percentile_ci(boot[m][k] - boot[reference][k]))}
                                      for k in boot[m]}
            out["ci"][m] = ci
        for a, b, meaning in contrasts:  # differences that isolate one component (paired, same draws)
            if a in boot and b in boot:
                diffs = {k: {"diff": out["learned"][a][k] - out["learned"][b][k],
                             "ci": list(percentile_ci(boot[a][k] - boot[b][k]))} for k in ("pearson_r", "rmse")}
                out["contrasts"].append({"method": a, "control": b, "meaning": meaning, **diffs})
    return out


def score_windows(plan: LeadPlan, e: EvalSet, learned: np.ndarray, window: int) -> dict[str, dict[str, float]]:
    """Per-lead metrics of one method on one set of windows (no bootstrap)."""
    return score_set(plan, e, {"m": learned}, window, n_boot=0)["per_lead"]["m"]


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
                lowest = min([lowest, *(v for v in vals if np.isfinite(v))])  # the zero predictor has no r
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
    if v is None or not np.isfinite(v):
        return "–"
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _lead_label(ld: str, plan: LeadPlan) -> str:
    if ld in plan.inputs:
        return f"{ld} (input)"
    if ld in plan.derived:
        return f"{ld} (derived{' exactly' if plan.exact else ' from I/II incl. reconstructed'})"
    return ld


def _ci(v: float, ci: list[float] | None, digits: int) -> str:
    if ci is None or not all(_finite(c) for c in ci):
        return _fmt(v, digits)
    return f"{_fmt(v, digits)} [{_fmt(ci[0], digits)}, {_fmt(ci[1], digits)}]"


_BETTER = {"pearson_r": max, "rmse": min, "r2": max}


def _finite(v: Any) -> bool:
    """True for a finite number (results read back from JSON carry None for NaN)."""
    return v is not None and bool(np.isfinite(v))


def means_table(score: dict[str, Any], titles: dict[str, str] | None = None) -> list[str]:
    """Markdown rows: one method per row, learned-lead means with 95 % CIs and the paired
    difference against the reference; the best value of each column in bold."""
    titles = titles or METHOD_TITLES
    ref = score.get("reference", REFERENCE)
    methods = list(score["learned"])
    has_ref = ref in methods and any("vs_reference" in c for c in score["ci"].values())
    head = "| method | r (per window) | RMSE (mV) | R² | bias (mV) | var ratio |"
    rule = "|---|---:|---:|---:|---:|---:|"
    if has_ref:
        head += f" Δ r vs {titles.get(ref, ref)} | Δ RMSE vs {titles.get(ref, ref)} (mV) |"
        rule += "---:|---:|"
    best = {k: f(score["learned"][m][k] for m in methods if _finite(score["learned"][m][k]))
            for k, f in _BETTER.items() if any(_finite(score["learned"][m][k]) for m in methods)}
    rows = [head, rule]
    for m in methods:
        v, ci = score["learned"][m], score["ci"].get(m, {}).get("learned", {})
        cells = []
        for k, digits in (("pearson_r", 3), ("rmse", 4), ("r2", 3), ("bias", 4), ("var_ratio", 2)):
            text = _ci(v[k], ci.get(k), digits)
            cells.append(f"**{text}**" if k in best and v[k] == best[k] else text)
        if has_ref:
            vs = score["ci"].get(m, {}).get("vs_reference")
            if vs is None:
                cells += ["(reference)", "(reference)"]
            else:
                cells += [_ci(vs["pearson_r"]["diff"], vs["pearson_r"]["ci"], 3),
                          _ci(vs["rmse"]["diff"], vs["rmse"]["ci"], 4)]
        rows.append(f"| {titles.get(m, m)} | " + " | ".join(cells) + " |")
    return rows


def _per_lead_rows(score: dict[str, Any], leads: Sequence[str], plan: LeadPlan) -> list[str]:
    methods = list(score["per_lead"])
    rows = ["| lead | " + " | ".join(f"{METHOD_TITLES.get(m, m)} r / RMSE (mV)" for m in methods) + " |",
            "|---|" + "---:|" * len(methods)]
    for ld in leads:
        vals = [score["per_lead"][m][ld] for m in methods]
        best_r = max((t["pearson_r"] for t in vals if _finite(t["pearson_r"])), default=None)
        best_e = min((t["rmse"] for t in vals if _finite(t["rmse"])), default=None)
        # a tie everywhere (exactly derived leads): nothing to mark
        if len({round(t["rmse"], 12) if _finite(t["rmse"]) else None for t in vals}) == 1:
            best_r = best_e = None
        cells = []
        for t in vals:
            r = f"**{_fmt(t['pearson_r'])}**" if t["pearson_r"] == best_r else _fmt(t["pearson_r"])
            e = f"**{_fmt(t['rmse'], 4)}**" if t["rmse"] == best_e else _fmt(t["rmse"], 4)
            cells.append(f"{r} / {e}")
        rows.append(f"| {_lead_label(ld, plan)} | " + " | ".join(cells) + " |")
    return rows


def _score_block(score: dict[str, Any], plan: LeadPlan, title: str) -> list[str]:
    lines = [f"## {title}", "",
             f"Means over the learned leads {', '.join(plan.learned)}; "
             + (f"95 % CI from a paired bootstrap over the {score['n_records']} records ({score['n_boot']} resamples, "
                "all windows of a record drawn together, the same draws for every method)"
                if score["ci"] else f"no CI ({score['n_records']} record: a bootstrap over records needs two)")
             + f"; {score['n_windows']} windows. Best value per column in bold.", "",
             *means_table(score), ""]
    if score.get("contrasts"):
        lines += ["Controls (paired differences of the learned-lead means, 95 % CI; an interval that excludes 0 "
                  "is a difference these records support):", "",
                  "| difference | what it isolates | Δ r | Δ RMSE (mV) |", "|---|---|---:|---:|"]
        for c in score["contrasts"]:
            lines.append(f"| {METHOD_TITLES.get(c['method'], c['method'])} − "
                         f"{METHOD_TITLES.get(c['control'], c['control'])} | {c['meaning']} | "
                         f"{_ci(c['pearson_r']['diff'], c['pearson_r']['ci'], 3)} | "
                         f"{_ci(c['rmse']['diff'], c['rmse']['ci'], 4)} |")
        lines.append("")
    lines += ["Per learned lead (r per window / RMSE in mV; best per row in bold):", "",
              *_per_lead_rows(score, plan.learned, plan)]
    if plan.derived:
        how = ("derived exactly from the measured I and II: identical for every method" if plan.exact
               else "derived from the inputs and the learned I/II: they carry the learned leads' error")
        lines += ["", f"Derived limb leads {', '.join(plan.derived)} ({how}), kept out of the means above:", "",
                  *_per_lead_rows(score, plan.derived, plan)]
    return lines


def uncertainty_block(unc: dict[str, dict[str, Any]], leads: list[str]) -> list[str]:
    """Markdown lines: coverage of the nominal interval per learned lead and the spread/error
    Spearman, for each model with a predictive spread and each evaluation set."""
    if not unc:
        return []
    lines = ["", "## Uncertainty: coverage of the nominal interval and error ranking", "",
             "Coverage = share of samples with |true − reconstruction| ≤ z · spread (the calibrated "
             "predictive SD; calibrated on PTB-XL fold 9). Spearman ρ between each window's mean spread and "
             "its mean absolute error, pooled over (window, lead) pairs.", ""]
    for name, sets in unc.items():
        lines += [f"| {name}: set | level | " + " | ".join(leads) + " | Spearman ρ | windows |",
                  "|---|---:|" + "---:|" * len(leads) + "---:|---:|"]
        for set_name, u in sets.items():
            cells = " | ".join(f"{u['coverage'].get(ld, float('nan')):.3f}" for ld in leads)
            lines.append(f"| {set_name} | {u['level']:.2f} | {cells} | {u['spearman']:.3f} | {u['n_windows']} |")
        lines.append("")
    return lines


def results_markdown(res: dict[str, Any]) -> str:
    """The results as Markdown: learned-lead means with CIs for every method on the same windows,
    per-lead tables, the derived limb leads apart, zero-shot sets, training record (units in every
    header)."""
    plan = LeadPlan.from_inputs(res["leads"]["inputs"])
    src = ",".join(plan.inputs)
    d = res["data"]
    lines = [
        f"# 12-lead reconstruction from {src} — PTB-XL at {d['fs']:g} Hz",
        "",
        f"Command: `{res.get('command', 'leadlift reconstruct-benchmark')}` (config `{res['config']['name']}`, "
        f"leadlift {res['leadlift_version']}); wall time {res['seconds']:.0f} s on {res['threads']} CPU thread(s).",
        "",
        "Every method is scored on exactly the same windows with the same preprocessing. Units and "
        "definitions: **RMSE in mV over all samples**; **Pearson r per window, then averaged**; R² over all "
        "samples; bias = mean(pred − true) in mV; var ratio = std(pred)/std(true) per window, averaged. "
        f"Signals band-passed {res['preprocessing']['bandpass_hz'][0]:g}–{res['preprocessing']['bandpass_hz'][1]:g} "
        f"Hz and baseline-corrected; windows of {d['window']} samples ({d['window'] / d['fs']:g} s), hop {d['hop']}.",
        "",
        f"Split: {d['split_description']}. Test: {d['n_test_windows']} windows from {d['n_test_records']} records "
        f"({d['qc_rejected']['test']} rejected by QC). Training: {d['n_train_windows']} windows "
        f"({d['n_train_records']} records), validation {d['n_val_windows']} windows. No patient is in two parts.",
        "",
        f"Leads: inputs {', '.join(plan.inputs)}; learned {', '.join(plan.learned)}; derived "
        f"{', '.join(plan.derived) or '-'}.",
        "",
        "Methods: " + "; ".join(f"**{METHOD_TITLES.get(m, m)}**"
                                + (f" ({METHOD_NOTES[m]})" if m in METHOD_NOTES else "")
                                for m in res["test"]["learned"]) + ".",
        "",
    ]
    lines += _score_block(res["test"], plan, "Test fold (PTB-XL strat_fold 10)")
    for z in res.get("zero_shot", {}).values():
        lines += ["", *_score_block(z, plan, f"Zero-shot: {z['title']} ({z['n_records']} record(s), "
                                             f"{z['qc_rejected']} windows rejected by QC; main-split models)")]
    lines += uncertainty_block(res.get("uncertainty", {}), list(plan.learned))
    cv = res.get("cv")
    if cv and cv.get("methods"):
        cm = list(cv["methods"])
        lines += ["", f"## {cv['n_folds']}-fold patient-grouped CV: learned-lead means, mean ± std over folds", "",
                  f"Folds: {cv['description']}.", "",
                  "| method | r | RMSE (mV) |", "|---|---:|---:|"]
        for m in cm:
            t = cv["methods"][m]["mean_reconstructed"]
            lines.append(f"| {METHOD_TITLES.get(m, m)} | {t['pearson_r']['mean']:.3f} ± {t['pearson_r']['std']:.3f} | "
                         f"{t['rmse']['mean']:.4f} ± {t['rmse']['std']:.4f} |")
    lines += ["", "## Training (main split)", "", "| method | epochs | best epoch | best val MSE (mV²) | seconds |",
              "|---|---:|---:|---:|---:|"]
    for m, inf in res["training"].items():
        if "best_val_mse" in inf:
            lines.append(f"| {METHOD_TITLES.get(m, m)} | {inf['epochs']} | {inf['best_epoch']} | "
                         f"{inf['best_val_mse']:.4f} | {inf['seconds']} |")
        elif m == "encoder" and "epochs" in inf:
            lines.append(f"| SupCon encoder | {inf['epochs']} | - | - (final SupCon loss {inf['final_loss']:.3f}) | "
                         f"{inf['seconds']} |")
        elif m == "fir":
            lines.append(f"| {METHOD_TITLES['fir']} | closed form, ±{inf['half_s']:g} s chosen on validation | - | "
                         f"{min(inf['val_mse_by_half_s'].values()):.4f} | {inf['seconds']} |")
        elif "seconds" in inf:
            lines.append(f"| {METHOD_TITLES.get(m, m)} | closed form / none | - | - | {inf['seconds']} |")
    if res.get("figures"):
        lines += ["", "Figures: " + ", ".join(f"`{p}`" for p in res["figures"])]
    return "\n".join(lines) + "\n"


def write_results(out: Path, results: dict[str, Any]) -> None:
    results.setdefault("seconds", results.get("seconds_main", 0.0))
    (out / "results.json").write_text(json.dumps(to_plain(results, finite=True), indent=2))
    (out / "results.md").write_text(results_markdown(results))
