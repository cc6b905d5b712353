"""Lightning training of the reconstruction models (paper 2).

* :class:`SupConModule` — stage A: the pathology-aware encoder with the supervised contrastive
  loss on two augmented views (AdamW, fixed number of epochs as in the paper).
* :class:`ReconModule` — stage B and the neural baselines: any :class:`~leadlift.models.recon.ReconNet`
  trained with ``0.8·MSE + 0.2·L1`` on the learned leads **in mV**, AdamW, ReduceLROnPlateau on the
  validation MSE, early stopping on the validation MSE, and the best-validation weights restored
  at the end (the best weights are written by
  :class:`~leadlift.training.checkpoint.SafetensorsCheckpointIO`, never pickle).

:func:`fit_supcon` and :func:`fit_reconstructor` fit them with the shared trainer factory
(:func:`leadlift.training.trainer.make_trainer`) on a
:class:`~leadlift.training.recon_data.ReconDataModule`; used by :mod:`leadlift.training.recon`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from torch import Tensor

from leadlift.losses import mse_l1_loss, supervised_contrastive_loss
from leadlift.models.recon import PathologyEncoder, ReconNet
from leadlift.recon_config import ReconTrainConfig, ReconTrainerConfig, SupConConfig
from leadlift.training.checkpoint import SafetensorsCheckpointIO
from leadlift.training.trainer import make_trainer, quiet_lightning

__all__ = ["ReconModule", "SupConModule", "fit_reconstructor", "fit_supcon"]


class SupConModule(L.LightningModule):
    """SupCon training of a :class:`PathologyEncoder`.

    Batches: ``{"views": [2B, C, T]`` (view 1 then view 2, jointly z-scored), ``"labels"``:
    ``[B]`` class ids or ``[B, n_classes]`` multi-hot}. Logs ``train/supcon`` per epoch.
    """

    def __init__(self, encoder: PathologyEncoder, cfg: SupConConfig, compile: bool = False) -> None:
        super().__init__()
        self.encoder, self.cfg = encoder, cfg
        object.__setattr__(self, "_forward", _compiled(encoder) if compile else encoder)  # not a submodule

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        views, labels = batch["views"], batch["labels"]
        _, z = self._forward(views)
        both = labels.repeat(2) if labels.dim() == 1 else labels.repeat(2, 1)
        loss = supervised_contrastive_loss(z.float(), both, temperature=self.cfg.temperature)
        self.log("train/supcon", loss.detach(), on_step=False, on_epoch=True, batch_size=labels.shape[0],
                 sync_dist=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.encoder.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)


class ReconModule(L.LightningModule):
    """Training of a :class:`ReconNet` on the learned leads in mV.

    Batches: ``{"x": [B, n_inputs, T]`` mV, ``"y": [B, n_learned, T]`` mV, optional ``"h"``
    ``[B, E]`` precomputed embeddings}. Logs ``train/loss`` and, per validation epoch,
    ``val/mse`` (mV², the early-stopping and LR-plateau criterion), ``val/loss`` and ``lr``.
    The encoder inside the net (if any) is frozen.
    """

    def __init__(self, net: ReconNet, cfg: ReconTrainConfig, compile: bool = False) -> None:
        super().__init__()
        self.net, self.cfg = net, cfg
        if net.encoder is not None:
            net.encoder.requires_grad_(False)
        object.__setattr__(self, "_forward", _compiled(net) if compile else net)  # not a submodule

    def _pred(self, batch: dict[str, Tensor], train: bool = False) -> Tensor:
        return (self._forward if train else self.net)(batch["x"], batch.get("h")).float()

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        pred = self._pred(batch, train=True)
        loss = mse_l1_loss(pred, batch["y"], self.cfg.mse_weight, self.cfg.l1_weight)
        self.log("train/loss", loss.detach(), on_step=False, on_epoch=True, batch_size=pred.shape[0],
                 sync_dist=True)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        pred = self._pred(batch)
        y = batch["y"]
        n = pred.shape[0]
        # sync_dist: every DDP rank sees the same val/mse, so early stopping, the LR plateau and the
        # best-weights choice agree across ranks
        self.log("val/mse", torch.nn.functional.mse_loss(pred, y), on_epoch=True, batch_size=n, sync_dist=True)
        self.log("val/loss", mse_l1_loss(pred, y, self.cfg.mse_weight, self.cfg.l1_weight), on_epoch=True,
                 batch_size=n, sync_dist=True)

    def on_train_epoch_start(self) -> None:
        if self.net.encoder is not None:
            self.net.encoder.eval()  # frozen: keep its batch-norm statistics

    def configure_optimizers(self) -> dict[str, Any]:
        params = [p for p in self.net.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=self.cfg.plateau_factor,
                                                           patience=self.cfg.plateau_patience,
                                                           min_lr=self.cfg.min_lr)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val/mse", "interval": "epoch"}}


def _compiled(module: torch.nn.Module) -> Any:
    """``torch.compile(module)`` kept out of the module tree (the state dict keeps its plain keys)."""
    return torch.compile(module)


class _History(Callback):
    """Per-epoch metrics and wall time, kept in memory for the results file."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []
        self._t0 = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        row = {k: round(float(v), 6) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        row["epoch"] = int(trainer.current_epoch)
        row["seconds"] = round(time.perf_counter() - self._t0, 2)
        row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.epochs.append(row)


class _BestWeights(Callback):
    """Keeps the weights of the best validation epoch (lowest ``monitor``): in memory on every DDP
    rank (all ranks see the same synced metric, so they keep the same epoch) and, from rank 0, in
    ``path`` with :class:`SafetensorsCheckpointIO` (no pickle); :meth:`restore` loads them back."""

    def __init__(self, path: Path, monitor: str = "val/mse") -> None:
        self.path, self.monitor = Path(path), monitor
        self.best = float("inf")
        self.best_epoch = -1
        self.io = SafetensorsCheckpointIO()
        self._state: dict[str, Tensor] | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        score = float(trainer.callback_metrics[self.monitor])
        if score < self.best:
            self.best, self.best_epoch = score, int(trainer.current_epoch)
            self._state = {k: v.detach().to("cpu", copy=True) for k, v in pl_module.state_dict().items()}
            if trainer.is_global_zero:
                self.io.save_checkpoint({"state_dict": self._state, "epoch": self.best_epoch, self.monitor: score},
                                        self.path)

    def restore(self, pl_module: L.LightningModule) -> bool:
        if self._state is None:
            return False
        pl_module.load_state_dict(self._state)
        return True


def fit_supcon(encoder: PathologyEncoder, data: L.LightningDataModule, cfg: SupConConfig,
               max_epochs: int | None = None, seed: int = 0, progress: bool = False,
               log_dir: str | Path | None = None, trainer_cfg: ReconTrainerConfig | None = None) -> dict[str, Any]:
    """Train ``encoder`` in place with SupCon for ``max_epochs`` (default ``cfg.max_epochs``) on the
    batches of ``data`` (a :class:`~leadlift.training.recon_data.ReconDataModule`); CSV logs under
    ``log_dir`` when given.

    Returns:
        ``{"epochs", "seconds", "history": [per-epoch metrics], "final_loss"}``.
    """
    L.seed_everything(seed, workers=True, verbose=False)
    hist = _History()
    epochs = int(max_epochs or cfg.max_epochs)
    with quiet_lightning():
        tc = trainer_cfg or ReconTrainerConfig()
        trainer = make_trainer(max_epochs=epochs, callbacks=[hist], log_dir=log_dir, grad_clip=cfg.grad_clip,
                               limit_val_batches=0, checkpointing=False, progress=progress, sanity_val_steps=0,
                               use_distributed_sampler=False, **_devices(tc))
        t0 = time.perf_counter()
        trainer.fit(SupConModule(encoder, cfg, compile=tc.compile), datamodule=data)
    encoder.eval()
    final = hist.epochs[-1].get("train/supcon", float("nan")) if hist.epochs else float("nan")
    return {"epochs": len(hist.epochs), "seconds": round(time.perf_counter() - t0, 1), "history": hist.epochs,
            "final_loss": final, "global_rank": int(trainer.global_rank), "world_size": int(trainer.world_size)}


def _devices(tc: ReconTrainerConfig) -> dict[str, Any]:
    return {"accelerator": tc.accelerator, "devices": tc.devices, "num_nodes": tc.num_nodes,
            "strategy": tc.strategy, "precision": tc.precision}


def fit_reconstructor(net: ReconNet, data: L.LightningDataModule, cfg: ReconTrainConfig,
                      workdir: str | Path, max_epochs: int | None = None, seed: int = 0,
                      progress: bool = False, log_dir: str | Path | None = None,
                      trainer_cfg: ReconTrainerConfig | None = None) -> dict[str, Any]:
    """Train ``net`` in place on ``data`` (a :class:`~leadlift.training.recon_data.ReconDataModule`
    with validation); early stopping on ``val/mse``; the weights of the best validation epoch are
    restored at the end (rank 0 also writes them to ``workdir/best.safetensors``).

    Args:
        workdir: folder of the training checkpoint (``best.safetensors``, the only one kept).
        log_dir: folder of the CSV logs (``csv/metrics.csv``; default ``workdir/logs``).
        max_epochs: default ``cfg.max_epochs``.
    Returns:
        ``{"epochs", "best_epoch", "best_val_mse" (mV²), "seconds", "history", "stopped_early"}``.
    """
    L.seed_everything(seed, workers=True, verbose=False)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    hist = _History()
    best = _BestWeights(workdir / "best.safetensors")
    stop = EarlyStopping(monitor="val/mse", mode="min", patience=cfg.early_stop_patience)
    epochs = int(max_epochs or cfg.max_epochs)
    tc = trainer_cfg or ReconTrainerConfig()
    module = ReconModule(net, cfg, compile=tc.compile)
    with quiet_lightning():
        trainer = make_trainer(max_epochs=epochs, callbacks=[hist, best, stop],
                               log_dir=workdir / "logs" if log_dir is None else log_dir,
                               grad_clip=cfg.grad_clip, limit_train_batches=cfg.limit_train_batches,
                               checkpointing=False, progress=progress, sanity_val_steps=0,
                               use_distributed_sampler=False, default_root_dir=workdir, **_devices(tc))
        t0 = time.perf_counter()
        trainer.fit(module, datamodule=data)
    seconds = round(time.perf_counter() - t0, 1)
    best.restore(module)
    net.eval()
    return {"epochs": len(hist.epochs), "best_epoch": best.best_epoch,
            "best_val_mse": best.best if math.isfinite(best.best) else float("nan"),
            "seconds": seconds, "history": hist.epochs, "stopped_early": bool(stop.stopped_epoch > 0),
            "global_rank": int(trainer.global_rank), "world_size": int(trainer.world_size)}
