"""Run a pretraining experiment: config → Lightning Trainer → checkpoints + exported model.

Output folder layout (``--out DIR``)::

    DIR/config.yaml, DIR/model.safetensors   # the exported model (inference checkpoint)
    DIR/checkpoints/last.safetensors         # full training state of the latest epoch (resume), no pickle
    DIR/checkpoints/best.safetensors         # full training state of the lowest val_loss so far
    DIR/checkpoints/epoch=E.safetensors      # only with trainer.keep_every_n_epochs: N (every N-th epoch)
    DIR/logs/csv/metrics.csv                 # every loss term, curriculum weights, lr
    DIR/logs/tensorboard/                    # if tensorboard is installed
    DIR/ranks/rank-R.json                    # per-rank weight checksum (DDP sanity check)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

import leadlift
from leadlift.atomic import remove_stale_temps
from leadlift.config import PretrainConfig, config_to_dict
from leadlift.errors import InputError
from leadlift.inference.checkpoint import export_model
from leadlift.training.checkpoint import read_state_skeleton, weights_digest
from leadlift.training.data import PretrainDataModule
from leadlift.training.mae_module import MAEPretrainModule, build_model
from leadlift.training.trainer import make_trainer


class SafetensorsModelCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose files end in ``.safetensors`` (they are written by
    :class:`~leadlift.training.checkpoint.SafetensorsCheckpointIO`). The file name pattern is part
    of the state key, so several of them (last, best, every N epochs) can run side by side."""

    FILE_EXTENSION = ".safetensors"

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor, mode=self.mode, filename=self.filename,
                                        every_n_train_steps=self._every_n_train_steps,
                                        every_n_epochs=self._every_n_epochs,
                                        train_time_interval=self._train_time_interval)


MONITOR = "val_loss"
"""Metric that picks ``best.safetensors`` (total validation loss, logged by
:class:`~leadlift.training.mae_module.MAEPretrainModule`; lower is better)."""


def checkpoint_callbacks(ckpt_dir: Path, cfg: PretrainConfig) -> dict[str, SafetensorsModelCheckpoint]:
    """The training-state checkpoints kept in ``ckpt_dir``, by role.

    * ``last``: ``last.safetensors``, overwritten at the end of every training epoch (resume);
    * ``best``: ``best.safetensors``, the epoch with the lowest :data:`MONITOR` (only when
      validation runs);
    * ``every``: ``epoch=E.safetensors`` every ``trainer.keep_every_n_epochs`` epochs (only when set).

    Each file holds weights and optimizer state (tens of MB), so nothing else is kept by default.
    """
    tc = cfg.trainer
    common: dict[str, Any] = {"dirpath": ckpt_dir, "auto_insert_metric_name": False, "enable_version_counter": False}
    callbacks = {"last": SafetensorsModelCheckpoint(filename="last", monitor=None, save_top_k=1, every_n_epochs=1,
                                                    save_on_train_epoch_end=True, **common)}
    if tc.limit_val_batches != 0:
        callbacks["best"] = SafetensorsModelCheckpoint(filename="best", monitor=MONITOR, mode="min", save_top_k=1,
                                                       **common)
    if tc.keep_every_n_epochs:
        callbacks["every"] = SafetensorsModelCheckpoint(filename="epoch={epoch}", monitor=None, save_top_k=-1,
                                                        every_n_epochs=tc.keep_every_n_epochs,
                                                        save_on_train_epoch_end=True, **common)
    return callbacks


class ExportCallback(Callback):
    """Exports ``model.safetensors`` + ``config.yaml`` after every validation and at the end
    (rank 0 only), and writes every rank's weight checksum at the end of training."""

    def __init__(self, out: Path, cfg: PretrainConfig) -> None:
        self.out, self.cfg = out, cfg
        self.t0 = time.perf_counter()
        self.epoch_times: list[float] = []
        self._epoch_start = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch_times.append(time.perf_counter() - self._epoch_start)

    def _export(self, trainer: L.Trainer, pl_module: MAEPretrainModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        config = {
            "format": "leadlift-mae/1",
            "model": {"class": type(pl_module.model).__name__, "kwargs": pl_module.model.get_config()},
            "preprocessing": self.cfg.preprocessing(),
            "training": config_to_dict(self.cfg),
            "epoch": int(trainer.current_epoch),
            "global_step": int(trainer.global_step),
            "metrics": metrics,
            "epoch_seconds": [round(t, 2) for t in self.epoch_times],
            "n_parameters": sum(p.numel() for p in pl_module.model.parameters()),
            "leadlift_version": leadlift.__version__,
        }
        export_model(pl_module.model, config, self.out)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._export(trainer, pl_module)  # type: ignore[arg-type]

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._export(trainer, pl_module)  # type: ignore[arg-type]
        ranks = self.out / "ranks"
        ranks.mkdir(parents=True, exist_ok=True)
        (ranks / f"rank-{trainer.global_rank}.json").write_text(json.dumps({
            "rank": trainer.global_rank, "world_size": trainer.world_size,
            "global_step": trainer.global_step, "weights_sha256": weights_digest(pl_module.model),
        }))


def _check_resumable(last: Path, cfg: PretrainConfig) -> None:
    """Refuse, in one line, to resume a state trained with another network or data shape, or one
    that went past ``max_epochs`` (Lightning fails on a size mismatch; a lower ``max_epochs`` than the
    state's epochs would silently do nothing)."""
    state = read_state_skeleton(last)
    saved = ((state.get("hyper_parameters") or {}).get("config") or {})
    now = config_to_dict(cfg)
    keys = [f"model.{k}" for k in sorted(set(saved.get("model", {})) | set(now["model"]))
            if saved.get("model", {}).get(k) != now["model"].get(k)]
    keys += [f"data.{k}" for k in ("fs", "window_s", "leads") if saved.get("data", {}).get(k) != now["data"].get(k)]
    if saved and keys:
        diff = ", ".join(f"{k} {_get(saved, k)!r} -> {_get(now, k)!r}" for k in keys[:4])
        raise InputError(f"{last} was trained with another network ({diff}); pass --no-resume to start over "
                         "or another --out")
    done = int(state.get("epoch", -1)) + 1
    if done > cfg.trainer.max_epochs:
        raise InputError(f"{last} has already trained {done} epoch(s) and --max-epochs is {cfg.trainer.max_epochs}; "
                         "pass a larger --max-epochs to train on, or --no-resume to start over")


def _get(d: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        d = d.get(part, {}) if isinstance(d, dict) else {}
    return d if d != {} else None


def pretrain(
    cfg: PretrainConfig,
    data_dir: str | Path,
    out: str | Path,
    resume: bool = True,
    store_dir: str | Path | None = None,
    progress: bool = True,
    extra_callbacks: list[Callback] | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` on the prepared store of ``data_dir`` and write everything under ``out``.

    Resumes from ``out/checkpoints/last.safetensors`` when it exists and ``resume`` is True. Keeps
    only the ``last`` and ``best`` training states (plus every ``trainer.keep_every_n_epochs``-th
    epoch when set; see :func:`checkpoint_callbacks`).

    Returns:
        A summary: output folder, epochs, steps, final metrics, seconds per epoch, the best
        checkpoint (``best_checkpoint``, ``best_val_loss``; ``None`` without validation).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    tc = cfg.trainer
    accelerator = tc.accelerator
    ckpt_dir = out / "checkpoints"
    for folder in (ckpt_dir, out):  # half-written states and exports of a killed run
        remove_stale_temps(folder)
    checkpoints = checkpoint_callbacks(ckpt_dir, cfg)
    export = ExportCallback(out, cfg)
    trainer = make_trainer(
        max_epochs=tc.max_epochs,
        callbacks=[*checkpoints.values(), export, *(extra_callbacks or [])],
        log_dir=out / "logs",
        accelerator=accelerator,
        devices=tc.devices,
        num_nodes=tc.num_nodes,
        strategy=tc.strategy,
        precision=tc.precision,
        grad_clip=cfg.optim.grad_clip,
        max_time_minutes=tc.max_time_minutes,
        limit_train_batches=tc.limit_train_batches,
        limit_val_batches=tc.limit_val_batches,
        check_val_every_n_epoch=tc.check_val_every_n_epoch,
        log_every_n_steps=tc.log_every_n_steps,
        progress=progress,
        use_distributed_sampler=False,  # SeededSampler splits ranks itself
        default_root_dir=out,
    )
    module = MAEPretrainModule(build_model(cfg), config_to_dict(cfg))
    data = PretrainDataModule(cfg.data, data_dir, cfg.seed, store_dir=store_dir, two_crops=cfg.loss.corrected)
    last = ckpt_dir / "last.safetensors"
    resumed_from = str(last) if resume and last.exists() else None
    if resumed_from is not None:
        _check_resumable(last, cfg)
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=data, ckpt_path=resumed_from)
    calibration = None
    if trainer.is_global_zero and _calibratable(module.model):
        # the amplitude calibration is part of the checkpoint: every pretrained bank outputs mV
        from leadlift.training.calibrate import calibrate_mae_checkpoint

        calibration = calibrate_mae_checkpoint(out, data_dir, store_dir=store_dir, train_folds=cfg.data.train_folds)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    best = checkpoints.get("best")
    best_path = best.best_model_path if best is not None and best.best_model_path else None
    best_score = float(best.best_model_score) if best is not None and best.best_model_score is not None else None
    return {
        "out": str(out),
        "epochs": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
        "seconds": round(time.perf_counter() - t0, 1),
        "epoch_seconds": [round(t, 1) for t in export.epoch_times],
        "metrics": metrics,
        "resumed_from": resumed_from,
        "best_checkpoint": best_path,
        "best_val_loss": best_score,
        "is_global_zero": bool(trainer.is_global_zero),
        "calibrated": calibration is not None,
    }


def _calibratable(model: Any) -> bool:
    """A per-lead bank of the 12 standard leads (the calibration maps every lead to every lead)."""
    from leadlift.ecg import STANDARD_LEADS
    from leadlift.models import LeadBankMAE

    return isinstance(model, LeadBankMAE) and tuple(model.leads) == tuple(STANDARD_LEADS)
