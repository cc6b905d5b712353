"""Per-lead 1-D masked autoencoders ("aligned per-lead MAEs", Ibtehaz & Mortazavi, paper 1).

Conventions used throughout this module:

* ``x`` is a batch of ECG windows ``[B, n_leads, n_times]``, **z-scored per lead per window**
  (dimensionless; ``(x - mean) / (std + 1e-6)``). Nothing here converts to or from millivolts:
  de-normalisation belongs to the caller.
* A window of ``n_times`` samples is cut into ``n_patches = n_times // patch_size``
  non-overlapping patches of ``patch_size`` samples (``patch_size / fs`` seconds each).
* Token sequences put the CLS token first: ``1 + n_visible`` tokens of width ``embed_dim``.
* Masks are ``[B, n_patches]`` float tensors with 1 = masked (hidden from the encoder) and
  0 = visible. In :class:`LeadBankMAE` **one mask per sample is shared by all leads**, so token
  position ``t`` refers to the same time span in every lead (needed by the alignment loss).

:class:`LeadBankMAE` is the fast implementation: the weights of all lead models are stacked
along a leading lead dimension and every layer runs all selected leads in one batched kernel.
The same function with one ordinary module per lead in a Python loop is the benchmark's reference
(``benchmarks/loop_lead_mae.py``), built from this module's plain transformer layers.
Model sizes live in the shipped configs (``leadlift.configs``: ``mae-paper``, ``mae-cpu``, ``mae-tiny``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from leadlift.ecg import STANDARD_LEADS, normalize_lead_names, parse_leads
from leadlift.errors import InputError

__all__ = [
    "Decoder1d",
    "Encoder1d",
    "LeadBankMAE",
    "MAEOutput",
    "MultiChannelMAE",
    "PatchMask",
    "TransformerBlock",
    "patchify",
    "random_patch_mask",
    "sincos_pos_embed_1d",
    "unpatchify",
]

LN_EPS = 1e-6
"""LayerNorm epsilon used by every norm in these models (as in the ViT-MAE reference)."""

# ----------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class PatchMask:
    """A random patch mask for a batch (the same for every lead of a sample).

    Attributes:
        ids_keep: ``[B, n_keep]`` int64, indices of the visible patches, in random order.
        ids_restore: ``[B, n_patches]`` int64, the permutation that puts the
            ``[visible..., masked...]`` sequence back into time order.
        mask: ``[B, n_patches]`` float, 1 = masked, 0 = visible, in time order.
    """

    ids_keep: Tensor
    ids_restore: Tensor
    mask: Tensor

    @property
    def n_keep(self) -> int:
        """Number of visible patches per sample."""
        return int(self.ids_keep.shape[1])


@dataclass
class MAEOutput:
    """What a masked-autoencoder forward pass returns.

    Attributes:
        pred: predicted patches ``[B, n_leads, n_patches, patch_size]`` (z-scored units, or
            per-patch normalised units when the loss uses ``norm_target``).
        mask: ``[B, n_patches]``, 1 = masked (shared by all leads).
        tokens: encoder output after the final norm. :class:`LeadBankMAE` /
            :class:`LoopLeadMAE`: ``[B, n_leads, 1 + n_keep, embed_dim]`` (CLS first);
            :class:`MultiChannelMAE`: ``[B, 1 + n_keep, embed_dim]``.
        target_patches: the input cut into patches, ``[B, n_leads, n_patches, patch_size]``.
        ids_restore: ``[B, n_patches]`` (see :class:`PatchMask`).
    """

    pred: Tensor
    mask: Tensor
    tokens: Tensor
    target_patches: Tensor
    ids_restore: Tensor


def sincos_pos_embed_1d(dim: int, n_positions: int, cls_token: bool = True) -> Tensor:
    """Fixed 1-D sine-cosine positional embedding.

    Position ``p`` gets ``[sin(p·ω_0..ω_{dim/2-1}), cos(p·ω_0..ω_{dim/2-1})]`` with
    ``ω_i = 10000^(-2i/dim)``.

    Args:
        dim: embedding width (even).
        n_positions: number of patch positions.
        cls_token: prepend an all-zero row for the CLS token.

    Returns:
        ``[n_positions (+1), dim]`` float32.
    """
    if dim % 2:
        raise InputError(
            f"sin-cos positional embeddings need an even width, got {dim}; use an even embed dim"
        )
    omega = 1.0 / (10000.0 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0)))
    angles = torch.arange(n_positions, dtype=torch.float64)[:, None] * omega[None, :]
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    if cls_token:
        emb = torch.cat([torch.zeros(1, dim, dtype=torch.float64), emb], dim=0)
    return emb.float()


def patchify(x: Tensor, patch_size: int) -> Tensor:
    """Cut ``[B, C, T]`` into non-overlapping patches ``[B, C, T // patch_size, patch_size]``."""
    b, c, t = x.shape
    return x.reshape(b, c, t // patch_size, patch_size)


def unpatchify(patches: Tensor) -> Tensor:
    """Inverse of :func:`patchify`: ``[B, C, N, P]`` → ``[B, C, N·P]``."""
    b, c, n, p = patches.shape
    return patches.reshape(b, c, n * p)


def random_patch_mask(
    batch_size: int,
    n_patches: int,
    mask_ratio: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> PatchMask:
    """Draw one random patch mask per sample (uniform random subset of patches is masked).

    ``n_keep = max(1, floor(n_patches · (1 - mask_ratio)))`` patches stay visible.

    Args:
        batch_size: B.
        n_patches: patches per window.
        mask_ratio: fraction of patches to hide, in ``[0, 1)``.
        generator: optional RNG for reproducible masks; it may live on another device than
            ``device`` (a CPU generator gives the same masks on a CPU and on a GPU).
        device: where to create the mask.
    """
    if not 0.0 <= float(mask_ratio) < 1.0:
        raise InputError(f"mask_ratio={mask_ratio} is outside [0, 1); pass e.g. 0.75")
    if batch_size < 1 or n_patches < 1:
        raise InputError(f"cannot mask batch_size={batch_size}, n_patches={n_patches}; both must be >= 1")
    n_keep = max(1, int(n_patches * (1.0 - float(mask_ratio)) + 1e-9))
    noise_device = generator.device if generator is not None else device
    noise = torch.rand(batch_size, n_patches, generator=generator, device=noise_device)
    if device is not None:
        noise = noise.to(device, non_blocking=True)
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :n_keep]
    mask = torch.ones(batch_size, n_patches, device=noise.device)
    mask[:, :n_keep] = 0.0
    mask = torch.gather(mask, 1, ids_restore)
    return PatchMask(ids_keep=ids_keep, ids_restore=ids_restore, mask=mask)


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}={value!r} must be a positive integer")
    return int(value)


def _check_arch(
    n_times: int, fs: float, patch_size: int, embed_dim: int, depth: int, num_heads: int,
    decoder_embed_dim: int, decoder_depth: int, decoder_heads: int, mlp_ratio: float,
) -> None:
    """Validate the architecture/signal metadata shared by all MAE classes (raises InputError)."""
    for name, value in [("n_times", n_times), ("patch_size", patch_size), ("embed_dim", embed_dim),
                        ("depth", depth), ("num_heads", num_heads),
                        ("decoder_embed_dim", decoder_embed_dim), ("decoder_heads", decoder_heads)]:
        _check_positive_int(name, value)
    if isinstance(decoder_depth, bool) or not isinstance(decoder_depth, int) or decoder_depth < 0:
        raise InputError(f"decoder_depth={decoder_depth!r} must be an integer >= 0")
    try:
        fs_f = float(fs)
    except (TypeError, ValueError):
        raise InputError(f"fs={fs!r} is not a number; pass the sampling rate in Hz") from None
    if not math.isfinite(fs_f) or fs_f <= 0:
        raise InputError(f"fs={fs!r} Hz is not a positive sampling rate; pass the rate in Hz, e.g. fs=100")
    if n_times % patch_size:
        raise InputError(
            f"n_times={n_times} is not a multiple of patch_size={patch_size}; crop the window to "
            f"{(n_times // patch_size) * patch_size} samples or pick a patch size that divides it"
        )
    if embed_dim % num_heads:
        raise InputError(
            f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}; change one of them"
        )
    if decoder_embed_dim % decoder_heads:
        raise InputError(
            f"decoder_embed_dim={decoder_embed_dim} is not divisible by decoder_heads={decoder_heads}; "
            "change one of them"
        )
    if embed_dim % 2 or decoder_embed_dim % 2:
        raise InputError(
            f"embed_dim={embed_dim} and decoder_embed_dim={decoder_embed_dim} must be even "
            "(sin-cos positional embeddings); use even widths"
        )
    if not (isinstance(mlp_ratio, (int, float)) and mlp_ratio > 0 and int(embed_dim * mlp_ratio) >= 1):
        raise InputError(f"mlp_ratio={mlp_ratio!r} must be a positive number, e.g. 4.0")


def _parse_lead_arg(leads: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(leads, str):
        return parse_leads(leads)
    leads = tuple(leads)
    if not leads:
        raise InputError("no leads given; pass lead names such as ('I',) or leadlift.ecg.STANDARD_LEADS")
    return normalize_lead_names(leads)


def _xavier_(w: Tensor, fan_in: int, fan_out: int) -> None:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        w.uniform_(-bound, bound)


def _init_linears(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every ``nn.Linear`` (ViT-MAE initialisation)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            _xavier_(m.weight, m.in_features, m.out_features)
            nn.init.zeros_(m.bias)


# ----------------------------------------------------------------------------- bank layers
class _BankLinear(nn.Module):
    """``n_bank`` independent linear maps ``in_dim → out_dim`` stored as one tensor.

    ``weight`` is ``[n_bank, in_dim, out_dim]`` (used as ``x @ weight[l]``), ``bias``
    ``[n_bank, out_dim]``. With ``n_bank == 1`` the single map is applied to every lead.
    """

    def __init__(self, n_bank: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.weight = nn.Parameter(torch.empty(n_bank, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(n_bank, out_dim))
        _xavier_(self.weight, in_dim, out_dim)

    def forward(self, x: Tensor, idx: Tensor | None = None) -> Tensor:
        """``x``: ``[L, ..., in_dim]`` (L = selected leads) → ``[L, ..., out_dim]``."""
        w, b = self.weight, self.bias
        if w.shape[0] == 1:
            flat = torch.addmm(b[0], x.reshape(-1, self.in_dim), w[0])
            return flat.view(*x.shape[:-1], self.out_dim)
        if idx is not None:
            w, b = w.index_select(0, idx), b.index_select(0, idx)
        n = x.shape[0]
        out = torch.baddbmm(b.unsqueeze(1), x.reshape(n, -1, self.in_dim), w)
        return out.view(*x.shape[:-1], self.out_dim)


class _BankLayerNorm(nn.Module):
    """``n_bank`` LayerNorms over the last dim; ``weight``/``bias`` are ``[n_bank, dim]``."""

    def __init__(self, n_bank: int, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.weight = nn.Parameter(torch.ones(n_bank, dim))
        self.bias = nn.Parameter(torch.zeros(n_bank, dim))

    def forward(self, x: Tensor, idx: Tensor | None = None) -> Tensor:
        """``x``: ``[L, ..., dim]`` → same shape."""
        w, b = self.weight, self.bias
        if w.shape[0] == 1:
            return F.layer_norm(x, (self.dim,), w[0], b[0], LN_EPS)
        if idx is not None:
            w, b = w.index_select(0, idx), b.index_select(0, idx)
        shape = (w.shape[0],) + (1,) * (x.dim() - 2) + (self.dim,)
        return torch.addcmul(b.view(shape), F.layer_norm(x, (self.dim,), None, None, LN_EPS), w.view(shape))


class _BankBlock(nn.Module):
    """Pre-norm transformer block (MHSA + GELU MLP) with stacked per-lead weights."""

    def __init__(self, n_bank: int, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        hidden = int(dim * mlp_ratio)
        self.norm1 = _BankLayerNorm(n_bank, dim)
        self.qkv = _BankLinear(n_bank, dim, 3 * dim)
        self.proj = _BankLinear(n_bank, dim, dim)
        self.norm2 = _BankLayerNorm(n_bank, dim)
        self.fc1 = _BankLinear(n_bank, dim, hidden)
        self.fc2 = _BankLinear(n_bank, hidden, dim)

    def forward(self, x: Tensor, idx: Tensor | None = None) -> Tensor:
        """``x``: ``[L, B, T, dim]`` → same shape."""
        n_l, b, t, d = x.shape
        h = self.num_heads
        qkv = self.qkv(self.norm1(x, idx), idx)
        q, k, v = qkv.view(n_l * b, t, 3, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)
        att = F.scaled_dot_product_attention(q, k, v)  # [L·B, heads, T, d/heads]
        att = att.transpose(1, 2).reshape(n_l, b, t, d)
        x = x + self.proj(att, idx)
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x, idx), idx)), idx)


# ----------------------------------------------------------------------------- the bank
class LeadBankMAE(nn.Module):
    """Twelve (or any number of) per-lead 1-D ViT masked autoencoders in one module.

    Every parameter is stacked along a leading lead dimension (``[n_leads, ...]``) and every
    layer processes all selected leads with one batched matmul (``torch.baddbmm``), so one
    forward pass costs about as many kernel launches as a single-lead MAE.

    Per lead: patch embedding (a ``Conv1d(1, D, patch_size, stride=patch_size)`` written as a
    linear map of each patch), CLS token, fixed sin-cos positions, ``depth`` pre-norm blocks of
    width ``embed_dim`` and a final LayerNorm; decoder: linear ``D → Dd``, mask token, fixed
    sin-cos positions, ``decoder_depth`` blocks of width ``Dd``, LayerNorm, linear
    ``Dd → patch_size``.

    Args:
        leads: lead names (any spelling accepted by :func:`leadlift.ecg.normalize_lead_names`);
            the order is the order of the stacked weights and of ``x``'s lead axis.
        n_times: samples per input window (a multiple of ``patch_size``).
        fs: sampling rate in Hz the model is meant for (metadata; checked by callers).
        patch_size: samples per patch (``patch_size / fs`` seconds).
        embed_dim: encoder width D (even, divisible by ``num_heads``).
        depth: encoder blocks.
        num_heads: encoder attention heads.
        decoder_embed_dim: decoder width Dd.
        decoder_depth: decoder blocks (may be 0).
        decoder_heads: decoder attention heads.
        mlp_ratio: MLP hidden width / block width.
        shared_encoder: variant with ONE encoder for all leads plus a learned per-lead
            embedding added to every token; decoders stay per-lead.
        embed_pool: what :meth:`embed` returns per lead: ``"cls"`` (the CLS token, the paper)
            or ``"mean"`` (the mean of the patch tokens, which the corrected objective trains to
            carry the waveform of every lead).

    Raises:
        InputError: for unknown/duplicate leads or inconsistent sizes (one-line message).
    """

    _ENCODER_PREFIXES = ("patch_embed.", "cls_token", "blocks.", "norm.")

    def __init__(
        self,
        leads: Sequence[str] | str = STANDARD_LEADS,
        n_times: int = 500,
        fs: float = 100.0,
        patch_size: int = 25,
        embed_dim: int = 96,
        depth: int = 3,
        num_heads: int = 4,
        decoder_embed_dim: int = 64,
        decoder_depth: int = 1,
        decoder_heads: int = 4,
        mlp_ratio: float = 4.0,
        shared_encoder: bool = False,
        embed_pool: str = "cls",
    ) -> None:
        super().__init__()
        self.leads: tuple[str, ...] = _parse_lead_arg(leads)
        if embed_pool not in ("cls", "mean"):
            raise InputError(f"embed_pool={embed_pool!r}; use 'cls' or 'mean'")
        self.embed_pool = embed_pool
        _check_arch(n_times, fs, patch_size, embed_dim, depth, num_heads, decoder_embed_dim,
                    decoder_depth, decoder_heads, mlp_ratio)
        self.n_leads = len(self.leads)
        self.n_times, self.fs, self.patch_size = int(n_times), float(fs), int(patch_size)
        self.n_patches = self.n_times // self.patch_size
        self.embed_dim, self.depth, self.num_heads = embed_dim, depth, num_heads
        self.decoder_embed_dim, self.decoder_depth = decoder_embed_dim, decoder_depth
        self.decoder_heads, self.mlp_ratio = decoder_heads, float(mlp_ratio)
        self.shared_encoder = bool(shared_encoder)
        n_l = self.n_leads
        n_enc = 1 if self.shared_encoder else n_l
        d, dd, p = embed_dim, decoder_embed_dim, patch_size

        self.patch_embed = _BankLinear(n_enc, p, d)
        self.cls_token = nn.Parameter(torch.randn(n_enc, 1, d) * 0.02)
        self.lead_embed = nn.Parameter(torch.randn(n_l, d) * 0.02) if self.shared_encoder else None
        self.blocks = nn.ModuleList(_BankBlock(n_enc, d, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = _BankLayerNorm(n_enc, d)
        self.decoder_embed = _BankLinear(n_l, d, dd)
        self.mask_token = nn.Parameter(torch.randn(n_l, 1, dd) * 0.02)
        self.decoder_blocks = nn.ModuleList(
            _BankBlock(n_l, dd, decoder_heads, mlp_ratio) for _ in range(decoder_depth)
        )
        self.decoder_norm = _BankLayerNorm(n_l, dd)
        self.decoder_pred = _BankLinear(n_l, dd, p)
        self.register_buffer("pos_embed", sincos_pos_embed_1d(d, self.n_patches), persistent=False)
        self.register_buffer("decoder_pos_embed", sincos_pos_embed_1d(dd, self.n_patches), persistent=False)
        self._idx_cache: dict[tuple[tuple[str, ...], str], Tensor | None] = {}

    # ------------------------------------------------------------------ construction
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-serialisable) that rebuild this architecture."""
        return dict(
            leads=list(self.leads), n_times=self.n_times, fs=self.fs, patch_size=self.patch_size,
            embed_dim=self.embed_dim, depth=self.depth, num_heads=self.num_heads,
            decoder_embed_dim=self.decoder_embed_dim, decoder_depth=self.decoder_depth,
            decoder_heads=self.decoder_heads, mlp_ratio=self.mlp_ratio, shared_encoder=self.shared_encoder,
            **({"embed_pool": self.embed_pool} if self.embed_pool != "cls" else {}),
        )

    def _is_per_lead(self, name: str) -> bool:
        return not (self.shared_encoder and name.startswith(self._ENCODER_PREFIXES))

    def select_leads(self, leads: Sequence[str] | str) -> LeadBankMAE:
        """A new, smaller bank holding copies of the weights of ``leads`` only (e.g. to deploy a
        single-lead model)."""
        wanted = _parse_lead_arg(leads)
        self._lead_index(wanted, torch.device("cpu"))  # validates
        idx = [self.leads.index(n) for n in wanted]
        new = type(self)(**{**self.get_config(), "leads": wanted})
        src = dict(self.named_parameters())
        with torch.no_grad():
            for name, param in new.named_parameters():
                value = src[name][idx] if self._is_per_lead(name) else src[name]
                param.copy_(value)
        return new.to(self.pos_embed.device)

    # ------------------------------------------------------------------ input checks
    def _lead_index(self, names: tuple[str, ...], device: torch.device) -> Tensor | None:
        """Indices of the (normalised) lead ``names`` in the bank; None = all leads in bank order."""
        key = (names, str(device))
        if key in self._idx_cache:
            return self._idx_cache[key]
        missing = [n for n in names if n not in self.leads]
        if missing:
            raise InputError(
                f"lead(s) {', '.join(missing)} have no model in this bank (it has {', '.join(self.leads)}); "
                "pass leads the model was built with"
            )
        order = [self.leads.index(n) for n in names]
        idx = None if order == list(range(self.n_leads)) else torch.tensor(order, device=device)
        self._idx_cache[key] = idx
        return idx

    def _resolve(self, leads: Sequence[str] | str | None) -> tuple[str, ...]:
        return self.leads if leads is None else _parse_lead_arg(leads)

    def _check_x(self, x: Tensor, names: tuple[str, ...]) -> None:
        if not isinstance(x, Tensor):
            raise InputError(f"x must be a torch.Tensor [B, n_leads, n_times], got {type(x).__name__}")
        if x.dim() != 3 or x.shape[1] != len(names) or x.shape[2] != self.n_times:
            raise InputError(
                f"x has shape {tuple(x.shape)} but expected [B, {len(names)}, {self.n_times}] for leads "
                f"{','.join(names)}; pass one row per named lead and windows of {self.n_times} samples"
            )
        if not x.is_floating_point():
            raise InputError(f"x has dtype {x.dtype}; pass z-scored float values")

    def _check_ids(self, ids: Tensor, batch: int, name: str, width: int | None = None) -> None:
        if ids.dim() != 2 or ids.shape[0] != batch or (width is not None and ids.shape[1] != width):
            want = f"[{batch}, {width if width is not None else 'n_keep'}]"
            raise InputError(f"{name} has shape {tuple(ids.shape)}, expected {want}; use random_mask()")

    # ------------------------------------------------------------------ masking
    def random_mask(
        self,
        batch_size: int,
        mask_ratio: float = 0.75,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> PatchMask:
        """One random mask per sample, shared by all leads (see :func:`random_patch_mask`)."""
        device = self.pos_embed.device if device is None else device
        return random_patch_mask(batch_size, self.n_patches, mask_ratio, generator, device)

    # ------------------------------------------------------------------ internals ([L, B, ...])
    def _encode(self, x: Tensor, idx: Tensor | None, ids_keep: Tensor | None) -> Tensor:
        """``x`` ``[B, L, n_times]`` → tokens ``[L, B, 1 + n_keep, D]`` (lead-major layout)."""
        b, n_l, _ = x.shape
        p, d = self.patch_size, self.embed_dim
        patches = x.transpose(0, 1).reshape(n_l, b, self.n_patches, p)
        pos = self.pos_embed[1:]
        if ids_keep is not None:
            k = ids_keep.shape[1]
            patches = torch.gather(patches, 2, ids_keep.view(1, b, k, 1).expand(n_l, b, k, p))
            pos = pos[ids_keep]  # [B, k, D]
        tok = self.patch_embed(patches, idx) + pos
        cls = self.cls_token if (idx is None or self.shared_encoder) else self.cls_token.index_select(0, idx)
        cls = (cls + self.pos_embed[:1]).unsqueeze(1).expand(n_l, b, 1, d)
        tok = torch.cat([cls, tok], dim=2)
        enc_idx = None if self.shared_encoder else idx
        if self.lead_embed is not None:
            lead_embed = self.lead_embed if idx is None else self.lead_embed.index_select(0, idx)
            tok = tok + lead_embed.view(n_l, 1, 1, d)
        for blk in self.blocks:
            tok = blk(tok, enc_idx)
        return self.norm(tok, enc_idx)

    def _decode(self, tok: Tensor, idx: Tensor | None, ids_restore: Tensor) -> Tensor:
        """Tokens ``[L, B, 1 + n_keep, D]`` → predicted patches ``[L, B, n_patches, P]``."""
        y = self.decoder_embed(tok, idx)
        n_l, b, t, dd = y.shape
        n = self.n_patches
        mask_token = self.mask_token if idx is None else self.mask_token.index_select(0, idx)
        if t - 1 < n:
            fill = mask_token.view(n_l, 1, 1, dd).expand(n_l, b, n - (t - 1), dd)
            body = torch.cat([y[:, :, 1:], fill], dim=2)
        else:
            body = y[:, :, 1:]
        body = torch.gather(body, 2, ids_restore.view(1, b, n, 1).expand(n_l, b, n, dd))
        y = torch.cat([y[:, :, :1], body], dim=2) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            y = blk(y, idx)
        y = self.decoder_pred(self.decoder_norm(y, idx), idx)
        return y[:, :, 1:]

    # ------------------------------------------------------------------ public API
    def encode(
        self,
        x: Tensor,
        leads: Sequence[str] | str | None = None,
        ids_keep: Tensor | None = None,
        return_tokens: bool = True,
    ) -> Tensor:
        """Encode each lead with its own encoder.

        Args:
            x: ``[B, n_sel, n_times]`` z-scored signals of the leads ``leads`` (default: all
                leads of the bank, in bank order).
            leads: which lead models to run (names, any subset/order of the bank's leads).
            ids_keep: ``[B, n_keep]`` visible patch indices (from :meth:`random_mask`);
                None = all patches in time order (no masking).
            return_tokens: if False, return only the CLS embedding.

        Returns:
            ``[B, n_sel, 1 + n_keep, embed_dim]`` tokens after the final norm (CLS first), or
            ``[B, n_sel, embed_dim]`` when ``return_tokens`` is False.
        """
        names = self._resolve(leads)
        self._check_x(x, names)
        if ids_keep is not None:
            self._check_ids(ids_keep, x.shape[0], "ids_keep")
        tok = self._encode(x, self._lead_index(names, x.device), ids_keep)
        return tok.transpose(0, 1) if return_tokens else tok[:, :, 0].transpose(0, 1)

    def decode(self, tokens: Tensor, leads: Sequence[str] | str | None, ids_restore: Tensor) -> Tensor:
        """Decode tokens with the decoders of ``leads``.

        Args:
            tokens: ``[B, n_sel, 1 + n_keep, embed_dim]`` (e.g. from :meth:`encode`).
            leads: the decoders to use, one per token row (None = all, in bank order).
            ids_restore: ``[B, n_patches]`` from the mask the tokens were encoded with.

        Returns:
            Predicted patches ``[B, n_sel, n_patches, patch_size]``.
        """
        names = self._resolve(leads)
        if tokens.dim() != 4 or tokens.shape[1] != len(names) or tokens.shape[3] != self.embed_dim:
            raise InputError(
                f"tokens have shape {tuple(tokens.shape)}, expected [B, {len(names)}, 1 + n_keep, "
                f"{self.embed_dim}]; pass the output of encode() for the same leads"
            )
        self._check_ids(ids_restore, tokens.shape[0], "ids_restore", self.n_patches)
        pred = self._decode(tokens.transpose(0, 1), self._lead_index(names, tokens.device), ids_restore)
        return pred.transpose(0, 1)

    def forward(
        self,
        x: Tensor,
        leads: Sequence[str] | str | None = None,
        mask_ratio: float = 0.75,
        generator: torch.Generator | None = None,
        mask: PatchMask | None = None,
    ) -> MAEOutput:
        """Masked-autoencoder pass: mask (shared by all leads), encode, decode.

        Args:
            x: ``[B, n_sel, n_times]`` z-scored signals.
            leads: lead names of ``x``'s rows (None = all bank leads in order).
            mask_ratio: fraction of patches hidden, ``[0, 1)``.
            generator: RNG for the mask.
            mask: use this mask instead of drawing one (``mask_ratio``/``generator`` ignored).

        Returns:
            :class:`MAEOutput` with ``pred``/``target_patches`` ``[B, n_sel, n_patches,
            patch_size]``, ``mask`` ``[B, n_patches]``, ``tokens`` ``[B, n_sel, 1+n_keep, D]``.
        """
        names = self._resolve(leads)
        self._check_x(x, names)
        idx = self._lead_index(names, x.device)
        b = x.shape[0]
        if mask is None:
            mask = self.random_mask(b, mask_ratio, generator=generator, device=x.device)
        else:
            self._check_ids(mask.ids_restore, b, "mask.ids_restore", self.n_patches)
        tok = self._encode(x, idx, mask.ids_keep)
        pred = self._decode(tok, idx, mask.ids_restore)
        return MAEOutput(
            pred=pred.transpose(0, 1), mask=mask.mask, tokens=tok.transpose(0, 1),
            target_patches=patchify(x, self.patch_size), ids_restore=mask.ids_restore,
        )

    def pool(self, tokens: Tensor) -> Tensor:
        """Per-lead embedding from tokens ``[B, n_sel, 1 + n, D]`` → ``[B, n_sel, D]``: the CLS
        token or the mean of the patch tokens (``embed_pool``)."""
        return tokens[:, :, 0] if self.embed_pool == "cls" else tokens[:, :, 1:].mean(dim=2)

    def embed(self, x: Tensor, leads: Sequence[str] | str | None = None) -> Tensor:
        """Embeddings without masking (inference): ``[B, n_sel, embed_dim]`` (see ``embed_pool``)."""
        if self.embed_pool == "cls":
            return self.encode(x, leads, ids_keep=None, return_tokens=False)
        return self.pool(self.encode(x, leads, ids_keep=None))

    def cross_reconstruct(
        self,
        x: Tensor,
        from_leads: Sequence[str] | str,
        to_leads: Sequence[str] | str,
        combine: str = "mean",
        n_views: int = 4,
    ) -> Tensor:
        """Reconstruct ``to_leads`` from ``from_leads`` through the aligned token space.

        Each input lead is encoded by its own encoder; the aligned token sequences are combined
        across input leads (position by position) and decoded by each target lead's decoder.

        The decoders were trained to predict *masked* patches only, so by default every patch is
        decoded as a masked one (``n_views`` passes): the patches are split into ``n_views``
        interleaved groups, pass ``v`` lets the encoders see group ``v`` and the decoders
        predict the rest, and each patch's output is the mean over the passes that hid it.
        With a training mask ratio of 0.75 the encoders see 1/4 of the patches per pass, as in
        training (``n_views=4``). ``n_views=1`` is a single pass with every patch visible.

        Args:
            x: ``[B, len(from_leads), n_times]`` z-scored input leads.
            from_leads: names of ``x``'s rows.
            to_leads: leads to reconstruct (may overlap ``from_leads``).
            combine: ``"mean"`` (default) or ``"median"`` over input leads.
            n_views: decoding passes (see above); ``1`` = all patches visible.

        Returns:
            ``[B, len(to_leads), n_times]`` in the z-scored domain of each target lead.
        """
        src, dst = _parse_lead_arg(from_leads), _parse_lead_arg(to_leads)
        self._check_x(x, src)
        if combine not in ("mean", "median"):
            raise InputError(f"combine={combine!r} is not supported; use 'mean' or 'median'")
        n, b = self.n_patches, x.shape[0]
        if not 1 <= int(n_views) <= n:
            raise InputError(f"n_views={n_views} must be between 1 and the number of patches ({n})")
        src_idx, dst_idx = self._lead_index(src, x.device), self._lead_index(dst, x.device)

        def run(ids_keep: Tensor | None, ids_restore: Tensor) -> Tensor:
            tok = self._encode(x, src_idx, ids_keep)  # [Lf, B, 1+k, D]
            z = tok.mean(dim=0) if combine == "mean" else tok.median(dim=0).values
            z = z.unsqueeze(0).expand(len(dst), *z.shape)
            return self._decode(z, dst_idx, ids_restore)  # [Lt, B, N, P]

        positions = torch.arange(n, device=x.device)
        if int(n_views) == 1:
            pred = run(None, positions.expand(b, -1))
        else:
            total = x.new_zeros(len(dst), b, n, self.patch_size)
            count = x.new_zeros(n)
            for v in range(int(n_views)):
                visible = positions[v::n_views]
                hidden = positions[(positions % n_views) != v]
                order = torch.cat([visible, hidden])
                ids_restore = torch.argsort(order).expand(b, -1)
                masked = torch.zeros(n, device=x.device, dtype=x.dtype)
                masked[hidden] = 1
                total = total + run(visible.expand(b, -1), ids_restore) * masked.view(1, 1, n, 1)
                count = count + masked
            pred = total / count.view(1, 1, n, 1)
        return unpatchify(pred.transpose(0, 1))


# ----------------------------------------------------------------------------- plain transformer layers
class TransformerBlock(nn.Module):
    """Ordinary pre-norm transformer block (fused qkv ``nn.Linear``, SDPA, GELU MLP)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``[B, T, dim]`` → same shape."""
        b, t, d = x.shape
        h = self.num_heads
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4).unbind(0)
        att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(att)
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Encoder1d(nn.Module):
    """One lead's ViT encoder: patch embedding, CLS, fixed positions, blocks, final norm."""

    def __init__(
        self, n_patches: int, in_dim: int, dim: int, depth: int, heads: int, mlp_ratio: float
    ) -> None:
        super().__init__()
        self.patch_embed = nn.Linear(in_dim, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.register_buffer("pos_embed", sincos_pos_embed_1d(dim, n_patches), persistent=False)

    def forward(self, patches: Tensor, ids_keep: Tensor | None, extra: Tensor | None = None) -> Tensor:
        """``patches`` ``[B, N, in_dim]`` → tokens ``[B, 1 + n_keep, dim]``; ``extra`` ``[dim]`` is
        added to every token (per-lead embedding of the shared-encoder variant)."""
        tok = self.patch_embed(patches) + self.pos_embed[1:]
        b, _, d = tok.shape
        if ids_keep is not None:
            tok = torch.gather(tok, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
        cls = (self.cls_token + self.pos_embed[:1]).expand(b, -1, -1)
        tok = torch.cat([cls, tok], dim=1)
        if extra is not None:
            tok = tok + extra
        for blk in self.blocks:
            tok = blk(tok)
        return self.norm(tok)


class Decoder1d(nn.Module):
    """One lead's MAE decoder: embed, mask tokens, unshuffle, fixed positions, blocks, head."""

    def __init__(self, n_patches: int, dim: int, dec_dim: int, depth: int, heads: int,
                 mlp_ratio: float, out_dim: int) -> None:
        super().__init__()
        self.n_patches = n_patches
        self.decoder_embed = nn.Linear(dim, dec_dim)
        self.mask_token = nn.Parameter(torch.randn(1, 1, dec_dim) * 0.02)
        self.blocks = nn.ModuleList(TransformerBlock(dec_dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dec_dim, eps=LN_EPS)
        self.pred = nn.Linear(dec_dim, out_dim)
        self.register_buffer("pos_embed", sincos_pos_embed_1d(dec_dim, n_patches), persistent=False)

    def forward(self, tok: Tensor, ids_restore: Tensor) -> Tensor:
        """Tokens ``[B, 1 + n_keep, dim]`` → predictions ``[B, n_patches, out_dim]``."""
        y = self.decoder_embed(tok)
        b, t, dd = y.shape
        fill = self.mask_token.expand(b, self.n_patches - (t - 1), dd)
        body = torch.cat([y[:, 1:], fill], dim=1)
        body = torch.gather(body, 1, ids_restore.unsqueeze(-1).expand(-1, -1, dd))
        y = torch.cat([y[:, :1], body], dim=1) + self.pos_embed
        for blk in self.blocks:
            y = blk(y)
        return self.pred(self.norm(y))[:, 1:]


# ----------------------------------------------------------------------------- 12-channel baseline
class MultiChannelMAE(nn.Module):
    """Baseline: ONE 1-D ViT-MAE whose patch embedding sees all channels at once.

    A patch is the ``n_channels × patch_size`` block of samples at one time span; the decoder
    predicts all channels of each patch. Same conventions as :class:`LeadBankMAE`.

    Args:
        leads: channel names in input order (default: the 12 standard leads).
        n_times, fs, patch_size, embed_dim, depth, num_heads, decoder_embed_dim,
        decoder_depth, decoder_heads, mlp_ratio: as for :class:`LeadBankMAE`.
    """

    def __init__(
        self,
        leads: Sequence[str] | str = STANDARD_LEADS,
        n_times: int = 500,
        fs: float = 100.0,
        patch_size: int = 25,
        embed_dim: int = 96,
        depth: int = 3,
        num_heads: int = 4,
        decoder_embed_dim: int = 64,
        decoder_depth: int = 1,
        decoder_heads: int = 4,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.leads = _parse_lead_arg(leads)
        _check_arch(n_times, fs, patch_size, embed_dim, depth, num_heads, decoder_embed_dim,
                    decoder_depth, decoder_heads, mlp_ratio)
        self.n_leads = len(self.leads)
        self.n_times, self.fs, self.patch_size = int(n_times), float(fs), int(patch_size)
        self.n_patches = self.n_times // self.patch_size
        self.embed_dim = embed_dim
        self._config = dict(
            leads=list(self.leads), n_times=self.n_times, fs=self.fs, patch_size=self.patch_size,
            embed_dim=embed_dim, depth=depth, num_heads=num_heads, decoder_embed_dim=decoder_embed_dim,
            decoder_depth=decoder_depth, decoder_heads=decoder_heads, mlp_ratio=float(mlp_ratio),
        )
        c, n = self.n_leads, self.n_patches
        self.encoder = Encoder1d(n, c * patch_size, embed_dim, depth, num_heads, mlp_ratio)
        self.decoder = Decoder1d(n, embed_dim, decoder_embed_dim, decoder_depth, decoder_heads,
                                  mlp_ratio, c * patch_size)
        _init_linears(self)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this architecture."""
        return dict(self._config)

    def _check_x(self, x: Tensor) -> None:
        ok = isinstance(x, Tensor) and x.dim() == 3
        if not ok or x.shape[1] != self.n_leads or x.shape[2] != self.n_times:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise InputError(
                f"x has shape {shape} but expected [B, {self.n_leads}, {self.n_times}] "
                f"(leads {','.join(self.leads)}); pass all channels the model was built with"
            )

    def _patches(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        return patchify(x, self.patch_size).permute(0, 2, 1, 3).reshape(b, self.n_patches, -1)

    def random_mask(self, batch_size: int, mask_ratio: float = 0.75, generator: torch.Generator | None = None,
                    device: torch.device | str | None = None) -> PatchMask:
        """One random mask per sample (all channels of a patch are hidden together)."""
        device = self.encoder.pos_embed.device if device is None else device
        return random_patch_mask(batch_size, self.n_patches, mask_ratio, generator, device)

    def encode(self, x: Tensor, ids_keep: Tensor | None = None, return_tokens: bool = True) -> Tensor:
        """``x`` ``[B, C, n_times]`` → tokens ``[B, 1 + n_keep, D]`` (or CLS ``[B, D]``)."""
        self._check_x(x)
        tok = self.encoder(self._patches(x), ids_keep)
        return tok if return_tokens else tok[:, 0]

    def decode(self, tokens: Tensor, ids_restore: Tensor) -> Tensor:
        """Tokens ``[B, 1 + n_keep, D]`` → predicted patches ``[B, C, n_patches, patch_size]``."""
        out = self.decoder(tokens, ids_restore)
        b = out.shape[0]
        return out.view(b, self.n_patches, self.n_leads, self.patch_size).transpose(1, 2)

    def forward(self, x: Tensor, mask_ratio: float = 0.75, generator: torch.Generator | None = None,
                mask: PatchMask | None = None) -> MAEOutput:
        """Masked pass; ``pred``/``target_patches`` ``[B, C, n_patches, P]``, ``tokens``
        ``[B, 1 + n_keep, D]``."""
        self._check_x(x)
        if mask is None:
            mask = self.random_mask(x.shape[0], mask_ratio, generator, x.device)
        tok = self.encoder(self._patches(x), mask.ids_keep)
        return MAEOutput(pred=self.decode(tok, mask.ids_restore), mask=mask.mask, tokens=tok,
                         target_patches=patchify(x, self.patch_size), ids_restore=mask.ids_restore)

    def embed(self, x: Tensor) -> Tensor:
        """CLS embedding ``[B, D]`` without masking."""
        return self.encode(x, None, return_tokens=False)
