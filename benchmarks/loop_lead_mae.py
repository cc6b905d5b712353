"""Reference implementation for benchmarks and tests: the per-lead MAEs as separate modules.

:class:`LoopLeadMAE` computes the same function as :class:`leadlift.models.LeadBankMAE` with one
ordinary module per lead, run in a Python loop. It is the honest baseline of
``benchmarks/leadbank_throughput.py`` and the reference the bank is checked against in
``tests/unit/models/test_mae.py``; it is not part of the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.models.mae import (
    Decoder1d,
    Encoder1d,
    LeadBankMAE,
    MAEOutput,
    PatchMask,
    TransformerBlock,
    _BankBlock,
    _BankLayerNorm,
    _BankLinear,
    _check_arch,
    _init_linears,
    _parse_lead_arg,
    patchify,
    random_patch_mask,
    unpatchify,
)

__all__ = ["LoopLeadMAE"]


class LoopLeadMAE(nn.Module):
    """The per-lead MAEs as separate ordinary modules run one after another (reference).

    Same function, arguments and outputs as :class:`LeadBankMAE` (``forward``/``encode``/
    ``embed``/``cross_reconstruct``), but ``encoders[i]`` and ``decoders[i]`` are independent
    ``nn.Module`` objects and the leads are processed in a Python loop. Used to check the bank
    and as the honest baseline of ``benchmarks/leadbank_throughput.py``.
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
        shared_encoder: bool = False,
    ) -> None:
        super().__init__()
        self.leads = _parse_lead_arg(leads)
        _check_arch(n_times, fs, patch_size, embed_dim, depth, num_heads, decoder_embed_dim,
                    decoder_depth, decoder_heads, mlp_ratio)
        self.n_leads = len(self.leads)
        self.n_times, self.fs, self.patch_size = int(n_times), float(fs), int(patch_size)
        self.n_patches = self.n_times // self.patch_size
        self.embed_dim = embed_dim
        self.shared_encoder = bool(shared_encoder)
        self._config = dict(
            leads=list(self.leads), n_times=self.n_times, fs=self.fs, patch_size=self.patch_size,
            embed_dim=embed_dim, depth=depth, num_heads=num_heads, decoder_embed_dim=decoder_embed_dim,
            decoder_depth=decoder_depth, decoder_heads=decoder_heads, mlp_ratio=float(mlp_ratio),
            shared_encoder=self.shared_encoder,
        )
        n_enc = 1 if self.shared_encoder else self.n_leads
        n = self.n_patches
        self.encoders = nn.ModuleList(
            Encoder1d(n, patch_size, embed_dim, depth, num_heads, mlp_ratio) for _ in range(n_enc)
        )
        self.lead_embed = (
            nn.Parameter(torch.randn(self.n_leads, embed_dim) * 0.02) if self.shared_encoder else None
        )
        self.decoders = nn.ModuleList(
            Decoder1d(n, embed_dim, decoder_embed_dim, decoder_depth, decoder_heads, mlp_ratio, patch_size)
            for _ in range(self.n_leads)
        )
        _init_linears(self)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this architecture."""
        return dict(self._config)

    @classmethod
    def from_bank(cls, bank: LeadBankMAE) -> LoopLeadMAE:
        """A loop model with exactly the weights of ``bank`` (copied, not shared)."""
        loop = cls(**bank.get_config()).to(bank.pos_embed.device)

        def lin(dst: nn.Linear, src: _BankLinear, i: int) -> None:
            dst.weight.copy_(src.weight[i].T)
            dst.bias.copy_(src.bias[i])

        def norm(dst: nn.LayerNorm, src: _BankLayerNorm, i: int) -> None:
            dst.weight.copy_(src.weight[i])
            dst.bias.copy_(src.bias[i])

        def block(dst: TransformerBlock, src: _BankBlock, i: int) -> None:
            for name in ("qkv", "proj", "fc1", "fc2"):
                lin(getattr(dst, name), getattr(src, name), i)
            norm(dst.norm1, src.norm1, i)
            norm(dst.norm2, src.norm2, i)

        with torch.no_grad():
            for i, enc in enumerate(loop.encoders):
                lin(enc.patch_embed, bank.patch_embed, i)
                enc.cls_token.copy_(bank.cls_token[i].view(1, 1, -1))
                for dst_b, src_b in zip(enc.blocks, bank.blocks, strict=True):
                    block(dst_b, src_b, i)
                norm(enc.norm, bank.norm, i)
            if loop.lead_embed is not None and bank.lead_embed is not None:
                loop.lead_embed.copy_(bank.lead_embed)
            for i, dec in enumerate(loop.decoders):
                lin(dec.decoder_embed, bank.decoder_embed, i)
                dec.mask_token.copy_(bank.mask_token[i].view(1, 1, -1))
                for dst_b, src_b in zip(dec.blocks, bank.decoder_blocks, strict=True):
                    block(dst_b, src_b, i)
                norm(dec.norm, bank.decoder_norm, i)
                lin(dec.pred, bank.decoder_pred, i)
        return loop

    def _rows(self, x: Tensor | None, leads: Sequence[str] | str | None) -> list[int]:
        names = self.leads if leads is None else _parse_lead_arg(leads)
        missing = [n for n in names if n not in self.leads]
        if missing:
            raise InputError(f"lead(s) {', '.join(missing)} have no model here; pass leads from {self.leads}")
        if x is not None and (x.dim() != 3 or x.shape[1] != len(names) or x.shape[2] != self.n_times):
            raise InputError(
                f"x has shape {tuple(x.shape)} but expected [B, {len(names)}, {self.n_times}]; "
                "pass one row per named lead"
            )
        return [self.leads.index(n) for n in names]

    def _enc(self, patches: Tensor, i: int, ids_keep: Tensor | None) -> Tensor:
        if self.shared_encoder:
            assert self.lead_embed is not None
            return self.encoders[0](patches, ids_keep, self.lead_embed[i])
        return self.encoders[i](patches, ids_keep)

    def random_mask(self, batch_size: int, mask_ratio: float = 0.75, generator: torch.Generator | None = None,
                    device: torch.device | str | None = None) -> PatchMask:
        """Same as :meth:`LeadBankMAE.random_mask`."""
        device = self.decoders[0].pos_embed.device if device is None else device
        return random_patch_mask(batch_size, self.n_patches, mask_ratio, generator, device)

    def encode(self, x: Tensor, leads: Sequence[str] | str | None = None, ids_keep: Tensor | None = None,
               return_tokens: bool = True) -> Tensor:
        """Same as :meth:`LeadBankMAE.encode`: ``[B, n_sel, 1 + n_keep, D]`` (or CLS ``[B, n_sel, D]``)."""
        rows = self._rows(x, leads)
        target = patchify(x, self.patch_size)
        tok = torch.stack([self._enc(target[:, j], i, ids_keep) for j, i in enumerate(rows)], dim=1)
        return tok if return_tokens else tok[:, :, 0]

    def forward(self, x: Tensor, leads: Sequence[str] | str | None = None, mask_ratio: float = 0.75,
                generator: torch.Generator | None = None, mask: PatchMask | None = None) -> MAEOutput:
        """Same as :meth:`LeadBankMAE.forward`, one lead at a time."""
        rows = self._rows(x, leads)
        if mask is None:
            mask = self.random_mask(x.shape[0], mask_ratio, generator, x.device)
        target = patchify(x, self.patch_size)
        toks, preds = [], []
        for j, i in enumerate(rows):
            tok = self._enc(target[:, j], i, mask.ids_keep)
            toks.append(tok)
            preds.append(self.decoders[i](tok, mask.ids_restore))
        return MAEOutput(pred=torch.stack(preds, 1), mask=mask.mask, tokens=torch.stack(toks, 1),
                         target_patches=target, ids_restore=mask.ids_restore)

    def embed(self, x: Tensor, leads: Sequence[str] | str | None = None) -> Tensor:
        """CLS embeddings ``[B, n_sel, D]`` without masking."""
        return self.encode(x, leads, None, return_tokens=False)

    def cross_reconstruct(self, x: Tensor, from_leads: Sequence[str] | str, to_leads: Sequence[str] | str,
                          combine: str = "mean") -> Tensor:
        """Same as :meth:`LeadBankMAE.cross_reconstruct`: ``[B, len(to_leads), n_times]``."""
        tok = self.encode(x, from_leads)
        if combine == "mean":
            z = tok.mean(dim=1)
        elif combine == "median":
            z = tok.median(dim=1).values
        else:
            raise InputError(f"combine={combine!r} is not supported; use 'mean' or 'median'")
        ids_restore = torch.arange(self.n_patches, device=x.device).expand(x.shape[0], -1)
        outs = [self.decoders[i](z, ids_restore) for i in self._rows(None, to_leads)]
        return unpatchify(torch.stack(outs, 1))
