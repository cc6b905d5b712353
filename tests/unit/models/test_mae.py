"""Per-lead MAE bank (checked against the loop reference of benchmarks/) and the 12-channel baseline."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.losses import masked_reconstruction_loss, triplet_alignment_loss
from leadlift.models import (
    LeadBankMAE,
    MultiChannelMAE,
    patchify,
    random_patch_mask,
    sincos_pos_embed_1d,
    unpatchify,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from loop_lead_mae import LoopLeadMAE

TINY = dict(n_times=200, fs=100.0, patch_size=20, embed_dim=16, depth=1, num_heads=2,
            decoder_embed_dim=16, decoder_depth=1, decoder_heads=2)
B, N, P, D = 3, 10, 20, 16


@pytest.fixture(scope="module")
def bank() -> LeadBankMAE:
    torch.manual_seed(0)
    return LeadBankMAE(STANDARD_LEADS, **TINY).eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.randn(B, 12, 200, generator=torch.Generator().manual_seed(1))


def _mask(model: LeadBankMAE, ratio: float = 0.75, seed: int = 2):
    return model.random_mask(B, ratio, generator=torch.Generator().manual_seed(seed))


def test_helpers() -> None:
    pe = sincos_pos_embed_1d(8, 5)
    assert pe.shape == (6, 8) and pe[0].abs().sum() == 0 and pe[1, 4] == pytest.approx(1.0)  # cos(0)
    sig = torch.arange(2 * 3 * 40, dtype=torch.float32).view(2, 3, 40)
    assert torch.equal(unpatchify(patchify(sig, 10)), sig)
    assert patchify(sig, 10)[1, 2, 3].tolist() == sig[1, 2, 30:40].tolist()


def test_shapes(bank: LeadBankMAE, x: torch.Tensor) -> None:
    out = bank(x, mask_ratio=0.75, generator=torch.Generator().manual_seed(0))
    n_keep = int(N * 0.25)
    assert out.pred.shape == (B, 12, N, P)
    assert out.target_patches.shape == (B, 12, N, P)
    assert out.mask.shape == (B, N)
    assert out.tokens.shape == (B, 12, 1 + n_keep, D)
    assert bank.encode(x).shape == (B, 12, 1 + N, D)
    assert bank.embed(x).shape == (B, 12, D)
    assert bank.decode(bank.encode(x), None, torch.arange(N).expand(B, -1)).shape == (B, 12, N, P)


def test_mask_shared_and_ratio() -> None:
    m = random_patch_mask(64, N, 0.75, generator=torch.Generator().manual_seed(0))
    n_keep = 2  # floor(10 · 0.25)
    assert m.ids_keep.shape == (64, n_keep) and m.ids_restore.shape == (64, N)
    assert torch.all(m.mask.sum(1) == N - n_keep)
    # the visible patches are exactly ids_keep
    vis = torch.zeros(64, N).scatter_(1, m.ids_keep, 1.0)
    assert torch.equal(vis, 1 - m.mask)
    assert not torch.equal(m.mask[0], m.mask[1]) or not torch.equal(m.mask[1], m.mask[2])
    m0 = random_patch_mask(4, N, 0.0)
    assert m0.mask.sum() == 0 and m0.ids_keep.shape == (4, N)
    with pytest.raises(InputError):
        random_patch_mask(4, N, 1.0)


def test_mask_shared_across_leads(bank: LeadBankMAE, x: torch.Tensor) -> None:
    # The masked-out patches of one lead do not influence any lead's tokens: with a shared mask,
    # changing the hidden patches of every lead leaves the tokens unchanged.
    m = _mask(bank)
    tok = bank(x, mask=m).tokens
    x2 = x.clone().view(B, 12, N, P)
    x2[m.mask.bool().unsqueeze(1).expand(-1, 12, -1)] = 99.0
    tok2 = bank(x2.view(B, 12, 200), mask=m).tokens
    assert torch.allclose(tok, tok2)
    out = bank(x, mask=m)
    assert out.mask.shape == (B, N)  # a single mask per sample, not per lead


def test_bank_equals_loop(bank: LeadBankMAE, x: torch.Tensor) -> None:
    loop = LoopLeadMAE.from_bank(bank).eval()
    m = _mask(bank)
    a, b = bank(x, mask=m), loop(x, mask=m)
    assert torch.allclose(a.pred, b.pred, atol=1e-5)
    assert torch.allclose(a.tokens, b.tokens, atol=1e-5)
    assert torch.allclose(bank.embed(x), loop.embed(x), atol=1e-5)
    src, dst = ["I", "V2"], ["V1", "V5", "I"]
    assert torch.allclose(bank.cross_reconstruct(x[:, [0, 7]], src, dst, n_views=1),
                          loop.cross_reconstruct(x[:, [0, 7]], src, dst), atol=1e-5)
    # same loss and same gradients for one weight of lead V3's first block
    for model in (bank, loop):
        model.zero_grad()
        out = model(x, mask=m)
        recon = masked_reconstruction_loss(out.pred, out.target_patches, out.mask)
        (recon + triplet_alignment_loss(out.tokens)).backward()
    g_bank = bank.blocks[0].qkv.weight.grad[8].T
    g_loop = loop.encoders[8].blocks[0].qkv.weight.grad
    assert torch.allclose(g_bank, g_loop, atol=1e-5)


def test_subset_uses_that_leads_weights(bank: LeadBankMAE, x: torch.Tensor) -> None:
    m = _mask(bank)
    full = bank(x, mask=m)
    v2 = bank(x[:, [7]], leads=["v2"], mask=m)  # any spelling
    assert torch.allclose(v2.pred[:, 0], full.pred[:, 7], atol=1e-6)
    assert torch.allclose(v2.tokens[:, 0], full.tokens[:, 7], atol=1e-6)
    pair = bank(x[:, [9, 0]], leads=["V4", "I"], mask=m)  # any order
    assert torch.allclose(pair.pred, full.pred[:, [9, 0]], atol=1e-6)
    small = bank.select_leads(["V2"])
    assert small.n_leads == 1
    assert torch.allclose(small(x[:, [7]], mask=m).pred[:, 0], full.pred[:, 7], atol=1e-6)


def test_config_roundtrip_and_state_dict(bank: LeadBankMAE, x: torch.Tensor) -> None:
    clone = LeadBankMAE(**bank.get_config()).eval()
    clone.load_state_dict(bank.state_dict())
    m = _mask(bank)
    assert torch.equal(clone(x, mask=m).pred, bank(x, mask=m).pred)
    assert not any("pos_embed" in k for k in bank.state_dict())  # fixed, rebuilt from the config
    assert bank.blocks[0].qkv.weight.shape == (12, D, 3 * D)  # stacked along the lead dim


def test_shared_encoder_variant(x: torch.Tensor) -> None:
    torch.manual_seed(3)
    model = LeadBankMAE(STANDARD_LEADS, shared_encoder=True, **TINY)
    n_params_shared = sum(p.numel() for p in model.parameters())
    n_params_bank = sum(p.numel() for p in LeadBankMAE(STANDARD_LEADS, **TINY).parameters())
    assert n_params_shared < n_params_bank
    m = _mask(model)
    out = model(x, mask=m)
    assert out.pred.shape == (B, 12, N, P) and out.tokens.shape == (B, 12, 3, D)
    loop = LoopLeadMAE.from_bank(model)
    assert torch.allclose(out.pred, loop(x, mask=m).pred, atol=1e-5)
    one = model(x[:, [4]], leads=["aVL"], mask=m)
    assert torch.allclose(one.pred[:, 0], out.pred[:, 4], atol=1e-6)
    # same signal in two leads still gives different tokens (per-lead embedding)
    same = x[:, :1].expand(-1, 2, -1).contiguous()
    tok = model.encode(same, ["I", "II"])
    assert not torch.allclose(tok[:, 0], tok[:, 1])


def test_alignment_gradients_reach_only_anchor_encoder(x: torch.Tensor) -> None:
    # Two leads; the alignment loss of anchor lead I only (computed by hand from the full loss's
    # definition) must not send gradient into lead II's encoder when the others are detached.
    torch.manual_seed(4)
    model = LeadBankMAE(["I", "II"], **TINY)
    tok = model.encode(x[:, :2])
    u = torch.nn.functional.normalize(tok, dim=-1)
    other = u.detach()
    d_pos = 1 - (u[:, 0] * other[:, 1]).sum(-1)
    d_neg = 1 - (u[:, 0] * other[:, 1].roll(1, 0)).sum(-1)
    torch.relu(d_pos - d_neg + 0.5).mean().backward()
    w = model.blocks[0].qkv.weight.grad
    assert w is not None and w[0].abs().sum() > 0 and w[1].abs().sum() == 0
    # the library loss uses every lead as an anchor in turn, so lead II's encoder learns too
    model.zero_grad()
    triplet_alignment_loss(model.encode(x[:, :2])).backward()
    assert model.blocks[0].qkv.weight.grad[1].abs().sum() > 0


def test_cross_reconstruct(bank: LeadBankMAE, x: torch.Tensor) -> None:
    assert bank.cross_reconstruct(x[:, [1, 6]], ["II", "V1"], ["V1", "V2", "V3", "V4"]).shape == (B, 4, 200)
    # single pass with every patch visible (n_views=1), checked against encode/decode
    out = bank.cross_reconstruct(x[:, [1, 6]], ["II", "V1"], ["V1", "V2", "V3", "V4"], n_views=1)
    one = bank.cross_reconstruct(x[:, [1]], ["II"], ["V3"], n_views=1)
    # mean over a single input lead == decoding that lead's tokens directly
    tok = bank.encode(x[:, [1]], ["II"])
    direct = unpatchify(bank.decode(tok, ["V3"], torch.arange(N).expand(B, -1)))
    assert torch.allclose(one, direct, atol=1e-6)
    # mean combination equals decoding the averaged tokens
    toks = bank.encode(x[:, [1, 6]], ["II", "V1"]).mean(1, keepdim=True)
    two = unpatchify(bank.decode(toks, ["V2"], torch.arange(N).expand(B, -1)))
    assert torch.allclose(out[:, 1:2], two, atol=1e-6)
    assert bank.cross_reconstruct(x[:, [1, 6]], ["II", "V1"], ["V2"], combine="median").shape == (B, 1, 200)
    with pytest.raises(InputError):
        bank.cross_reconstruct(x[:, [1]], ["II"], ["V3"], combine="max")


def test_input_errors(bank: LeadBankMAE, x: torch.Tensor) -> None:
    bad = [
        dict(n_times=210),  # not a multiple of patch 20
        dict(num_heads=3),  # 16 % 3
        dict(decoder_heads=3),
        dict(embed_dim=15, num_heads=5),  # odd width: no sin-cos embedding
        dict(fs=0.0),
        dict(patch_size=0),
        dict(depth=-1),
    ]
    for override in bad:
        with pytest.raises(InputError):
            LeadBankMAE(STANDARD_LEADS, **{**TINY, **override})
    with pytest.raises(InputError):
        LeadBankMAE(["I", "XYZ"], **TINY)
    with pytest.raises(InputError):
        LeadBankMAE(["I", "i"], **TINY)
    with pytest.raises(InputError):
        LeadBankMAE([], **TINY)
    with pytest.raises(InputError):
        bank(x[:, :11])  # 11 rows for 12 leads
    with pytest.raises(InputError):
        bank(x[:, :, :190])  # wrong n_times
    with pytest.raises(InputError):
        bank(x[:, :2], leads=["I", "II", "III"])
    with pytest.raises(InputError):
        LeadBankMAE(["I", "II"], **TINY)(x[:, :1], leads=["V1"])  # lead not in the bank
    with pytest.raises(InputError):
        bank(x[0])  # 2-D
    with pytest.raises(InputError):
        bank(x, mask_ratio=1.0)


def test_multichannel_mae(x: torch.Tensor) -> None:
    torch.manual_seed(5)
    model = MultiChannelMAE(STANDARD_LEADS, **TINY)
    m = model.random_mask(B, 0.75, generator=torch.Generator().manual_seed(0))
    out = model(x, mask=m)
    assert out.pred.shape == (B, 12, N, P) and out.tokens.shape == (B, 3, D)
    assert model.embed(x).shape == (B, D)
    loss = masked_reconstruction_loss(out.pred, out.target_patches, out.mask)
    loss.backward()
    assert model.encoder.patch_embed.weight.grad is not None
    # the patch embedding sees all 12 channels: changing V6 changes the CLS embedding
    x2 = x.clone()
    x2[:, 11] += 1.0
    assert not torch.allclose(model.embed(x), model.embed(x2))
    with pytest.raises(InputError):
        model(x[:, :3])


def test_cross_reconstruct_decodes_every_patch_as_masked(bank: LeadBankMAE, x: torch.Tensor) -> None:
    """With n_views=2, even patches come from the pass that showed only the odd patches."""
    src, dst = ["II"], ["V3"]
    out = bank.cross_reconstruct(x[:, [1]], src, dst, n_views=2)
    n, p = bank.n_patches, bank.patch_size
    visible = torch.arange(1, n, 2)
    order = torch.cat([visible, torch.arange(0, n, 2)])
    ids_restore = torch.argsort(order).expand(x.shape[0], -1)
    tok = bank.encode(x[:, [1]], src, ids_keep=visible.expand(x.shape[0], -1))
    pred = bank.decode(tok, dst, ids_restore)  # [B, 1, N, P]
    torch.testing.assert_close(out[:, 0, :p], pred[:, 0, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[:, 0, 2 * p:3 * p], pred[:, 0, 2], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out, bank.cross_reconstruct(x[:, [1]], src, dst, n_views=1))
    with pytest.raises(InputError, match="n_views"):
        bank.cross_reconstruct(x[:, [1]], src, dst, n_views=0)
