"""The one Lightning ``Trainer`` factory of leadlift, used by both papers.

Every trainer gets the same policy: safetensors checkpoint IO (never pickle), the device /
strategy / precision choice (bf16 autocast on GPUs that support it), CSV logs (plus TensorBoard
when installed) under ``log_dir``, and Lightning's start-up noise silenced. Callers add their
own callbacks (checkpoint retention, export, early stopping, history).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from leadlift.errors import InputError
from leadlift.training.checkpoint import SafetensorsCheckpointIO

__all__ = ["make_trainer", "quiet_lightning", "resolve_precision"]


def resolve_precision(precision: str, accelerator: str) -> str:
    """``"auto"`` → bf16 autocast on a GPU that supports it (else fp16 mixed), fp32 on CPU."""
    if precision != "auto":
        return precision
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's start-up banners and the CPU data-loader hints during a fit."""
    names = ["lightning.pytorch", "lightning.fabric", "lightning"]
    old = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*number of training batches.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        warnings.filterwarnings("ignore", category=UserWarning, module="lightning")
        try:
            yield
        finally:
            for n, lvl in old.items():
                logging.getLogger(n).setLevel(lvl)


def make_trainer(
    *,
    max_epochs: int,
    callbacks: list[Callback] | None = None,
    log_dir: str | Path | None = None,
    accelerator: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    precision: str = "auto",
    grad_clip: float | None = None,
    max_time_minutes: float | None = None,
    limit_train_batches: int | float | None = None,
    limit_val_batches: int | float | None = None,
    check_val_every_n_epoch: int | None = 1,
    max_steps: int = -1,
    val_check_interval: int | float | None = None,
    log_every_n_steps: int = 50,
    sanity_val_steps: int | None = None,
    checkpointing: bool = True,
    progress: bool = True,
    use_distributed_sampler: bool = True,
    default_root_dir: str | Path | None = None,
) -> L.Trainer:
    """A ``lightning.Trainer`` with leadlift's policy (see the module docstring).

    Args:
        max_epochs: epochs to train.
        callbacks: the caller's callbacks (a progress bar is added when ``progress``).
        log_dir: folder of the CSV (and TensorBoard) logs; None: no logger.
        accelerator, devices, num_nodes, strategy: Lightning's device choice (``"ddp"`` for
            several processes).
        precision: ``"auto"`` (see :func:`resolve_precision`) or a Lightning precision string.
        grad_clip: gradient-norm clip (None: off).
        max_time_minutes: stop after this wall time (the run still exports and can resume).
        limit_train_batches, limit_val_batches: Lightning's limits (None: all; 0 val: no validation).
        max_steps: stop after this many optimizer steps (-1: by epochs only).
        val_check_interval: validate every N training batches (with ``check_val_every_n_epoch=None``:
            counted across epochs, for step-based schedules).
        checkpointing: False when the caller keeps no Lightning checkpoint at all.
        use_distributed_sampler: False when the data module splits ranks itself.
    """
    if accelerator == "auto" and not torch.cuda.is_available():
        accelerator = "cpu"
    loggers: list[Any] = []
    if log_dir is not None:
        loggers.append(CSVLogger(Path(log_dir), name="csv", version=""))
        if importlib.util.find_spec("tensorboard") is not None:
            loggers.append(TensorBoardLogger(Path(log_dir), name="tensorboard", version=""))
    cbs = list(callbacks or [])
    if progress:
        cbs.append(TQDMProgressBar(refresh_rate=5))
    settings: dict[str, Any] = dict(
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision=resolve_precision(precision, accelerator),
        gradient_clip_val=grad_clip,
        max_time=timedelta(minutes=max_time_minutes) if max_time_minutes else None,
        limit_train_batches=limit_train_batches if limit_train_batches else 1.0,
        limit_val_batches=1.0 if limit_val_batches is None else limit_val_batches,
        check_val_every_n_epoch=check_val_every_n_epoch,
        max_steps=max_steps,
        log_every_n_steps=log_every_n_steps,
        callbacks=cbs,
        logger=loggers or False,
        plugins=[SafetensorsCheckpointIO()],
        enable_checkpointing=checkpointing,
        enable_progress_bar=progress,
        enable_model_summary=False,
        use_distributed_sampler=use_distributed_sampler,
        deterministic=False,
        default_root_dir=str(default_root_dir) if default_root_dir is not None else None,
    )
    if val_check_interval is not None:
        settings["val_check_interval"] = val_check_interval
    if sanity_val_steps is not None:
        settings["num_sanity_val_steps"] = sanity_val_steps
    try:
        return L.Trainer(**settings)
    except (TypeError, ValueError, ImportError, RuntimeError) as exc:  # Lightning's own checks of the settings
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"Lightning rejected the trainer settings (accelerator={accelerator!r}, devices={devices!r}, "
                         f"strategy={strategy!r}, precision={precision!r}): {first}; check --accelerator, "
                         "--devices and --strategy") from None
