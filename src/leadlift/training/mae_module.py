"""Lightning wrapper of the aligned per-lead MAE (paper 1) and its baselines.

The module owns only the training logic (losses, curriculum, optimiser, schedule); it receives
its network, a pure ``nn.Module`` from :mod:`leadlift.models` (built by :func:`build_model`).
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from leadlift.config import PretrainConfig, parse_config
from leadlift.losses import curriculum_weights, masked_reconstruction_loss, triplet_alignment_loss
from leadlift.models import LeadBankMAE, MultiChannelMAE


def build_model(cfg: PretrainConfig) -> nn.Module:
    """The network described by a config (``model.kind``)."""
    m, d = cfg.model, cfg.data
    common = dict(leads=list(d.lead_names), n_times=d.n_times, fs=d.fs, patch_size=m.patch_size,
                  embed_dim=m.embed_dim, depth=m.depth, num_heads=m.num_heads,
                  decoder_embed_dim=m.decoder_embed_dim, decoder_depth=m.decoder_depth,
                  decoder_heads=m.decoder_heads, mlp_ratio=m.mlp_ratio)
    if m.kind == "multichannel":
        return MultiChannelMAE(**common)
    return LeadBankMAE(**common, shared_encoder=m.kind == "shared_encoder")


class MAEPretrainModule(L.LightningModule):
    """Pretraining of :class:`~leadlift.models.LeadBankMAE` (or a baseline) from a config.

    Logged every step: ``train/loss``, ``train/recon``, ``train/align``, ``train/w_recon``,
    ``train/w_align``, ``train/lr``; every validation: the same terms under ``val/``
    (validation uses a fixed mask seed so epochs are comparable).
    """

    def __init__(self, net: nn.Module, config: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.cfg: PretrainConfig = parse_config(config)
        self.model = net
        self.per_lead = isinstance(self.model, LeadBankMAE)
        # the training forward, compiled when asked; kept out of the module tree (plain state-dict keys)
        object.__setattr__(self, "_train_forward", torch.compile(net) if self.cfg.trainer.compile else net)

    # ------------------------------------------------------------------ losses
    def _weights(self) -> tuple[float, float]:
        if not (self.cfg.loss.alignment and self.per_lead):
            return 1.0, 0.0
        lc = self.cfg.loss
        return curriculum_weights(self.current_epoch, self.cfg.trainer.max_epochs, lc.curriculum,
                                  *lc.constant_weights)

    def _losses(self, x: Tensor, generator: torch.Generator | None, train: bool = False) -> dict[str, Tensor]:
        lc = self.cfg.loss
        out = (self._train_forward if train else self.model)(x, mask_ratio=lc.mask_ratio, generator=generator)
        pred, target = out.pred, out.target_patches
        if pred.ndim == 3:  # multichannel: [B, N, C*P] -> per-lead layout
            pred = pred.reshape(target.shape[0], target.shape[2], target.shape[1], -1).transpose(1, 2)
        recon = masked_reconstruction_loss(pred, target, out.mask, norm_target=lc.norm_target)
        w_r, w_a = self._weights()
        if w_a > 0 and self.per_lead:
            align = triplet_alignment_loss(out.tokens, margin=lc.margin, negatives=lc.negatives,
                                           detach_others=lc.detach_others, tokens_used=lc.tokens)
        else:
            align = recon.new_zeros(())
        loss = w_r * recon + w_a * align
        return {"loss": loss, "recon": recon.detach(), "align": align.detach(),
                # on the loss's device: DDP reduces logged values with sync_dist (NCCL has no CPU tensors)
                "w_recon": loss.new_tensor(w_r), "w_align": loss.new_tensor(w_a)}

    def _mask_generator(self, step: int, stage: int) -> torch.Generator:
        g = torch.Generator(device="cpu")
        g.manual_seed(hash((self.cfg.seed, stage, step, self.global_rank)) % (2**63 - 1))
        return g

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        x = batch["signal"]
        terms = self._losses(x, self._mask_generator(self.global_step, 0), train=True)
        self.log_dict({f"train/{k}": v for k, v in terms.items()}, prog_bar=False, batch_size=x.shape[0],
                      on_step=True, on_epoch=True)
        self.log("loss", terms["loss"].detach(), prog_bar=True, batch_size=x.shape[0], logger=False)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], on_step=True, on_epoch=False)
        return terms["loss"]

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        x = batch["signal"]
        terms = self._losses(x, self._mask_generator(batch_idx, 1))
        self.log_dict({f"val/{k}": v for k, v in terms.items()}, prog_bar=False, batch_size=x.shape[0],
                      on_epoch=True, sync_dist=True)
        self.log("val_loss", terms["loss"], prog_bar=True, batch_size=x.shape[0], sync_dist=True)

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self) -> dict[str, Any]:
        oc = self.cfg.optim
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim <= 1 or _is_nodecay_name(name) else decay).append(p)
        world = max(int(getattr(self.trainer, "world_size", 1) or 1), 1)
        lr = oc.lr(self.cfg.data.batch_size, world)
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": oc.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=lr, betas=tuple(oc.betas),
        )
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        steps_per_epoch = max(total // max(self.cfg.trainer.max_epochs, 1), 1)
        warmup = round(oc.warmup_epochs * steps_per_epoch)
        floor = oc.min_lr / lr

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min((step - warmup) / max(total - warmup, 1), 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _is_nodecay_name(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return ("norm" in name or leaf in {"bias", "cls_token", "mask_token", "lead_embed"}
            or leaf.endswith("bias"))
