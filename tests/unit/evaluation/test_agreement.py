"""Lead-agreement statistics against hand-computed values and brute force."""

from __future__ import annotations

import numpy as np
import pytest

from leadlift.errors import InputError
from leadlift.evaluation.agreement import cosine_matrix, lead_agreement


def test_cosine_matrix_hand_computed() -> None:
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    b = np.array([[0.0, 2.0], [3.0, 0.0]])
    np.testing.assert_allclose(cosine_matrix(a, b), [[0, 1], [1 / np.sqrt(2), 1 / np.sqrt(2)]], atol=1e-12)


def test_lead_agreement_small_known_case() -> None:
    # 3 ECGs, 2 leads, 2-d embeddings: lead 2 = lead 1 rotated a little for every ECG
    base = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    theta = 0.1
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    emb = np.stack([base, base @ rot.T], axis=1)  # [3, 2, 2]
    res = lead_agreement(emb, ["I", "II"])
    c = res["cosine"]
    assert c["same"][0][1] == pytest.approx(np.cos(theta))
    assert c["same"][0][0] == pytest.approx(1.0)
    # different ECGs, lead I vs lead II: brute force over the 6 ordered pairs
    u = emb / np.linalg.norm(emb, axis=-1, keepdims=True)
    brute = np.mean([u[n, 0] @ u[m, 1] for n in range(3) for m in range(3) if n != m])
    assert c["diff"][0][1] == pytest.approx(brute)
    assert c["gap"][0][1] == pytest.approx(np.cos(theta) - brute)
    assert c["retrieval"][0][1] == 1.0 and res["chance_retrieval"] == pytest.approx(1 / 3)
    assert c["mean_gap"] == pytest.approx(np.cos(theta) - brute)  # both off-diagonal pairs are equal here


def test_lead_agreement_random_vs_aligned() -> None:
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(40, 1, 16))
    aligned = shared + 0.1 * rng.normal(size=(40, 12, 16))
    unrelated = rng.normal(size=(40, 12, 16))
    a, r = lead_agreement(aligned, [str(i) for i in range(12)]), lead_agreement(unrelated, [str(i) for i in range(12)])
    assert a["cosine"]["mean_gap"] > 0.9 and abs(r["cosine"]["mean_gap"]) < 0.1
    assert a["cosine"]["mean_retrieval"] == 1.0 and r["cosine"]["mean_retrieval"] < 0.2
    # a constant offset shared by all embeddings inflates raw cosine but not the gap after centring
    offset = unrelated + 10.0
    o = lead_agreement(offset, [str(i) for i in range(12)])
    assert o["cosine"]["mean_same"] > 0.9 and abs(o["centered"]["mean_gap"]) < 0.1
    assert len(a["hist"]["same"]) == len(a["hist"]["diff"]) == 4000


def test_lead_agreement_rejects_bad_shapes() -> None:
    with pytest.raises(InputError):
        lead_agreement(np.zeros((1, 2, 3)), ["I", "II"])
    with pytest.raises(InputError):
        lead_agreement(np.zeros((4, 2, 3)), ["I"])
