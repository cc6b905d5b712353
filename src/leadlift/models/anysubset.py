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
* **Optional linear prior** (``prior_half_taps > 0``): a :class:`WienerPrior`, the FIR least-squares
  predictor of the basis leads from whatever leads are present (one cross-correlation table, solved
  per subset). Its prediction is an extra U-Net input and the mean heads learn the *residual* to it
  (their last layer starts at zero, so training starts from the classical baseline).

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

from leadlift.ecg import LIMB_COEFFICIENTS, LIMB_LEADS, STANDARD_LEADS, parse_leads, solve_limb_leads
from leadlift.errors import InputError
from leadlift.models.recon import LeadPlan, PathologyEncoder, UNet1d

__all__ = [
    "BASIS_LEADS",
    "CORE_SUBSETS",
    "TRAINING_SUBSETS",
    "AnySubsetNet",
    "WienerPrior",
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


def basis_expansion() -> np.ndarray:
    """``[12, 8]``: every standard lead as a combination of :data:`BASIS_LEADS` (limb leads through
    Einthoven/Goldberger, precordial leads as themselves)."""
    a = np.zeros((len(STANDARD_LEADS), len(BASIS_LEADS)))
    for i, n in enumerate(STANDARD_LEADS):
        if n in LIMB_COEFFICIENTS:
            a[i, :2] = LIMB_COEFFICIENTS[n]
        else:
            a[i, BASIS_LEADS.index(n)] = 1.0
    return a


class WienerPrior(nn.Module):
    """Any-subset multichannel Wiener filter: the FIR least-squares predictor of the basis leads from
    *whatever* leads are present, solved per subset from one table of lead cross-correlations.

    The FIR least-squares baseline fits one filter per input subset. Its normal equations only need
    the second-order statistics of the leads, so one table ``R[j, k, δ] = E[x_j(t) x_k(t+δ)]`` (mV²,
    basis leads, lags ``|δ| ≤ 2L``) gives the filter of every subset: a present limb lead is a
    combination of I and II (:func:`basis_expansion`), so its statistics follow from the table too.
    The table is estimated once from training windows (:meth:`fit`, the windows zero-padded: the
    autocorrelation method, so every subset's system is positive semi-definite) and stored as a
    buffer; the per-subset solutions are cached (the table never changes after fitting).

    Args:
        half_taps: L in samples; each present lead gets ``2L+1`` taps.
        ridge: Tikhonov term relative to the mean diagonal of the system (also resolves redundant
            limb leads, e.g. I, II and III together).
    Forward: ``x [B, 12, T]`` mV (absent rows ignored), ``mask [B, 12]`` → ``[B, 8, T]`` mV, the
    prediction of :data:`BASIS_LEADS`.
    """

    def __init__(self, half_taps: int, ridge: float = 1e-3) -> None:
        super().__init__()
        if int(half_taps) < 1:
            raise InputError(f"half_taps={half_taps}; the Wiener prior needs at least one tap each side")
        self.half_taps, self.ridge = int(half_taps), float(ridge)
        n = len(BASIS_LEADS)
        self.register_buffer("xcorr", torch.zeros(n, n, 4 * self.half_taps + 1))
        self._cache: dict[bytes, Tensor] = {}
        self._register_load_state_dict_pre_hook(lambda *args, **kwargs: self._cache.clear())

    @torch.no_grad()
    def fit(self, chunks: Any) -> WienerPrior:
        """Estimate the cross-correlation table from ``[n, 12, T]`` mV windows (an iterable of chunks)."""
        lag = 2 * self.half_taps
        basis = [STANDARD_LEADS.index(n) for n in BASIS_LEADS]
        acc = torch.zeros_like(self.xcorr, dtype=torch.float64)
        count = 0
        for x in chunks:
            x = torch.as_tensor(x)[:, basis].double()
            t = x.shape[-1]
            nfft = 1 << (t + lag - 1).bit_length()
            f = torch.fft.rfft(x, n=nfft)
            # Σ_t x_j(t) x_k(t+δ) at index δ (mod nfft)
            c = torch.fft.irfft(f.conj()[:, :, None] * f[:, None, :], n=nfft).sum(0)
            acc += torch.cat([c[..., nfft - lag:], c[..., :lag + 1]], dim=-1)
            count += x.shape[0] * t
        if count == 0:
            raise InputError("no windows to estimate the Wiener prior from")
        self.xcorr.copy_((acc / count).to(self.xcorr.dtype))
        self._cache.clear()
        return self

    def coefficients(self, mask: np.ndarray) -> Tensor:
        """Filter ``[8, 12, 2L+1]`` (conv1d layout; zero for absent leads) for one presence ``mask`` ``[12]``."""
        key = np.asarray(mask, dtype=bool).tobytes()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        present = np.flatnonzero(np.asarray(mask, dtype=bool))
        L, k = self.half_taps, 2 * self.half_taps + 1
        n_out = len(BASIS_LEADS)
        w = torch.zeros(n_out, len(STANDARD_LEADS), k)
        if present.size:
            a = torch.from_numpy(basis_expansion()[present])  # [S, 8]
            r = self.xcorr.detach().cpu().double()  # [8, 8, 4L+1], lag δ at index δ + 2L
            rs = torch.einsum("aj,jkd,bk->abd", a, r, a)  # present leads' table [S, S, 4L+1]
            tau = torch.arange(-L, L + 1)
            # G[(a,τ1),(b,τ2)] = R_ab(τ2 - τ1); C[(a,τ),k] = E[s_a(t+τ) x_k(t)] = R_ak(-τ)
            d = (tau[None, :] - tau[:, None]) + 2 * L  # [K, K]
            s = len(present)
            g = rs[:, :, d].permute(0, 2, 1, 3).reshape(s * k, s * k)
            rak = torch.einsum("aj,jkd->akd", a, r)  # [S, 8, 4L+1]
            c = rak[:, :, (-tau) + 2 * L].permute(0, 2, 1).reshape(s * k, n_out)
            lam = self.ridge * float(torch.diagonal(g).mean().clamp_min(1e-12))
            sol = torch.linalg.solve(g + lam * torch.eye(s * k, dtype=g.dtype), c)  # [S·K, 8]
            w[:, torch.from_numpy(present)] = sol.reshape(s, k, n_out).permute(2, 0, 1).float()
        self._cache[key] = w
        return w

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, c, t = x.shape
        m = mask.detach().cpu().numpy() > 0.5
        keys, inverse = np.unique(m, axis=0, return_inverse=True)
        table = torch.stack([self.coefficients(kk) for kk in keys]).to(device=x.device, dtype=x.dtype)
        weight = table[torch.from_numpy(inverse.reshape(-1)).to(x.device)]  # [B, 8, 12, K]
        xm = (x * mask.to(x.dtype)[:, :, None]).reshape(1, b * c, t)
        out = F.conv1d(xm, weight.reshape(b * len(BASIS_LEADS), c, -1), padding=self.half_taps, groups=b)
        return out.reshape(b, len(BASIS_LEADS), t)


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
        prior_half_taps: 0 (no prior), or L of a :class:`WienerPrior`: the any-subset FIR least-squares
            prediction (mV) is fed to the U-Net and the mean heads predict the residual to it.
        prior_ridge: the prior's relative ridge.
    Forward: ``x [B, 12, T]`` mV, ``mask [B, 12]`` → ``(mean [B, 8, T] mV, sd [B, 8, T] mV)`` for
    :data:`BASIS_LEADS`.
    """

    def __init__(self, encoder: dict[str, Any] | None = None, levels: int = 4, base_channels: int = 16,
                 kernel_size: int = 9, feat_dim: int = 32, head_hidden: int = 16, min_sd: float = 1e-3,
                 eps: float = 1e-6, prior_half_taps: int = 0, prior_ridge: float = 1e-3) -> None:
        super().__init__()
        self._config = dict(levels=int(levels), base_channels=int(base_channels), kernel_size=int(kernel_size),
                            feat_dim=int(feat_dim), head_hidden=int(head_hidden), min_sd=float(min_sd),
                            eps=float(eps))
        if prior_half_taps:
            self._config.update(prior_half_taps=int(prior_half_taps), prior_ridge=float(prior_ridge))
        n_in, n_out = 2 * len(STANDARD_LEADS), len(BASIS_LEADS)
        self.prior: WienerPrior | None = WienerPrior(prior_half_taps, prior_ridge) if prior_half_taps else None
        self.encoder: PathologyEncoder | None = None
        if encoder:
            if int(encoder.get("in_channels", n_in)) != n_in:
                raise InputError(f"the any-subset encoder takes {n_in} channels (signal and mask), got "
                                 f"{encoder.get('in_channels')}")
            self.encoder = PathologyEncoder(**{**encoder, "in_channels": n_in})
        self.eps, self.min_sd = float(eps), float(min_sd)
        d = int(feat_dim)
        # with the prior, the U-Net also sees the prior's prediction (z units) and the heads learn the residual
        self.trunk = UNet1d(n_in + (n_out if self.prior is not None else 0), d, levels, base_channels, kernel_size)
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
        if self.prior is not None:  # start from the prior exactly: the residual head's last layer is zero
            nn.init.zeros_(self.mean_head[-1].weight)
            nn.init.zeros_(self.mean_head[-1].bias)

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
        scale = std + self.eps
        if self.prior is not None:
            prior = self.prior(x, mask)
            feats = self.trunk(torch.cat([inp, prior / scale], dim=1))
        else:
            feats = self.trunk(inp)
        if self.encoder is not None:
            e = self.embed_proj(self._frozen_embedding(inp))[:, :, None].expand(-1, -1, feats.shape[-1])
            feats = torch.cat([feats, e], dim=1)
        fused = self.fuse(feats)
        mean = self.mean_head(fused) * scale
        if self.prior is not None:
            mean = mean + prior
        sd = (F.softplus(self.sd_head(fused.detach())) + self.min_sd) * scale
        return mean, sd


def _derivation(plan: LeadPlan) -> dict[str, dict[str, float]]:
    """For each derived limb lead, its coefficient on each limb row available to the plan
    (measured inputs and learned I/II): ``{derived: {source: coefficient}}`` — the limb algebra of
    :func:`~leadlift.ecg.solve_limb_leads` applied to unit rows."""
    have = [n for n in LIMB_LEADS if n in plan.inputs or n in plan.learned]
    if not have:
        return {}
    unit = {n: np.eye(len(have))[k] for k, n in enumerate(have)}
    solved = solve_limb_leads(unit)
    return {d: {n: float(solved[d][k]) for k, n in enumerate(have)} for d in plan.derived}


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
