"""12-lead reconstruction from a reduced lead set (Youssef & Singla, paper 2) and its baselines.

Conventions:

* Signals are ``[B, n_leads, T]`` float32 in **millivolts**; ``T`` is the window length in
  samples (256 at 100 Hz in the paper).
* :class:`LeadPlan` says which leads are inputs, which are *learned* (predicted by a model) and
  which limb leads are *derived* from I and II (exactly when both are inputs). Every method
  predicts only the learned leads; :meth:`LeadPlan.assemble` builds the full 12 leads.
* Networks see the input leads **z-scored jointly** per window (one mean and one std over all
  input leads and samples). With ``output_scale="input_std"`` (default) the network output is
  multiplied by that std, so predictions are in mV and scale with the input amplitude.

Modules:

* :class:`ResNet1dEncoder` + :class:`ProjectionHead` = :class:`PathologyEncoder` — the
  pathology-aware encoder (128-d embedding ``h``; L2-normalised projection for SupCon).
* :class:`FusionReconstructor` — multi-view fusion decoder: a time-domain view of the inputs and
  an embedding view (``h`` broadcast along time) are projected, concatenated, fused by a conv and
  decoded, one independent decoder per target lead (grouped convolutions). ``embed_dim=0`` gives
  the paper's ablation without the embedding view.
* :class:`UNet1d` — 1-D U-Net baseline (inputs → all learned leads).
* :class:`LinearLeadMap` — closed-form per-target-lead least squares ``y = W x + b``.
* :class:`ReconNet` — normalisation + optional frozen encoder + reconstructor + de-normalisation:
  ``mV inputs → mV learned leads``. This is what ``leadlift train-recon`` exports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from leadlift.ecg import LIMB_LEADS, STANDARD_LEADS, limb_rank, parse_leads, solve_limb_leads
from leadlift.errors import InputError

if TYPE_CHECKING:
    from leadlift.recon_config import EncoderConfig, FusionConfig

__all__ = [
    "FIRLeadMap",
    "FusionReconstructor",
    "LeadPlan",
    "LinearLeadMap",
    "PathologyEncoder",
    "ProjectionHead",
    "ReconNet",
    "ResNet1dEncoder",
    "UNet1d",
    "joint_zscore",
    "recon_net_spec",
]



# ----------------------------------------------------------------------------- lead plan
@dataclass(frozen=True)
class LeadPlan:
    """Which of the 12 leads are inputs, learned, or derived.

    Rule: the limb leads span a 2-D space (every limb lead is ``a·I + b·II``). If the input limb
    leads span it (e.g. I and II), every other limb lead is derived **exactly** from the inputs.
    Otherwise the missing basis lead(s) are learned (II if it completes the basis with the one
    input limb lead, else I; both I and II when no limb lead is an input) and the remaining limb
    leads are derived from inputs and learned leads (no longer exact). Every precordial lead that
    is not an input is learned.

    Attributes:
        inputs: input leads in the order given.
        learned: leads a model predicts, in :data:`STANDARD_LEADS` order.
        derived: limb leads computed from I and II.
        exact: True when the derived leads follow from the inputs alone.
    """

    inputs: tuple[str, ...]
    learned: tuple[str, ...]
    derived: tuple[str, ...]
    exact: bool

    @classmethod
    def from_inputs(cls, inputs: Sequence[str] | str) -> LeadPlan:
        """Build the plan for an input lead set (e.g. ``"I,II,V2"`` or ``("I",)``)."""
        ins = parse_leads(inputs) if isinstance(inputs, str) else parse_leads(list(inputs))
        if len(ins) == len(STANDARD_LEADS):
            raise InputError("all 12 leads are inputs: there is nothing to reconstruct; pass fewer leads")
        limb_in = [n for n in ins if n in LIMB_LEADS]
        extra: list[str] = []
        exact = limb_rank(limb_in) >= 2
        if not exact:
            if not limb_in:
                extra = ["I", "II"]
            else:
                extra = ["II"] if limb_rank([*limb_in, "II"]) == 2 else ["I"]
        learned = tuple(n for n in STANDARD_LEADS
                        if n not in ins and (n in extra or n not in LIMB_LEADS))
        derived = tuple(n for n in LIMB_LEADS if n not in ins and n not in learned)
        return cls(inputs=ins, learned=learned, derived=derived, exact=exact)

    @property
    def scored(self) -> tuple[str, ...]:
        """Leads that count as reconstructed in averages: learned leads, plus derived leads when
        they are not exact (they then carry reconstruction error)."""
        return tuple(n for n in STANDARD_LEADS if n in self.learned or (n in self.derived and not self.exact))

    def index(self, leads: Sequence[str], of: Sequence[str] = STANDARD_LEADS) -> list[int]:
        return [list(of).index(n) for n in leads]

    def assemble(self, inputs: Any, learned: Any) -> Any:
        """All 12 leads from the inputs and the learned leads.

        Args:
            inputs: ``[..., n_inputs, T]`` in mV (NumPy array or torch tensor), rows in
                ``self.inputs`` order.
            learned: ``[..., n_learned, T]`` in mV, rows in ``self.learned`` order.
        Returns:
            ``[..., 12, T]`` in :data:`STANDARD_LEADS` order, same type as the inputs: inputs
            copied, learned leads as given, limb leads derived from I and II.
        """
        is_torch = isinstance(inputs, Tensor)
        if inputs.shape[-2] != len(self.inputs) or learned.shape[-2] != len(self.learned):
            raise InputError(f"expected {len(self.inputs)} input rows and {len(self.learned)} learned rows, got "
                             f"{inputs.shape[-2]} and {learned.shape[-2]}")
        rows: dict[str, Any] = {}
        for i, n in enumerate(self.inputs):
            rows[n] = inputs[..., i, :]
        for i, n in enumerate(self.learned):
            rows[n] = learned[..., i, :]
        if self.derived:  # I and II solved from the available limb leads (exact if consistent)
            derived = solve_limb_leads(rows)
            for n in self.derived:
                rows[n] = derived[n]
        ordered = [rows[n] for n in STANDARD_LEADS]
        if is_torch:
            return torch.stack(ordered, dim=-2)
        return np.stack(ordered, axis=-2)

    def describe(self) -> dict[str, Any]:
        return {"inputs": list(self.inputs), "learned": list(self.learned), "derived": list(self.derived),
                "derived_exact": self.exact, "scored": list(self.scored)}


# ----------------------------------------------------------------------------- normalisation
def joint_zscore(x: Tensor, eps: float = 1e-6) -> tuple[Tensor, Tensor, Tensor]:
    """Z-score each window jointly over its leads and samples.

    Args:
        x: ``[B, C, T]`` in mV.
    Returns:
        ``(z [B, C, T], mean [B, 1, 1] mV, std [B, 1, 1] mV)`` with ``z = (x - mean) / (std + eps)``.
    """
    mean = x.mean(dim=(1, 2), keepdim=True)
    std = x.std(dim=(1, 2), keepdim=True, correction=0)
    return (x - mean) / (std + eps), mean, std


def _check_bct(x: Any, channels: int, name: str = "x") -> None:
    if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[1] != channels:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise InputError(f"{name} has shape {shape}; expected [B, {channels}, T]")


# ----------------------------------------------------------------------------- encoder
class ResidualBlock1d(nn.Module):
    """Two ``kernel``-wide convs with batch norm and a (projected) identity shortcut."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.short: nn.Module = nn.Identity()
        if c_in != c_out or stride != 1:
            self.short = nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm1d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.short(x))


class ResNet1dEncoder(nn.Module):
    """1-D ResNet: stem conv (k7) + BN + ReLU + max-pool 2, residual blocks, global mean pool.

    Args:
        in_channels: number of input leads.
        stem_channels: channels of the stem (32).
        widths: output channels of each residual block (default 64, 64, 128, 128: 32→64→128).
        strides: stride of each block.
        stem_kernel, block_kernel: odd kernel sizes.
    Input ``[B, in_channels, T]`` (jointly z-scored) → embedding ``h`` ``[B, widths[-1]]``.
    """

    def __init__(self, in_channels: int, stem_channels: int = 32, widths: Sequence[int] = (64, 64, 128, 128),
                 strides: Sequence[int] = (1, 1, 1, 1), stem_kernel: int = 7, block_kernel: int = 3) -> None:
        super().__init__()
        if len(widths) != len(strides) or not widths:
            raise InputError("widths and strides need one entry per residual block")
        self.in_channels = int(in_channels)
        self.embed_dim = int(widths[-1])
        self.stem = nn.Sequential(
            nn.Conv1d(in_channels, stem_channels, stem_kernel, padding=stem_kernel // 2, bias=False),
            nn.BatchNorm1d(stem_channels), nn.ReLU(), nn.MaxPool1d(2),
        )
        blocks = []
        c = stem_channels
        for w, s in zip(widths, strides, strict=True):
            blocks.append(ResidualBlock1d(c, int(w), block_kernel, int(s)))
            c = int(w)
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        _check_bct(x, self.in_channels)
        return self.blocks(self.stem(x)).mean(dim=-1)


class ProjectionHead(nn.Module):
    """``h`` ``[B, D]`` → L2-normalised ``z`` ``[B, proj_dim]`` (Linear, BN, ReLU, Linear)."""

    def __init__(self, in_dim: int = 128, hidden: int = 128, proj_dim: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                 nn.Linear(hidden, proj_dim))

    def forward(self, h: Tensor) -> Tensor:
        return F.normalize(self.net(h), dim=-1)


class PathologyEncoder(nn.Module):
    """The pathology-aware encoder: ResNet → ``h`` (128-d) and projection head → ``z`` (SupCon).

    Args: see :class:`ResNet1dEncoder`; ``proj_dim`` is the SupCon space size.
    """

    def __init__(self, in_channels: int, stem_channels: int = 32, widths: Sequence[int] = (64, 64, 128, 128),
                 strides: Sequence[int] = (1, 1, 1, 1), stem_kernel: int = 7, block_kernel: int = 3,
                 proj_dim: int = 128) -> None:
        super().__init__()
        self._config = dict(in_channels=int(in_channels), stem_channels=int(stem_channels),
                            widths=[int(w) for w in widths], strides=[int(s) for s in strides],
                            stem_kernel=int(stem_kernel), block_kernel=int(block_kernel), proj_dim=int(proj_dim))
        self.backbone = ResNet1dEncoder(in_channels, stem_channels, widths, strides, stem_kernel, block_kernel)
        self.head = ProjectionHead(self.backbone.embed_dim, self.backbone.embed_dim, proj_dim)

    @classmethod
    def from_config(cls, cfg: EncoderConfig, in_channels: int) -> PathologyEncoder:
        """The encoder an experiment's ``encoder`` section describes, for ``in_channels`` input leads."""
        return cls(in_channels, cfg.stem_channels, cfg.widths, cfg.strides, cfg.stem_kernel, cfg.block_kernel,
                   cfg.proj_dim)

    @property
    def embed_dim(self) -> int:
        return self.backbone.embed_dim

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    def embed(self, z: Tensor) -> Tensor:
        """Jointly z-scored inputs ``[B, C, T]`` → embedding ``h`` ``[B, embed_dim]``."""
        return self.backbone(z)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, C, T]`` → ``(h [B, embed_dim], projection [B, proj_dim], unit norm)``."""
        h = self.backbone(z)
        return h, self.head(h)


# ----------------------------------------------------------------------------- fusion decoder
class FusionReconstructor(nn.Module):
    """Multi-view fusion decoder, one independent decoder per target lead.

    For each of the ``n_outputs`` target leads (as one group of a grouped convolution):

    * time view: the jointly z-scored inputs → Conv1d(k=1) → BN → GELU → Conv1d(k) → GELU
      (``branch_dim`` channels);
    * embedding view (if ``embed_dim > 0``): ``h`` → Linear → BN → GELU → Linear → GELU,
      broadcast along time (``branch_dim`` channels);
    * fusion: concatenation → Conv1d(k) → decoder Conv1d(k) → ReLU → Conv1d(k=1) → one lead.

    ``per_lead=False`` shares one trunk for all target leads (a single group with
    ``n_outputs`` output channels). ``embed_dim=0`` is the no-embedding ablation.

    Input ``z`` ``[B, n_inputs, T]`` (and ``h`` ``[B, embed_dim]``) → ``[B, n_outputs, T]`` in the
    units of ``z`` (the caller de-normalises).
    """

    def __init__(self, n_inputs: int, n_outputs: int, embed_dim: int = 128, branch_dim: int = 128,
                 hidden: int = 64, kernel_size: int = 3, per_lead: bool = True) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise InputError(f"kernel_size={kernel_size} must be odd so the output keeps its length")
        self._config = dict(n_inputs=int(n_inputs), n_outputs=int(n_outputs), embed_dim=int(embed_dim),
                            branch_dim=int(branch_dim), hidden=int(hidden), kernel_size=int(kernel_size),
                            per_lead=bool(per_lead))
        self.n_inputs, self.n_outputs, self.embed_dim = int(n_inputs), int(n_outputs), int(embed_dim)
        g = self.n_outputs if per_lead else 1
        self.groups = g
        d, k, p = int(branch_dim), int(kernel_size), int(kernel_size) // 2
        self.branch_dim = d
        self.time_view = nn.Sequential(
            nn.Conv1d(g * n_inputs, g * d, 1, groups=g, bias=False), nn.BatchNorm1d(g * d), nn.GELU(),
            nn.Conv1d(g * d, g * d, k, padding=p, groups=g, bias=False), nn.GELU(),
        )
        n_views = 1
        if self.embed_dim > 0:
            n_views = 2
            self.embed_in = nn.Linear(self.embed_dim, g * d, bias=False)
            self.embed_bn = nn.BatchNorm1d(g * d)
            # second layer per group: block-diagonal [g, d, d]
            self.embed_w = nn.Parameter(torch.empty(g, d, d))
            nn.init.kaiming_uniform_(self.embed_w.view(g * d, d), a=5 ** 0.5)
        self.fuse = nn.Conv1d(g * n_views * d, g * d, k, padding=p, groups=g, bias=False)
        n_out_per_group = 1 if per_lead else self.n_outputs
        self.decoder = nn.Sequential(
            nn.Conv1d(g * d, g * hidden, k, padding=p, groups=g), nn.ReLU(),
            nn.Conv1d(g * hidden, g * n_out_per_group, 1, groups=g),
        )

    @classmethod
    def from_config(cls, cfg: FusionConfig, n_inputs: int, n_outputs: int, embed_dim: int) -> FusionReconstructor:
        """The decoder an experiment's ``fusion`` section describes (``embed_dim=0``: no embedding view)."""
        return cls(n_inputs, n_outputs, embed_dim, cfg.branch_dim, cfg.hidden, cfg.kernel_size, cfg.per_lead)

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    def forward(self, z: Tensor, h: Tensor | None = None) -> Tensor:
        _check_bct(z, self.n_inputs, "z")
        b, _, t = z.shape
        g, d = self.groups, self.branch_dim
        tv = self.time_view(z.repeat(1, g, 1) if g > 1 else z).view(b, g, d, t)
        if self.embed_dim > 0:
            if h is None or h.dim() != 2 or h.shape != (b, self.embed_dim):
                raise InputError(f"the embedding view needs h of shape [{b}, {self.embed_dim}], got "
                                 f"{None if h is None else tuple(h.shape)}")
            e = F.gelu(self.embed_bn(self.embed_in(h))).view(b, g, d)
            e = F.gelu(torch.einsum("bgd,gde->bge", e, self.embed_w))
            feats = torch.cat([tv, e.unsqueeze(-1).expand(b, g, d, t)], dim=2).reshape(b, g * 2 * d, t)
        else:
            feats = tv.reshape(b, g * d, t)
        return self.decoder(self.fuse(feats))


# ----------------------------------------------------------------------------- U-Net baseline
class _DoubleConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, k: int) -> None:
        super().__init__(
            nn.Conv1d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(),
            nn.Conv1d(c_out, c_out, k, padding=k // 2, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(),
        )


class UNet1d(nn.Module):
    """1-D U-Net: ``levels`` resolutions, channels ``base_channels·2^i``, max-pool down,
    transposed-conv up, skip connections, 1×1 output conv.

    Input ``[B, in_channels, T]`` → ``[B, out_channels, T]``. ``T`` must be a multiple of
    ``2^(levels-1)`` (256 is, for up to 9 levels).
    """

    def __init__(self, in_channels: int, out_channels: int, levels: int = 4, base_channels: int = 16,
                 kernel_size: int = 9) -> None:
        super().__init__()
        if kernel_size % 2 == 0 or levels < 1:
            raise InputError("U-Net needs an odd kernel_size and levels >= 1")
        self._config = dict(in_channels=int(in_channels), out_channels=int(out_channels), levels=int(levels),
                            base_channels=int(base_channels), kernel_size=int(kernel_size))
        self.in_channels, self.levels = int(in_channels), int(levels)
        widths = [base_channels * 2**i for i in range(levels)]
        self.down = nn.ModuleList()
        c = in_channels
        for w in widths:
            self.down.append(_DoubleConv(c, w, kernel_size))
            c = w
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for i in reversed(range(levels - 1)):
            self.up.append(nn.ConvTranspose1d(widths[i + 1], widths[i], 2, stride=2))
            self.merge.append(_DoubleConv(2 * widths[i], widths[i], kernel_size))
        self.out = nn.Conv1d(widths[0], out_channels, 1)

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    def forward(self, z: Tensor, h: Tensor | None = None) -> Tensor:
        _check_bct(z, self.in_channels, "z")
        mult = 2 ** (self.levels - 1)
        if z.shape[-1] % mult:
            raise InputError(f"U-Net input length {z.shape[-1]} must be a multiple of {mult}")
        skips = []
        y = z
        for i, block in enumerate(self.down):
            if i > 0:
                y = F.max_pool1d(y, 2)
            y = block(y)
            skips.append(y)
        skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            y = merge(torch.cat([up(y), skips.pop()], dim=1))
        return self.out(y)


# ----------------------------------------------------------------------------- linear baseline
def lagged_features(x: np.ndarray, half_taps: int) -> np.ndarray:
    """Design matrix of a FIR map: every sample of every window with its ±``half_taps`` neighbours.

    Args:
        x: windows ``[N, C, T]`` (mV).
        half_taps: L; lags −L..+L samples (0: the sample itself). Neighbours outside the window are 0.
    Returns:
        ``[N·T, C·(2L+1)]`` float64; column ``c·(2L+1) + k`` holds lead c at lag ``k − L`` (the layout
        of a ``conv1d`` weight ``[out, C, 2L+1]`` with padding L).
    """
    x = np.asarray(x, dtype=np.float64)
    n, c, t = x.shape
    k = 2 * half_taps + 1
    padded = np.pad(x, ((0, 0), (0, 0), (half_taps, half_taps)))
    view = np.lib.stride_tricks.sliding_window_view(padded, k, axis=-1)  # [N, C, T, K]
    return view.transpose(0, 2, 1, 3).reshape(n * t, c * k)


def lagged_normal_equations(batches: Iterable[tuple[np.ndarray | Tensor, np.ndarray | Tensor]], n_inputs: int,
                            n_outputs: int, half_taps: int, intercept: bool = True
                            ) -> tuple[np.ndarray, np.ndarray, int]:
    """``(XᵀX, XᵀY, n_windows)`` of a FIR least-squares map summed over ``(x [n, C_in, T], y [n, C_out, T])``
    chunks (float64; the intercept column, when asked, is last)."""
    k = 2 * half_taps + 1
    d = n_inputs * k + int(intercept)
    xtx = np.zeros((d, d))
    xty = np.zeros((d, n_outputs))
    n_seen = 0
    for x, y in batches:
        x_np = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
        y_np = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
        if x_np.ndim != 3 or y_np.ndim != 3 or x_np.shape[1] != n_inputs or y_np.shape[1] != n_outputs \
                or x_np.shape[0] != y_np.shape[0] or x_np.shape[2] != y_np.shape[2]:
            raise InputError(f"fit needs x [N, {n_inputs}, T] and y [N, {n_outputs}, T], got {x_np.shape} and "
                             f"{y_np.shape}")
        a = lagged_features(x_np, half_taps)
        t = y_np.astype(np.float64).transpose(0, 2, 1).reshape(-1, n_outputs)
        if intercept:
            a = np.concatenate([a, np.ones((a.shape[0], 1))], axis=1)
        xtx += a.T @ a
        xty += a.T @ t
        n_seen += x_np.shape[0]
    if n_seen == 0:
        raise InputError("no training windows to fit the linear map on")
    return xtx, xty, n_seen


def solve_normal_equations(xtx: np.ndarray, xty: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """Least-squares coefficients ``[d, n_out]`` from normal equations; ``ridge`` adds
    ``ridge · mean(diag XᵀX)`` to the diagonal (0: plain least squares, via ``lstsq``)."""
    if ridge > 0:
        xtx = xtx + np.eye(len(xtx)) * ridge * float(np.mean(np.diag(xtx)))
    return np.linalg.lstsq(xtx, xty, rcond=None)[0]


class LinearLeadMap(nn.Module):
    """Per-target-lead least-squares linear map ``y_k(t) = Σ_j W[k, j] x_j(t) + b[k]`` (mV).

    Fitted in closed form (:meth:`fit`): normal equations accumulated in float64 over every sample
    of every training window, solved with ``lstsq``. Each target lead has its own weights. This is
    an instantaneous gain: from one input lead it can only rescale that lead (:class:`FIRLeadMap`
    is the fair classical baseline).
    """

    def __init__(self, n_inputs: int, n_outputs: int, intercept: bool = True) -> None:
        super().__init__()
        self._config = dict(n_inputs=int(n_inputs), n_outputs=int(n_outputs), intercept=bool(intercept))
        self.intercept = bool(intercept)
        self.register_buffer("weight", torch.zeros(n_outputs, n_inputs))
        self.register_buffer("bias", torch.zeros(n_outputs))

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    @torch.no_grad()
    def fit(self, x: np.ndarray | Tensor, y: np.ndarray | Tensor, chunk: int = 4096) -> LinearLeadMap:
        """Fit on windows ``x`` ``[N, n_inputs, T]`` and ``y`` ``[N, n_outputs, T]`` (mV)."""
        n = x.shape[0]
        return self.fit_batches((x[s:s + chunk], y[s:s + chunk]) for s in range(0, n, chunk))

    @torch.no_grad()
    def fit_batches(self, batches: Iterable[tuple[np.ndarray | Tensor, np.ndarray | Tensor]]) -> LinearLeadMap:
        """Fit from an iterable of ``(x [n, n_inputs, T], y [n, n_outputs, T])`` chunks (mV): the
        normal equations are summed over all chunks, then solved once (float64)."""
        n_in, n_out = self.weight.shape[1], self.weight.shape[0]
        xtx, xty, _ = lagged_normal_equations(batches, n_in, n_out, 0, self.intercept)
        coef = solve_normal_equations(xtx, xty)  # [d, n_out]
        self.weight.copy_(torch.from_numpy(coef[:n_in].T.copy()))
        if self.intercept:
            self.bias.copy_(torch.from_numpy(coef[n_in]))
        return self

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """``[B, n_inputs, T]`` mV → ``[B, n_outputs, T]`` mV."""
        _check_bct(x, self.weight.shape[1])
        return torch.einsum("kj,bjt->bkt", self.weight, x) + self.bias[None, :, None]


class FIRLeadMap(nn.Module):
    """Per-target-lead FIR least-squares filter: ``y_k(t) = Σ_j Σ_{|τ|≤L} W[k, j, τ] x_j(t+τ) + b[k]`` (mV).

    A linear map over a ±L-sample neighbourhood of the input leads (zero outside the window), fitted
    in closed form. Unlike :class:`LinearLeadMap` it can shape the waveform (a lead with other
    timing or polarity pattern than the input), which makes it the fair classical baseline.

    Args:
        n_inputs, n_outputs: input and predicted leads.
        half_taps: L in samples (e.g. 40 = ±0.4 s at 100 Hz); the filter has 2L+1 taps per input.
        intercept: fit a per-lead offset.
    """

    def __init__(self, n_inputs: int, n_outputs: int, half_taps: int = 40, intercept: bool = True) -> None:
        super().__init__()
        if int(half_taps) < 0:
            raise InputError(f"half_taps={half_taps}; pass a non-negative number of samples")
        self._config = dict(n_inputs=int(n_inputs), n_outputs=int(n_outputs), half_taps=int(half_taps),
                            intercept=bool(intercept))
        self.half_taps, self.intercept = int(half_taps), bool(intercept)
        self.register_buffer("weight", torch.zeros(n_outputs, n_inputs, 2 * self.half_taps + 1))
        self.register_buffer("bias", torch.zeros(n_outputs))

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    @torch.no_grad()
    def set_coefficients(self, coef: np.ndarray) -> FIRLeadMap:
        """Load solved coefficients ``[n_inputs·(2L+1) (+1), n_outputs]`` (the :func:`lagged_features` layout)."""
        n_out, n_in, k = self.weight.shape
        self.weight.copy_(torch.from_numpy(coef[:n_in * k].T.reshape(n_out, n_in, k).copy()))
        self.bias.copy_(torch.from_numpy(coef[n_in * k].copy()) if self.intercept else torch.zeros(n_out))
        return self

    @torch.no_grad()
    def fit_batches(self, batches: Iterable[tuple[np.ndarray | Tensor, np.ndarray | Tensor]],
                    ridge: float = 0.0) -> FIRLeadMap:
        """Fit from ``(x [n, n_inputs, T], y [n, n_outputs, T])`` chunks (mV) in closed form."""
        n_out, n_in, _ = self.weight.shape
        xtx, xty, _ = lagged_normal_equations(batches, n_in, n_out, self.half_taps, self.intercept)
        return self.set_coefficients(solve_normal_equations(xtx, xty, ridge))

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """``[B, n_inputs, T]`` mV → ``[B, n_outputs, T]`` mV."""
        _check_bct(x, self.weight.shape[1])
        return F.conv1d(x, self.weight.to(x.dtype), self.bias.to(x.dtype), padding=self.half_taps)


def select_lags(xtx: np.ndarray, xty: np.ndarray, n_inputs: int, half_taps: int, sub_half_taps: int,
                intercept: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The normal equations of a shorter FIR map (±``sub_half_taps``) cut from those of a longer one
    (±``half_taps``): same samples, same zero padding, so the result is exact."""
    k, sub = 2 * half_taps + 1, 2 * sub_half_taps + 1
    if sub_half_taps > half_taps:
        raise InputError(f"sub_half_taps={sub_half_taps} exceeds half_taps={half_taps}")
    cols = [c * k + (half_taps - sub_half_taps) + j for c in range(n_inputs) for j in range(sub)]
    if intercept:
        cols.append(n_inputs * k)
    idx = np.asarray(cols)
    return xtx[np.ix_(idx, idx)], xty[idx]


# ----------------------------------------------------------------------------- full network
class ReconNet(nn.Module):
    """mV input leads → mV learned leads: joint z-score, (frozen) encoder, reconstructor, rescale.

    Args:
        reconstructor: a :class:`FusionReconstructor` or :class:`UNet1d` (works on z-scored inputs).
        encoder: the :class:`PathologyEncoder` whose embedding feeds the embedding view (None for
            models without one).
        output_scale: ``"input_std"`` (output × the inputs' joint std), ``"none"`` (output taken
            as mV) or ``"raw"`` (no normalisation at all: the reconstructor maps mV to mV, used for
            :class:`LinearLeadMap`).
        eps: std floor in mV.
    """

    def __init__(self, reconstructor: nn.Module, encoder: PathologyEncoder | None = None,
                 output_scale: str = "input_std", eps: float = 1e-6) -> None:
        super().__init__()
        if output_scale not in ("input_std", "none", "raw"):
            raise InputError(f"output_scale={output_scale!r}; use 'input_std', 'none' or 'raw'")
        self.reconstructor = reconstructor
        self.encoder = encoder
        self.output_scale = output_scale
        self.eps = float(eps)

    def normalize(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, C, T]`` mV → ``(z, std [B, 1, 1])``."""
        z, _, std = joint_zscore(x, self.eps)
        return z, std

    @torch.no_grad()
    def embed(self, x: Tensor) -> Tensor:
        """The encoder's embedding ``h`` ``[B, E]`` of mV inputs (in eval mode)."""
        if self.encoder is None:
            raise InputError("this reconstructor has no encoder")
        was = self.encoder.training
        self.encoder.eval()
        h = self.encoder.embed(self.normalize(x)[0])
        self.encoder.train(was)
        return h

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """``x`` ``[B, n_inputs, T]`` mV (``h`` optional precomputed embedding) → ``[B, n_learned, T]`` mV."""
        if self.output_scale == "raw":
            return self.reconstructor(x, None)
        z, std = self.normalize(x)
        if self.encoder is not None and h is None:
            h = self.embed(x)
        y = self.reconstructor(z, h if self.encoder is not None else None)
        return y * (std + self.eps) if self.output_scale == "input_std" else y


def recon_net_spec(net: ReconNet) -> dict[str, Any]:
    """The ``model`` section of an exported config (class, kwargs, encoder, output scaling)."""
    return {
        "class": type(net.reconstructor).__name__,
        "kwargs": net.reconstructor.get_config(),  # type: ignore[operator]
        "encoder": net.encoder.get_config() if net.encoder is not None else None,
        "output_scale": net.output_scale,
        "eps": net.eps,
    }
