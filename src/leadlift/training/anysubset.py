"""Training of the any-subset reconstructor (``leadlift train-recon --method anysubset``).

Three stages, all on PTB-XL folds 1–8 (train) and 9 (validation); fold 10 is never read here:

1. **SupCon encoder on random subsets.** Two augmented views of each window, each with its own
   random input subset, go through a :class:`~leadlift.models.recon.PathologyEncoder` over
   ``[z·mask, mask]`` (24 channels); windows sharing a diagnostic-superclass set are positives. The
   embedding thus carries pathology whatever leads are present. Then it is frozen.
2. **Reconstruction with a spread.** Every training window gets an input subset: a named one
   (:data:`~leadlift.models.anysubset.TRAINING_SUBSETS`, share ``p_named``; the core subsets weighted
   by ``core_weight``) or a random one of
   1..``max_random_leads`` leads. Loss: ``mse_weight·MSE + l1_weight·L1`` (mV) over the basis
   leads the subset does not determine, plus ``nll_weight`` × the Gaussian negative log-likelihood
   of the spread head (in units of the inputs' std, the mean detached). AdamW with cosine decay
   over ``anysubset.steps``; the weights of the best validation MSE (fold 9, the core subsets
   assigned round-robin to windows) are kept.
3. **Spread calibration on fold 9.** For each named subset and learned lead, the factor that makes
   ``mean ± z·factor·sd`` cover the nominal share (``anysubset.interval``, 90 %) of validation
   samples; a per-lead factor fitted on random subsets serves subsets without their own.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_only
from scipy.stats import norm
from torch import Tensor
from torch.utils.data import Dataset

import leadlift
from leadlift.data.windows import WindowIndex, gather_windows, window_chunks
from leadlift.ecg import LIMB_LEADS, STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.inference.checkpoint import export_model
from leadlift.models.anysubset import (
    BASIS_LEADS,
    CORE_SUBSETS,
    TRAINING_SUBSETS,
    AnySubsetNet,
    masked_zscore,
    presence_mask,
    subset_key,
)
from leadlift.models.recon import LeadPlan, PathologyEncoder
from leadlift.recon_config import ReconConfig
from leadlift.training.recon import setup, windows_with_qc
from leadlift.training.recon_data import (
    ClassBalancedBatchSampler,
    ReconDataModule,
    ViewAugmenter,
)
from leadlift.training.recon_module import _BestWeights, _devices, _History, fit_supcon
from leadlift.training.trainer import make_trainer, quiet_lightning

__all__ = ["AnySubsetModule", "SubsetSampler", "calibrate_spread", "fit_anysubset_net", "train_anysubset",
           "train_masked_encoder"]

log = logging.getLogger("leadlift.recon")

_BASIS_IDX = [STANDARD_LEADS.index(n) for n in BASIS_LEADS]


def _silent(_message: str) -> None:
    return None


def target_weights(mask: Tensor) -> Tensor:
    """``[B, 8]`` 1 for basis leads a subset does not determine: not measured, and for I/II not
    exactly derivable from two independent measured limb leads."""
    m = mask[:, _BASIS_IDX]
    w = 1.0 - m
    limb = mask[:, [STANDARD_LEADS.index(n) for n in LIMB_LEADS]]
    # two measured limb leads always span the limb plane except the pairs that are collinear: none are
    # among the six (every pair of distinct limb leads is independent), so >= 2 limb leads fixes I and II
    exact = (limb.sum(dim=1) >= 2).to(w.dtype)
    w[:, 0] = w[:, 0] * (1 - exact)
    w[:, 1] = w[:, 1] * (1 - exact)
    return w


class SubsetSampler:
    """Draws input-subset masks ``[B, 12]``: a named subset with probability ``p_named``, else a
    random subset of 1..``max_random`` leads (never all 12)."""

    def __init__(self, subsets: Sequence[str], p_named: float, max_random: int, seed: int = 0,
                 weights: Sequence[float] | None = None) -> None:
        if not subsets and p_named > 0:
            raise InputError("no named subsets to draw from; list some or set p_named to 0")
        self.named = torch.from_numpy(np.stack([presence_mask(s) for s in subsets])) if subsets else None
        w = torch.ones(len(subsets)) if weights is None else torch.as_tensor(list(weights), dtype=torch.float64)
        if len(w) != len(subsets) or bool((w <= 0).any()):
            raise InputError("subset weights need one positive value per named subset")
        self.weights = w.double()
        self.p_named, self.max_random = float(p_named), int(max_random)
        self.gen = torch.Generator().manual_seed(int(seed))

    def __call__(self, b: int) -> Tensor:
        n = len(STANDARD_LEADS)
        k = torch.randint(1, self.max_random + 1, (b,), generator=self.gen)
        ranks = torch.rand((b, n), generator=self.gen).argsort(dim=1).argsort(dim=1)
        masks = (ranks < k[:, None]).float()
        if self.named is not None and self.p_named > 0:
            use = torch.rand(b, generator=self.gen) < self.p_named
            if bool((self.weights == self.weights[0]).all()):  # uniform (the draw of the first bundled model)
                pick = torch.randint(0, len(self.named), (b,), generator=self.gen)
            else:
                pick = torch.multinomial(self.weights, b, replacement=True, generator=self.gen)
            masks[use] = self.named[pick[use]]
        return masks


class AnySubsetBatches(Dataset):
    """``dataset[window_ids]`` → ``{"x": [B, 12, T] mV}`` (+ ``"mask"`` ``[B, 12]`` when fixed masks are given)."""

    def __init__(self, records: Tensor, index: WindowIndex, window: int, masks: Tensor | None = None) -> None:
        self.records, self.index, self.window, self.masks = records, index, int(window), masks
        if masks is not None and len(masks) != len(index):
            raise InputError(f"{len(masks)} masks for {len(index)} windows")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, ids: Sequence[int]) -> dict[str, Tensor]:
        ids = np.asarray(ids, dtype=np.int64)
        item = {"x": gather_windows(self.records, self.index.subset(ids), self.window)}
        if self.masks is not None:
            item["mask"] = self.masks[torch.from_numpy(ids)]
        return item


class MaskedSupConBatches(Dataset):
    """SupCon batches of random-subset views: ``{"views": [2B, 24, T]``, ``"labels"``}: each view is
    augmented (:class:`ViewAugmenter`), gets its own random subset, and is encoded as ``[z·mask, mask]``."""

    def __init__(self, records: Tensor, index: WindowIndex, window: int, labels: np.ndarray,
                 augmenter: ViewAugmenter, sampler: SubsetSampler, eps: float = 1e-6) -> None:
        self.records, self.index, self.window = records, index, int(window)
        self.labels = torch.as_tensor(labels)
        self.augmenter, self.sampler, self.eps = augmenter, sampler, float(eps)

    def __len__(self) -> int:
        return len(self.index)

    def _encode(self, v: Tensor) -> Tensor:
        m = self.sampler(v.shape[0])
        z, _ = masked_zscore(v, m, self.eps)
        return torch.cat([z, m[:, :, None].expand_as(z)], dim=1)

    def __getitem__(self, ids: Sequence[int]) -> dict[str, Tensor]:
        ids = np.asarray(ids, dtype=np.int64)
        x = gather_windows(self.records, self.index.subset(ids), self.window)
        v1, v2 = self.augmenter.views(x)
        return {"views": torch.cat([self._encode(v1), self._encode(v2)]),
                "labels": self.labels[torch.from_numpy(ids)]}


def gaussian_nll(y: Tensor, mean: Tensor, sd: Tensor, scale: Tensor, weight: Tensor) -> Tensor:
    """Mean Gaussian NLL (constant dropped) of ``y`` under ``N(mean.detach(), sd²)``, in units of
    ``scale`` (the inputs' std ``[B, 1, 1]``), over the samples of leads with ``weight`` ``[B, L]`` 1."""
    s = scale + 1e-6
    e = (y - mean.detach()) / s
    sz = sd / s
    nll = torch.log(sz) + 0.5 * (e / sz) ** 2
    w = weight[:, :, None].expand_as(nll)
    return (nll * w).sum() / w.sum().clamp_min(1.0)


class AnySubsetModule(L.LightningModule):
    """Lightning training of an :class:`AnySubsetNet` (frozen encoder inside).

    Batches: ``{"x": [B, 12, T] mV}`` (training: masks drawn by ``sampler``) or with ``"mask"``
    (validation). Logs ``train/loss``, ``train/nll`` and ``val/mse`` (mV², basis leads the subset
    does not determine), ``val/nll``.
    """

    def __init__(self, net: AnySubsetNet, cfg: ReconConfig, sampler: SubsetSampler) -> None:
        super().__init__()
        self.net, self.cfg, self.sampler = net, cfg, sampler
        if net.encoder is not None:
            net.encoder.requires_grad_(False)

    def _losses(self, batch: dict[str, Tensor], mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = batch["x"]
        y = x[:, _BASIS_IDX]
        mean, sd = self.net(x * mask[:, :, None], mask)
        w = target_weights(mask)
        wm = w[:, :, None].expand_as(mean)
        n = wm.sum().clamp_min(1.0)
        t = self.cfg.train
        mse = ((mean - y) ** 2 * wm).sum() / n
        l1 = ((mean - y).abs() * wm).sum() / n
        _, std = masked_zscore(x, mask)
        nll = gaussian_nll(y, mean, sd, std, w)
        return t.mse_weight * mse + t.l1_weight * l1, mse, nll

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        mask = self.sampler(batch["x"].shape[0]).to(batch["x"].device)
        rec, _, nll = self._losses(batch, mask)
        loss = rec + self.cfg.anysubset.nll_weight * nll
        b = batch["x"].shape[0]
        self.log("train/loss", rec.detach(), on_step=False, on_epoch=True, batch_size=b, sync_dist=True)
        self.log("train/nll", nll.detach(), on_step=False, on_epoch=True, batch_size=b, sync_dist=True)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        _, mse, nll = self._losses(batch, batch["mask"])
        b = batch["x"].shape[0]
        self.log("val/mse", mse, on_epoch=True, batch_size=b, sync_dist=True)
        self.log("val/nll", nll, on_epoch=True, batch_size=b, sync_dist=True)

    def on_train_epoch_start(self) -> None:
        if self.net.encoder is not None:
            self.net.encoder.eval()

    def configure_optimizers(self) -> dict[str, Any]:
        params = [p for p in self.net.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.cfg.train.lr, weight_decay=self.cfg.train.weight_decay)
        steps = self.cfg.anysubset.steps
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def core_masks(n: int, subsets: Sequence[str] = CORE_SUBSETS) -> Tensor:
    """``[n, 12]`` masks assigning the subsets round-robin (window i gets subset i mod len)."""
    table = np.stack([presence_mask(s) for s in subsets])
    return torch.from_numpy(table[np.arange(n) % len(subsets)])


def fit_anysubset(net: AnySubsetNet, data: L.LightningDataModule, cfg: ReconConfig, sampler: SubsetSampler,
                  workdir: Path, seed: int = 0, progress: bool = False) -> dict[str, Any]:
    """Train ``net`` in place for ``cfg.anysubset.steps`` steps, validating every ``val_every``
    steps; the best validation weights are restored. Returns a summary (steps, best val MSE, seconds)."""
    L.seed_everything(seed, workers=True, verbose=False)
    workdir.mkdir(parents=True, exist_ok=True)
    a = cfg.anysubset
    hist = _History()
    best = _BestWeights(workdir / "best.safetensors")
    module = AnySubsetModule(net, cfg, sampler)
    with quiet_lightning():
        trainer = make_trainer(max_steps=a.steps, max_epochs=-1, callbacks=[hist, best], log_dir=workdir / "logs",
                               grad_clip=cfg.train.grad_clip, checkpointing=False, progress=progress,
                               sanity_val_steps=0, use_distributed_sampler=False, default_root_dir=workdir,
                               val_check_interval=a.val_every, check_val_every_n_epoch=None,
                               **_devices(cfg.trainer))
        t0 = time.perf_counter()
        trainer.fit(module, datamodule=data)
    seconds = round(time.perf_counter() - t0, 1)
    best.restore(module)
    net.eval()
    return {"steps": int(trainer.global_step), "best_val_mse": best.best if math.isfinite(best.best) else None,
            "best_epoch": best.best_epoch, "seconds": seconds, "history": hist.epochs,
            "global_rank": int(trainer.global_rank), "world_size": int(trainer.world_size)}


@torch.no_grad()
def _ratios(net: AnySubsetNet, records: Tensor, index: WindowIndex, window: int, mask: Tensor,
            batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(|error|/sd [N, 8, T], target weights [N, 8])`` of the network on windows with masks ``mask`` ``[N, 12]``."""
    out, ws = [], []
    for s in range(0, len(index), batch):
        x = gather_windows(records, index.subset(slice(s, s + batch)), window)
        m = mask[s:s + batch]
        mean, sd = net(x * m[:, :, None], m)
        out.append(((x[:, _BASIS_IDX] - mean).abs() / sd).numpy())
        ws.append(target_weights(m).numpy())
    return np.concatenate(out), np.concatenate(ws)


def calibrate_spread(net: AnySubsetNet, records: Tensor, index: WindowIndex, window: int,
                     subsets: Sequence[str], level: float, n_random: int = 4000, seed: int = 0) -> dict[str, Any]:
    """Spread factors fitted on validation windows (see the module docstring).

    Returns the checkpoint's ``uncertainty`` section: ``{"kind", "level", "z", "fitted_on",
    "scale": {subset key: {lead: factor}}, "default_scale": {lead: factor}}``; the calibrated
    spread is ``sd × factor`` and ``mean ± z·spread`` is the nominal interval.
    """
    net.eval()
    z = float(norm.ppf(0.5 + level / 2))
    scale: dict[str, dict[str, float]] = {}
    for s in subsets:
        key = subset_key(s)
        m = torch.from_numpy(np.tile(presence_mask(s), (len(index), 1)))
        r, w = _ratios(net, records, index, window, m)
        plan = LeadPlan.from_inputs(key)
        scale[key] = {n: round(float(np.quantile(r[:, BASIS_LEADS.index(n)], level)) / z, 5) for n in plan.learned}
        del r, w
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(index), size=min(n_random, len(index)), replace=False)
    sub = index.subset(np.sort(pick))
    m = SubsetSampler([], 0.0, 6, seed=seed)(len(sub))
    r, w = _ratios(net, records, sub, window, m)
    default = {}
    for k, n in enumerate(BASIS_LEADS):
        vals = r[w[:, k] > 0, k]
        default[n] = round(float(np.quantile(vals, level)) / z, 5) if vals.size else 1.0
    return {"kind": "gaussian_sd", "level": level, "z": round(z, 6),
            "fitted_on": f"PTB-XL validation fold(s), {len(index)} windows", "scale": scale,
            "default_scale": default}


def train_masked_encoder(cfg: ReconConfig, records: Tensor, train: WindowIndex, labels: np.ndarray,
                         keys: np.ndarray, progress: bool = False) -> tuple[PathologyEncoder, dict[str, Any]]:
    """Stage 1: the SupCon encoder over ``[z·mask, mask]`` views with random subsets.

    ``labels`` / ``keys``: per record row of ``records`` (multi-hot superclasses, and the key of each
    label set that the class-balanced batches draw on)."""
    a, d, seed = cfg.anysubset, cfg.data, cfg.seed
    subsets = list(a.subsets or TRAINING_SUBSETS)
    torch.manual_seed(seed)
    enc = PathologyEncoder.from_config(cfg.encoder, 2 * len(STANDARD_LEADS))
    sc = cfg.supcon
    aug = ViewAugmenter(sc.augment, d.fs, ref_lead=STANDARD_LEADS.index("II"), seed=seed)
    ds = MaskedSupConBatches(records, train, d.window, labels[train.rows], aug,
                             SubsetSampler(subsets, a.p_named, a.max_random_leads, seed=seed + 1), d.zscore_eps)
    batches = ClassBalancedBatchSampler(keys[train.rows], sc.classes_per_batch, sc.samples_per_class,
                                        n_batches=sc.steps_per_epoch, seed=seed)
    info = fit_supcon(enc, ReconDataModule(ds, train_sampler=batches, seed=seed, num_workers=cfg.trainer.num_workers),
                      sc, seed=seed, trainer_cfg=cfg.trainer, progress=progress)
    return enc, info


def fit_anysubset_net(cfg: ReconConfig, records: Tensor, train: WindowIndex, val: WindowIndex, labels: np.ndarray,
                      keys: np.ndarray, workdir: Path, encoder: PathologyEncoder | None = None,
                      progress: bool = False, say: Callable[[str], None] = _silent
                      ) -> tuple[AnySubsetNet, dict[str, Any]]:
    """Stages 1 and 2 on preprocessed ``records`` ``[n_records, 12, n_samples]`` mV: the SupCon encoder
    (unless a trained ``encoder`` is given, or ``anysubset.embedding`` is off), the Wiener prior (when
    ``anysubset.prior_half_taps_s`` > 0), then the reconstructor. ``val``: fold-9 windows for the
    choice of the best weights. Returns the trained network (eval mode) and a training record."""
    a, d, seed = cfg.anysubset, cfg.data, cfg.seed
    subsets = list(a.subsets or TRAINING_SUBSETS)
    info: dict[str, Any] = {}
    encoder_cfg = None
    if a.embedding:
        if encoder is None:
            encoder, enc_info = train_masked_encoder(cfg, records, train, labels, keys, progress)
            info["encoder"] = {k: v for k, v in enc_info.items() if k not in ("history", "global_rank", "world_size")}
            say(f"encoder: SupCon on random subsets, {enc_info['epochs']} epochs in {enc_info['seconds']} s, "
                f"final loss {enc_info['final_loss']:.3f}")
        encoder_cfg = encoder.get_config()
    torch.manual_seed(seed)
    net = AnySubsetNet(encoder_cfg, a.levels, a.base_channels, a.kernel_size, a.feat_dim, a.head_hidden,
                       eps=d.zscore_eps, prior_half_taps=round(a.prior_half_taps_s * d.fs), prior_ridge=a.prior_ridge)
    if a.embedding:
        net.encoder.load_state_dict(encoder.state_dict())  # type: ignore[union-attr]
    if net.prior is not None:
        t1 = time.perf_counter()
        net.prior.fit(window_chunks(records, train, d.window, chunk=2048))
        info["prior"] = {"half_taps": net.prior.half_taps, "seconds": round(time.perf_counter() - t1, 1)}
        say(f"Wiener prior (±{a.prior_half_taps_s:g} s) estimated on {len(train)} training windows in "
            f"{info['prior']['seconds']} s")
    core = {subset_key(s) for s in CORE_SUBSETS}
    weights = [a.core_weight if subset_key(s) in core else 1.0 for s in subsets]
    sampler = SubsetSampler(subsets, a.p_named, a.max_random_leads, seed=seed + 2, weights=weights)
    data = ReconDataModule(AnySubsetBatches(records, train, d.window),
                           AnySubsetBatches(records, val, d.window, core_masks(len(val))),
                           batch_size=cfg.train.batch_size, val_batch_size=512, seed=seed,
                           num_workers=cfg.trainer.num_workers)
    res = fit_anysubset(net, data, cfg, sampler, workdir, seed=seed, progress=progress)
    info["reconstructor"] = {k: v for k, v in res.items() if k not in ("history", "global_rank", "world_size")}
    info["global_rank"], info["world_size"] = res["global_rank"], res["world_size"]
    say(f"any-subset reconstructor: {res['steps']} steps in {res['seconds']} s, best val MSE "
        f"{res['best_val_mse']:.4f} mV² (core subsets, fold 9)")
    return net, info


def train_anysubset(cfg: ReconConfig, data_dir: str | Path, out: str | Path, store_dir: str | Path | None = None,
                    progress: bool = True, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the any-subset reconstructor on the main split and export it to ``out``.

    The exported ``config.yaml`` holds the architecture, the preprocessing, the lead basis and the
    training subsets, the training record and the fold-9 spread calibration (``uncertainty``).
    """
    t0 = time.perf_counter()
    say = say or log.info
    if rank_zero_only.rank != 0:
        say = _silent
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    a, d = cfg.anysubset, cfg.data
    subsets = list(a.subsets or TRAINING_SUBSETS)
    ctx, store, parts = setup(cfg, Path(data_dir), Path(store_dir) if store_dir else None, out / "checkpoints",
                              progress, say)
    n_valid = store.meta["n_valid"].to_numpy()
    idx, _, rejected = windows_with_qc(ctx, n_valid, {k: parts[k] for k in ("train", "val")},
                                       fit_on=("train", "val"))
    train, val = idx["train"], idx["val"]
    keep = (val.starts % cfg.train.val_hop) == 0 if cfg.train.val_hop else np.ones(len(val), bool)
    val = val.subset(keep)
    net, info = fit_anysubset_net(cfg, ctx.records, train, val, ctx.labels, ctx.keys,
                                  out / "checkpoints" / "anysubset", progress=progress, say=say)
    rank, world = info.pop("global_rank"), info.pop("world_size")
    done = {"out": str(out), "method": "anysubset", "training": info, "world_size": world}
    if rank != 0:
        return {**done, "is_global_zero": False, "seconds": round(time.perf_counter() - t0, 1)}
    t1 = time.perf_counter()
    unc = calibrate_spread(net, ctx.records, val, d.window, subsets, a.interval, seed=cfg.seed)
    info["calibration_seconds"] = round(time.perf_counter() - t1, 1)
    say(f"spread calibrated on fold 9 for {len(unc['scale'])} subsets in {info['calibration_seconds']} s")
    pre = cfg.preprocessing()
    pre["input_leads"] = list(STANDARD_LEADS)
    pre["normalization_note"] = ("present input leads z-scored jointly per window (one mean and std over the "
                                 "measured leads); absent leads masked; targets, outputs and spreads in mV")
    config = {
        "format": "leadlift-recon/1",
        "method": "anysubset",
        "model": {"class": "AnySubsetNet", "kwargs": net.get_config(), "encoder": net.encoder.get_config()
                  if net.encoder is not None else None, "output_scale": "input_std", "eps": d.zscore_eps},
        "preprocessing": pre,
        "leads": {"any_subset": True, "basis": list(BASIS_LEADS), "training_subsets": subsets,
                  "core_subsets": list(CORE_SUBSETS)},
        "uncertainty": unc,
        "training": cfg.model_dump(mode="json"),
        "metrics": {"training": info, "n_train_windows": len(train), "n_val_windows": len(val),
                    "qc_rejected": rejected, "seconds": round(time.perf_counter() - t0, 1)},
        "leadlift_version": leadlift.__version__,
    }
    export_model(net, config, out)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return {**done, "is_global_zero": True, "seconds": round(time.perf_counter() - t0, 1)}
