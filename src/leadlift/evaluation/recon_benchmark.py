"""Benchmark of 12-lead reconstruction from a reduced lead set (paper 2) against honest baselines.

Every method is trained on the **same** patients in the **same** run and scored on the **same**
windows:

* ``linear`` — per-target-lead least squares from the input leads (closed form);
* ``unet`` — a 1-D U-Net from the input leads to every learned lead;
* ``fusion_noemb`` — the fusion reconstructor without the embedding view (the paper's ablation);
* ``fusion`` — pathology-aware multi-view fusion: SupCon encoder (stage A) + fusion decoders (B);
* ``mae`` — cross-lead reconstruction of an aligned per-lead MAE checkpoint (paper 1), when one
  is given: applied to each whole 10-s record with its own window length, de-normalised with an
  amplitude calibration fitted on the training records, then cut into the benchmark's windows.

Protocol:

* main split: PTB-XL ``strat_fold`` 1–8 train / 9 validation (early stopping) / 10 test
  (patient-independent; the paper code's patient-wise 70/15/15 split is an option);
* the paper's 5-fold CV grouped by patient on train ∪ validation; every fold's models are scored
  on the same fixed test windows (mean ± std over folds);
* zero-shot on every PTB Diagnostic record present (1 kHz resampled to 100 Hz by ``prepare``),
  with the main-split models;
* per lead: RMSE (mV, over all samples), Pearson r (per window, averaged), R², bias (mV) and
  variance ratio, from :func:`leadlift.evaluation.metrics.reconstruction_table`. Limb leads
  derived exactly from I and II are marked and left out of the reconstructed-lead averages.

Outputs in ``out/``: ``results.json`` (``test``/``zero_shot``: method → lead → metric; ``cv``:
method → lead → metric → mean/std/folds), ``results.md``, per-lead bar charts ``per_lead_*.png``,
overlays of true and reconstructed ECGs in ``figures/`` and ``models/`` (the main-split models as
safetensors + config.yaml).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import leadlift
from leadlift.ecg import ECG, STANDARD_LEADS
from leadlift.errors import DataNotFoundError, InputError
from leadlift.evaluation.metrics import reconstruction_table
from leadlift.models.recon import (
    FusionReconstructor,
    LeadPlan,
    LinearLeadMap,
    PathologyEncoder,
    ReconNet,
    UNet1d,
    recon_net_spec,
)
from leadlift.recon_config import ReconConfig
from leadlift.splits import assert_patient_disjoint, patient_kfold, patient_split, ptbxl_folds
from leadlift.store import PreparedStore, prepare
from leadlift.training.checkpoint import export_model
from leadlift.training.recon_data import (
    ClassBalancedBatchSampler,
    QCBounds,
    ReconBatches,
    SupConBatches,
    ViewAugmenter,
    WindowIndex,
    batch_loader,
    gather_windows,
    preprocess_records,
    record_labels,
    window_index,
)
from leadlift.training.recon_module import fit_reconstructor, fit_supcon

__all__ = ["METRIC_NAMES", "results_markdown", "run_benchmark", "train_recon"]

log = logging.getLogger("leadlift.recon")

METRIC_NAMES: tuple[str, ...] = ("pearson_r", "rmse", "r2", "bias", "var_ratio")
METHOD_TITLES: dict[str, str] = {
    "linear": "linear LS",
    "unet": "U-Net",
    "fusion_noemb": "fusion w/o embedding",
    "fusion": "pathology-aware fusion",
    "mae": "aligned MAE",
}
NEURAL = ("unet", "fusion_noemb", "fusion")


# ---------------------------------------------------------------------------------------- data
@dataclass
class EvalSet:
    """Windows to score: preprocessed ``records`` ``[R, 12, T]`` (mV) and the window ``index``."""

    name: str
    records: Tensor
    index: WindowIndex
    n_valid: np.ndarray
    record_ids: np.ndarray


@dataclass
class Context:
    cfg: ReconConfig
    plan: LeadPlan
    records: Tensor  # PTB-XL, preprocessed [R, 12, T] mV
    meta: Any
    in_idx: list[int]
    out_idx: list[int]
    labels: np.ndarray  # per record
    keys: np.ndarray  # per record (sampler class)
    workdir: Path
    progress: bool
    say: Callable[[str], None]


def _load_store(dataset: str, cfg: ReconConfig, data_dir: Path, store_dir: Path | None) -> PreparedStore:
    store = prepare(dataset, cfg.data.fs, data_dir, store_dir=store_dir, progress=False)
    if list(store.leads) != list(STANDARD_LEADS):
        raise InputError(f"the {dataset} store must hold the 12 standard leads (it has {', '.join(store.leads)})")
    return store


def _records(store: PreparedStore, cfg: ReconConfig, rows: np.ndarray | None = None) -> Tensor:
    return torch.from_numpy(preprocess_records(store.signals, store.meta["n_valid"].to_numpy(), store.fs, cfg.data,
                                               rows=rows))


def _parts(cfg: ReconConfig, meta: Any, n_valid: np.ndarray) -> dict[str, np.ndarray]:
    d = cfg.data
    if d.split == "ptbxl_folds":
        parts = ptbxl_folds(meta["strat_fold"].to_numpy(), d.train_folds, d.val_folds, d.test_folds)
    else:
        n_win = np.maximum((n_valid - d.window) // d.hop + 1, 0)
        parts = patient_split(meta["patient_id"].astype(str).to_numpy(), (0.70, 0.15, 0.15),
                              weights=n_win, seed=cfg.seed)
    assert_patient_disjoint(meta["patient_id"].astype(str).to_numpy(), parts)
    if d.max_records_per_part is not None:
        parts = {k: v[: d.max_records_per_part] for k, v in parts.items()}
    for name, rows in parts.items():
        if len(rows) == 0:
            raise InputError(f"the {name} part of the split is empty; check data.train/val/test_folds and "
                             "that the data directory holds those PTB-XL folds")
    return parts


# ---------------------------------------------------------------------------------------- prediction
@torch.no_grad()
def _predict(net: ReconNet, records: Tensor, index: WindowIndex, window: int, in_idx: list[int],
             h: Tensor | None = None, batch: int = 512) -> np.ndarray:
    """Learned leads ``[N, n_learned, window]`` (mV) for every window of ``index``."""
    net.eval()
    out = []
    for s in range(0, len(index), batch):
        x = gather_windows(records, index.subset(slice(s, s + batch)), window, in_idx)
        out.append(net(x, None if h is None else h[s:s + batch]).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(in_idx), window), np.float32)


@torch.no_grad()
def _embed(encoder: PathologyEncoder, records: Tensor, index: WindowIndex, window: int, in_idx: list[int],
           eps: float, batch: int = 512) -> Tensor:
    """Encoder embeddings ``[N, E]`` of every window (eval mode)."""
    helper = ReconNet(torch.nn.Identity(), encoder, eps=eps)
    out = [helper.embed(gather_windows(records, index.subset(slice(s, s + batch)), window, in_idx))
           for s in range(0, len(index), batch)]
    return torch.cat(out) if out else torch.zeros(0, encoder.embed_dim)


def _build_net(method: str, cfg: ReconConfig, plan: LeadPlan, encoder: PathologyEncoder | None) -> ReconNet:
    n_in, n_out = len(plan.inputs), len(plan.learned)
    f, u, t = cfg.fusion, cfg.unet, cfg.train
    if method == "fusion":
        if encoder is None:
            raise InputError("the fusion method needs a trained encoder")
        rec: torch.nn.Module = FusionReconstructor(n_in, n_out, encoder.embed_dim, f.branch_dim, f.hidden,
                                                   f.kernel_size, f.per_lead)
        return ReconNet(rec, encoder, output_scale=t.output_scale, eps=cfg.data.zscore_eps)
    if method == "fusion_noemb":
        rec = FusionReconstructor(n_in, n_out, 0, f.branch_dim, f.hidden, f.kernel_size, f.per_lead)
    elif method == "unet":
        rec = UNet1d(n_in, n_out, u.levels, u.base_channels, u.kernel_size)
    else:
        raise InputError(f"unknown method {method!r}")
    return ReconNet(rec, None, output_scale=t.output_scale, eps=cfg.data.zscore_eps)


def _new_encoder(cfg: ReconConfig, n_in: int) -> PathologyEncoder:
    e = cfg.encoder
    return PathologyEncoder(n_in, e.stem_channels, e.widths, e.strides, e.stem_kernel, e.block_kernel, e.proj_dim)


def _train_encoder(ctx: Context, train: WindowIndex, epochs: int | None, seed: int) -> tuple[PathologyEncoder,
                                                                                             dict[str, Any]]:
    cfg = ctx.cfg
    torch.manual_seed(seed)
    enc = _new_encoder(cfg, len(ctx.in_idx))
    sc = cfg.supcon
    ref = ctx.plan.inputs.index("II") if "II" in ctx.plan.inputs else 0
    aug = ViewAugmenter(sc.augment, cfg.data.fs, ref_lead=ref, seed=seed)
    ds = SupConBatches(ctx.records, train, cfg.data.window, ctx.in_idx, ctx.labels[train.rows], aug,
                       cfg.data.zscore_eps)
    sampler = ClassBalancedBatchSampler(ctx.keys[train.rows], sc.classes_per_batch, sc.samples_per_class,
                                        n_batches=sc.steps_per_epoch, seed=seed)
    info = fit_supcon(enc, batch_loader(ds, sampler=sampler), sc, max_epochs=epochs, seed=seed,
                      progress=ctx.progress)
    info["n_classes"] = len(sampler.classes)
    info["steps_per_epoch"] = len(sampler)
    return enc, info


def _fit_linear(ctx: Context, train: WindowIndex) -> ReconNet:
    lin = LinearLeadMap(len(ctx.in_idx), len(ctx.out_idx), intercept=ctx.cfg.benchmark.linear_intercept)
    w = ctx.cfg.data.window

    def chunks() -> Any:
        for s in range(0, len(train), 4096):
            x = gather_windows(ctx.records, train.subset(slice(s, s + 4096)), w)
            yield x[:, ctx.in_idx], x[:, ctx.out_idx]

    lin.fit_batches(chunks())
    return ReconNet(lin, None, output_scale="raw")


def _train_split(ctx: Context, train: WindowIndex, val: WindowIndex, eval_sets: Sequence[EvalSet], tag: str,
                 seed: int, max_epochs: int | None = None, encoder: PathologyEncoder | None = None,
                 encoder_epochs: int | None = None, embeddings: dict[str, Tensor] | None = None) -> dict[str, Any]:
    """Train every configured method on ``train`` (early stopping on ``val``) and predict ``eval_sets``.

    ``encoder``: a trained encoder to reuse (else one is trained when ``fusion`` is a method);
    ``embeddings``: its precomputed embeddings of ``"train"``, ``"val"`` and each eval set.

    Returns ``{"preds": {set: {method: [N, n_learned, T]}}, "info": {method: {...}}, "nets": {...},
    "encoder": encoder}``.
    """
    cfg, w = ctx.cfg, ctx.cfg.data.window
    methods = list(cfg.benchmark.methods)
    preds: dict[str, dict[str, np.ndarray]] = {e.name: {} for e in eval_sets}
    info: dict[str, Any] = {}
    nets: dict[str, ReconNet] = {}
    if "linear" in methods:
        t0 = time.perf_counter()
        nets["linear"] = _fit_linear(ctx, train)
        info["linear"] = {"seconds": round(time.perf_counter() - t0, 1)}
        for e in eval_sets:
            preds[e.name]["linear"] = _predict(nets["linear"], e.records, e.index, w, ctx.in_idx)
        ctx.say(f"[{tag}] linear: fitted on {len(train)} windows in {info['linear']['seconds']} s")
    enc_info: dict[str, Any] | None = None
    emb: dict[str, Tensor] = {}
    if "fusion" in methods:
        if encoder is None:
            encoder, enc_info = _train_encoder(ctx, train, encoder_epochs, seed)
            ctx.say(f"[{tag}] encoder: SupCon {enc_info['epochs']} epochs x {enc_info['steps_per_epoch']} steps "
                    f"({enc_info['n_classes']} label classes) in {enc_info['seconds']} s, final loss "
                    f"{enc_info['final_loss']:.3f}")
            info["encoder"] = enc_info
        else:
            info["encoder"] = {"shared": True}
        t0 = time.perf_counter()
        eps = cfg.data.zscore_eps
        if embeddings is not None:
            emb = dict(embeddings)
        else:
            emb["train"] = _embed(encoder, ctx.records, train, w, ctx.in_idx, eps)
            emb["val"] = _embed(encoder, ctx.records, val, w, ctx.in_idx, eps)
            for e in eval_sets:
                emb[e.name] = _embed(encoder, e.records, e.index, w, ctx.in_idx, eps)
        info["encoder"]["embed_seconds"] = round(time.perf_counter() - t0, 1)
    keep = np.ones(len(val), dtype=bool)
    if cfg.train.val_hop and cfg.train.val_hop != cfg.data.hop:
        keep = (val.starts % cfg.train.val_hop) == 0
    val_rows = val.subset(keep)
    for m in (m for m in methods if m in NEURAL):
        torch.manual_seed(seed)
        net = _build_net(m, cfg, ctx.plan, encoder if m == "fusion" else None)
        h_tr = emb.get("train") if m == "fusion" else None
        h_va = None
        if m == "fusion":
            h_va = emb["val"][torch.from_numpy(np.flatnonzero(keep))]
        tr_ds = ReconBatches(ctx.records, train, w, ctx.in_idx, ctx.out_idx, h_tr)
        va_ds = ReconBatches(ctx.records, val_rows, w, ctx.in_idx, ctx.out_idx, h_va)
        res = fit_reconstructor(net, batch_loader(tr_ds, cfg.train.batch_size, shuffle=True, seed=seed, drop_last=True),
                                batch_loader(va_ds, 512), cfg.train, ctx.workdir / tag / m, max_epochs=max_epochs,
                                seed=seed, progress=ctx.progress)
        info[m] = res
        nets[m] = net
        for e in eval_sets:
            preds[e.name][m] = _predict(net, e.records, e.index, w, ctx.in_idx, emb.get(e.name) if m == "fusion"
                                        else None)
        ctx.say(f"[{tag}] {m}: {res['epochs']} epochs in {res['seconds']} s, best val MSE "
                f"{res['best_val_mse']:.4f} mV² at epoch {res['best_epoch']}"
                + (" (early stop)" if res["stopped_early"] else ""))
    return {"preds": preds, "info": info, "nets": nets, "encoder": encoder}


# ---------------------------------------------------------------------------------------- MAE baseline
@torch.no_grad()
def mae_predictions(checkpoint: str | Path, plan: LeadPlan, cfg: ReconConfig, train: EvalSet,
                    eval_sets: Sequence[EvalSet]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Cross-lead reconstruction of the learned leads by an aligned per-lead MAE, on the benchmark's windows.

    The MAE works on its own window length ``n`` (z-scored per lead): every record is cut into
    windows of ``n`` samples (hop ``n``, tail padded by reflection), reconstructed, de-normalised
    as in :mod:`leadlift.evaluation.cross_lead` (std of the input leads × the median training
    ratio std(target)/std(inputs), plus the median training mean; fitted on ``train``'s records),
    stitched back by overlap-add, and the benchmark windows are cut from the stitched record.

    Returns:
        ``({set name: [N, n_learned, window] mV}, info)``.
    """
    from leadlift.evaluation.cross_lead import amplitude_calibration
    from leadlift.inference import load_mae
    from leadlift.models import LeadBankMAE
    from leadlift.preprocessing import overlap_add, windows, zscore

    model, mcfg = load_mae(checkpoint)
    if not isinstance(model, LeadBankMAE):
        raise InputError(f"{checkpoint} is not a per-lead MAE bank; cross-lead reconstruction needs one "
                         "(model.kind lead_bank or shared_encoder)")
    pre = mcfg["preprocessing"]
    if abs(float(pre["fs"]) - cfg.data.fs) > 1e-6:
        raise InputError(f"the MAE expects {pre['fs']} Hz but the benchmark runs at {cfg.data.fs:g} Hz; "
                         "use an MAE trained at the same rate")
    n, eps = int(pre["window_samples"]), float(pre.get("zscore_eps", 1e-6))
    missing = [ld for ld in (*plan.inputs, *plan.learned) if ld not in model.leads]
    if missing:
        raise InputError(f"the MAE has no model for lead(s) {', '.join(missing)}; use a 12-lead MAE checkpoint")
    in_idx = [STANDARD_LEADS.index(ld) for ld in plan.inputs]
    out_idx = [STANDARD_LEADS.index(ld) for ld in plan.learned]
    shortest = int(min(train.n_valid.min(), *(e.n_valid.min() for e in eval_sets)))
    if n > shortest:
        raise InputError(f"the MAE window is {n} samples but the shortest record has {shortest}; "
                         "use an MAE with a shorter window")
    cal_idx = window_index(train.n_valid, np.unique(train.index.rows), n, n)
    cal_win = gather_windows(train.records, cal_idx, n).numpy()
    calib = amplitude_calibration(cal_win, in_idx)
    ratio, mean = calib["ratio"][out_idx], calib["mean"][out_idx]

    out: dict[str, np.ndarray] = {}
    for e in eval_sets:
        result = np.zeros((len(e.index), len(out_idx), cfg.data.window), np.float32)
        rows = np.unique(e.index.rows)
        for r in rows:
            valid = int(e.n_valid[r])
            x = e.records[r, in_idx, :valid].numpy()
            wins, starts = windows(x, cfg.data.fs, window=n, hop=n, pad="reflect", return_starts=True)
            wins = np.ascontiguousarray(wins.transpose(1, 0, 2))  # [W, n_in, n]
            z = torch.from_numpy(zscore(wins, eps=eps).astype(np.float32))
            pz = model.cross_reconstruct(z, plan.inputs, plan.learned).numpy()  # [W, n_out, n]
            ref = wins.std(axis=-1).mean(axis=1)[:, None, None]
            pmv = pz * ref * ratio[None, :, None] + mean[None, :, None]
            full = overlap_add(pmv.transpose(1, 0, 2), starts, valid)  # [n_out, valid]
            sel = np.flatnonzero(e.index.rows == r)
            for i in sel:
                s = int(e.index.starts[i])
                result[i] = full[:, s:s + cfg.data.window]
        out[e.name] = result
    info = {"checkpoint": str(checkpoint), "mae_window_samples": n, "calibration_ratio":
            dict(zip(plan.learned, map(float, ratio), strict=True)), "n_calibration_windows": len(cal_idx)}
    return out, info


# ---------------------------------------------------------------------------------------- scoring
def _score(plan: LeadPlan, e: EvalSet, learned: np.ndarray, window: int) -> dict[str, dict[str, float]]:
    true = gather_windows(e.records, e.index, window).numpy()
    in_idx = [STANDARD_LEADS.index(ld) for ld in plan.inputs]
    full = plan.assemble(true[:, in_idx], learned)
    return reconstruction_table(true, full, STANDARD_LEADS)


def _average(table: dict[str, dict[str, float]], leads: Sequence[str]) -> dict[str, float]:
    return {m: float(np.mean([table[ld][m] for ld in leads])) for m in METRIC_NAMES}


def _cv_aggregate(fold_tables: list[dict[str, dict[str, float]]], leads: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ld in (*STANDARD_LEADS, "mean_reconstructed"):
        out[ld] = {}
        for m in METRIC_NAMES:
            vals = [(t[ld][m] if ld != "mean_reconstructed" else _average(t, leads)[m]) for t in fold_tables]
            out[ld][m] = {"mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
                          "folds": [float(v) for v in vals]}
    return out


# ---------------------------------------------------------------------------------------- figures
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


def _overlay_figures(out: Path, e: EvalSet, preds: dict[str, np.ndarray], plan: LeadPlan, fs: float, window: int,
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


def _bar_chart(path: Path, tables: dict[str, dict[str, dict[str, float]]], leads: Sequence[str], title: str,
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


# ---------------------------------------------------------------------------------------- markdown
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


# ---------------------------------------------------------------------------------------- runner
def _setup(cfg: ReconConfig, data_dir: Path, store_dir: Path | None, workdir: Path, progress: bool,
           say: Callable[[str], None]) -> tuple[Context, PreparedStore, dict[str, np.ndarray]]:
    t0 = time.perf_counter()
    store = _load_store("ptbxl", cfg, data_dir, store_dir)
    parts = _parts(cfg, store.meta, store.meta["n_valid"].to_numpy())
    used = np.concatenate(list(parts.values()))
    records = _records(store, cfg, used)
    say(f"PTB-XL: {len(used)} records preprocessed (band-pass {cfg.data.bandpass_low_hz:g}-"
        f"{cfg.data.bandpass_high_hz:g} Hz, {cfg.data.baseline_window_s} s median baseline) in "
        f"{time.perf_counter() - t0:.1f} s")
    plan = LeadPlan.from_inputs(cfg.data.inputs)
    labels, keys = record_labels(store.meta, cfg.data.labels)
    ctx = Context(cfg=cfg, plan=plan, records=records, meta=store.meta,
                  in_idx=[STANDARD_LEADS.index(ld) for ld in plan.inputs],
                  out_idx=[STANDARD_LEADS.index(ld) for ld in plan.learned], labels=labels, keys=keys,
                  workdir=workdir, progress=progress, say=say)
    return ctx, store, parts


def _windows_with_qc(ctx: Context, n_valid: np.ndarray, parts: dict[str, np.ndarray], fit_on: Sequence[str]
                     ) -> tuple[dict[str, WindowIndex], QCBounds | None, dict[str, int]]:
    d = ctx.cfg.data
    idx = {k: window_index(n_valid, rows, d.window, d.hop) for k, rows in parts.items()}
    rejected = dict.fromkeys(idx, 0)
    qc = None
    if d.qc:
        fit_idx = WindowIndex(np.concatenate([idx[k].rows for k in fit_on]),
                              np.concatenate([idx[k].starts for k in fit_on]))
        qc = QCBounds.fit_chunked(ctx.records, fit_idx, d.window, d.qc_low_pct, d.qc_high_pct, d.qc_max_bad_leads)
        for k in idx:
            bad = qc.reject_chunked(ctx.records, idx[k], d.window)
            rejected[k] = int(bad.sum())
            idx[k] = idx[k].subset(~bad)
    return idx, qc, rejected


def _zero_shot_sets(ctx: Context, data_dir: Path, store_dir: Path | None, qc: QCBounds | None
                    ) -> list[tuple[EvalSet, dict[str, Any]]]:
    cfg = ctx.cfg
    out = []
    for name in cfg.benchmark.zero_shot:
        try:
            store = _load_store(name, cfg, data_dir, store_dir)
        except DataNotFoundError as exc:
            ctx.say(f"zero-shot {name} skipped: {exc}")
            continue
        recs = _records(store, cfg)
        n_valid = store.meta["n_valid"].to_numpy()
        idx = window_index(n_valid, np.arange(len(store)), cfg.data.window, cfg.data.hop)
        rejected = 0
        if qc is not None:
            bad = qc.reject_chunked(recs, idx, cfg.data.window)
            rejected = int(bad.sum())
            idx = idx.subset(~bad)
        if len(idx) == 0:
            ctx.say(f"zero-shot {name} skipped: no window passed QC")
            continue
        e = EvalSet(name, recs, idx, n_valid, store.meta["record_id"].astype(str).to_numpy())
        out.append((e, {"title": store.manifest.get("title", name), "n_records": len(store),
                        "n_windows": len(idx), "qc_rejected": rejected,
                        "source_fs": sorted({float(f) for f in store.meta["fs"]}) if "fs" in store.meta else None}))
        ctx.say(f"zero-shot {name}: {len(store)} record(s), {len(idx)} windows ({rejected} rejected by QC)")
    return out


def _export(net: ReconNet, method: str, cfg: ReconConfig, plan: LeadPlan, folder: Path,
            metrics: dict[str, Any]) -> None:
    config = {
        "format": "leadlift-recon/1",
        "method": method,
        "model": recon_net_spec(net),
        "preprocessing": cfg.preprocessing(),
        "leads": plan.describe(),
        "training": cfg.model_dump(mode="json"),
        "metrics": metrics,
        "leadlift_version": leadlift.__version__,
    }
    export_model(net, config, folder)


def run_benchmark(cfg: ReconConfig, data_dir: str | Path, out: str | Path, mae_checkpoint: str | Path | None = None,
                  store_dir: str | Path | None = None, progress: bool = False,
                  say: Callable[[str], None] | None = None, command: str | None = None) -> dict[str, Any]:
    """Train and score every method; write ``results.json``, ``results.md``, figures and models to ``out``.

    Args:
        cfg: the experiment (``cfg.data.inputs`` is the input lead set; ``cfg.benchmark.cv_folds``
            the number of CV folds, 0 = no CV).
        data_dir: data directory holding ``ptb-xl/`` (and ``ptbdb/`` for zero-shot).
        out: output folder.
        mae_checkpoint: optional aligned-MAE checkpoint folder (baseline ``mae``).
        store_dir: prepared-store folder (default ``data_dir/leadlift-prepared``).
        progress: show Lightning progress bars.
        say: status-line callback (default: the ``leadlift.recon`` logger).
        command: the command line, recorded in the results.
    Returns:
        The results dict (also written to ``out/results.json``).
    """
    t_start = time.perf_counter()
    say = say or log.info
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data_dir)
    store_dir = Path(store_dir) if store_dir is not None else None
    workdir = out / "checkpoints"
    ctx, store, parts = _setup(cfg, data_dir, store_dir, workdir, progress, say)
    plan, d, w = ctx.plan, cfg.data, cfg.data.window
    n_valid = store.meta["n_valid"].to_numpy()
    rec_ids = store.meta["record_id"].astype(str).to_numpy()
    idx, qc, rejected = _windows_with_qc(ctx, n_valid, parts, fit_on=("train", "val"))
    say(f"split: train {len(parts['train'])} records / {len(idx['train'])} windows, val {len(parts['val'])} / "
        f"{len(idx['val'])}, test {len(parts['test'])} / {len(idx['test'])} (QC rejected {rejected})")
    test = EvalSet("test", ctx.records, idx["test"], n_valid, rec_ids)
    zero = _zero_shot_sets(ctx, data_dir, store_dir, qc)
    eval_sets = [test, *(e for e, _ in zero)]

    main = _train_split(ctx, idx["train"], idx["val"], eval_sets, "main", cfg.seed)
    preds = main["preds"]
    training = main["info"]
    if mae_checkpoint is not None:
        t0 = time.perf_counter()
        train_set = EvalSet("train", ctx.records, idx["train"], n_valid, rec_ids)
        mae_preds, mae_info = mae_predictions(mae_checkpoint, plan, cfg, train_set, eval_sets)
        for name, p in mae_preds.items():
            preds[name]["mae"] = p
        mae_info["seconds"] = round(time.perf_counter() - t0, 1)
        training["mae"] = mae_info
        say(f"[main] mae: cross-lead reconstruction with {mae_info['mae_window_samples']}-sample windows in "
            f"{mae_info['seconds']} s")

    scored = list(plan.scored)
    test_tables = {m: _score(plan, test, p, w) for m, p in preds["test"].items()}
    results: dict[str, Any] = {
        "format": "leadlift-recon-benchmark/1",
        "command": command,
        "leadlift_version": leadlift.__version__,
        "threads": torch.get_num_threads(),
        "config": cfg.model_dump(mode="json"),
        "preprocessing": cfg.preprocessing(),
        "leads": plan.describe(),
        "units": {"rmse": "mV", "bias": "mV", "pearson_r": "per window, averaged", "r2": "over all samples",
                  "var_ratio": "std(pred)/std(true) per window, averaged"},
        "data": {
            "fs": d.fs, "window": w, "hop": d.hop,
            "split": d.split,
            "split_description": (f"PTB-XL strat_fold {d.train_folds} train / {d.val_folds} validation / "
                                  f"{d.test_folds} test" if d.split == "ptbxl_folds"
                                  else f"patient-wise 70/15/15 of segments (seed {cfg.seed})"),
            "n_train_records": len(parts["train"]), "n_val_records": len(parts["val"]),
            "n_test_records": len(parts["test"]),
            "n_train_windows": len(idx["train"]), "n_val_windows": len(idx["val"]), "n_test_windows": len(idx["test"]),
            "qc_rejected": rejected, "qc_bounds": qc.to_dict() if qc is not None else None,
        },
        "test": test_tables,
        "summary": {"test": {m: _average(t, scored) for m, t in test_tables.items()}},
        "training": training,
    }
    s = results["summary"]["test"]
    if "fusion" in s and "linear" in s:
        ratio = s["fusion"]["rmse"] / s["linear"]["rmse"]
        results["goal"] = {"fusion_rmse": s["fusion"]["rmse"], "linear_rmse": s["linear"]["rmse"], "ratio": ratio,
                           "target_rmse": s["linear"]["rmse"] / 2,
                           "gap_mv": s["fusion"]["rmse"] - s["linear"]["rmse"] / 2, "met": bool(ratio <= 0.5)}

    results["zero_shot"] = {}
    for e, zinfo in zero:
        tables = {m: _score(plan, e, p, w) for m, p in preds[e.name].items()}
        results["zero_shot"][e.name] = dict(zinfo, methods=tables,
                                            summary={m: _average(t, scored) for m, t in tables.items()})

    # figures and exported models of the main split
    figures: list[str] = []
    if cfg.benchmark.n_figures > 0:
        fig_methods = [m for m in ("fusion", "linear") if m in preds["test"]] or list(preds["test"])[:1]
        figures += _overlay_figures(out, test, preds["test"], plan, d.fs, w, cfg.benchmark.n_figures, ctx.keys,
                                    fig_methods)
        for e, _ in zero:
            figures += _overlay_figures(out, e, preds[e.name], plan, d.fs, w, 1, None, fig_methods)
    shown = [ld for ld in STANDARD_LEADS if ld not in plan.inputs]
    _bar_chart(out / "per_lead_test.png", test_tables, shown,
               f"Reconstruction from {','.join(plan.inputs)}: PTB-XL test fold (r per window; RMSE over all samples)",
               plan)
    figures.append("per_lead_test.png")
    for name, z in results["zero_shot"].items():
        _bar_chart(out / f"per_lead_{name}.png", z["methods"], shown,
                   f"Zero-shot {z['title']} from {','.join(plan.inputs)}", plan)
        figures.append(f"per_lead_{name}.png")
    results["figures"] = figures
    if cfg.benchmark.export_models:
        for m, net in main["nets"].items():
            _export(net, m, cfg, plan, out / "models" / m, {"test": results["summary"]["test"][m]})
        results["models"] = {m: f"models/{m}" for m in main["nets"]}
    results["seconds_main"] = round(time.perf_counter() - t_start, 1)
    _write(out, results)  # partial results survive a failing CV

    # cross-validation
    k = cfg.benchmark.cv_folds
    if k >= 2:
        trainval = np.concatenate([parts["train"], parts["val"]])
        groups = store.meta["patient_id"].astype(str).to_numpy()[trainval]
        folds = patient_kfold(groups, n_splits=k, seed=cfg.benchmark.cv_seed)
        fold_tables: dict[str, list[dict[str, dict[str, float]]]] = {}
        cv_info = []
        shared = None if cfg.benchmark.cv_retrain_encoder else main["encoder"]
        all_idx = _all_index(idx)
        all_emb = test_emb = None
        if shared is not None:  # embed every non-test and test window once for all folds
            all_emb = _embed(shared, ctx.records, all_idx, w, ctx.in_idx, d.zscore_eps)
            test_emb = _embed(shared, ctx.records, test.index, w, ctx.in_idx, d.zscore_eps)
        for f, (tr_pos, va_pos) in enumerate(folds):
            tr_rows, va_rows = trainval[tr_pos], trainval[va_pos]
            assert_patient_disjoint(store.meta["patient_id"].astype(str).to_numpy(),
                                    {"train": tr_rows, "val": va_rows, "test": parts["test"]})
            keep_tr = np.isin(all_idx.rows, tr_rows)
            keep_va = np.isin(all_idx.rows, va_rows)
            tr_idx, va_idx = all_idx.subset(keep_tr), all_idx.subset(keep_va)
            fold_emb = None
            if all_emb is not None and test_emb is not None:
                fold_emb = {"train": all_emb[torch.from_numpy(np.flatnonzero(keep_tr))],
                            "val": all_emb[torch.from_numpy(np.flatnonzero(keep_va))], "test": test_emb}
            fold = _train_split(ctx, tr_idx, va_idx, [test], f"cv{f + 1}", cfg.seed + f + 1,
                                max_epochs=cfg.benchmark.cv_max_epochs, encoder=shared,
                                encoder_epochs=cfg.benchmark.cv_encoder_epochs, embeddings=fold_emb)
            for m, p in fold["preds"]["test"].items():
                fold_tables.setdefault(m, []).append(_score(plan, test, p, w))
            cv_info.append({"fold": f + 1, "n_train_records": len(tr_rows), "n_val_records": len(va_rows),
                            "n_train_windows": len(tr_idx), "n_val_windows": len(va_idx),
                            "training": {m: {kk: v for kk, v in inf.items() if kk != "history"}
                                         for m, inf in fold["info"].items()}})
            summ = {m: _average(fold_tables[m][-1], scored)["rmse"] for m in fold_tables}
            say(f"[cv{f + 1}] test mean RMSE (mV): " + ", ".join(f"{m} {v:.4f}" for m, v in summ.items()))
        results["cv"] = {
            "n_folds": k,
            "description": f"patients of PTB-XL folds {d.train_folds + d.val_folds} split into {k} groups "
                           f"(seed {cfg.benchmark.cv_seed}); each fold trains on {k - 1} groups, early-stops on "
                           f"the held-out group and is scored on the fixed test windows"
                           + ("" if cfg.benchmark.cv_retrain_encoder else
                              "; the SupCon encoder of the main split is shared by all folds"),
            "methods": {m: _cv_aggregate(t, scored) for m, t in fold_tables.items()},
            "folds": cv_info,
        }
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    _write(out, results)
    shutil.rmtree(workdir, ignore_errors=True)
    return results


def _all_index(idx: dict[str, WindowIndex]) -> WindowIndex:
    return WindowIndex(np.concatenate([idx["train"].rows, idx["val"].rows]),
                       np.concatenate([idx["train"].starts, idx["val"].starts]))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def _write(out: Path, results: dict[str, Any]) -> None:
    results.setdefault("seconds", results.get("seconds_main", 0.0))
    (out / "results.json").write_text(json.dumps(_jsonable(results), indent=2))
    (out / "results.md").write_text(results_markdown(results))


# ---------------------------------------------------------------------------------------- train-recon
def train_recon(cfg: ReconConfig, data_dir: str | Path, out: str | Path, method: str = "fusion",
                store_dir: str | Path | None = None, progress: bool = True,
                say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train one reconstructor on the main split and export it to ``out`` (safetensors + config.yaml).

    ``method``: ``fusion`` (trains the SupCon encoder first), ``fusion_noemb``, ``unet`` or ``linear``.
    The exported config holds the architecture, the preprocessing (fs, band-pass, baseline window,
    window/hop, input leads, normalisation), the lead plan, the training config and the validation
    and test metrics. Load it with :func:`leadlift.models.recon.load_reconstructor`.
    """
    if method not in ("linear", *NEURAL):
        raise InputError(f"unknown method {method!r}; use fusion, fusion_noemb, unet or linear")
    t0 = time.perf_counter()
    say = say or log.info
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    one = cfg.model_copy(deep=True)
    one.benchmark.methods = [method]  # type: ignore[list-item]
    ctx, store, parts = _setup(one, Path(data_dir), Path(store_dir) if store_dir else None, out / "checkpoints",
                               progress, say)
    n_valid = store.meta["n_valid"].to_numpy()
    idx, _, rejected = _windows_with_qc(ctx, n_valid, parts, fit_on=("train", "val"))
    test = EvalSet("test", ctx.records, idx["test"], n_valid, store.meta["record_id"].astype(str).to_numpy())
    res = _train_split(ctx, idx["train"], idx["val"], [test], "train", one.seed)
    net = res["nets"][method]
    table = _score(ctx.plan, test, res["preds"]["test"][method], one.data.window)
    metrics = {"test_mean_reconstructed": _average(table, ctx.plan.scored),
               "test": table, "n_test_windows": len(idx["test"]), "qc_rejected": rejected}
    info = {k: v for k, v in res["info"].get(method, {}).items() if k != "history"}
    metrics["training"] = info
    _export(net, method, one, ctx.plan, out, metrics)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return {"out": str(out), "method": method, "seconds": round(time.perf_counter() - t0, 1),
            "test_mean_reconstructed": metrics["test_mean_reconstructed"], "training": info}
