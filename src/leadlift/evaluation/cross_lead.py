"""Cross-lead reconstruction with an aligned per-lead MAE: encode the input lead(s), decode all
12 leads, score each target lead on PTB-XL test windows (fold 10 by default).

The MAE works on per-window z-scored signals, so its output has no amplitude. Two views:

* ``z``: metrics against the z-scored truth (shape only; Pearson r is the same in both views).
* ``mV``: the prediction is de-normalised with an amplitude calibration fitted on the
  *training* folds only: target std ≈ (mean std of the input leads in this window) × the
  median training ratio std(target)/std(inputs); target mean = the median training mean.
  Limb leads III/aVR/aVL/aVF are derived exactly when I and II are inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from leadlift.ecg import DERIVED_LIMB_LEADS, STANDARD_LEADS, derive_limb_leads, parse_leads
from leadlift.errors import InputError
from leadlift.evaluation.metrics import reconstruction_table
from leadlift.models import LeadBankMAE
from leadlift.preprocessing import zscore
from leadlift.store import PreparedStore


def record_windows(store: PreparedStore, indices: Sequence[int] | np.ndarray, n_times: int) -> np.ndarray:
    """Non-overlapping windows of ``n_times`` samples from each record: ``[N, n_leads, n_times]`` mV."""
    out = []
    for row in np.asarray(indices, dtype=int):
        valid = int(store.meta["n_valid"].iloc[row])
        for start in range(0, valid - n_times + 1, n_times):
            out.append(np.asarray(store.signals[row, :, start:start + n_times]))
    if not out:
        raise InputError(f"no window of {n_times} samples in the selected records")
    return np.stack(out).astype(np.float32)


def decoding_views(config: dict[str, Any]) -> int:
    """Decoding passes matching the training mask ratio: 1 / (1 − mask_ratio), e.g. 4 for 0.75."""
    ratio = float(config.get("training", {}).get("loss", {}).get("mask_ratio", 0.75))
    return max(1, round(1.0 / max(1.0 - ratio, 1e-6)))


def amplitude_calibration(windows: np.ndarray, in_idx: Sequence[int]) -> dict[str, np.ndarray]:
    """Median per-lead ratio std(lead)/mean std(inputs) and median per-lead mean (training windows)."""
    std = windows.std(axis=-1)  # [N, L]
    ref = std[:, list(in_idx)].mean(axis=1, keepdims=True)
    ok = ref[:, 0] > 1e-6
    return {"ratio": np.median(std[ok] / ref[ok], axis=0), "mean": np.median(windows.mean(axis=-1), axis=0)}


@torch.no_grad()
def cross_reconstruct_windows(model: LeadBankMAE, windows: np.ndarray, store_leads: Sequence[str],
                              from_leads: Sequence[str], batch_size: int = 128,
                              eps: float = 1e-6, n_views: int = 4) -> np.ndarray:
    """Z-domain predictions of the 12 standard leads ``[N, 12, T]`` from ``from_leads``
    (``n_views``: see :meth:`LeadBankMAE.cross_reconstruct`)."""
    in_idx = [list(store_leads).index(n) for n in from_leads]
    preds = []
    for s in range(0, len(windows), batch_size):
        x = torch.from_numpy(zscore(windows[s:s + batch_size][:, in_idx], eps=eps))
        preds.append(model.cross_reconstruct(x, from_leads, STANDARD_LEADS, n_views=n_views).numpy())
    return np.concatenate(preds)


def evaluate_cross_lead(model: LeadBankMAE, config: dict[str, Any], store: PreparedStore,
                        test_idx: np.ndarray, train_idx: np.ndarray,
                        from_leads: Sequence[str] | str = ("I",)) -> dict[str, Any]:
    """Per-target-lead metrics (z and mV) of reconstructing all 12 leads from ``from_leads``."""
    if not isinstance(model, LeadBankMAE):
        raise InputError("cross-lead reconstruction needs a per-lead bank checkpoint (LeadBankMAE)")
    src = parse_leads(from_leads) if isinstance(from_leads, str) else tuple(from_leads)
    pre = config["preprocessing"]
    if float(pre["fs"]) != store.fs:
        raise InputError(f"the checkpoint expects {pre['fs']} Hz but the store is {store.fs} Hz; "
                         f"prepare the data with --fs {pre['fs']:g}")
    n_times, eps = int(pre["window_samples"]), float(pre.get("zscore_eps", 1e-6))
    leads = list(store.leads)
    if leads != list(STANDARD_LEADS):
        raise InputError("the store must hold the 12 standard leads")
    test = record_windows(store, test_idx, n_times)
    train = record_windows(store, train_idx, n_times)
    in_idx = [leads.index(n) for n in src]
    calib = amplitude_calibration(train, in_idx)
    pred_z = cross_reconstruct_windows(model, test, leads, src, eps=eps, n_views=decoding_views(config))
    ref = test[:, in_idx].std(axis=-1).mean(axis=1)[:, None, None]
    pred_mv = pred_z * ref * calib["ratio"][None, :, None] + calib["mean"][None, :, None]
    if "I" in src and "II" in src:
        derived = derive_limb_leads(test[:, 0], test[:, 1])
        for name in DERIVED_LIMB_LEADS:
            pred_mv[:, leads.index(name)] = derived[name]
            pred_z[:, leads.index(name)] = zscore(derived[name], eps=eps)
    true_z = zscore(test, eps=eps)
    return {
        "inputs": list(src),
        "n_test_windows": len(test),
        "n_test_records": len(test_idx),
        "window_samples": n_times,
        "fs": store.fs,
        "mV": reconstruction_table(test, pred_mv, leads),
        "z": reconstruction_table(true_z, pred_z, leads),
        "calibration_ratio": dict(zip(leads, map(float, calib["ratio"]), strict=True)),
        "_pred_mv": pred_mv,
        "_true_mv": test,
    }


def cross_lead_report(checkpoints: dict[str, str], data_dir: Any, from_leads: Sequence[str],
                      out: Any, store_dir: Any = None, test_folds: Sequence[int] = (10,),
                      train_folds: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8)) -> dict[str, Any]:
    """Evaluate several checkpoints side by side; write ``out/results.json`` and ``out/results.md``."""
    import json
    import time
    from pathlib import Path

    from leadlift.inference import load_mae
    from leadlift.splits import ptbxl_folds
    from leadlift.store import prepare

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"inputs": list(from_leads), "models": {}, "checkpoints": checkpoints}
    t0 = time.perf_counter()
    for name, path in checkpoints.items():
        model, cfg = load_mae(path)
        store = prepare("ptbxl", float(cfg["preprocessing"]["fs"]), data_dir, store_dir=store_dir, progress=False)
        parts = ptbxl_folds(store.meta["strat_fold"], train=train_folds, val=(),
                            test=test_folds)
        res = evaluate_cross_lead(model, cfg, store, parts["test"], parts["train"], from_leads)
        results["models"][name] = {k: v for k, v in res.items() if not k.startswith("_")}
    results["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(cross_lead_markdown(results))
    return results


def cross_lead_markdown(results: dict[str, Any]) -> str:
    """Markdown table: one row per target lead, Pearson r and RMSE (mV) per model."""
    names = list(results["models"])
    first = results["models"][names[0]]
    src = ",".join(results["inputs"])
    lines = [
        f"# 12-lead reconstruction from {src} (PTB-XL test fold, {first['n_test_windows']} windows of "
        f"{first['window_samples']} samples @ {first['fs']:g} Hz from {first['n_test_records']} records)",
        "",
        "Pearson r per window, averaged; RMSE in mV over all samples (amplitude from the training-fold "
        "calibration, see leadlift.evaluation.cross_lead). Input leads are decoded too (autoencoding).",
        "",
        "| lead | " + " | ".join(f"{n} r | {n} RMSE (mV)" for n in names) + " |",
        "|---|" + "---:|---:|" * len(names),
    ]
    leads = list(first["mV"])
    for lead in leads:
        cells = []
        for n in names:
            m = results["models"][n]["mV"][lead]
            cells += [f"{m['pearson_r']:.3f}", f"{m['rmse']:.3f}"]
        mark = " (input)" if lead in results["inputs"] else ""
        lines.append(f"| {lead}{mark} | " + " | ".join(cells) + " |")
    recon = [ld for ld in leads if ld not in results["inputs"]]
    cells = []
    for n in names:
        ms = [results["models"][n]["mV"][ld] for ld in recon]
        cells += [f"{np.mean([m['pearson_r'] for m in ms]):.3f}", f"{np.mean([m['rmse'] for m in ms]):.3f}"]
    lines.append("| mean of non-input leads | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
