"""12-lead reconstruction scored on PTB-XL test records, through exactly the path users call.

Every test record goes through :func:`leadlift.inference.pipeline.reconstruct_records` — what
:meth:`leadlift.api.LeadLift.reconstruct` does: resample to the model rate, the model's own input
cleaning, end-aligned overlapping windows, Hann overlap-add, exact limb leads when I and II are
inputs, the MAE's stored amplitude calibration. The result is scored against the truth with the
same cleaning (none for the MAE; band-pass + baseline removal for the reconstructor) on
non-overlapping windows of the model's length: Pearson r per window, averaged; RMSE in mV over
all samples (:func:`leadlift.evaluation.metrics.reconstruction_table`).

An MAE checkpoint without a stored calibration (e.g. a random-init or baseline twin) gets one
fitted on the training records given, with the same function the release uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from leadlift.conventions import PTBXL_TEST_FOLDS
from leadlift.data.store import PreparedStore, record_windows
from leadlift.ecg import STANDARD_LEADS, parse_leads
from leadlift.errors import InputError
from leadlift.evaluation.metrics import reconstruction_table
from leadlift.inference.backends import Backend, MAEBackend
from leadlift.inference.pipeline import reconstruct_records


def ensure_calibration(backend: Backend, store: PreparedStore, train_idx: Sequence[int] | np.ndarray | None) -> None:
    """Give an MAE backend without a stored calibration one fitted on ``train_idx`` (in memory)."""
    if not isinstance(backend, MAEBackend) or backend.config.calibration is not None:
        return
    if train_idx is None or len(train_idx) == 0:
        raise InputError(f"{backend.name} has no amplitude calibration and no training records were given to fit one")
    from leadlift.inference.calibration import attach_calibration

    windows = record_windows(store, train_idx, backend.window)
    attach_calibration(backend, windows, f"{len(train_idx)} training records, {len(windows)} windows (fitted for "
                                         "this evaluation)")


def evaluate_reconstruction(backend: Backend, store: PreparedStore, test_idx: Sequence[int] | np.ndarray,
                            from_leads: Sequence[str] | str = ("I",),
                            train_idx: Sequence[int] | np.ndarray | None = None,
                            batch_size: int = 256) -> dict[str, Any]:
    """Per-target-lead metrics (mV) of reconstructing all 12 leads of the test records from ``from_leads``.

    Args:
        backend: the model (:func:`leadlift.inference.load_backend`).
        store: a 12-lead store at the model rate (e.g. PTB-XL at 100 Hz).
        test_idx: store rows to score (PTB-XL fold 10).
        from_leads: input leads.
        train_idx: store rows to fit an MAE calibration on when the checkpoint has none.
    Returns:
        ``{"inputs", "n_test_windows", "n_test_records", "window_samples", "fs", "mV": {lead:
        metrics}, "_pred_mv", "_true_mv"}`` (the last two ``[N, 12, W]`` arrays for figures).
    """
    src = parse_leads(from_leads) if isinstance(from_leads, str) else tuple(from_leads)
    if abs(float(backend.fs) - store.fs) > 1e-6:
        raise InputError(f"the model works at {backend.fs:g} Hz but the store is {store.fs:g} Hz; "
                         f"prepare the data with --fs {backend.fs:g}")
    if list(store.leads) != list(STANDARD_LEADS):
        raise InputError("the store must hold the 12 standard leads")
    ensure_calibration(backend, store, train_idx)
    w = backend.window
    records = [store.ecg(int(i)) for i in test_idx]
    records = [r for r in records if r.n_samples >= w]
    if not records:
        raise InputError(f"no test record is as long as one model window ({w} samples)")
    recs = reconstruct_records(backend, [r.select(list(src)) for r in records], hop=backend.hop,
                               batch_size=batch_size, explicit=True, model_name=backend.name, refuse_flat=False)
    true_w, pred_w = [], []
    for ecg, rec in zip(records, recs, strict=True):
        n = w * (ecg.n_samples // w)
        truth = backend.filter(ecg.signal.astype(np.float64))  # scored as the model sees its inputs
        true_w.append(truth[:, :n].reshape(len(STANDARD_LEADS), -1, w).transpose(1, 0, 2))
        pred_w.append(rec.signal[:, :n].astype(np.float64).reshape(len(STANDARD_LEADS), -1, w).transpose(1, 0, 2))
    true, pred = np.concatenate(true_w), np.concatenate(pred_w)
    return {
        "inputs": list(src),
        "n_test_windows": len(true),
        "n_test_records": len(records),
        "window_samples": w,
        "fs": store.fs,
        "mV": reconstruction_table(true, pred, list(STANDARD_LEADS)),
        # the zero predictor on the same windows: the floor a reconstruction must beat (RMS of the truth)
        "zero_rmse_mv": dict(zip(STANDARD_LEADS, map(float, np.sqrt((true ** 2).mean(axis=(0, 2)))), strict=True)),
        "_pred_mv": pred,
        "_true_mv": true,
    }


def cross_lead_report(checkpoints: dict[str, str], data_dir: Any, from_leads: Sequence[str],
                      out: Any, store_dir: Any = None, test_folds: Sequence[int] = PTBXL_TEST_FOLDS,
                      train_folds: Sequence[int] | None = None) -> dict[str, Any]:
    """Evaluate several checkpoints side by side; write ``out/results.json`` and ``out/results.md``."""
    import json
    import time
    from pathlib import Path

    from leadlift.data.splits import ptbxl_folds
    from leadlift.data.store import prepare
    from leadlift.inference.backends import load_backend

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"inputs": list(from_leads), "models": {}, "checkpoints": checkpoints}
    t0 = time.perf_counter()
    for name, path in checkpoints.items():
        backend = load_backend(path, name)
        store = prepare("ptbxl", backend.fs, data_dir, store_dir=store_dir, progress=False)
        parts = ptbxl_folds(store.meta["strat_fold"], **({} if train_folds is None else {"train": train_folds}),
                            val=(), test=test_folds)
        res = evaluate_reconstruction(backend, store, parts["test"], from_leads, train_idx=parts["train"])
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
        "Pearson r per window, averaged; RMSE in mV over all samples; reconstructed through the API's path "
        "(leadlift.evaluation.cross_lead). Input leads are returned as measured.",
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
