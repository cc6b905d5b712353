"""Losses of paper 1 against values computed by hand on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch

from leadlift.errors import InputError
from leadlift.losses import (
    combine_losses,
    cosine_distance,
    cross_decoding_loss,
    cross_lead_info_nce,
    curriculum_weights,
    masked_reconstruction_loss,
    triplet_alignment_loss,
)


def _vec(deg: float, r: float = 1.0) -> list[float]:
    """A 2-D vector of length ``r`` at angle ``deg``."""
    return [r * math.cos(math.radians(deg)), r * math.sin(math.radians(deg))]


def _tokens(angles: list[list[float]], radii: list[list[float]] | None = None) -> torch.Tensor:
    """[B, L, 1, 2] tokens from angles[b][lead] (degrees)."""
    radii = radii or [[1.0] * len(row) for row in angles]
    rows = [[[_vec(a, r)] for a, r in zip(ra, rr, strict=True)] for ra, rr in zip(angles, radii, strict=True)]
    return torch.tensor(rows, dtype=torch.float64)


# ----------------------------------------------------------------------------- triplet
def test_cosine_distance_values() -> None:
    a = torch.tensor([[1.0, 0.0]])
    assert cosine_distance(a, torch.tensor([[0.0, 3.0]])).item() == pytest.approx(1.0)
    assert cosine_distance(a, torch.tensor([[-2.0, 0.0]])).item() == pytest.approx(2.0)
    assert cosine_distance(a, torch.tensor([[5.0, 0.0]])).item() == pytest.approx(0.0)


def test_triplet_roll_hand_computed() -> None:
    # B=2 samples, L=2 leads, T=1 token, d = 1 - cos(angle difference); lengths differ to check
    # that only directions matter. Angles (deg): sample0 = (0, 60), sample1 = (180, 90).
    # roll: the negative of sample b is sample b-1 (cyclic), i.e. 0<-1 and 1<-0.
    # (b=0,c=0): a=0,   p=60  -> d=0.5; n=lead1 of s1=90  -> d=1   ; hinge max(0, .5-1+.5)  = 0
    # (b=0,c=1): a=60,  p=0   -> d=0.5; n=lead0 of s1=180 -> d=1.5 ; hinge max(0, .5-1.5+.5) = 0
    # (b=1,c=0): a=180, p=90  -> d=1  ; n=lead1 of s0=60  -> d=1.5 ; hinge max(0, 1-1.5+.5)  = 0
    # (b=1,c=1): a=90,  p=180 -> d=1  ; n=lead0 of s0=0   -> d=1   ; hinge max(0, 1-1+.5)    = 0.5
    # loss = 0.5 / 4 = 0.125
    tok = _tokens([[0, 60], [180, 90]], [[1, 2], [3, 1]]).requires_grad_(True)
    loss = triplet_alignment_loss(tok, margin=0.5, negatives="roll")
    assert loss.item() == pytest.approx(0.125, abs=1e-12)
    # With B=2 the only other sample is the previous one: "all" gives the same value.
    assert triplet_alignment_loss(tok, negatives="all").item() == pytest.approx(0.125, abs=1e-12)
    # CLS-only with T=1 is the same token.
    assert triplet_alignment_loss(tok, tokens_used="cls").item() == pytest.approx(0.125, abs=1e-12)


def test_triplet_gradient_only_through_anchor() -> None:
    # Same example: only anchor (b=1, c=1) is active, loss = (d(a,p) - d(a,n) + .5) / 4 with
    # a = x[1,1] at 90 deg (unit), p at 180 deg, n at 0 deg. d/da [-cos(a,p) + cos(a,n)] for a
    # unit a orthogonal to both = -p̂ + n̂ = (1,0) + (1,0) = (2,0); /4 -> (0.5, 0).
    tok = _tokens([[0, 60], [180, 90]], [[1, 2], [3, 1]]).requires_grad_(True)
    triplet_alignment_loss(tok, detach_others=True).backward()
    grad = tok.grad
    assert grad is not None
    assert torch.allclose(grad[1, 1, 0], torch.tensor([0.5, 0.0], dtype=torch.float64), atol=1e-12)
    # positive x[1,0] and negative x[0,0] receive nothing: the other leads are detached
    grad[1, 1] = 0
    assert grad.abs().max().item() == 0.0

    tok2 = tok.detach().clone().requires_grad_(True)
    triplet_alignment_loss(tok2, detach_others=False).backward()
    assert tok2.grad is not None
    assert tok2.grad[1, 0].abs().sum() > 0  # the positive now gets gradient
    assert tok2.grad[0, 0].abs().sum() > 0  # and the negative too


def test_triplet_all_negatives_hand_computed() -> None:
    # B=3, L=2, T=1; angles: s0=(0, 90), s1=(90, 90), s2=(180, 0). margin 0.5.
    # anchor (b,c), positive x[b,1-c], negatives x[e,1-c] for e != b; "roll" uses e = b-1.
    # (0,0): a=0,   p=90  d=1 ; negs s1:90 d=1 -> .5, s2:0 d=0 -> 1.5 ; all 1.0 ; roll(s2) 1.5
    # (0,1): a=90,  p=0   d=1 ; negs s1:90 d=0 -> 1.5, s2:180 d=1 -> .5; all 1.0 ; roll(s2) 0.5
    # (1,0): a=90,  p=90  d=0 ; negs s0:90 d=0 -> .5, s2:0 d=1 -> 0    ; all .25 ; roll(s0) 0.5
    # (1,1): a=90,  p=90  d=0 ; negs s0:0 d=1 -> 0,  s2:180 d=1 -> 0   ; all 0   ; roll(s0) 0
    # (2,0): a=180, p=0   d=2 ; negs s0:90 d=1 -> 1.5, s1:90 d=1 -> 1.5; all 1.5 ; roll(s1) 1.5
    # (2,1): a=0,   p=180 d=2 ; negs s0:0 d=0 -> 2.5, s1:90 d=1 -> 1.5 ; all 2.0 ; roll(s1) 1.5
    # all = 5.75 / 6, roll = 5.5 / 6
    tok = _tokens([[0, 90], [90, 90], [180, 0]])
    assert triplet_alignment_loss(tok, negatives="all").item() == pytest.approx(5.75 / 6, abs=1e-12)
    assert triplet_alignment_loss(tok, negatives="roll").item() == pytest.approx(5.5 / 6, abs=1e-12)


def test_triplet_cls_only_and_vectorised_matches_naive() -> None:
    g = torch.Generator().manual_seed(0)
    tok = torch.randn(4, 3, 5, 6, generator=g, dtype=torch.float64)
    # naive reference over all (b, c, k != c, t)
    vals = []
    for b in range(4):
        for c in range(3):
            for k in range(3):
                if k == c:
                    continue
                for t in range(5):
                    a, p, n = tok[b, c, t], tok[b, k, t], tok[(b - 1) % 4, k, t]
                    dp = 1 - torch.nn.functional.cosine_similarity(a, p, dim=0)
                    dn = 1 - torch.nn.functional.cosine_similarity(a, n, dim=0)
                    vals.append(torch.clamp(dp - dn + 0.3, min=0))
    expected = torch.stack(vals).mean()
    got = triplet_alignment_loss(tok, margin=0.3)
    assert got.item() == pytest.approx(expected.item(), abs=1e-10)
    cls_only = triplet_alignment_loss(tok, margin=0.3, tokens_used="cls")
    assert cls_only.item() == pytest.approx(triplet_alignment_loss(tok[:, :, :1], margin=0.3).item())


def test_triplet_rejects_bad_input() -> None:
    with pytest.raises(InputError):
        triplet_alignment_loss(torch.randn(1, 2, 3, 4))  # one sample: no negative
    with pytest.raises(InputError):
        triplet_alignment_loss(torch.randn(2, 1, 3, 4))  # one lead: no positive
    with pytest.raises(InputError):
        triplet_alignment_loss(torch.randn(2, 2, 3, 4), negatives="bogus")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- reconstruction
def test_masked_loss_counts_only_masked_patches_raw() -> None:
    # B=1, L=2 leads, N=3 patches of P=2 samples; mask = [0, 1, 1] (patches 1 and 2 masked).
    target = torch.zeros(1, 2, 3, 2)
    pred = torch.zeros(1, 2, 3, 2)
    pred[0, :, 0] = 100.0  # visible patch: error ignored
    pred[0, 0, 1] = torch.tensor([1.0, 3.0])  # mse (1 + 9) / 2 = 5
    pred[0, 1, 2] = torch.tensor([2.0, 2.0])  # mse 4
    mask = torch.tensor([[0.0, 1.0, 1.0]])
    # masked per-patch mses: lead0 (5, 0), lead1 (0, 4) -> mean over 4 = 9 / 4
    loss = masked_reconstruction_loss(pred, target, mask, norm_target=False)
    assert loss.item() == pytest.approx(9 / 4)


def test_masked_loss_norm_target() -> None:
    # One masked patch [1, 3]: mean 2, population var 1 -> normalised (-1, 1) (eps 1e-6 in var).
    target = torch.tensor([[[[1.0, 3.0], [10.0, 10.0]]]])  # [1, 1, 2, 2]
    pred = torch.zeros_like(target)
    mask = torch.tensor([[1.0, 0.0]])
    s = 1.0 / math.sqrt(1.0 + 1e-6)
    # pred 0 vs (-s, s): mse = s²
    loss = masked_reconstruction_loss(pred, target, mask, norm_target=True)
    assert loss.item() == pytest.approx(s * s, rel=1e-6)
    # unbiased variance (P-1 = 1): var 2 -> targets ±1/sqrt(2+eps), mse = 1/(2+eps)
    loss_u = masked_reconstruction_loss(pred, target, mask, norm_target=True, unbiased=True)
    assert loss_u.item() == pytest.approx(1 / (2 + 1e-6), rel=1e-6)
    # raw path: mse (1 + 9) / 2 = 5
    assert masked_reconstruction_loss(pred, target, mask, norm_target=False).item() == pytest.approx(5.0)
    # a constant patch normalises to 0 (no division by zero)
    flat = torch.full((1, 1, 1, 4), 7.0)
    assert masked_reconstruction_loss(torch.zeros_like(flat), flat, torch.ones(1, 1)).item() == 0.0


def test_masked_loss_shape_errors() -> None:
    with pytest.raises(InputError):
        masked_reconstruction_loss(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 5), torch.ones(1, 3))
    with pytest.raises(InputError):
        masked_reconstruction_loss(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4), torch.ones(1, 5))


# ----------------------------------------------------------------------------- curriculum
_H = math.sqrt(0.5)  # cos(π/4) = sin(π/4)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        # paper: (cos(s·π/2), sin(s·π/2)) at s = 0, 1/2, 1
        ("paper", [(1.0, 0.0), (_H, _H), (0.0, 1.0)]),
        # code: (cos+1, sin) / (cos+1+sin): s=0 -> (2,0)/2; s=1/2 -> (1.7071, .7071)/2.4142;
        # s=1 -> (1,1)/2
        ("code", [(1.0, 0.0), ((_H + 1) / (2 * _H + 1), _H / (2 * _H + 1)), (0.5, 0.5)]),
        ("constant", [(1.0, 1.0), (1.0, 1.0), (1.0, 1.0)]),
    ],
)
def test_curriculum_weights(kind: str, expected: list[tuple[float, float]]) -> None:
    n = 10
    for epoch, (w_r, w_a) in zip([0, n / 2, n], expected, strict=True):
        got = curriculum_weights(epoch, n, kind)  # type: ignore[arg-type]
        assert got[0] == pytest.approx(w_r, abs=1e-12)
        assert got[1] == pytest.approx(w_a, abs=1e-12)


def test_curriculum_code_matches_normalised_formula_and_combine() -> None:
    n, epoch = 7, 3
    lr, la = torch.tensor(2.0), torch.tensor(5.0)
    w_r = math.cos(epoch / n * math.pi / 2) + 1
    w_a = math.sin(epoch / n * math.pi / 2)
    expected = (w_r * 2.0 + w_a * 5.0) / (w_r + w_a)
    assert combine_losses(lr, la, epoch, n, "code").item() == pytest.approx(expected, rel=1e-6)
    assert combine_losses(lr, la, 0, n, "constant", 0.3, 2.0).item() == pytest.approx(0.3 * 2 + 2 * 5)
    assert curriculum_weights(2 * n, n, "paper") == pytest.approx((0.0, 1.0), abs=1e-12)  # clamped
    with pytest.raises(InputError):
        curriculum_weights(1, 0, "paper")
    with pytest.raises(InputError):
        curriculum_weights(1, 10, "bogus")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- corrected objective
def test_triplet_self_pair_counts_the_diagonal() -> None:
    # two ECGs, two leads: with the self pair, the diagonal terms (d_pos = 0) enter the mean
    tok = _tokens([[0.0, 90.0], [180.0, 270.0]])
    without = triplet_alignment_loss(tok, margin=0.5, tokens_used="cls")
    with_self = triplet_alignment_loss(tok, margin=0.5, tokens_used="cls", include_self=True)
    # off-diagonal hinge per (b, c, k): d_pos = 1, d_neg = 1 → 0.5; self pair: d_pos 0, d_neg 2 → 0
    assert without.item() == pytest.approx(0.5)
    assert with_self.item() == pytest.approx(0.25)


def test_info_nce_is_log_b_at_chance_and_small_when_aligned() -> None:
    b, n_l, d = 8, 3, 16
    g = torch.Generator().manual_seed(0)
    same = torch.randn(b, 1, d, generator=g).expand(b, n_l, d)
    # identical per-ECG content in every lead and crop: the positive wins clearly
    assert cross_lead_info_nce(same, same, temperature=0.05).item() < 0.05
    # every ECG identical: no information, exactly chance
    const = torch.ones(b, n_l, d)
    assert cross_lead_info_nce(const, const).item() == pytest.approx(math.log(b), rel=1e-6)


def test_info_nce_cannot_be_met_by_a_shared_constant_or_position() -> None:
    # a large component shared by all ECGs (e.g. a positional code) adds nothing: only the
    # ECG-specific part separates the positive from the B - 1 negatives
    b, d = 6, 8
    g = torch.Generator().manual_seed(1)
    content = torch.randn(b, 1, d, generator=g)
    shared = 10 * torch.ones(1, 1, d)
    low = cross_lead_info_nce((content + shared).expand(b, 2, d), (content + shared).expand(b, 2, d))
    high = cross_lead_info_nce(content.expand(b, 2, d), content.expand(b, 2, d))
    assert high.item() < low.item() < math.log(b)


def test_info_nce_gradients_and_one_line_errors() -> None:
    a = torch.randn(4, 2, 8, requires_grad=True)
    loss = cross_lead_info_nce(a, torch.randn(4, 2, 8))
    loss.backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()
    with pytest.raises(InputError, match="same B and dim"):
        cross_lead_info_nce(torch.randn(4, 2, 8), torch.randn(5, 2, 8))
    # a second view of a subset of the leads: every (c, k) pair
    assert torch.isfinite(cross_lead_info_nce(torch.randn(4, 12, 8), torch.randn(4, 3, 8)))
    with pytest.raises(InputError, match="at least 2"):
        cross_lead_info_nce(torch.randn(1, 2, 8), torch.randn(1, 2, 8))


def test_cross_decoding_loss_is_mse_over_everything() -> None:
    pred = torch.zeros(2, 3, 4, 5)
    target = torch.ones(2, 3, 4, 5)
    target[0, 0] = 3.0
    expected = ((pred - target) ** 2).mean().item()
    assert cross_decoding_loss(pred, target).item() == pytest.approx(expected)
    with pytest.raises(InputError):
        cross_decoding_loss(pred, target[:, :2])


def test_info_nce_queue_adds_negatives_and_skips_the_batch_own_records() -> None:
    b, n_l, d, k = 4, 3, 8, 5
    g = torch.Generator().manual_seed(2)
    a, v = torch.randn(b, n_l, d, generator=g), torch.randn(b, 2, d, generator=g)
    base = cross_lead_info_nce(a, v, queue_leads_b=[0, 2])
    # an empty queue changes nothing
    empty = cross_lead_info_nce(a, v, queue=torch.zeros(0, n_l, d), queue_leads_b=[0, 2])
    assert empty.item() == pytest.approx(base.item(), rel=1e-6)
    # with one ECG per batch, a queue holding only that record's entries is fully excluded
    q = torch.randn(k, n_l, d, generator=g)
    one = cross_lead_info_nce(a[:2], v[:2], queue_leads_b=[0, 2])
    own = cross_lead_info_nce(a[:2], v[:2], queue=q, queue_leads_b=[0, 2], ids=torch.tensor([7, 8]),
                              queue_ids=torch.tensor([7, 8, 7, 8, 8]))
    other = cross_lead_info_nce(a[:2], v[:2], queue=q, queue_leads_b=[0, 2], ids=torch.tensor([7, 8]),
                                queue_ids=torch.arange(10, 10 + k))
    # other records' entries are extra negatives: the loss can only grow
    assert one.item() < own.item() < other.item()
    # an entry of the anchor's own record (e.g. from the previous epoch) is never its negative
    dup = a[:1]  # exactly record 0's embeddings
    masked = cross_lead_info_nce(a, v, queue=dup, ids=torch.arange(b), queue_ids=torch.tensor([0]),
                                 queue_leads_b=[0, 2])
    unmasked = cross_lead_info_nce(a, v, queue=dup, ids=torch.arange(b), queue_ids=torch.tensor([99]),
                                   queue_leads_b=[0, 2])
    assert masked.item() < unmasked.item()
    other = cross_lead_info_nce(a, v, queue=q, queue_leads_b=[0, 2], ids=torch.arange(b),
                                queue_ids=torch.arange(10, 10 + k))
    assert other.item() > base.item()
    # chance with a full queue of identical embeddings is log(B + K)
    const = torch.ones(b, n_l, d)
    assert cross_lead_info_nce(const, const, queue=torch.ones(k, n_l, d)).item() == pytest.approx(
        math.log(b + k), rel=1e-6)
    with pytest.raises(InputError, match="queue has shape"):
        cross_lead_info_nce(a, v, queue=torch.randn(k, 2, d))


def test_info_nce_one_way_is_the_forward_half() -> None:
    g = torch.Generator().manual_seed(3)
    a, k = torch.randn(5, 4, 8, generator=g), torch.randn(5, 4, 8, generator=g)
    both = cross_lead_info_nce(a, k)
    fwd = cross_lead_info_nce(a, k, symmetric=False)
    bwd = cross_lead_info_nce(k, a, symmetric=False)  # the reverse direction, anchors swapped
    assert both.item() == pytest.approx(0.5 * (fwd.item() + bwd.item()), rel=1e-5)
