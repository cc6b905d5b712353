"""One reconstructor for any input-lead subset, with a per-sample predictive spread (issue 12).

Paper 2's fusion architecture (Youssef & Singla) generalised from one fixed input set to any
subset of the 12 leads:

* **Input**: a 12-slot window ``x`` ``[B, 12, T]`` in mV in :data:`STANDARD_LEADS` order and a
  presence mask ``[B, 12]`` (1 = the lead was measured). Absent slots are ignored (zeroed). The
  present leads are z-scored *jointly* (one mean and one std over the present leads and samples),
  and the network sees ``[z·mask, mask]`` (24 channels), so it always knows which leads it has.
* **Pathology-aware view**: a :class:`~leadlift.models.recon.PathologyEncoder` over those 24
  channels (trained with SupCon on random subsets, then frozen) gives a 128-d embedding ``h``.
* **Waveform view**: a 1-D U-Net over the same 24 channels (a U-Net, not paper 2's short conv
  stack, because the same-run specialists showed the U-Net reconstructing better from one lead:
  ``benchmarks/results/recon_I``).
* **Fusion and per-target decoders**: waveform features and ``h`` (projected and broadcast along
  time) are concatenated and fused by a convolution; one decoder per basis lead
  (:data:`BASIS_LEADS`: I, II, V1–V6 — the eight independent leads) predicts its mean, and a
  second decoder per lead, fed with the *detached* fused features, predicts its standard
  deviation (the spread never pulls on the mean's features: a heteroscedastic head that cannot
  trade accuracy for likelihood).
* Outputs are multiplied by the inputs' joint std, so means and spreads are in mV.

Which outputs a user gets follows :class:`~leadlift.models.recon.LeadPlan`: measured leads pass
through unchanged (spread 0), basis leads not measured come from the network, and III, aVR, aVL,
aVF are derived from I and II (exactly, spread 0, when the measured limb leads determine them;
otherwise from the predicted basis lead, with its spread propagated, see :func:`assemble_with_spread`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from leadlift.ecg import LIMB_COEFFICIENTS, LIMB_LEADS, STANDARD_LEADS, parse_leads
from leadlift.errors import InputError
from leadlift.models.recon import LeadPlan, PathologyEncoder, UNet1d

__all__ = [
    "BASIS_LEADS",
    "CORE_SUBSETS",
    "TRAINING_SUBSETS",
    "AnySubsetNet",
    "assemble_with_spread",
    "masked_zscore",
    "presence_mask",
    "subset_key",
]

BASIS_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
"""The eight independent leads the network predicts (the other four limb leads follow from I, II)."""

CORE_SUBSETS: tuple[str, ...] = ("I", "II", "I,II", "I,II,V2", "I,V2", "V2", "I,II,V1,V3,V5")
"""The input subsets the done-when criteria are measured on (issue 12)."""

TRAINING_SUBSETS: tuple[str, ...] = (
    *CORE_SUBSETS,
    "V1", "V3", "V4", "V5", "V6",               # one precordial lead (a chest patch)
    "I,II,III,aVR,aVL,aVF",                      # limb leads only (V1-V6 absent)
    "II,V1,V5", "I,II,V5", "II,V2,V5", "I,V1,V4",  # 3-lead patches / Holter sets
    "II,V1", "I,V5", "II,V5",
)
"""Subsets drawn by name during training (besides random subsets): what wearables and patches record."""


def subset_key(leads: Sequence[str] | str) -> str:
    """Canonical key of a lead subset: standard names in standard order, comma-separated (``"I,II,V2"``)."""
    names = parse_leads(leads) if isinstance(leads, str) else parse_leads(list(leads))
    return ",".join(n for n in STANDARD_LEADS if n in names)


def presence_mask(leads: Sequence[str] | str) -> np.ndarray:
    """``[12]`` float32 mask, 1 where a lead of ``leads`` sits in :data:`STANDARD_LEADS` order."""
    names = set(subset_key(leads).split(","))
    return np.array([1.0 if n in names else 0.0 for n in STANDARD_LEADS], dtype=np.float32)


def masked_zscore(x: Tensor, mask: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Z-score each window jointly over its *present* leads and samples.

    Args:
        x: ``[B, 12, T]`` mV (absent rows may hold anything).
        mask: ``[B, 12]`` presence (1/0).
    Returns:
        ``(z [B, 12, T] with absent rows 0, std [B, 1, 1] mV)``.
    """
    m = mask.to(x.dtype)[:, :, None]
    n = (m.sum(dim=(1, 2), keepdim=True) * x.shape[-1]).clamp_min(1.0)
    xm = x * m
    mean = xm.sum(dim=(1, 2), keepdim=True) / n
    var = (((x - mean) * m) ** 2).sum(dim=(1, 2), keepdim=True) / n
    std = var.sqrt()
    return (x - mean) / (std + eps) * m, std


class AnySubsetNet(nn.Module):
    """Any-subset 12-lead reconstructor with a heteroscedastic spread (see the module docstring).

    Args:
        encoder: :class:`PathologyEncoder` keyword arguments (``in_channels`` must be 24), or None
            for the no-embedding variant.
        levels, base_channels, kernel_size: the waveform U-Net (``T`` a multiple of ``2**(levels-1)``).
        feat_dim: channels of the waveform features and of the projected embedding.
        head_hidden: hidden channels of each per-lead decoder (mean and spread alike).
        min_sd: floor of the spread in units of the inputs' std.
        eps: std floor (mV) of the joint z-score.
    Forward: ``x [B, 12, T]`` mV, ``mask [B, 12]`` → ``(mean [B, 8, T] mV, sd [B, 8, T] mV)`` for
    :data:`BASIS_LEADS`.
    """

    def __init__(self, encoder: dict[str, Any] | None = None, levels: int = 4, base_channels: int = 16,
                 kernel_size: int = 9, feat_dim: int = 32, head_hidden: int = 16, min_sd: float = 1e-3,
                 eps: float = 1e-6) -> None:
        super().__init__()
        self._config = dict(levels=int(levels), base_channels=int(base_channels), kernel_size=int(kernel_size),
                            feat_dim=int(feat_dim), head_hidden=int(head_hidden), min_sd=float(min_sd),
                            eps=float(eps))
        n_in, n_out = 2 * len(STANDARD_LEADS), len(BASIS_LEADS)
        self.encoder: PathologyEncoder | None = None
        if encoder:
            if int(encoder.get("in_channels", n_in)) != n_in:
                raise InputError(f"the any-subset encoder takes {n_in} channels (signal and mask), got "
                                 f"{encoder.get('in_channels')}")
            self.encoder = PathologyEncoder(**{**encoder, "in_channels": n_in})
        self.eps, self.min_sd = float(eps), float(min_sd)
        d = int(feat_dim)
        self.trunk = UNet1d(n_in, d, levels, base_channels, kernel_size)
        n_views = 1
        if self.encoder is not None:
            n_views = 2
            self.embed_proj = nn.Sequential(nn.Linear(self.encoder.embed_dim, d), nn.GELU())
        self.fuse = nn.Sequential(nn.Conv1d(n_views * d, d, 3, padding=1), nn.GELU())
        h = int(head_hidden)
        # per-lead decoders: each output lead owns h channels of the first conv and one group of the second
        self.mean_head = nn.Sequential(nn.Conv1d(d, n_out * h, 3, padding=1), nn.GELU(),
                                       nn.Conv1d(n_out * h, n_out, 1, groups=n_out))
        self.sd_head = nn.Sequential(nn.Conv1d(d, n_out * h, 3, padding=1), nn.GELU(),
                                     nn.Conv1d(n_out * h, n_out, 1, groups=n_out))

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    @property
    def window_multiple(self) -> int:
        return 2 ** (self.trunk.levels - 1)

    def encoder_input(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """``([z·mask, mask] [B, 24, T], std [B, 1, 1] mV)`` — what the encoder and the U-Net see."""
        if x.dim() != 3 or x.shape[1] != len(STANDARD_LEADS) or mask.shape != x.shape[:2]:
            raise InputError(f"expected x [B, 12, T] and mask [B, 12], got {tuple(x.shape)} and {tuple(mask.shape)}")
        m = mask.to(x.dtype)
        z, std = masked_zscore(x, m, self.eps)
        return torch.cat([z, m[:, :, None].expand_as(z)], dim=1), std

    @torch.no_grad()
    def _frozen_embedding(self, inp: Tensor) -> Tensor:
        """``h`` ``[B, E]`` of the encoder input ``[B, 24, T]``, in eval mode whatever the module's mode."""
        assert self.encoder is not None
        was = self.encoder.training
        self.encoder.eval()
        h = self.encoder.embed(inp)
        self.encoder.train(was)
        return h

    def embed(self, x: Tensor, mask: Tensor) -> Tensor:
        """The frozen encoder's embedding ``h`` ``[B, E]`` of mV windows ``x`` with presence ``mask``."""
        if self.encoder is None:
            raise InputError("this reconstructor has no encoder")
        return self._frozen_embedding(self.encoder_input(x, mask)[0])

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        inp, std = self.encoder_input(x, mask)
        feats = self.trunk(inp)
        if self.encoder is not None:
            e = self.embed_proj(self._frozen_embedding(inp))[:, :, None].expand(-1, -1, feats.shape[-1])
            feats = torch.cat([feats, e], dim=1)
        fused = self.fuse(feats)
        scale = std + self.eps
        mean = self.mean_head(fused) * scale
        sd = (F.softplus(self.sd_head(fused.detach())) + self.min_sd) * scale
        return mean, sd


def _derivation(plan: LeadPlan) -> dict[str, dict[str, float]]:
    """For each derived limb lead, its coefficient on each limb row available to the plan
    (measured inputs and learned I/II): ``{derived: {source: coefficient}}``."""
    have = [n for n in LIMB_LEADS if n in plan.inputs or n in plan.learned]
    if not have:
        return {}
    a = np.array([LIMB_COEFFICIENTS[n] for n in have])
    p = np.linalg.pinv(a)  # [2, k]: (I, II) from the available limb rows
    out = {}
    for d in plan.derived:
        c = np.asarray(LIMB_COEFFICIENTS[d]) @ p  # [k]
        out[d] = {n: float(c[k]) for k, n in enumerate(have)}
    return out


def assemble_with_spread(plan: LeadPlan, inputs: np.ndarray, mean: np.ndarray, sd: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """All 12 leads and their spread for one input subset.

    Args:
        plan: the subset's :class:`LeadPlan` (inputs in any order, learned ⊂ :data:`BASIS_LEADS`).
        inputs: ``[N, n_inputs, T]`` mV, rows in ``plan.inputs`` order (passed through unchanged).
        mean, sd: ``[N, 8, T]`` mV network outputs for :data:`BASIS_LEADS`.
    Returns:
        ``(signal [N, 12, T] mV, spread [N, 12, T] mV)``: spread 0 for measured and exactly derived
        leads; a derived lead ``Σ c_j · row_j`` that depends on a learned row gets
        ``Σ |c_j| · sd_j`` over the learned rows (a bound that holds whatever their correlation).
    """
    idx = [BASIS_LEADS.index(n) for n in plan.learned]
    learned_mean, learned_sd = mean[:, idx], sd[:, idx]
    signal = plan.assemble(inputs, learned_mean)
    spread = np.zeros_like(signal)
    for k, n in enumerate(plan.learned):
        spread[:, STANDARD_LEADS.index(n)] = learned_sd[:, k]
    if not plan.exact:
        for d, coef in _derivation(plan).items():
            acc = np.zeros_like(spread[:, 0])
            for src, c in coef.items():
                if src in plan.learned:
                    acc = acc + abs(c) * learned_sd[:, plan.learned.index(src)]
            spread[:, STANDARD_LEADS.index(d)] = acc
    return signal, spread
