"""Workflow: the benchmark of 12-lead reconstruction from a reduced lead set (paper 2) against honest baselines.

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

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import leadlift
from leadlift.data.splits import assert_patient_disjoint, patient_kfold
from leadlift.data.windows import EvalSet, gather_windows
from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.evaluation.recon_benchmark import (
    CONTRASTS,
    METHOD_TITLES,
    average,
    bar_chart,
    checkpoint_predictions,
    cv_aggregate,
    overlay_figures,
    score_set,
    score_windows,
    write_results,
)
from leadlift.evaluation.uncertainty import uncertainty_scores
from leadlift.recon_config import ReconConfig
from leadlift.training.recon import (
    all_index,
    encoder_embeddings,
    export_reconstructor,
    log,
    setup,
    train_split,
    windows_with_qc,
    zero_shot_sets,
)

__all__ = ["run_benchmark"]


def run_benchmark(cfg: ReconConfig, data_dir: str | Path, out: str | Path, mae_checkpoint: str | Path | None = None,
                  checkpoints: dict[str, str] | None = None,
                  store_dir: str | Path | None = None, progress: bool = False,
                  say: Callable[[str], None] | None = None, command: str | None = None) -> dict[str, Any]:
    """Train and score every method; write ``results.json``, ``results.md``, figures and models to ``out``.

    Args:
        cfg: the experiment (``cfg.data.inputs`` is the input lead set; ``cfg.benchmark.cv_folds``
            the number of CV folds, 0 = no CV).
        data_dir: data directory holding ``ptb-xl/`` (and ``ptbdb/`` for zero-shot).
        out: output folder.
        mae_checkpoint: optional aligned-MAE checkpoint folder (method ``mae``).
        checkpoints: more checkpoints to score beside the trained methods, ``{name: folder}`` (any
            leadlift checkpoint: an aligned MAE, or a reconstructor for these input leads), run
            through the API's inference path.
        store_dir: prepared-store folder (default ``data_dir/leadlift-prepared``).
        progress: show Lightning progress bars.
        say: status-line callback (default: the ``leadlift.recon`` logger).
        command: the command line, recorded in the results.
    Returns:
        The results dict (also written to ``out/results.json``).
    """
    t_start = time.perf_counter()
    tc = cfg.trainer
    if str(tc.devices) != "1" or tc.num_nodes != 1 or "ddp" in tc.strategy:
        raise InputError(f"the benchmark trains in one process (trainer.devices={tc.devices}, num_nodes="
                         f"{tc.num_nodes}, strategy={tc.strategy}); use `leadlift train-recon --devices N "
                         "--strategy ddp` to train one reconstructor on several devices")
    say = say or log.info
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data_dir)
    store_dir = Path(store_dir) if store_dir is not None else None
    workdir = out / "checkpoints"
    ctx, store, parts = setup(cfg, data_dir, store_dir, workdir, progress, say)
    plan, d, w = ctx.plan, cfg.data, cfg.data.window
    n_valid = store.meta["n_valid"].to_numpy()
    rec_ids = store.meta["record_id"].astype(str).to_numpy()
    idx, qc, rejected = windows_with_qc(ctx, n_valid, parts, fit_on=("train", "val"))
    say(f"split: train {len(parts['train'])} records / {len(idx['train'])} windows, val {len(parts['val'])} / "
        f"{len(idx['val'])}, test {len(parts['test'])} / {len(idx['test'])} (QC rejected {rejected})")
    test = EvalSet("test", ctx.records, idx["test"], n_valid, rec_ids)
    zero = zero_shot_sets(ctx, data_dir, store_dir, qc)
    eval_sets = [test, *(e for e, _ in zero)]

    main = train_split(ctx, idx["train"], idx["val"], eval_sets, "main", cfg.seed)
    preds = main["preds"]
    training = main["info"]
    uncertainty: dict[str, dict[str, Any]] = {}
    given = dict(checkpoints or {})
    if mae_checkpoint is not None:
        given.setdefault("mae", str(mae_checkpoint))
    for name, path in given.items():
        t0 = time.perf_counter()
        train_set = EvalSet("train", ctx.records, idx["train"], n_valid, rec_ids)
        ck_spreads: dict[str, np.ndarray] = {}
        ck_preds, ck_info = checkpoint_predictions(path, plan, cfg, train_set, eval_sets, spreads=ck_spreads)
        for set_name, p in ck_preds.items():
            preds[set_name][name] = p
        if ck_spreads:  # a model with a predictive spread: coverage and error ranking on every set
            unc = ck_info["uncertainty"]
            uncertainty[name] = {
                e.name: uncertainty_scores(gather_windows(e.records, e.index, w, ctx.out_idx).numpy(),
                                           ck_preds[e.name], ck_spreads[e.name], unc["z"], unc["level"],
                                           plan.learned)
                for e in eval_sets if e.name in ck_spreads}
        ck_info["seconds"] = round(time.perf_counter() - t0, 1)
        training[name] = ck_info
        say(f"[main] {name}: checkpoint {path} through the API's inference path in {ck_info['seconds']} s")

    scored = list(plan.learned)
    nb, seed = cfg.benchmark.n_boot, cfg.seed
    say(f"scoring: learned-lead means with paired bootstrap CIs ({nb} resamples of the test records)")
    # every scored checkpoint is also compared, paired, with each same-run specialist for these inputs
    # and each checkpoint with the ones given after it (e.g. a model and its ablation twin, the control)
    names = [n for n in given if n in preds["test"]]
    contrasts = (*CONTRASTS, *((name, m, f"{name} vs the {METHOD_TITLES.get(m, m)} trained for these inputs only")
                               for name in given for m in ("unet", "fusion") if m in preds["test"]),
                 *((a, b, f"{a} vs {b} (checkpoints given in that order)")
                   for i, a in enumerate(names) for b in names[i + 1:]))
    test_score = score_set(plan, test, preds["test"], w, n_boot=nb, seed=seed, contrasts=contrasts)
    test_tables = test_score["per_lead"]
    results: dict[str, Any] = {
        "format": "leadlift-recon-benchmark/2",
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
        "test": test_score,
        "training": training,
    }
    if uncertainty:
        results["uncertainty"] = uncertainty
    s = test_score["learned"]
    if "fusion" in s and "fir" in s:
        results["goal"] = {"fusion_rmse": s["fusion"]["rmse"], "fir_rmse": s["fir"]["rmse"],
                           "ratio_to_fir": s["fusion"]["rmse"] / s["fir"]["rmse"]}

    results["zero_shot"] = {}
    for e, zinfo in zero:
        results["zero_shot"][e.name] = dict(zinfo, **score_set(plan, e, preds[e.name], w, n_boot=nb, seed=seed,
                                                                       contrasts=contrasts))

    # figures and exported models of the main split
    figures: list[str] = []
    if cfg.benchmark.n_figures > 0:
        fig_methods = [m for m in ("fusion", "fir") if m in preds["test"]] or list(preds["test"])[:1]
        figures += overlay_figures(out, test, preds["test"], plan, d.fs, w, cfg.benchmark.n_figures, ctx.keys,
                                    fig_methods)
        for e, _ in zero:
            figures += overlay_figures(out, e, preds[e.name], plan, d.fs, w, 1, None, fig_methods)
    shown = [ld for ld in STANDARD_LEADS if ld not in plan.inputs]
    bar_chart(out / "per_lead_test.png", test_tables, shown,
               f"Reconstruction from {','.join(plan.inputs)}: PTB-XL test fold (r per window; RMSE over all samples)",
               plan)
    figures.append("per_lead_test.png")
    for name, z in results["zero_shot"].items():
        bar_chart(out / f"per_lead_{name}.png", z["per_lead"], shown,
                   f"Zero-shot {z['title']} from {','.join(plan.inputs)}", plan)
        figures.append(f"per_lead_{name}.png")
    results["figures"] = figures
    if cfg.benchmark.export_models:
        for m, net in main["nets"].items():
            export_reconstructor(net, m, cfg, plan, out / "models" / m,
                                 {"training": {k: v for k, v in training.get(m, {}).items() if k != "history"}})
        results["models"] = {m: f"models/{m}" for m in main["nets"]}
    results["seconds_main"] = round(time.perf_counter() - t_start, 1)
    write_results(out, results)  # partial results survive a failing CV

    # cross-validation
    k = cfg.benchmark.cv_folds
    if k >= 2:
        trainval = np.concatenate([parts["train"], parts["val"]])
        groups = store.meta["patient_id"].astype(str).to_numpy()[trainval]
        folds = patient_kfold(groups, n_splits=k, seed=cfg.benchmark.cv_seed)
        fold_tables: dict[str, list[dict[str, dict[str, float]]]] = {}
        cv_info = []
        shared = None if cfg.benchmark.cv_retrain_encoder else main["encoder"]
        all_idx = all_index(idx)
        all_emb = test_emb = None
        if shared is not None:  # embed every non-test and test window once for all folds
            all_emb = encoder_embeddings(shared, ctx.records, all_idx, w, ctx.in_idx, d.zscore_eps)
            test_emb = encoder_embeddings(shared, ctx.records, test.index, w, ctx.in_idx, d.zscore_eps)
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
            fold = train_split(ctx, tr_idx, va_idx, [test], f"cv{f + 1}", cfg.seed + f + 1,
                                max_epochs=cfg.benchmark.cv_max_epochs, encoder=shared,
                                encoder_epochs=cfg.benchmark.cv_encoder_epochs, embeddings=fold_emb)
            for m, p in fold["preds"]["test"].items():
                fold_tables.setdefault(m, []).append(score_windows(plan, test, p, w))
            cv_info.append({"fold": f + 1, "n_train_records": len(tr_rows), "n_val_records": len(va_rows),
                            "n_train_windows": len(tr_idx), "n_val_windows": len(va_idx),
                            "training": {m: {kk: v for kk, v in inf.items() if kk != "history"}
                                         for m, inf in fold["info"].items()}})
            summ = {m: average(fold_tables[m][-1], scored)["rmse"] for m in fold_tables}  # learned leads
            say(f"[cv{f + 1}] test mean RMSE (mV): " + ", ".join(f"{m} {v:.4f}" for m, v in summ.items()))
        results["cv"] = {
            "n_folds": k,
            "description": f"patients of PTB-XL folds {d.train_folds + d.val_folds} split into {k} groups "
                           f"(seed {cfg.benchmark.cv_seed}); each fold trains on {k - 1} groups, early-stops on "
                           f"the held-out group and is scored on the fixed test windows"
                           + ("; every fold trains its own SupCon and random encoders, so fold models are "
                              "separate models" if cfg.benchmark.cv_retrain_encoder else
                              "; the SupCon encoder of the main split is shared by all folds, so the spread is "
                              "reconstructor training noise only"),
            "methods": {m: cv_aggregate(t, scored) for m, t in fold_tables.items()},
            "folds": cv_info,
        }
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    write_results(out, results)
    shutil.rmtree(workdir, ignore_errors=True)
    return results
