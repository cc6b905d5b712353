"""Reconstruction models (paper 2): lead plan, exact limb leads, linear baseline, network shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from leadlift.data.store import prepare
from leadlift.ecg import STANDARD_LEADS, derive_limb_leads
from leadlift.errors import InputError
from leadlift.models.recon import (
    FusionReconstructor,
    LeadPlan,
    LinearLeadMap,
    PathologyEncoder,
    ReconNet,
    UNet1d,
    joint_zscore,
)


def test_lead_plan_paper_inputs() -> None:
    plan = LeadPlan.from_inputs("I,II,V2")
    assert plan.learned == ("V1", "V3", "V4", "V5", "V6")
    assert plan.derived == ("III", "aVR", "aVL", "aVF") and plan.exact
    assert plan.scored == plan.learned  # derived limb leads are not averaged


def test_lead_plan_single_lead_learns_ii_and_derives_the_rest() -> None:
    plan = LeadPlan.from_inputs("I")
    assert plan.learned == ("II", "V1", "V2", "V3", "V4", "V5", "V6")
    assert plan.derived == ("III", "aVR", "aVL", "aVF") and not plan.exact
    assert set(plan.scored) == set(STANDARD_LEADS) - {"I"}
    assert LeadPlan.from_inputs("V2").learned[:2] == ("I", "II")
    assert LeadPlan.from_inputs("aVF").learned[0] == "II"
    assert LeadPlan.from_inputs("II").learned[0] == "I"
    assert LeadPlan.from_inputs("I,III").exact  # any two limb leads span the limb plane
    with pytest.raises(InputError):
        LeadPlan.from_inputs("all")


@pytest.mark.parametrize("inputs", ["I,II,V2", "I,II", "I", "II,V1", "III,aVL"])
def test_assembled_limb_leads_follow_einthoven_exactly(inputs: str) -> None:
    plan = LeadPlan.from_inputs(inputs)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, len(plan.inputs), 50)).astype(np.float32)
    y = rng.normal(size=(4, len(plan.learned), 50)).astype(np.float32)
    full = plan.assemble(x, y)
    assert full.shape == (4, 12, 50)
    for i, name in enumerate(plan.inputs):
        np.testing.assert_array_equal(full[:, STANDARD_LEADS.index(name)], x[:, i])
    d = derive_limb_leads(full[:, 0].astype(np.float64), full[:, 1].astype(np.float64))
    for name in ("III", "aVR", "aVL", "aVF"):
        np.testing.assert_allclose(full[:, STANDARD_LEADS.index(name)], d[name], atol=1e-5)
    torch_full = plan.assemble(torch.from_numpy(x), torch.from_numpy(y))
    np.testing.assert_allclose(torch_full.numpy(), full, atol=1e-6)


def test_limb_leads_exact_on_real_records(data_dir) -> None:
    """With I and II as inputs, III/aVR/aVL/aVF of the output equal the stored leads up to the
    storage quantisation (PTB-XL stores every lead with 1 µV resolution)."""
    store = prepare("ptbxl", 100, data_dir, progress=False)
    true = np.asarray(store.signals[:20], dtype=np.float32)
    plan = LeadPlan.from_inputs("I,II,V2")
    full = plan.assemble(true[:, [0, 1, 7]], np.zeros((20, 5, true.shape[-1]), np.float32))
    for name in ("III", "aVR", "aVL", "aVF"):
        k = STANDARD_LEADS.index(name)
        assert np.abs(full[:, k] - true[:, k]).max() < 0.0025  # mV


def test_linear_baseline_recovers_an_exact_linear_relation() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3, 64))
    w = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]])
    b = np.array([0.1, -0.2])
    y = np.einsum("kj,njt->nkt", w, x) + b[None, :, None]
    lin = LinearLeadMap(3, 2).fit(x.astype(np.float32), y.astype(np.float32), chunk=7)
    np.testing.assert_allclose(lin.weight.numpy(), w, atol=1e-5)
    np.testing.assert_allclose(lin.bias.numpy(), b, atol=1e-5)
    pred = ReconNet(lin, output_scale="raw")(torch.from_numpy(x).float())
    np.testing.assert_allclose(pred.detach().numpy(), y, atol=1e-4)


def test_linear_baseline_exact_on_real_leads(data_dir) -> None:
    """A target built as an exact linear map of real I, II, V2 is recovered to numerical precision."""
    store = prepare("ptbxl", 100, data_dir, progress=False)
    x = np.asarray(store.signals[:40][:, [0, 1, 7]], dtype=np.float64)
    w = np.array([[0.2, 0.9, -0.4]])
    y = np.einsum("kj,njt->nkt", w, x) + 0.05
    lin = LinearLeadMap(3, 1).fit(x, y)
    np.testing.assert_allclose(lin.weight.numpy(), w, atol=1e-5)
    assert abs(float(lin.bias) - 0.05) < 1e-5
    with pytest.raises(InputError):
        LinearLeadMap(3, 1).fit(x[:, :2], y)


def test_networks_shapes_and_scale_equivariance() -> None:
    torch.manual_seed(0)
    x = torch.randn(6, 3, 256)
    enc = PathologyEncoder(3, stem_channels=8, widths=(8, 16), strides=(2, 2), proj_dim=16).eval()
    h, z = enc(joint_zscore(x)[0])
    assert h.shape == (6, 16) and z.shape == (6, 16)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(6))
    for rec, e in [(FusionReconstructor(3, 5, 16, 8, 8), enc), (FusionReconstructor(3, 5, 0, 8, 8), None),
                   (FusionReconstructor(3, 5, 16, 8, 8, per_lead=False), enc), (UNet1d(3, 5, 3, 4, 5), None)]:
        net = ReconNet(rec, e).eval()
        y = net(x)
        assert y.shape == (6, 5, 256)
        # output_scale="input_std": scaling the input (mV) scales the output by the same factor
        torch.testing.assert_close(net(3.0 * x), 3.0 * y, rtol=1e-4, atol=1e-4)
    with pytest.raises(InputError):
        FusionReconstructor(3, 5, 16, 8, 8)(x)  # the embedding view needs h


def test_per_lead_decoders_are_independent() -> None:
    """Grouped convolutions: the gradient of target lead k's output reaches only decoder k."""
    torch.manual_seed(0)
    rec = FusionReconstructor(3, 4, 0, 4, 4)
    out = rec(torch.randn(2, 3, 32))
    out[:, 1].sum().backward()
    g = rec.decoder[2].weight.grad.view(4, -1).abs().sum(1)
    assert g[1] > 0 and float(g[[0, 2, 3]].sum()) == 0.0


def _real_windows(data_dir, n_records: int = 6, window: int = 128) -> np.ndarray:
    """Non-overlapping windows ``[N, 12, window]`` (mV) of the first PTB-XL records at 100 Hz."""
    store = prepare("ptbxl", 100, data_dir, progress=False)
    wins = [store.ecg(i).signal[:, s:s + window] for i in range(n_records) for s in range(0, 1000 - window + 1, window)]
    return np.stack(wins).astype(np.float64)


def test_fir_least_squares_equals_numpy_lstsq_on_real_windows(data_dir) -> None:
    """FIR LS (±3 taps, intercept) from I,II to V2,V5 on real windows: the closed-form fit through the
    accumulated normal equations equals numpy.linalg.lstsq on the explicit design matrix."""
    from leadlift.models.recon import FIRLeadMap, lagged_features

    w = _real_windows(data_dir)
    x, y = w[:, [0, 1]], w[:, [7, 10]]
    L = 3
    fir = FIRLeadMap(2, 2, half_taps=L).fit_batches([(x[:10], y[:10]), (x[10:], y[10:])])
    # explicit design: column c·(2L+1)+k = lead c at lag k−L, zero outside the window, plus 1
    n, _, t = x.shape
    design = np.zeros((n * t, 2 * (2 * L + 1) + 1))
    for c in range(2):
        for k in range(2 * L + 1):
            lag = k - L
            shifted = np.zeros((n, t))
            if lag >= 0:
                shifted[:, : t - lag] = x[:, c, lag:]
            else:
                shifted[:, -lag:] = x[:, c, : t + lag]
            design[:, c * (2 * L + 1) + k] = shifted.reshape(-1)
    design[:, -1] = 1.0
    np.testing.assert_allclose(lagged_features(x, L), design[:, :-1])
    target = y.transpose(0, 2, 1).reshape(-1, 2)
    coef = np.linalg.lstsq(design, target, rcond=None)[0]
    np.testing.assert_allclose(fir.weight.numpy().reshape(2, -1), coef[:-1].T, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fir.bias.numpy(), coef[-1], rtol=1e-6, atol=1e-8)
    # the network applies the same filter: conv1d output equals the design matrix times the coefficients
    # (up to the float32 storage of the weights: well below 1 µV)
    pred = fir(torch.from_numpy(x)).numpy().transpose(0, 2, 1).reshape(-1, 2)
    np.testing.assert_allclose(pred, design @ coef, atol=1e-6)


def test_shorter_fir_cut_from_longer_normal_equations_is_exact(data_dir) -> None:
    from leadlift.models.recon import lagged_normal_equations, select_lags, solve_normal_equations

    w = _real_windows(data_dir, n_records=3)
    x, y = w[:, [0]], w[:, [7]]
    big = lagged_normal_equations([(x, y)], 1, 1, 5)
    small = lagged_normal_equations([(x, y)], 1, 1, 2)
    cut = select_lags(big[0], big[1], 1, 5, 2)
    np.testing.assert_allclose(cut[0], small[0], rtol=1e-12)
    np.testing.assert_allclose(solve_normal_equations(*cut), solve_normal_equations(small[0], small[1]), rtol=1e-8)
