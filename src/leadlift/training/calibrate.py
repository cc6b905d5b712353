"""Amplitude calibration of an aligned per-lead MAE checkpoint, fitted on PTB-XL training folds.

Part of training: :func:`leadlift.training.pretrain.pretrain` calls it on its export, so every
pretrained checkpoint outputs mV; ``leadlift calibrate`` (and the release workflow) run it on
older checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leadlift.conventions import PTBXL_TEST_FOLDS, PTBXL_TRAIN_FOLDS
from leadlift.data.splits import ptbxl_folds
from leadlift.data.store import prepare, record_windows
from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.inference.calibration import CALIBRATION_INPUT_SETS, fit_calibration, mae_predictor
from leadlift.inference.checkpoint import read_config, update_config

__all__ = ["calibrate_mae_checkpoint"]


def calibrate_mae_checkpoint(folder: str | Path, data_dir: str | Path, store_dir: str | Path | None = None,
                             train_folds: Sequence[int] = PTBXL_TRAIN_FOLDS,
                             input_sets: Sequence[Sequence[str]] = CALIBRATION_INPUT_SETS) -> dict[str, Any]:
    """Fit the MAE's amplitude calibration on PTB-XL training folds and store it in ``config.yaml``.

    The MAE works on per-window z-scored signals; to output mV, a reconstructed lead k is scaled
    by ``ratio_k × (mean std of the input leads in the window)`` and shifted by ``mean_k``
    (:func:`leadlift.inference.calibration.fit_calibration`: medians over all non-overlapping
    model windows of the training folds' records). One ``ratio`` vector is stored per input set
    of :data:`CALIBRATION_INPUT_SETS`, plus the median per-lead window std (``lead_std``, mV)
    used for other input sets. A checkpoint trained to decode every lead (``loss.cross_decode``)
    is calibrated on its own predictions of those windows (see ``fit_calibration``'s ``predict``).

    Args:
        folder: the checkpoint folder (rewritten atomically; ``weights_sha256`` kept).
        data_dir: data directory holding ``ptb-xl/``.
        store_dir: prepared-store folder (default ``DATA/leadlift-prepared``).
        train_folds: PTB-XL ``strat_fold`` values to fit on (never the test fold).
        input_sets: input-lead sets to calibrate.
    Returns:
        The ``calibration`` entry written to the config.
    """
    from leadlift.inference.backends import decoding_views, load_network

    cfg = read_config(folder)
    if cfg.kind != "mae":
        raise InputError(f"{folder}: calibration applies to aligned-MAE checkpoints (format leadlift-mae/*), "
                         f"not {cfg.format!r}")
    if set(train_folds) & set(PTBXL_TEST_FOLDS):
        raise InputError("train_folds must not include fold 10 (the test fold)")
    store = prepare("ptbxl", float(cfg.preprocessing.fs), data_dir, store_dir=store_dir, progress=False)
    if list(store.leads) != list(STANDARD_LEADS):
        raise InputError("the PTB-XL store must hold the 12 standard leads")
    idx = ptbxl_folds(store.meta["strat_fold"], train=tuple(train_folds), val=(), test=())["train"]
    windows = record_windows(store, idx, int(cfg.preprocessing.window_samples))
    predict = None
    if decoding_views(cfg) == 1:  # trained to decode every lead: fitted on its own predictions
        model, _ = load_network(folder)
        predict = mae_predictor(model.eval(), n_views=1)
    cal = fit_calibration(windows, data=f"PTB-XL strat_fold {','.join(map(str, train_folds))}, {len(idx)} records, "
                                        f"{len(windows)} windows of {windows.shape[-1]} samples @ {store.fs:g} Hz",
                          input_sets=input_sets, predict=predict)
    entry = cal.model_dump(mode="json")
    update_config(folder, {"calibration": entry})
    return entry
