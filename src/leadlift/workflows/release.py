"""Turning a trained checkpoint into a shipped model: calibration, fold-10 evaluation, model card,
bundling into the package.

The steps, for an aligned-MAE checkpoint folder ``CKPT`` (``model.safetensors`` + ``config.yaml``)::

    leadlift model-card CKPT --data-dir DATA          # = the three functions below
    calibrate_mae_checkpoint(CKPT, DATA)              # amplitude calibration (folds 1-8) -> config.yaml
    evaluate_checkpoint(CKPT, DATA)                   # fold-10 metrics through the API's path -> config.yaml
    write_model_card(CKPT)                            # MODEL_CARD.md from config.yaml (no typed numbers;
                                                      # rendered by leadlift.inference.model_card)
    bundle_checkpoint(CKPT, "mae-cpu")                # copy into src/leadlift/weights/mae-cpu/

``config.yaml`` is typed (:class:`leadlift.inference.checkpoint.CheckpointConfig`), always
rewritten atomically and keeps ``weights_sha256``, so the weights stay verifiable.
Every number in a model card is read from ``config["evaluation"]`` (written by
:func:`evaluate_checkpoint` together with the command that produced it) or measured from the
files; none is typed by hand.

``config["evaluation"]`` schema (also what a reconstructor's own evaluation should write)::

    split: "PTB-XL strat_fold 10 (test)"
    command: "leadlift model-card ..."   # as rerunnable anywhere: --data-dir "$LEADLIFT_DATA", no cache paths
    train_folds: [1, ..., 8]
    train_records: 1496                # records of the train folds in the prepared store (training-set size)
    store_records: 1997                # records of the store (the data folder's PTB-XL subset)
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

from leadlift.conventions import PTBXL_TEST_FOLDS, PTBXL_TRAIN_FOLDS
from leadlift.ecg import parse_leads
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError
from leadlift.inference.calibration import CALIBRATION_INPUT_SETS
from leadlift.inference.checkpoint import calibration_key, read_config, update_config
from leadlift.inference.model_card import model_card_markdown, reproducible_command, summary_metrics
from leadlift.training.calibrate import calibrate_mae_checkpoint

__all__ = [
    "CALIBRATION_INPUT_SETS",
    "DEFAULT_EVAL_INPUTS",
    "attach_benchmarks",
    "bundle_checkpoint",
    "calibrate_mae_checkpoint",
    "evaluate_checkpoint",
    "model_card_markdown",
    "read_config",
    "reproducible_command",
    "summary_metrics",
    "update_config",
    "write_model_card",
]

DEFAULT_EVAL_INPUTS: tuple[tuple[str, ...], ...] = (("I",), ("I", "II", "V2"))
"""Input sets evaluated for an MAE's model card: a watch (lead I) and a patch (I, II, V2). A
reconstructor is evaluated on its own input set, the any-subset reconstructor on the seven core
subsets (:data:`leadlift.models.anysubset.CORE_SUBSETS`)."""


def _ptbxl_store(fs: float, data_dir: str | Path, store_dir: str | Path | None) -> Any:
    from leadlift.data.store import prepare

    return prepare("ptbxl", float(fs), data_dir, store_dir=store_dir, progress=False)


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
    from leadlift.inference.backends import AnySubsetBackend, load_backend
    from leadlift.models.anysubset import CORE_SUBSETS

    t0 = time.perf_counter()
    backend = load_backend(folder)
    cfg = backend.config
    if input_sets is None:
        if isinstance(backend, AnySubsetBackend):
            input_sets = tuple(tuple(s.split(",")) for s in CORE_SUBSETS)
        else:
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
    data = cfg.training.get("data", {})
    train_folds = list(data.get("train_folds", PTBXL_TRAIN_FOLDS))
    n_train = len(ptbxl_folds(store.meta["strat_fold"], train=tuple(train_folds), val=(), test=())["train"])
    if data.get("max_records_per_part") is not None:  # the reconstructor's training cut its parts short
        n_train = min(n_train, int(data["max_records_per_part"]))
    entry = {
        "split": f"PTB-XL strat_fold {','.join(map(str, test_folds))} (test)",
        "train_folds": train_folds,
        "train_records": n_train,
        "store_records": len(store.meta),
        "protocol": "every test record reconstructed through LeadLift.reconstruct's path (leadlift.inference."
                    "pipeline); scored on non-overlapping model windows against the truth with the model's input "
                    f"cleaning ({cleaning}); Pearson r per window, averaged; RMSE in mV over all samples; "
                    "means over the reconstructed leads (not inputs, not limb leads derived exactly from I and II)",
        "command": reproducible_command(command or default_command(folder, data_dir, input_sets)),
        "seconds": round(time.perf_counter() - t0, 1),
        "date": time.strftime("%Y-%m-%d"),
        "inputs": results,
    }
    update_config(folder, {"evaluation": entry})
    return entry


# --------------------------------------------------------------------------------------- model card
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


def attach_benchmarks(folder: str | Path, anysubset: str | Path | None = None,
                      diagnostic: str | Path | None = None) -> dict[str, Any]:
    """Copy benchmark summaries measured on this checkpoint into its ``evaluation`` (so the model
    card, rendered from ``config.yaml`` only, shows them with their commands).

    Args:
        anysubset: ``benchmarks/results/anysubset.json`` (per-subset RMSE vs same-run FIR and
            specialists, interval coverage, zero-shot).
        diagnostic: ``benchmarks/results/diagnostic_fidelity.json`` (classifier AUROC on real vs
            reconstructed ECGs, Brugada check).
    Returns:
        The updated ``evaluation`` entry.
    """
    import json

    cfg = read_config(folder)
    if cfg.evaluation is None:
        raise InputError(f"{folder}: evaluate the checkpoint first (`leadlift model-card {folder}`)")
    ev = cfg.evaluation.model_dump(mode="json")
    for key, path in (("subsets_benchmark", anysubset), ("diagnostic_fidelity", diagnostic)):
        if path is not None:
            p = Path(path)
            if not p.exists():
                raise DataNotFoundError(f"{p} does not exist; run the benchmark that writes it first")
            data = json.loads(p.read_text())
            if "command" in data:
                data["command"] = reproducible_command(str(data["command"]))
            ev[key] = data
    update_config(folder, {"evaluation": ev})
    return ev


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
