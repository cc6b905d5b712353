"""Training paper 2: the pathology-aware reconstructor and its trained baselines.

The data set-up (PTB-XL preprocessed once, patient-independent split, window QC fitted on the
training windows), the model factory (fusion with a SupCon encoder, fusion without embedding,
U-Net, closed-form linear map), the training driver (:func:`train_split`: every configured
method on one split, early stopping on validation) and :func:`train_recon` — the entry point of
``leadlift train-recon``, which exports one model (safetensors + typed config.yaml). Scoring
lives in :mod:`leadlift.evaluation` (a model card measures an exported model through the API's
own path); :mod:`leadlift.workflows.recon_benchmark` trains and scores every method side by side.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

import leadlift
from leadlift.data.splits import assert_patient_disjoint, patient_split, ptbxl_folds
from leadlift.data.store import PreparedStore, prepare
from leadlift.data.windows import (
    EvalSet,
    QCBounds,
    WindowIndex,
    cached_preprocessed_records,
    gather_windows,
    record_labels,
    window_index,
)
from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import DataNotFoundError, InputError
from leadlift.inference.checkpoint import export_model
from leadlift.models.recon import (
    FIRLeadMap,
    FusionReconstructor,
    LeadPlan,
    LinearLeadMap,
    PathologyEncoder,
    ReconNet,
    UNet1d,
    lagged_normal_equations,
    recon_net_spec,
    select_lags,
    solve_normal_equations,
)
from leadlift.recon_config import ReconConfig
from leadlift.training.checkpoint import weights_digest
from leadlift.training.recon_data import (
    ClassBalancedBatchSampler,
    ReconBatches,
    ReconDataModule,
    SupConBatches,
    ViewAugmenter,
)
from leadlift.training.recon_module import fit_reconstructor, fit_supcon

__all__ = ["NEURAL", "Context", "setup", "train_recon", "train_split", "windows_with_qc", "zero_shot_sets"]

log = logging.getLogger("leadlift.recon")


NEURAL = ("unet", "fusion_noemb", "fusion_random", "fusion")
"""Methods trained by gradient descent (with early stopping on validation)."""
EMBEDDING_METHODS = ("fusion_random", "fusion")
"""Methods whose fusion model takes an encoder's embedding (SupCon-trained, or random and frozen)."""
RANDOM_ENCODER_SEED_OFFSET = 1000
"""The random encoder of ``fusion_random`` is drawn with ``seed + RANDOM_ENCODER_SEED_OFFSET``."""


@dataclass
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


ZERO_SHOT_STORES: dict[str, tuple[str, dict[str, Any]]] = {
    "ptbdb": ("ptbdb", {}),
    "cinc2021-ptb": ("cinc2021", {"subset": "ptb"}),
    "brugada": ("brugada", {}),
}
"""Zero-shot source name → (dataset of :func:`leadlift.data.store.prepare`, reader options)."""
ZERO_SHOT_TITLES: dict[str, str] = {
    "ptbdb": "PTB Diagnostic (ptbdb/)",
    "cinc2021-ptb": "PTB Diagnostic records of the CinC-2021 copy (challenge-2021/ptb/)",
    "brugada": "Brugada-HUCA",
}


def load_store(dataset: str, cfg: ReconConfig, data_dir: Path, store_dir: Path | None,
               reader_options: dict[str, Any] | None = None) -> PreparedStore:
    store = prepare(dataset, cfg.data.fs, data_dir, store_dir=store_dir, progress=False,
                    reader_options=reader_options or None)
    if list(store.leads) != list(STANDARD_LEADS):
        raise InputError(f"the {dataset} store must hold the 12 standard leads (it has {', '.join(store.leads)})")
    return store


def preprocessed_records(store: PreparedStore, cfg: ReconConfig, rows: np.ndarray | None = None) -> Tensor:
    """Band-passed, baseline-free records ``[R, L, T]`` mV as a tensor over a memory-mapped cache
    (:func:`~leadlift.data.windows.cached_preprocessed_records`): batches are cut from disk, the
    dataset is never copied into RAM."""
    return torch.from_numpy(cached_preprocessed_records(store, cfg.data, rows=rows))


def split_records(cfg: ReconConfig, meta: Any, n_valid: np.ndarray) -> dict[str, np.ndarray]:
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


@torch.no_grad()
def predict_windows(net: ReconNet, records: Tensor, index: WindowIndex, window: int, in_idx: list[int],
             h: Tensor | None = None, batch: int = 512) -> np.ndarray:
    """Learned leads ``[N, n_learned, window]`` (mV) for every window of ``index``."""
    net.eval()
    out = []
    for s in range(0, len(index), batch):
        x = gather_windows(records, index.subset(slice(s, s + batch)), window, in_idx)
        out.append(net(x, None if h is None else h[s:s + batch]).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(in_idx), window), np.float32)


@torch.no_grad()
def encoder_embeddings(encoder: PathologyEncoder, records: Tensor, index: WindowIndex, window: int, in_idx: list[int],
           eps: float, batch: int = 512) -> Tensor:
    """Encoder embeddings ``[N, E]`` of every window (eval mode)."""
    helper = ReconNet(torch.nn.Identity(), encoder, eps=eps)
    out = [helper.embed(gather_windows(records, index.subset(slice(s, s + batch)), window, in_idx))
           for s in range(0, len(index), batch)]
    return torch.cat(out) if out else torch.zeros(0, encoder.embed_dim)


def build_reconstructor(method: str, cfg: ReconConfig, plan: LeadPlan, encoder: PathologyEncoder | None) -> ReconNet:
    n_in, n_out = len(plan.inputs), len(plan.learned)
    f, u, t = cfg.fusion, cfg.unet, cfg.train
    if method in EMBEDDING_METHODS:
        if encoder is None:
            raise InputError(f"the {method} method needs an encoder")
        rec: torch.nn.Module = FusionReconstructor.from_config(f, n_in, n_out, encoder.embed_dim)
        return ReconNet(rec, encoder, output_scale=t.output_scale, eps=cfg.data.zscore_eps)
    if method == "fusion_noemb":
        rec = FusionReconstructor.from_config(f, n_in, n_out, 0)
    elif method == "unet":
        rec = UNet1d(n_in, n_out, u.levels, u.base_channels, u.kernel_size)
    else:
        raise InputError(f"unknown method {method!r}")
    return ReconNet(rec, None, output_scale=t.output_scale, eps=cfg.data.zscore_eps)


def new_encoder(cfg: ReconConfig, n_in: int) -> PathologyEncoder:
    return PathologyEncoder.from_config(cfg.encoder, n_in)


def train_encoder(ctx: Context, train: WindowIndex, epochs: int | None, seed: int) -> tuple[PathologyEncoder,
                                                                                             dict[str, Any]]:
    cfg = ctx.cfg
    torch.manual_seed(seed)
    enc = new_encoder(cfg, len(ctx.in_idx))
    sc = cfg.supcon
    ref = ctx.plan.inputs.index("II") if "II" in ctx.plan.inputs else 0
    aug = ViewAugmenter(sc.augment, cfg.data.fs, ref_lead=ref, seed=seed)
    ds = SupConBatches(ctx.records, train, cfg.data.window, ctx.in_idx, ctx.labels[train.rows], aug,
                       cfg.data.zscore_eps)
    sampler = ClassBalancedBatchSampler(ctx.keys[train.rows], sc.classes_per_batch, sc.samples_per_class,
                                        n_batches=sc.steps_per_epoch, seed=seed)
    info = fit_supcon(enc, ReconDataModule(ds, train_sampler=sampler, seed=seed, num_workers=cfg.trainer.num_workers),
                      sc, max_epochs=epochs, seed=seed, trainer_cfg=cfg.trainer,
                      progress=ctx.progress)
    info["n_classes"] = len(sampler.classes)
    info["steps_per_epoch"] = len(sampler)
    return enc, info


def _chunks(ctx: Context, index: WindowIndex, size: int = 512) -> Any:
    w = ctx.cfg.data.window
    for s in range(0, len(index), size):
        x = gather_windows(ctx.records, index.subset(slice(s, s + size)), w)
        yield x[:, ctx.in_idx], x[:, ctx.out_idx]


def fit_fir(ctx: Context, train: WindowIndex, val: WindowIndex) -> tuple[ReconNet, dict[str, Any]]:
    """FIR least squares (closed form) for every candidate half-length of
    ``benchmark.fir_half_taps_s``; the one with the lowest validation MSE (mV²) is kept.

    The normal equations are accumulated once for the longest filter; shorter ones are exact
    sub-blocks (:func:`leadlift.models.recon.select_lags`)."""
    b, fs = ctx.cfg.benchmark, ctx.cfg.data.fs
    taps = sorted({max(0, round(t * fs)) for t in b.fir_half_taps_s})
    n_in, n_out = len(ctx.in_idx), len(ctx.out_idx)
    intercept = b.linear_intercept
    xtx, xty, _ = lagged_normal_equations(_chunks(ctx, train), n_in, n_out, taps[-1], intercept)
    scores: dict[int, float] = {}
    nets: dict[int, ReconNet] = {}
    for L in taps:
        sub_xtx, sub_xty = select_lags(xtx, xty, n_in, taps[-1], L, intercept)
        fir = FIRLeadMap(n_in, n_out, L, intercept).set_coefficients(solve_normal_equations(sub_xtx, sub_xty,
                                                                                            b.fir_ridge))
        net = ReconNet(fir, None, output_scale="raw").eval()
        sse, n = 0.0, 0
        with torch.no_grad():
            for x, y in _chunks(ctx, val):
                sse += float(((net(x) - y) ** 2).sum())
                n += y.numel()
        scores[L] = sse / max(n, 1)
        nets[L] = net
    best = min(scores, key=scores.__getitem__)
    return nets[best], {"half_taps": best, "half_s": best / fs,
                        "val_mse_by_half_s": {f"{L / fs:g}": round(v, 6) for L, v in scores.items()}}


def fit_linear(ctx: Context, train: WindowIndex) -> ReconNet:
    lin = LinearLeadMap(len(ctx.in_idx), len(ctx.out_idx), intercept=ctx.cfg.benchmark.linear_intercept)
    w = ctx.cfg.data.window

    def chunks() -> Any:
        for s in range(0, len(train), 4096):
            x = gather_windows(ctx.records, train.subset(slice(s, s + 4096)), w)
            yield x[:, ctx.in_idx], x[:, ctx.out_idx]

    lin.fit_batches(chunks())
    return ReconNet(lin, None, output_scale="raw")


def train_split(ctx: Context, train: WindowIndex, val: WindowIndex, eval_sets: Sequence[EvalSet], tag: str,
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
    if "zero" in methods:  # the floor: 0 mV for every learned lead (signals are band-passed)
        info["zero"] = {"seconds": 0.0}
        for e in eval_sets:
            preds[e.name]["zero"] = np.zeros((len(e.index), len(ctx.out_idx), w), np.float32)
    if "linear" in methods:
        t0 = time.perf_counter()
        nets["linear"] = fit_linear(ctx, train)
        info["linear"] = {"seconds": round(time.perf_counter() - t0, 1)}
        for e in eval_sets:
            preds[e.name]["linear"] = predict_windows(nets["linear"], e.records, e.index, w, ctx.in_idx)
        ctx.say(f"[{tag}] linear: fitted on {len(train)} windows in {info['linear']['seconds']} s")
    keep = np.ones(len(val), dtype=bool)
    if cfg.train.val_hop and cfg.train.val_hop != cfg.data.hop:
        keep = (val.starts % cfg.train.val_hop) == 0
    val_rows = val.subset(keep)
    if "fir" in methods:
        t0 = time.perf_counter()
        nets["fir"], fir_info = fit_fir(ctx, train, val_rows)
        info["fir"] = {"seconds": round(time.perf_counter() - t0, 1), **fir_info}
        for e in eval_sets:
            preds[e.name]["fir"] = predict_windows(nets["fir"], e.records, e.index, w, ctx.in_idx)
        ctx.say(f"[{tag}] fir: ±{fir_info['half_s']:g} s chosen on validation "
                f"(MSE by half-length {fir_info['val_mse_by_half_s']}) in {info['fir']['seconds']} s")
    enc_info: dict[str, Any] | None = None
    emb: dict[str, Tensor] = {}
    encoders: dict[str, PathologyEncoder] = {}
    if "fusion_random" in methods:  # same architecture, random weights, never trained (frozen)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + RANDOM_ENCODER_SEED_OFFSET)
            encoders["fusion_random"] = new_encoder(cfg, len(ctx.in_idx)).eval()
    if "fusion" in methods:
        if encoder is None:
            encoder, enc_info = train_encoder(ctx, train, encoder_epochs, seed)
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
            emb["train"] = encoder_embeddings(encoder, ctx.records, train, w, ctx.in_idx, eps)
            emb["val"] = encoder_embeddings(encoder, ctx.records, val, w, ctx.in_idx, eps)
            for e in eval_sets:
                emb[e.name] = encoder_embeddings(encoder, e.records, e.index, w, ctx.in_idx, eps)
        info["encoder"]["embed_seconds"] = round(time.perf_counter() - t0, 1)
    if encoder is not None:
        encoders["fusion"] = encoder
    embs: dict[str, dict[str, Tensor]] = {"fusion": emb} if "fusion" in methods else {}
    if "fusion_random" in encoders:
        t0 = time.perf_counter()
        rnd, eps = encoders["fusion_random"], cfg.data.zscore_eps
        embs["fusion_random"] = {"train": encoder_embeddings(rnd, ctx.records, train, w, ctx.in_idx, eps),
                                 "val": encoder_embeddings(rnd, ctx.records, val, w, ctx.in_idx, eps),
                                 **{e.name: encoder_embeddings(rnd, e.records, e.index, w, ctx.in_idx, eps)
                                    for e in eval_sets}}
        info["random_encoder"] = {"seed": seed + RANDOM_ENCODER_SEED_OFFSET,
                                  "embed_seconds": round(time.perf_counter() - t0, 1)}
    for m in (m for m in methods if m in NEURAL):
        torch.manual_seed(seed)
        net = build_reconstructor(m, cfg, ctx.plan, encoders.get(m))
        h_tr = embs[m]["train"] if m in EMBEDDING_METHODS else None
        h_va = None
        if m in EMBEDDING_METHODS:
            h_va = embs[m]["val"][torch.from_numpy(np.flatnonzero(keep))]
        tr_ds = ReconBatches(ctx.records, train, w, ctx.in_idx, ctx.out_idx, h_tr)
        va_ds = ReconBatches(ctx.records, val_rows, w, ctx.in_idx, ctx.out_idx, h_va)
        data = ReconDataModule(tr_ds, va_ds, batch_size=cfg.train.batch_size, val_batch_size=512, seed=seed,
                               num_workers=cfg.trainer.num_workers)
        res = fit_reconstructor(net, data, cfg.train, ctx.workdir / tag / m, max_epochs=max_epochs,
                                trainer_cfg=cfg.trainer,
                                log_dir=ctx.workdir.parent / "logs" / tag / m,
                                seed=seed, progress=ctx.progress)
        info[m] = res
        nets[m] = net
        for e in eval_sets:
            preds[e.name][m] = predict_windows(net, e.records, e.index, w, ctx.in_idx,
                                               embs[m][e.name] if m in EMBEDDING_METHODS else None)
        ctx.say(f"[{tag}] {m}: {res['epochs']} epochs in {res['seconds']} s, best val MSE "
                f"{res['best_val_mse']:.4f} mV² at epoch {res['best_epoch']}"
                + (" (early stop)" if res["stopped_early"] else ""))
    return {"preds": preds, "info": info, "nets": nets, "encoder": encoder}


def setup(cfg: ReconConfig, data_dir: Path, store_dir: Path | None, workdir: Path, progress: bool,
           say: Callable[[str], None]) -> tuple[Context, PreparedStore, dict[str, np.ndarray]]:
    t0 = time.perf_counter()
    store = load_store("ptbxl", cfg, data_dir, store_dir)
    parts = split_records(cfg, store.meta, store.meta["n_valid"].to_numpy())
    used = np.concatenate(list(parts.values()))
    records = preprocessed_records(store, cfg, used)
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


def windows_with_qc(ctx: Context, n_valid: np.ndarray, parts: dict[str, np.ndarray], fit_on: Sequence[str]
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


def zero_shot_sets(ctx: Context, data_dir: Path, store_dir: Path | None, qc: QCBounds | None
                    ) -> list[tuple[EvalSet, dict[str, Any]]]:
    cfg = ctx.cfg
    out = []
    for name in cfg.benchmark.zero_shot:
        dataset, options = ZERO_SHOT_STORES[name]
        try:
            store = load_store(dataset, cfg, data_dir, store_dir, options)
        except DataNotFoundError as exc:
            ctx.say(f"zero-shot {name} skipped: {exc}")
            continue
        recs = preprocessed_records(store, cfg)
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
        out.append((e, {"title": ZERO_SHOT_TITLES.get(name, name), "n_records": len(store),
                        "n_windows": len(idx), "qc_rejected": rejected,
                        "source_fs": sorted({float(f) for f in store.meta["fs"]}) if "fs" in store.meta else None}))
        ctx.say(f"zero-shot {name}: {len(store)} record(s), {len(idx)} windows ({rejected} rejected by QC)")
    return out


def export_reconstructor(net: ReconNet, method: str, cfg: ReconConfig, plan: LeadPlan, folder: Path,
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


def all_index(idx: dict[str, WindowIndex]) -> WindowIndex:
    return WindowIndex(np.concatenate([idx["train"].rows, idx["val"].rows]),
                       np.concatenate([idx["train"].starts, idx["val"].starts]))


def _silent(_message: str) -> None:
    return None


def train_recon(cfg: ReconConfig, data_dir: str | Path, out: str | Path, method: str = "fusion",
                store_dir: str | Path | None = None, progress: bool = True,
                say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train one reconstructor on the main split and export it to ``out`` (safetensors + config.yaml).

    ``method``: ``fusion`` (trains the SupCon encoder first), ``fusion_noemb``, ``unet`` or ``linear``.
    The exported config holds the architecture, the preprocessing (fs, band-pass, baseline window,
    window/hop, input leads, normalisation), the lead plan, the training config and the training
    and validation record (epochs, best validation MSE). The test fold is not touched here: measure
    the exported model with :func:`leadlift.workflows.release.evaluate_checkpoint` (what
    ``leadlift train-recon`` does next), through the same path :class:`leadlift.api.LeadLift` uses.
    """
    if method == "anysubset":  # one network for every input subset, with a calibrated spread
        from leadlift.training.anysubset import train_anysubset

        return train_anysubset(cfg, data_dir, out, store_dir=store_dir, progress=progress, say=say)
    if method not in ("linear", "fir", *NEURAL):
        raise InputError(f"unknown method {method!r}; use anysubset, fusion, fusion_random, fusion_noemb, unet, "
                         "fir or linear")
    t0 = time.perf_counter()
    say = say or log.info
    if rank_zero_only.rank != 0:  # the other DDP processes run the same steps silently
        say = _silent
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    one = cfg.model_copy(deep=True)
    one.benchmark.methods = [method]  # type: ignore[list-item]
    ctx, store, parts = setup(one, Path(data_dir), Path(store_dir) if store_dir else None, out / "checkpoints",
                              progress, say)
    n_valid = store.meta["n_valid"].to_numpy()
    # QC bounds are fitted on train+val windows; the test fold is neither windowed nor scored here
    idx, _, rejected = windows_with_qc(ctx, n_valid, {k: parts[k] for k in ("train", "val")},
                                       fit_on=("train", "val"))
    res = train_split(ctx, idx["train"], idx["val"], [], "train", one.seed)
    net = res["nets"][method]
    info = {k: v for k, v in res["info"].get(method, {}).items() if k != "history"}
    rank, world = int(info.pop("global_rank", 0)), int(info.pop("world_size", 1))
    if world > 1:  # every DDP process records its weights' checksum (they must be identical)
        ranks = out / "ranks"
        ranks.mkdir(parents=True, exist_ok=True)
        (ranks / f"rank-{rank}.json").write_text(json.dumps({"rank": rank, "world_size": world,
                                                             "weights_sha256": weights_digest(net)}))
    done = {"out": str(out), "method": method, "seconds": round(time.perf_counter() - t0, 1), "training": info,
            "is_global_zero": rank == 0, "world_size": world}
    if rank != 0:  # one process exports
        return done
    metrics = {"training": info, "n_train_windows": len(idx["train"]), "n_val_windows": len(idx["val"]),
               "qc_rejected": rejected, "world_size": world}
    export_reconstructor(net, method, one, ctx.plan, out, metrics)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return done
