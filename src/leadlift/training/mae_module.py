"""Lightning wrapper of the aligned per-lead MAE (paper 1) and its baselines.

The module owns only the training logic (losses, curriculum, optimiser, schedule); it receives
its network, a pure ``nn.Module`` from :mod:`leadlift.models` (built by :func:`build_model`).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from leadlift.config import PretrainConfig, parse_config
from leadlift.losses import (
    cross_decoding_loss,
    cross_lead_info_nce,
    curriculum_weights,
    masked_reconstruction_loss,
    triplet_alignment_loss,
)
from leadlift.models import LeadBankMAE, MultiChannelMAE
from leadlift.models.mae import PatchMask, patchify, random_patch_mask


def build_model(cfg: PretrainConfig) -> nn.Module:
    """The network described by a config (``model.kind``)."""
    m, d = cfg.model, cfg.data
    common = dict(leads=list(d.lead_names), n_times=d.n_times, fs=d.fs, patch_size=m.patch_size,
                  embed_dim=m.embed_dim, depth=m.depth, num_heads=m.num_heads,
                  decoder_embed_dim=m.decoder_embed_dim, decoder_depth=m.decoder_depth,
                  decoder_heads=m.decoder_heads, mlp_ratio=m.mlp_ratio)
    if m.kind == "multichannel":
        return MultiChannelMAE(**common)
    return LeadBankMAE(**common, shared_encoder=m.kind == "shared_encoder", embed_pool=m.embed_pool)


class MAEPretrainModule(L.LightningModule):
    """Pretraining of :class:`~leadlift.models.LeadBankMAE` (or a baseline) from a config.

    Logged every step: ``train/loss``, ``train/recon``, ``train/align``, ``train/w_recon``,
    ``train/w_align``, ``train/lr``; every validation: the same terms under ``val/``
    (validation uses a fixed mask seed so epochs are comparable). Per-lead banks also log
    ``triplet_mask0`` (every validation; every training step with the corrected objective, whose
    unmasked pass computes it for free), the triplet loss on the tokens of an unmasked pass (the way embeddings are
    used): a model whose alignment was met by token position alone has a low ``align`` but a high
    ``triplet_mask0``. The corrected objective (``loss.cross_decode``/``loss.contrastive``) adds
    ``cross`` (cross-lead decoding MSE), ``nce`` (cross-lead, cross-crop InfoNCE) and
    ``emb_std`` (mean per-dimension std over the batch of the unit embeddings; → 0 if they
    collapse).
    """

    def __init__(self, net: nn.Module, config: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters({"config": config})
        self.cfg: PretrainConfig = parse_config(config)
        # FIFO of detached per-lead embeddings of earlier training ECGs (extra InfoNCE negatives);
        # not persistent: the weights file holds the network only
        k = self.cfg.loss.contrastive_queue
        self.register_buffer("_queue", torch.zeros(0, len(self.cfg.data.lead_names), self.cfg.model.embed_dim),
                             persistent=False)
        self.register_buffer("_queue_ids", torch.zeros(0, dtype=torch.long), persistent=False)
        self._queue_size = k
        # MoCo-style key encoder: an EMA copy of the network, kept out of the module tree (not in
        # the state dict, not optimised); rebuilt from the network when a run resumes
        self._key_net: nn.Module | None = None
        if k > 0 and self.cfg.loss.contrastive_momentum > 0:
            key = copy.deepcopy(net)
            for p in key.parameters():
                p.requires_grad_(False)
            object.__setattr__(self, "_key_net", key)
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

    def _mask(self, batch_size: int, generator: torch.Generator | None, device: torch.device) -> PatchMask | None:
        """The loss config's mask: None (one per sample, drawn by the model) or one for the batch."""
        lc = self.cfg.loss
        if lc.mask_sharing != "batch":
            return None
        m = random_patch_mask(1, self.model.n_patches, lc.mask_ratio, generator, device)
        return PatchMask(ids_keep=m.ids_keep.expand(batch_size, -1), ids_restore=m.ids_restore.expand(batch_size, -1),
                         mask=m.mask.expand(batch_size, -1))

    def _sources(self, batch_size: int, n_leads: int, generator: torch.Generator | None,
                 device: torch.device) -> Tensor:
        """``[B, L]`` 0/1 source-lead masks: ``k`` leads per sample with the probabilities of
        ``loss.source_leads`` (k = 1, 2, ...), the leads themselves uniform at random."""
        probs = torch.tensor(self.cfg.loss.source_leads[:n_leads], dtype=torch.float)
        k = torch.multinomial(probs, batch_size, replacement=True, generator=generator) + 1  # [B]
        rank = torch.rand(batch_size, n_leads, generator=generator).argsort(dim=1).argsort(dim=1)
        return (rank < k[:, None]).to(device=device, dtype=torch.float32)

    def _losses(self, batch: dict[str, Tensor], generator: torch.Generator | None,
                train: bool = False) -> dict[str, Tensor]:
        lc = self.cfg.loss
        x = batch["signal"]
        corrected = lc.corrected and self.per_lead
        masked_x = batch["signal2"] if corrected else x
        mask = self._mask(x.shape[0], generator, x.device) if self.per_lead else None
        out = (self._train_forward if train else self.model)(masked_x, mask_ratio=lc.mask_ratio, generator=generator,
                                                              mask=mask)
        pred, target = out.pred, out.target_patches
        if pred.ndim == 3:  # multichannel: [B, N, C*P] -> per-lead layout
            pred = pred.reshape(target.shape[0], target.shape[2], target.shape[1], -1).transpose(1, 2)
        recon = masked_reconstruction_loss(pred, target, out.mask, norm_target=lc.norm_target)
        w_r, w_a = self._weights()
        if w_a > 0 and self.per_lead:
            align = triplet_alignment_loss(out.tokens, margin=lc.margin, negatives=lc.negatives,
                                           detach_others=lc.detach_others, tokens_used=lc.tokens,
                                           include_self=lc.include_self_pair)
        else:
            align = recon.new_zeros(())
        loss = w_r * recon + w_a * align
        terms: dict[str, Tensor] = {}
        if self.per_lead and (corrected or not train):
            # the unmasked pass of the first crop: how embeddings and decodings are used
            tok = self.model.encode(x) if (corrected and train) else self._encode_eval(x)
            with torch.no_grad():
                terms["triplet_mask0"] = triplet_alignment_loss(tok.detach(), margin=lc.margin, negatives="roll",
                                                                tokens_used=lc.tokens)
                unit = self.model.pool(tok).detach()
                unit = unit / unit.norm(dim=-1, keepdim=True).clamp_min(1e-8)
                terms["emb_std"] = unit.std(dim=0).mean()
            if corrected:
                b, n_l = x.shape[:2]
                if lc.cross_decode > 0:
                    src = self._sources(b, n_l, generator, x.device)
                    z = (tok * src[:, :, None, None]).sum(1) / src.sum(1)[:, None, None]  # [B, 1+N, D]
                    n = self.model.n_patches
                    ids = torch.arange(n, device=x.device).expand(b, n)
                    dec = self.model.decode(z[:, None].expand(b, n_l, *z.shape[1:]), None, ids)
                    cross = cross_decoding_loss(dec, patchify(x, self.model.patch_size))
                    loss = loss + lc.cross_decode * cross
                    terms["cross"] = cross.detach()
                if lc.contrastive > 0 and self._key_net is not None and train:
                    # MoCo-style: crop-1 leads (online) find their record's keys (EMA network, crop 2,
                    # all leads) among the batch's and the queue's
                    emb = self.model.pool(tok)
                    with torch.no_grad():
                        key_net = self._key_net.to(x.device)
                        keys = key_net.pool(key_net.encode(masked_x))
                    nce = cross_lead_info_nce(emb, keys, temperature=lc.temperature, queue=self._queue,
                                              ids=batch["index"], queue_ids=self._queue_ids, symmetric=False)
                    self._enqueue(keys, batch["index"])
                    loss = loss + lc.contrastive * nce
                    terms["nce"] = nce.detach()
                elif lc.contrastive > 0:
                    if lc.contrastive_view_leads > 0:  # an unmasked pass of a few random leads of crop 2
                        k = min(lc.contrastive_view_leads, n_l)
                        pick = torch.randperm(n_l, generator=generator)[:k].sort().values.tolist()
                        names = [self.model.leads[i] for i in pick]
                        view = self.model.pool(self.model.encode(masked_x[:, pick], leads=names))
                    else:
                        view = self.model.pool(out.tokens)
                    emb = self.model.pool(tok)
                    use_queue = train and self._queue_size > 0 and "index" in batch
                    nce = cross_lead_info_nce(
                        emb, view, temperature=lc.temperature,
                        queue=self._queue if use_queue else None,
                        queue_leads_b=pick if (use_queue and lc.contrastive_view_leads > 0) else None,
                        ids=batch["index"] if use_queue else None,
                        queue_ids=self._queue_ids if use_queue else None)
                    if use_queue:
                        self._enqueue(emb.detach(), batch["index"])
                    loss = loss + lc.contrastive * nce
                    terms["nce"] = nce.detach()
                    if lc.contrastive_same_lead > 0 and lc.contrastive_view_leads > 0:
                        # lead k of crop 1 finds lead k of crop 2 (one InfoNCE per view lead, averaged)
                        same = torch.stack([cross_lead_info_nce(emb[:, i:i + 1], view[:, j:j + 1],
                                                                temperature=lc.temperature)
                                            for j, i in enumerate(pick)]).mean()
                        loss = loss + lc.contrastive_same_lead * same
                        terms["nce_same"] = same.detach()
        return {"loss": loss, "recon": recon.detach(), "align": align.detach(),
                # on the loss's device: DDP reduces logged values with sync_dist (NCCL has no CPU tensors)
                "w_recon": loss.new_tensor(w_r), "w_align": loss.new_tensor(w_a), **terms}

    def on_train_start(self) -> None:
        """Start the key encoder from the network's weights (after a resume has loaded them)."""
        if self._key_net is not None:
            self._key_net.load_state_dict(self.model.state_dict())
            self._key_net.to(self.device)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Move the key encoder towards the network (``loss.contrastive_momentum`` per step)."""
        if self._key_net is None:
            return
        m = self.cfg.loss.contrastive_momentum
        with torch.no_grad():
            for pk, p in zip(self._key_net.parameters(), self.model.parameters(), strict=True):
                pk.mul_(m).add_(p.detach().to(pk.device), alpha=1 - m)
            for bk, b in zip(self._key_net.buffers(), self.model.buffers(), strict=True):
                bk.copy_(b)

    def _enqueue(self, emb: Tensor, ids: Tensor) -> None:
        """Push ``[B, L, D]`` embeddings (and their ``[B]`` record ids) into the FIFO, keeping the
        newest ``loss.contrastive_queue``."""
        self._queue = torch.cat([emb.to(self._queue.dtype), self._queue])[: self._queue_size]
        self._queue_ids = torch.cat([ids.to(self._queue_ids.device, torch.long), self._queue_ids])[: self._queue_size]

    def _encode_eval(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.model.encode(x)

    def _mask_generator(self, step: int, stage: int) -> torch.Generator:
        g = torch.Generator(device="cpu")
        g.manual_seed(hash((self.cfg.seed, stage, step, self.global_rank)) % (2**63 - 1))
        return g

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        x = batch["signal"]
        terms = self._losses(batch, self._mask_generator(self.global_step, 0), train=True)
        self.log_dict({f"train/{k}": v for k, v in terms.items()}, prog_bar=False, batch_size=x.shape[0],
                      on_step=True, on_epoch=True)
        self.log("loss", terms["loss"].detach(), prog_bar=True, batch_size=x.shape[0], logger=False)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], on_step=True, on_epoch=False)
        return terms["loss"]

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        x = batch["signal"]
        terms = self._losses(batch, self._mask_generator(batch_idx, 1))
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
