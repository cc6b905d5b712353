"""Supervised contrastive loss (paper 2) against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from leadlift.errors import InputError
from leadlift.losses import label_similarity, mse_l1_loss, supervised_contrastive_loss


def test_supcon_matches_hand_computed_value() -> None:
    # f1 = f2 = (1, 0), f3 = (0, 1); labels 0, 0, 1; tau = 1.
    # anchor 1: s12 = 1, s13 = 0 -> -log(e / (e + 1)) = log(1 + e^-1); anchor 2 the same;
    # anchor 3 has no positive and is left out of the mean.
    f = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    loss = supervised_contrastive_loss(f, torch.tensor([0, 0, 1]), temperature=1.0)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)


def test_supcon_two_views_and_temperature() -> None:
    # 2 samples x 2 views as [B, V, D]: view a of sample 0 is (1, 0), its other view (0.6, 0.8),
    # sample 1's views are (0, 1) and (-1, 0). Labels differ, so each anchor has exactly one
    # positive (its other view). Hand-computed with tau = 0.5.
    feats = torch.tensor([[[1.0, 0.0], [0.6, 0.8]], [[0.0, 1.0], [-1.0, 0.0]]])
    f = [(1.0, 0.0), (0.0, 1.0), (0.6, 0.8), (-1.0, 0.0)]  # view-major order: s0v0, s1v0, s0v1, s1v1
    pos = {0: 2, 1: 3, 2: 0, 3: 1}
    tau = 0.5
    total = 0.0
    for i in range(4):
        s = {j: (f[i][0] * f[j][0] + f[i][1] * f[j][1]) / tau for j in range(4) if j != i}
        total += -(s[pos[i]] - math.log(sum(math.exp(v) for v in s.values())))
    loss = supervised_contrastive_loss(feats, torch.tensor([0, 1]), temperature=tau)
    assert loss.item() == pytest.approx(total / 4, rel=1e-5)


def test_supcon_multilabel_uses_jaccard_weights() -> None:
    # label sets {A}, {A, B}, {B}, {}: Jaccard weights w12 = 1/2, w23 = 1/2, w13 = 0; the empty set
    # matches no other row, so anchor 4 has no positive.
    labels = torch.tensor([[1, 0], [1, 1], [0, 1], [0, 0]])
    w = label_similarity(labels)
    expected = torch.tensor([[1, 0.5, 0, 0], [0.5, 1, 0.5, 0], [0, 0.5, 1, 0], [0, 0, 0, 1.0]])
    torch.testing.assert_close(w, expected)
    f = torch.nn.functional.normalize(torch.tensor([[1.0, 0.2], [0.5, 0.5], [0.1, 1.0], [-1.0, -1.0]]), dim=1)
    tau = 0.1
    total, n = 0.0, 0
    for i in range(4):
        s = {j: float(f[i] @ f[j]) / tau for j in range(4) if j != i}
        lse = math.log(sum(math.exp(v) for v in s.values()))
        ws = {j: float(expected[i, j]) for j in s}
        if sum(ws.values()) == 0:
            continue
        total += -sum(ws[j] * (s[j] - lse) for j in s) / sum(ws.values())
        n += 1
    loss = supervised_contrastive_loss(f, labels, temperature=tau)
    assert loss.item() == pytest.approx(total / n, rel=1e-5)
    # one-hot multi-label rows behave exactly like single labels
    one_hot = torch.nn.functional.one_hot(torch.tensor([0, 1, 1, 2]), 3)
    torch.testing.assert_close(supervised_contrastive_loss(f, one_hot, 0.2),
                               supervised_contrastive_loss(f, torch.tensor([0, 1, 1, 2]), 0.2))


def test_supcon_gradient_and_errors() -> None:
    """The analytic gradient equals finite differences (float64 gradcheck), also through the
    normalisation of the features; errors are InputErrors."""
    f = torch.randn(8, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    labels = torch.tensor([0, 1, 0, 1, 0, 1, 2, 2])
    assert torch.autograd.gradcheck(lambda x: supervised_contrastive_loss(x, labels, temperature=0.2), (f,))
    assert supervised_contrastive_loss(torch.randn(3, 4), torch.tensor([0, 1, 2])).item() == 0.0
    with pytest.raises(InputError):
        supervised_contrastive_loss(torch.randn(4, 3), torch.tensor([0, 1]))
    with pytest.raises(InputError):
        supervised_contrastive_loss(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), temperature=0.0)


def test_mse_l1_loss_in_mv() -> None:
    pred, target = torch.zeros(2, 3), torch.full((2, 3), 0.5)
    assert mse_l1_loss(pred, target).item() == pytest.approx(0.8 * 0.25 + 0.2 * 0.5)
