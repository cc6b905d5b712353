"""Turning a trained checkpoint into a shipped model: calibration, fold-10 evaluation, model card,
bundling into the package.

The steps, for an aligned-MAE checkpoint folder ``CKPT`` (``model.safetensors`` + ``config.yaml``)::

    leadlift model-card CKPT --data-dir DATA          # = the three functions below
    calibrate_mae_checkpoint(CKPT, DATA)              # amplitude calibration (folds 1-8) -> config.yaml
    evaluate_checkpoint(CKPT, DATA)                   # fold-10 metrics through the API's path -> config.yaml
    write_model_card(CKPT)                            # MODEL_CARD.md from config.yaml (no typed numbers)
    bundle_checkpoint(CKPT, "mae-cpu")                # copy into src/leadlift/weights/mae-cpu/

``config.yaml`` is typed (:class:`leadlift.inference.checkpoint.CheckpointConfig`), always
rewritten atomically and keeps ``weights_sha256``, so the weights stay verifiable.
Every number in a model card is read from ``config["evaluation"]`` (written by
:func:`evaluate_checkpoint` together with the command that produced it) or measured from the
files; none is typed by hand.

``config["evaluation"]`` schema (also what a reconstructor's own evaluation should write)::

    split: "PTB-XL strat_fold 10 (test)"
    command: "leadlift model-card ..."
    train_folds: [1, ..., 8]
    inputs:
      "I":                      # input leads, comma-separated in standard order
        n_test_records, n_test_windows, window_samples, fs
        mV: {lead: {rmse, pearson_r, r2, bias, var_ratio, n_windows, n_flat_windows}}
        z:  {lead: {...}}       # optional: the same on z-scored signals
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leadlift.conventions import PTBXL_TEST_FOLDS, PTBXL_TRAIN_FOLDS
from leadlift.ecg import DERIVED_LIMB_LEADS, parse_leads
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError
from leadlift.inference.calibration import CALIBRATION_INPUT_SETS, fit_calibration
from leadlift.inference.checkpoint import calibration_key, read_config, update_config

__all__ = [
    "CALIBRATION_INPUT_SETS",
    "DEFAULT_EVAL_INPUTS",
    "bundle_checkpoint",
    "calibrate_mae_checkpoint",
    "evaluate_checkpoint",
    "model_card_markdown",
    "read_config",
    "summary_metrics",
    "update_config",
    "write_model_card",
]

DEFAULT_EVAL_INPUTS: tuple[tuple[str, ...], ...] = (("I",), ("I", "II", "V2"))
"""Input sets evaluated for an MAE's model card: a watch (lead I) and a patch (I, II, V2). A
reconstructor is evaluated on its own input set."""


def _ptbxl_store(fs: float, data_dir: str | Path, store_dir: str | Path | None) -> Any:
    from leadlift.data.store import prepare

    return prepare("ptbxl", float(fs), data_dir, store_dir=store_dir, progress=False)


# --------------------------------------------------------------------------------------- calibration
def calibrate_mae_checkpoint(folder: str | Path, data_dir: str | Path, store_dir: str | Path | None = None,
                             train_folds: Sequence[int] = PTBXL_TRAIN_FOLDS,
                             input_sets: Sequence[Sequence[str]] = CALIBRATION_INPUT_SETS) -> dict[str, Any]:
    """Fit the MAE's amplitude calibration on PTB-XL training folds and store it in ``config.yaml``.

    The MAE works on per-window z-scored signals; to output mV, a reconstructed lead k is scaled
    by ``ratio_k × (mean std of the input leads in the window)`` and shifted by ``mean_k``
    (:func:`leadlift.inference.calibration.fit_calibration`: medians over all non-overlapping
    model windows of the training folds' records). One ``ratio`` vector is stored per input set
    of :data:`CALIBRATION_INPUT_SETS`, plus the median per-lead window std (``lead_std``, mV)
    used for other input sets.

    Args:
        folder: the checkpoint folder (rewritten atomically; ``weights_sha256`` kept).
        data_dir: data directory holding ``ptb-xl/``.
        store_dir: prepared-store folder (default ``DATA/leadlift-prepared``).
        train_folds: PTB-XL ``strat_fold`` values to fit on (never the test fold).
        input_sets: input-lead sets to calibrate.
    Returns:
        The ``calibration`` entry written to the config.
    """
    from leadlift.data.splits import ptbxl_folds
    from leadlift.data.store import record_windows
    from leadlift.ecg import STANDARD_LEADS

    cfg = read_config(folder)
    if cfg.kind != "mae":
        raise InputError(f"{folder}: calibration applies to aligned-MAE checkpoints (format leadlift-mae/*), "
                         f"not {cfg.format!r}")
    if set(train_folds) & set(PTBXL_TEST_FOLDS):
        raise InputError("train_folds must not include fold 10 (the test fold)")
    store = _ptbxl_store(cfg.preprocessing.fs, data_dir, store_dir)
    if list(store.leads) != list(STANDARD_LEADS):
        raise InputError("the PTB-XL store must hold the 12 standard leads")
    idx = ptbxl_folds(store.meta["strat_fold"], train=tuple(train_folds), val=(), test=())["train"]
    windows = record_windows(store, idx, int(cfg.preprocessing.window_samples))
    cal = fit_calibration(windows, data=f"PTB-XL strat_fold {','.join(map(str, train_folds))}, {len(idx)} records, "
                                        f"{len(windows)} windows of {windows.shape[-1]} samples @ {store.fs:g} Hz",
                          input_sets=input_sets)
    entry = cal.model_dump(mode="json")
    update_config(folder, {"calibration": entry})
    return entry


# --------------------------------------------------------------------------------------- evaluation
def default_command(folder: str | Path, data_dir: str | Path,
                    input_sets: Sequence[Sequence[str]] = DEFAULT_EVAL_INPUTS) -> str:
    """The ``leadlift model-card`` command line equivalent to an evaluation call."""
    parts = ["leadlift", "model-card", str(folder), "--data-dir", str(data_dir)]
    for s in input_sets:
        parts += ["--inputs", ",".join(s)]
    return shlex.join(parts)


def evaluate_checkpoint(folder: str | Path, data_dir: str | Path,
                        input_sets: Sequence[Sequence[str]] | None = None,
                        store_dir: str | Path | None = None, command: str | None = None,
                        test_folds: Sequence[int] = PTBXL_TEST_FOLDS) -> dict[str, Any]:
    """Measure 12-lead reconstruction on PTB-XL fold 10 through the API's own path and store it
    (with the command) in ``config.yaml``.

    Uses :func:`leadlift.evaluation.cross_lead.evaluate_reconstruction`: every test record is
    reconstructed exactly as :meth:`leadlift.api.LeadLift.reconstruct` does it, then scored on
    non-overlapping model windows (Pearson r per window averaged, RMSE in mV over all samples),
    so the model card states what users get.

    Args:
        folder: an MAE (calibrated) or reconstructor checkpoint folder.
        input_sets: input sets to evaluate (default: :data:`DEFAULT_EVAL_INPUTS` for an MAE, the
            reconstructor's own inputs otherwise).
    Returns:
        The ``evaluation`` entry (see the module docstring).
    """
    from leadlift.data.splits import ptbxl_folds
    from leadlift.evaluation.cross_lead import evaluate_reconstruction
    from leadlift.inference.backends import load_backend

    t0 = time.perf_counter()
    backend = load_backend(folder)
    cfg = backend.config
    if input_sets is None:
        input_sets = DEFAULT_EVAL_INPUTS if cfg.kind == "mae" else (tuple(backend.leads),)
    if cfg.kind == "mae" and cfg.calibration is None:
        raise InputError(f"{folder} has no amplitude calibration; run calibrate_mae_checkpoint first")
    store = _ptbxl_store(backend.fs, data_dir, store_dir)
    parts = ptbxl_folds(store.meta["strat_fold"], val=(), test=tuple(test_folds))
    results: dict[str, Any] = {}
    for raw in input_sets:
        names = parse_leads(list(raw))
        res = evaluate_reconstruction(backend, store, parts["test"], names)
        results[calibration_key(names)] = {k: v for k, v in res.items() if not k.startswith("_")}
    cleaning = ("none" if cfg.kind == "mae" else "band-pass and baseline removal as the model's inputs")
    entry = {
        "split": f"PTB-XL strat_fold {','.join(map(str, test_folds))} (test)",
        "train_folds": list(cfg.training.get("data", {}).get("train_folds", PTBXL_TRAIN_FOLDS)),
        "protocol": "every test record reconstructed through LeadLift.reconstruct's path (leadlift.inference."
                    "pipeline); scored on non-overlapping model windows against the truth with the model's input "
                    f"cleaning ({cleaning}); Pearson r per window, averaged; RMSE in mV over all samples; "
                    "means over the reconstructed leads (not inputs, not limb leads derived exactly from I and II)",
        "command": command or default_command(folder, data_dir, input_sets),
        "seconds": round(time.perf_counter() - t0, 1),
        "date": time.strftime("%Y-%m-%d"),
        "inputs": results,
    }
    update_config(folder, {"evaluation": entry})
    return entry


def summary_metrics(result: dict[str, Any], unit: str = "mV") -> dict[str, float]:
    """Means over the reconstructed leads (not inputs, not derived limb leads) of one input set."""
    inputs = set(result["inputs"])
    derived = set(DERIVED_LIMB_LEADS) if {"I", "II"} <= inputs else set()
    table = result[unit]
    leads = [ld for ld in table if ld not in inputs and ld not in derived]
    return {k: float(np.mean([table[ld][k] for ld in leads])) for k in ("pearson_r", "rmse", "r2", "var_ratio")}


# --------------------------------------------------------------------------------------- model card
def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def _n_parameters(weights: Path) -> int:
    """Number of values stored in a safetensors file (read from its header, no pickle)."""
    from safetensors import safe_open

    with safe_open(str(weights), framework="np") as fh:
        return int(sum(int(np.prod(fh.get_slice(k).get_shape())) for k in fh.keys()))


def model_card_markdown(folder: str | Path, name: str | None = None,
                        latency: dict[str, Any] | None = None) -> str:
    """Render the model card of a checkpoint from its ``config.yaml`` (and optional latency results).

    Every number is read from the config's ``evaluation`` entry (measured, with its command), the
    weights file (size, parameter count, SHA256) or the latency results; none is typed here.

    Args:
        folder: checkpoint folder.
        name: model name shown in the title (default: the folder name).
        latency: the dict of ``benchmarks/results/inference_latency.json`` (optional).
    Raises:
        InputError: if the config has no ``evaluation`` (run :func:`evaluate_checkpoint` first).
    """
    folder = Path(folder)
    cfg = read_config(folder).to_dict()
    ev = cfg.get("evaluation")
    if not ev or not ev.get("inputs"):
        raise InputError(f"{folder}: config.yaml has no evaluation; run `leadlift model-card {folder}` "
                         "or evaluate_checkpoint() first")
    name = name or folder.name
    fmt = str(cfg.get("format", ""))
    is_mae = fmt.startswith("leadlift-mae")
    model = cfg.get("model", {})
    pre = cfg.get("preprocessing", {})
    train = cfg.get("training", {})
    data = train.get("data", {})
    weights = folder / "model.safetensors"
    fs = float(pre.get("fs", 0))
    window_s = float(pre["window_samples"]) / fs if fs and pre.get("window_samples") else None
    inputs_text = ",".join(pre.get("input_leads", [])) if not is_mae else "any subset of the 12 leads"
    kind = "aligned per-lead masked autoencoder (paper 1)" if is_mae else "pathology-aware reconstructor (paper 2)"
    lines = [
        f"# Model card: `{name}`",
        "",
        f"leadlift {kind}, checkpoint format `{fmt}`, model class `{model.get('class', '?')}`; "
        f"input leads: {inputs_text}.",
        "",
        "**Not a medical device.** Research software: its outputs are not validated for diagnosis, triage or any "
        "clinical decision.",
        "",
        "## Files",
        "",
        "| file | size | SHA256 |",
        "|---|---:|---|",
        f"| model.safetensors | {_size(weights)} | `{cfg.get('weights_sha256', '-')}` |",
        f"| config.yaml | {_size(folder / 'config.yaml')} | (architecture, preprocessing, calibration, metrics) |",
        "",
        f"Parameters: {_n_parameters(weights):,}. Loading verifies the SHA256 of the weights; weights are "
        "safetensors, nothing is unpickled.",
        "",
        "## Training data",
        "",
    ]
    if data:
        lines.append(
            f"- dataset: {data.get('dataset', '?')} (PTB-XL: 12-lead resting ECGs, 10 s), train folds "
            f"{data.get('train_folds')}, validation folds {data.get('val_folds')}; fold 10 is never used for "
            "training or calibration")
        if is_mae:
            lines.append(f"- epochs: {cfg.get('epoch', '?')}, steps: {cfg.get('global_step', '?')}, "
                         f"seed {train.get('seed')}")
            if "val/loss" in cfg.get("metrics", {}):
                lines.append(f"- final validation loss: {cfg['metrics']['val/loss']:.4f}")
        else:
            info = cfg.get("metrics", {}).get("training", {})
            lines.append(f"- method: {cfg.get('method', '?')}; epochs: {info.get('epochs', '?')} (best "
                         f"{info.get('best_epoch', '?')}, validation MSE {info.get('best_val_mse', float('nan')):.4f} "
                         f"mV²), seed {train.get('seed')}")
    else:
        lines.append("- see the training section of config.yaml")
    if cfg.get("calibration"):
        lines.append(f"- amplitude calibration (z → mV): {cfg['calibration'].get('data')}")
    lines += ["", "## Preprocessing (applied automatically by `LeadLift`)", ""]
    lines.append(f"- input resampled (polyphase) to {fs:g} Hz; windows of {pre.get('window_samples')} samples"
                 + (f" ({window_s:g} s)" if window_s else ""))
    if pre.get("bandpass_hz"):
        lo, hi = pre["bandpass_hz"]
        lines.append(f"- band-pass {lo:g}–{hi:g} Hz (Butterworth order {pre.get('bandpass_order')}, zero-phase), "
                     f"baseline removal (running median {pre.get('baseline_window_s')} s)")
    if is_mae:
        lines.append(f"- z-score per lead per window (eps {pre.get('zscore_eps', '-')}); mV from the amplitude "
                     "calibration")
    else:
        lines.append("- inputs z-scored jointly per window; outputs in mV")
    lines += [
        "- output resampled back to the input rate; windows stitched with Hann-weighted overlap-add; measured "
        "input leads returned unchanged",
        "",
        "## Intended use",
        "",
        "- research on reduced-lead ECG: 12-lead approximations from one lead (e.g. a watch's lead I) or a few "
        "leads" + (", and lead-agnostic embeddings for downstream models;" if is_mae else ";"),
        "- inputs: surface ECG in mV, any duration >= 0.5 s, any sampling rate >= 50 Hz.",
        "",
        "## Limits",
        "",
        "- **not a medical device**; do not use reconstructed leads to diagnose (e.g. to rule in/out an infarction);",
        f"- trained on one hospital database (PTB-XL) at {fs:g} Hz: content above {fs / 2:g} Hz is not "
        "reconstructed; wearable, paediatric, exercise and pacemaker ECGs are out of distribution;",
        "- reconstructions regress to the mean: their amplitude is under-estimated (see the variance ratio below)"
        + ("; amplitudes come from a population calibration, not from the patient;" if is_mae else ";"),
        "- a single lead cannot determine the heart's electrical axis uniquely; rare morphologies are smoothed out.",
        "",
        f"## Measured on {ev.get('split')}",
        "",
        f"Protocol: {ev.get('protocol', '-')}.",
        "",
        "Produced by:",
        "",
        "```",
        str(ev.get("command")),
        "```",
        "",
    ]
    for key, res in ev["inputs"].items():
        summ = summary_metrics(res)
        records = res.get("n_test_records")
        lines += [
            f"### Inputs {key}: {res.get('n_test_windows')} windows of {res.get('window_samples')} samples "
            f"@ {res.get('fs')} Hz" + (f" from {records} records" if isinstance(records, int) else ""),
            "",
            f"Mean over reconstructed leads: Pearson r **{summ['pearson_r']:.3f}**, RMSE **{summ['rmse']:.3f} mV**, "
            f"R² {summ['r2']:.3f}, variance ratio {summ['var_ratio']:.2f}.",
            "",
            "| lead | Pearson r | RMSE (mV) | R² | bias (mV) | variance ratio |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        inputs = set(res["inputs"])
        for lead, m in res["mV"].items():
            mark = " (input)" if lead in inputs else ""
            lines.append(f"| {lead}{mark} | {m['pearson_r']:.3f} | {m['rmse']:.3f} | {m['r2']:.3f} | "
                         f"{m['bias']:+.3f} | {m['var_ratio']:.2f} |")
        lines.append("")
    if latency:
        lines += [
            "## Speed",
            "",
            f"Measured by `{latency.get('command')}` on {latency.get('machine', '?')} "
            f"(model `{latency.get('model')}`, load average {latency.get('load_average_1min_at_end', '?')}):",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| embed, one 10-s lead, 1 thread | {latency['embed_ms']:.2f} ms |",
            f"| reconstruct 12 leads from lead I (10 s), 1 thread | {latency['reconstruct_ms']:.2f} ms |",
            f"| embed throughput, 2 threads | {latency['embed_throughput_per_s']:.0f} ECGs/s |",
            f"| reconstruct throughput, 2 threads | {latency['reconstruct_throughput_per_s']:.0f} ECGs/s |",
            "",
        ]
    leads_arg = ",".join(pre.get("input_leads", ["I"])) if not is_mae else "I"
    lines += [
        "## Use",
        "",
        "```python",
        "from leadlift import LeadLift",
        "from leadlift.io import read_ecg",
        "",
        f'model = LeadLift.from_pretrained("{name}")',
        f'ecg = read_ecg("recording.csv", fs=500, leads="{leads_arg}")',
        "twelve = model.reconstruct(ecg)   # ECG, 12 leads, input fs, mV",
    ]
    if is_mae:
        lines.append("emb = model.embed(ecg)            # emb.windows [n_windows, D], emb.pooled [D]")
    lines += ["```", ""]
    return "\n".join(lines)


def write_model_card(folder: str | Path, name: str | None = None,
                     latency: dict[str, Any] | str | Path | None = None) -> Path:
    """Write ``MODEL_CARD.md`` next to the checkpoint (atomically) from its measured results.

    Args:
        folder: checkpoint folder whose config holds ``evaluation`` (see :func:`evaluate_checkpoint`).
        name: model name for the title.
        latency: latency results (dict or path of ``inference_latency.json``), optional.
    """
    import json

    from leadlift.atomic import atomic_path

    if isinstance(latency, (str, Path)):
        latency = json.loads(Path(latency).read_text())
    text = model_card_markdown(folder, name=name, latency=latency)
    target = Path(folder) / "MODEL_CARD.md"
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return target


# --------------------------------------------------------------------------------------- bundling
def bundle_checkpoint(folder: str | Path, name: str, dest_root: str | Path | None = None) -> Path:
    """Copy a finished checkpoint into the package (``src/leadlift/weights/<name>/``).

    Copies ``model.safetensors``, ``config.yaml`` and ``MODEL_CARD.md`` (required: run
    :func:`write_model_card` first), then loads the copy with checksum verification. The
    destination is replaced atomically (built next to it, then renamed).
    """
    from leadlift.inference.checkpoint import load_checkpoint
    from leadlift.inference.hub import bundled_weights_dir

    folder = Path(folder)
    if not name or "/" in name or name.startswith("."):
        raise InputError(f"bundle name {name!r} must be a plain folder name such as 'mae-cpu'")
    files = ["model.safetensors", "config.yaml", "MODEL_CARD.md"]
    missing = [f for f in files if not (folder / f).exists()]
    if missing:
        raise DataNotFoundError(f"{folder} lacks {', '.join(missing)}; run `leadlift model-card {folder}` first")
    if not read_config(folder).weights_sha256:
        raise CorruptFileError(f"{folder}/config.yaml has no weights_sha256; re-export the model")
    root = Path(dest_root) if dest_root is not None else bundled_weights_dir()
    root.mkdir(parents=True, exist_ok=True)
    dest = root / name
    tmp = root / f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    old = root / f".{name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        for f in files:
            shutil.copy2(folder / f, tmp / f)
        load_checkpoint(tmp, verify=True, require_checksum=True)
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return dest


def command_line() -> str:
    """The current process's command line (for recording how results were produced)."""
    prog = Path(sys.argv[0]).name if sys.argv else "python"
    return shlex.join([prog, *sys.argv[1:]])
