"""Training the 12-lead superdiagnostic classifier that judges reconstructed ECGs.

Protocol: PTB-XL at 100 Hz (the prepared store, :func:`leadlift.training.recon.load_store`),
every record band-passed and baseline-corrected once (:func:`leadlift.training.recon.preprocessed_records`,
the cache the reconstructors train on); labels are the five diagnostic superclasses
(:func:`leadlift.data.windows.record_labels`, multi-hot), records without any superclass are left
out (the usual superdiagnostic protocol). Folds 1–8 train, fold 9 chooses the epoch (macro AUROC,
early stopping); fold 10 is never loaded here.

Loss: multi-label binary cross-entropy; AdamW with a cosine learning-rate decay; seeded (NumPy
and torch), so a run is reproducible on the same machine. Inputs: one network is trained per
candidate feed — the whole 10-s record (``full``) and random 2.56-s crops whose probabilities are
averaged over crops every 0.64 s at test (``crops``) — with the same seed, and the one with the
better fold-9 macro AUROC is kept (both together take about 3 min on one CPU thread).

The trained classifier is a folder with ``classifier.safetensors`` and the typed
``classifier.yaml`` (:class:`leadlift.models.classifier.ClassifierConfig`, with the SHA256 of
the weights); :func:`leadlift.evaluation.diagnostic.load_classifier` reads it back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import yaml
from pydantic import Field, ValidationError, model_validator
from torch import nn

import leadlift
from leadlift.atomic import atomic_path
from leadlift.config import StrictModel, format_validation_errors
from leadlift.conventions import PTBXL_TEST_FOLDS, PTBXL_TRAIN_FOLDS, PTBXL_VAL_FOLDS, SUPERCLASSES
from leadlift.data.splits import ptbxl_folds
from leadlift.data.windows import record_labels
from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import ConfigError, InputError
from leadlift.inference.checkpoint import file_sha256
from leadlift.models.classifier import (
    CLASSIFIER_CONFIG_FILE,
    CLASSIFIER_WEIGHTS_FILE,
    ClassifierConfig,
    ClassifierInput,
    ClassifierNetSpec,
    ClassifierPreprocessing,
    SuperclassNet,
    predict_records,
)
from leadlift.recon_config import ReconConfig
from leadlift.training.recon import load_store, preprocessed_records

__all__ = [
    "ClassifierTrainConfig",
    "parse_classifier_train_config",
    "save_classifier",
    "train_classifier",
]

log = logging.getLogger("leadlift.classifier")


class ClassifierTrainConfig(StrictModel):
    """Everything a classifier training run needs (defaults: about 3–5 min on 2 CPU cores)."""

    seed: int = 0
    model: ClassifierNetSpec = Field(default_factory=ClassifierNetSpec)
    preprocessing: ClassifierPreprocessing = Field(default_factory=ClassifierPreprocessing)
    input_modes: list[Literal["full", "crops"]] = Field(
        default_factory=lambda: ["full", "crops"],
        description="input feeds trained (same seed); the one with the best fold-9 macro AUROC is kept")
    crop_samples: int = Field(256, gt=0, description="crop length in samples (2.56 s at 100 Hz)")
    crop_hop: int = Field(64, gt=0, description="step between the test crops averaged in crops mode")
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(1e-2, ge=0)
    batch_size: int = Field(32, gt=0)
    max_epochs: int = Field(30, gt=0)
    patience: int = Field(8, gt=0, description="epochs without a better fold-9 macro AUROC before stopping")
    train_folds: list[int] = Field(default_factory=lambda: list(PTBXL_TRAIN_FOLDS))
    val_folds: list[int] = Field(default_factory=lambda: list(PTBXL_VAL_FOLDS))
    max_records_per_part: int | None = Field(None, gt=0, description="smoke tests only: first N records of "
                                                                      "train and of validation")

    @model_validator(mode="after")
    def _check(self) -> ClassifierTrainConfig:
        if set(self.train_folds) & set(self.val_folds):
            raise ValueError("train_folds and val_folds must not share a fold")
        if (set(self.train_folds) | set(self.val_folds)) & set(PTBXL_TEST_FOLDS):
            raise ValueError(f"PTB-XL fold {PTBXL_TEST_FOLDS[0]} is the test fold; never train or select on it")
        if not self.input_modes:
            raise ValueError("input_modes must name at least one of full, crops")
        if not self.train_folds or not self.val_folds:
            raise ValueError("train_folds and val_folds must each name at least one fold")
        p = self.preprocessing
        if p.bandpass_low_hz >= p.bandpass_high_hz:
            raise ValueError("preprocessing.bandpass_low_hz must be below bandpass_high_hz")
        return self


def parse_classifier_train_config(data: dict[str, Any], source: str = "classifier config") -> ClassifierTrainConfig:
    """Validate a config dict (raises :class:`ConfigError` with a one-line message)."""
    try:
        return ClassifierTrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source} is invalid: {format_validation_errors(exc)}") from None


def save_classifier(net: SuperclassNet, config: ClassifierConfig, folder: str | Path) -> Path:
    """Write ``classifier.safetensors`` and ``classifier.yaml`` (with the weights' SHA256) into
    ``folder``, each atomically (weights first, so a config never names missing weights)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(folder / CLASSIFIER_WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
        digest = file_sha256(tmp)
    cfg = config.model_copy(update={"weights_sha256": digest, "leadlift_version": leadlift.__version__})
    with atomic_path(folder / CLASSIFIER_CONFIG_FILE) as tmp:
        tmp.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    return folder


def _auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Validation AUROC of one class (NaN when fold 9 lacks a class); training never imports evaluation."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(bool)
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def _macro(y: np.ndarray, p: np.ndarray) -> tuple[float, list[float]]:
    per = [_auroc(y[:, c], p[:, c]) for c in range(y.shape[1])]
    finite = [v for v in per if np.isfinite(v)]
    return (float(np.mean(finite)) if finite else float("nan")), per


def _batch(x: torch.Tensor, rows: np.ndarray, feed: ClassifierInput, rng: np.random.Generator) -> torch.Tensor:
    """Training inputs ``[B, 12, T']`` (mV): whole records, or one random crop per record."""
    if feed.mode == "full":
        return x[rows]
    t = int(x.shape[-1])
    if t < feed.crop_samples:
        raise InputError(f"records of {t} samples are shorter than input.crop_samples={feed.crop_samples}")
    starts = rng.integers(0, t - feed.crop_samples + 1, size=len(rows))
    idx = torch.as_tensor(starts)[:, None] + torch.arange(feed.crop_samples)[None, :]
    sel = x[rows]  # [B, L, T]
    return torch.gather(sel, 2, idx[:, None, :].expand(-1, sel.shape[1], -1))


def train_classifier(cfg: ClassifierTrainConfig, data_dir: str | Path, out: str | Path,
                     store_dir: str | Path | None = None, say: Callable[[str], None] | None = None,
                     threads: int | None = 1) -> dict[str, Any]:
    """Train the superdiagnostic classifier on PTB-XL folds 1–8, choose the feed and epoch on fold 9, save it.

    Args:
        cfg: the run's settings.
        data_dir: the data directory holding ``ptb-xl/``.
        out: folder for ``classifier.safetensors`` + ``classifier.yaml``.
        store_dir: where the prepared PTB-XL store lives (default ``<data_dir>/leadlift-prepared``).
        say: progress messages (default: the ``leadlift.classifier`` logger).
        threads: torch CPU threads while training (restored afterwards); 1 by default, which on a
            shared 2-core machine is both faster and steadier than competing for both cores;
            None keeps torch's setting.
    Returns:
        The run record of the kept network: ``input_mode``, ``val_macro_auroc``, ``val_auroc`` per
        class, ``best_epoch``, ``epochs``, per-epoch ``history``, ``seconds`` (whole run),
        ``n_train``/``n_val`` records, and every candidate feed's fold-9 result (``candidates``).
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _train(cfg, Path(data_dir), Path(out), Path(store_dir) if store_dir else None, say or log.info)
    finally:
        torch.set_num_threads(previous)


def _train(cfg: ClassifierTrainConfig, data_dir: Path, out: Path, store_dir: Path | None,
           say: Callable[[str], None]) -> dict[str, Any]:
    t0 = time.perf_counter()
    dcfg = cfg.preprocessing.data_config()
    store = load_store("ptbxl", ReconConfig(data=dcfg), data_dir, store_dir)
    parts = ptbxl_folds(store.meta["strat_fold"].to_numpy(), cfg.train_folds, cfg.val_folds, [])
    labels, _ = record_labels(store.meta, "superclass")
    keep = labels.sum(axis=1) > 0  # the superdiagnostic protocol: records with at least one superclass
    rows = {k: v[keep[v]] for k, v in parts.items() if k in ("train", "val")}
    if cfg.max_records_per_part is not None:
        rows = {k: v[: cfg.max_records_per_part] for k, v in rows.items()}
    for name, r in rows.items():
        if len(r) == 0:
            raise InputError(f"no labelled PTB-XL records in the {name} folds; check the data directory")
    records = preprocessed_records(store, ReconConfig(data=dcfg), np.concatenate([rows["train"], rows["val"]]))
    x_tr = torch.from_numpy(np.ascontiguousarray(records[torch.as_tensor(rows["train"])].numpy()))
    x_va = torch.from_numpy(np.ascontiguousarray(records[torch.as_tensor(rows["val"])].numpy()))
    y_tr, y_va = torch.from_numpy(labels[rows["train"]]), labels[rows["val"]]
    say(f"classifier: {len(x_tr)} training (folds {cfg.train_folds}) and {len(x_va)} validation (folds "
        f"{cfg.val_folds}) records, preprocessed in {time.perf_counter() - t0:.1f} s")
    fits = {}
    for mode in cfg.input_modes:
        feed = ClassifierInput(mode=mode, crop_samples=cfg.crop_samples, crop_hop=cfg.crop_hop)
        fits[mode] = _fit(cfg, feed, x_tr, y_tr, x_va, y_va, say)
    chosen = max(fits, key=lambda m: fits[m][1]["val_macro_auroc"])  # ties: the first listed
    net, fit = fits[chosen]
    record = {**fit, "input_mode": chosen, "seconds": round(time.perf_counter() - t0, 1),
              "n_train": len(x_tr), "n_val": len(x_va),
              "candidates": {m: {k: v for k, v in f.items() if k != "history"} for m, (_, f) in fits.items()}}
    settings = cfg.model_dump(mode="json", exclude={"model", "preprocessing"})
    config = ClassifierConfig(
        classes=list(SUPERCLASSES), leads=list(STANDARD_LEADS), model=cfg.model, preprocessing=cfg.preprocessing,
        input=ClassifierInput(mode=chosen, crop_samples=cfg.crop_samples, crop_hop=cfg.crop_hop),
        training={**settings, "data": "PTB-XL records100 (prepared store), records with a superclass",
                  "input_mode_chosen_on_val": record["candidates"], "best_epoch": fit["best_epoch"],
                  "n_train": len(x_tr), "n_val": len(x_va), "seconds": record["seconds"]},
        metrics={"val_macro_auroc": fit["val_macro_auroc"], "val_auroc": fit["val_auroc"]})
    save_classifier(net, config, out)
    say(f"classifier: {chosen} input chosen (fold-9 macro AUROC "
        + ", ".join(f"{m} {f['val_macro_auroc']:.4f}" for m, (_, f) in fits.items())
        + f"); saved to {out} ({record['seconds']} s)")
    return record


def _fit(cfg: ClassifierTrainConfig, feed: ClassifierInput, x_tr: torch.Tensor, y_tr: torch.Tensor,
         x_va: torch.Tensor, y_va: np.ndarray, say: Callable[[str], None]) -> tuple[SuperclassNet, dict[str, Any]]:
    """Train one network with ``feed``; keep the epoch with the best fold-9 macro AUROC."""
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = SuperclassNet.from_spec(cfg.model)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.max_epochs)
    loss_fn = nn.BCEWithLogitsLoss()
    best: tuple[float, int, dict[str, torch.Tensor], list[float]] = (-np.inf, 0, {}, [])
    history: list[dict[str, float]] = []
    for epoch in range(1, cfg.max_epochs + 1):
        te = time.perf_counter()
        net.train()
        order = rng.permutation(len(x_tr))
        total, n_seen = 0.0, 0
        for s in range(0, len(order), cfg.batch_size):
            b = order[s:s + cfg.batch_size]
            if len(b) < 2:  # batch norm needs two samples
                continue
            loss = loss_fn(net(_batch(x_tr, b, feed, rng)), y_tr[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
            n_seen += len(b)
        sched.step()
        macro, per = _macro(y_va, predict_records(net, x_va, feed))
        history.append({"epoch": epoch, "train_loss": round(total / max(n_seen, 1), 5),
                        "val_macro_auroc": round(macro, 5), "seconds": round(time.perf_counter() - te, 1)})
        say(f"classifier ({feed.mode}) epoch {epoch}: train loss {total / max(n_seen, 1):.4f}, fold-9 macro AUROC "
            f"{macro:.4f} ({time.perf_counter() - te:.1f} s)")
        if macro > best[0]:
            best = (macro, epoch, {k: v.detach().clone() for k, v in net.state_dict().items()}, per)
        elif epoch - best[1] >= cfg.patience:
            break
    net.load_state_dict(best[2])
    net.eval()
    return net, {"val_macro_auroc": round(best[0], 5),
                 "val_auroc": dict(zip(SUPERCLASSES, [round(v, 5) for v in best[3]], strict=True)),
                 "best_epoch": best[1], "epochs": len(history), "fit_seconds": round(time.perf_counter() - t0, 1),
                 "history": history}
