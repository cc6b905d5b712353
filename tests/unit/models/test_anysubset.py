"""The any-subset reconstructor's pure functions on real PTB-XL windows: the masked joint z-score,
the network's blindness to absent slots, subset keys and masks, and the assembly of 12 leads with
their spread (inputs pass through with spread 0, exact limb leads with spread 0, limb leads derived
from a learned lead with its spread times |coefficient|)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from leadlift.ecg import LIMB_COEFFICIENTS, PRECORDIAL_LEADS, STANDARD_LEADS, derive_limb_leads
from leadlift.errors import InputError
from leadlift.io import read_ecg
from leadlift.models.anysubset import (
    BASIS_LEADS,
    AnySubsetNet,
    WienerPrior,
    assemble_with_spread,
    masked_zscore,
    presence_mask,
    subset_key,
)
from leadlift.models.recon import FIRLeadMap, LeadPlan, PathologyEncoder
from leadlift.recon_config import load_recon_config

T = 256  # window (samples at 100 Hz), a multiple of the tiny U-Net's 2**(levels-1)


@pytest.fixture(scope="module")
def windows(data_dir: Path) -> torch.Tensor:
    """``[3, 12, T]`` mV: three consecutive windows of PTB-XL 00001 at 100 Hz."""
    ecg = read_ecg(data_dir / "ptb-xl" / "records100" / "00000" / "00001_lr.hea")
    assert ecg.leads == STANDARD_LEADS
    x = np.stack([ecg.signal[:, k * T:(k + 1) * T] for k in range(3)])
    return torch.from_numpy(x.astype(np.float32))


def _mask(leads: str, b: int) -> torch.Tensor:
    return torch.from_numpy(np.tile(presence_mask(leads), (b, 1)))


def _garbage(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x`` with its absent rows replaced by large random values."""
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(7)) * 50 + 20
    m = mask[:, :, None]
    return x * m + noise * (1 - m)


def test_subset_key_and_presence_mask() -> None:
    assert subset_key(["V2", "I", "II"]) == "I,II,V2" == subset_key("V2,II,I")
    assert subset_key("avf,I") == "I,aVF"
    mask = presence_mask("V2,I")
    assert mask.dtype == np.float32 and mask.shape == (12,)
    assert [STANDARD_LEADS[i] for i in np.flatnonzero(mask)] == ["I", "V2"]
    assert presence_mask("I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6").sum() == 12
    with pytest.raises(InputError):
        subset_key("I,V7")


def test_masked_zscore_ignores_absent_rows(windows: torch.Tensor) -> None:
    mask = _mask("I,II,V2", len(windows))
    z, std = masked_zscore(windows, mask)
    z2, std2 = masked_zscore(_garbage(windows, mask), mask)
    torch.testing.assert_close(z, z2)
    torch.testing.assert_close(std, std2)
    absent = mask == 0
    assert std.shape == (len(windows), 1, 1) and (std > 0).all()
    assert not z[absent].any()  # absent rows are exactly 0
    present = z[~absent].reshape(len(windows), 3, T)  # joint over the present leads and samples
    torch.testing.assert_close(present.mean(dim=(1, 2)), torch.zeros(len(windows)), atol=1e-5, rtol=0)
    torch.testing.assert_close(present.std(dim=(1, 2), unbiased=False), torch.ones(len(windows)), atol=1e-4, rtol=0)
    sel = windows[:, [0, 1, 7]]  # I, II, V2 in mV: the std is theirs
    torch.testing.assert_close(std[:, 0, 0], sel.reshape(len(windows), -1).std(dim=1, unbiased=False))


def test_network_output_ignores_values_in_absent_slots(windows: torch.Tensor) -> None:
    enc = PathologyEncoder.from_config(load_recon_config("recon-tiny").encoder, 24).get_config()
    torch.manual_seed(0)
    net = AnySubsetNet(enc, levels=2, base_channels=4, kernel_size=5, feat_dim=8, head_hidden=4).eval()
    for leads in ("V2", "I,II", "III", "I,II,V1,V3,V5"):
        mask = _mask(leads, len(windows))
        with torch.no_grad():
            mean, sd = net(windows * mask[:, :, None], mask)
            mean2, sd2 = net(_garbage(windows, mask), mask)
        assert mean.shape == sd.shape == (len(windows), len(BASIS_LEADS), T)
        torch.testing.assert_close(mean, mean2, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(sd, sd2, atol=1e-6, rtol=1e-5)
        assert (sd > 0).all()
    with pytest.raises(InputError):
        net(windows[:, :8], _mask("I", len(windows))[:, :8])


def _net_outputs(windows: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in network outputs for the 8 basis leads: the true basis leads (mV) and a spread
    that differs per lead (mV), so every assembled row can be traced to its source."""
    x = windows.numpy().astype(np.float64)
    mean = x[:, [STANDARD_LEADS.index(n) for n in BASIS_LEADS]] + 0.01
    sd = np.stack([np.full((len(x), T), 0.01 * (k + 1)) for k in range(len(BASIS_LEADS))], axis=1)
    return mean, sd


def test_assemble_passes_inputs_through_and_derives_limb_leads_exactly(windows: torch.Tensor) -> None:
    plan = LeadPlan.from_inputs("I,II")
    x = windows.numpy().astype(np.float64)
    inputs = x[:, [0, 1]]
    mean, sd = _net_outputs(windows)
    signal, spread = assemble_with_spread(plan, inputs, mean, sd)
    assert signal.shape == spread.shape == (len(x), 12, T)
    np.testing.assert_array_equal(signal[:, :2], inputs)
    exact = derive_limb_leads(inputs[:, 0], inputs[:, 1])
    for name, row in exact.items():
        np.testing.assert_allclose(signal[:, STANDARD_LEADS.index(name)], row, atol=1e-12)
    assert not spread[:, :6].any()  # measured I, II and exactly derived III, aVR, aVL, aVF: spread 0
    for name in PRECORDIAL_LEADS:
        k, b = STANDARD_LEADS.index(name), BASIS_LEADS.index(name)
        np.testing.assert_array_equal(signal[:, k], mean[:, b])
        np.testing.assert_array_equal(spread[:, k], sd[:, b])


@pytest.mark.parametrize(("lead", "factors"), [
    # one measured limb lead X, II learned: derived a·I + b·II rewritten in II and X; its spread is |coef of II|·sd_II
    ("III", {"I": 1.0, "aVR": 1.0, "aVL": 0.5, "aVF": 0.5}),    # I = II - III
    ("aVF", {"I": 2.0, "III": 1.0, "aVR": 1.5, "aVL": 1.5}),    # I = 2·II - 2·aVF
])
def test_assemble_propagates_spread_from_one_limb_lead(windows: torch.Tensor, lead: str,
                                                       factors: dict[str, float]) -> None:
    plan = LeadPlan.from_inputs(lead)
    assert "II" in plan.learned and set(plan.derived) == set(factors) and not plan.exact
    k_in = STANDARD_LEADS.index(lead)
    x = windows.numpy().astype(np.float64)
    inputs = x[:, [k_in]]
    mean, sd = _net_outputs(windows)
    signal, spread = assemble_with_spread(plan, inputs, mean, sd)
    np.testing.assert_array_equal(signal[:, k_in], inputs[:, 0])
    assert not spread[:, k_in].any()
    sd_ii = sd[:, BASIS_LEADS.index("II")]
    np.testing.assert_array_equal(spread[:, 1], sd_ii)
    for name, f in factors.items():
        np.testing.assert_allclose(spread[:, STANDARD_LEADS.index(name)], f * sd_ii, rtol=1e-9)
    # the derived rows obey Einthoven/Goldberger with the assembled I and II, and reproduce the input
    i_, ii = signal[:, 0], signal[:, 1]
    for name, (a, b) in LIMB_COEFFICIENTS.items():
        np.testing.assert_allclose(signal[:, STANDARD_LEADS.index(name)], a * i_ + b * ii, atol=1e-9)


@pytest.fixture(scope="module")
def many_windows(data_dir: Path) -> torch.Tensor:
    """``[N, 12, T]`` mV: consecutive windows of eight PTB-XL records at 100 Hz."""
    out = []
    for rid in range(1, 9):
        ecg = read_ecg(data_dir / "ptb-xl" / "records100" / "00000" / f"{rid:05d}_lr.hea")
        sig = ecg.signal - np.median(ecg.signal, axis=1, keepdims=True)
        out += [sig[:, k * T:(k + 1) * T] for k in range(ecg.signal.shape[1] // T)]
    return torch.from_numpy(np.stack(out).astype(np.float32))


def test_wiener_prior_matches_fir_least_squares_for_each_subset(many_windows: torch.Tensor) -> None:
    """One cross-correlation table gives, for every subset, the filter that direct FIR least squares
    fits on that subset (up to the windows' edges: the table treats them as zero-padded)."""
    x = many_windows
    prior = WienerPrior(half_taps=6, ridge=1e-6).fit([x[: len(x) // 2], x[len(x) // 2:]])
    for leads in ("I", "I,II,V2", "V2"):
        plan = LeadPlan.from_inputs(leads)
        ii = [STANDARD_LEADS.index(n) for n in plan.inputs]
        oo = [STANDARD_LEADS.index(n) for n in plan.learned]
        fir = FIRLeadMap(len(ii), len(oo), 6, intercept=False).fit_batches([(x[:, ii], x[:, oo])], ridge=1e-6)
        with torch.no_grad():
            direct = fir(x[:, ii])
            ours = prior(x, _mask(leads, len(x)))[:, [BASIS_LEADS.index(n) for n in plan.learned]]
        err_direct = float(((direct - x[:, oo]) ** 2).mean())
        err_ours = float(((ours - x[:, oo]) ** 2).mean())
        assert err_ours <= err_direct * 1.03, (leads, err_ours, err_direct)
        assert err_ours < float((x[:, oo] ** 2).mean()) * 0.9  # it predicts something
        # a measured basis lead is reproduced (its own identity filter is in the solution space)
        for n in plan.inputs:
            if n in BASIS_LEADS:
                torch.testing.assert_close(prior(x, _mask(leads, len(x)))[:, BASIS_LEADS.index(n)],
                                           x[:, STANDARD_LEADS.index(n)], atol=2e-3, rtol=0)


def test_wiener_prior_sees_limb_leads_through_i_and_ii(many_windows: torch.Tensor) -> None:
    """I+III carries the same information as I+II, so the prior's chest-lead prediction is the same;
    absent slots are ignored; the cached filters are dropped when a state dict is loaded."""
    x = many_windows.clone()
    x[:, 2] = x[:, 1] - x[:, 0]  # III exactly (the file's III differs by its 1-µV rounding)
    prior = WienerPrior(half_taps=4, ridge=1e-6).fit([x])
    chest = [BASIS_LEADS.index(n) for n in PRECORDIAL_LEADS]
    a = prior(x, _mask("I,II", len(x)))[:, chest]
    b = prior(x, _mask("I,III", len(x)))[:, chest]
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
    m = _mask("I,V2", len(x))
    torch.testing.assert_close(prior(x, m), prior(_garbage(x, m), m))
    mixed = torch.cat([_mask("I", 2), _mask("V2,V5", 2)])  # one batch, two subsets
    out = prior(x[:4], mixed)
    torch.testing.assert_close(out[:2], prior(x[:2], _mask("I", 2)))
    torch.testing.assert_close(out[2:], prior(x[2:4], _mask("V2,V5", 2)))
    other = WienerPrior(half_taps=4, ridge=1e-6).fit([x[:3]])
    prior.load_state_dict(other.state_dict())
    torch.testing.assert_close(prior(x[:2], _mask("I", 2)), other(x[:2], _mask("I", 2)))
    with pytest.raises(InputError):
        WienerPrior(half_taps=0)


def test_network_with_prior_starts_at_the_prior(windows: torch.Tensor, many_windows: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = AnySubsetNet(None, levels=2, base_channels=4, kernel_size=5, feat_dim=8, head_hidden=4,
                       prior_half_taps=4).eval()
    net.prior.fit([many_windows])
    mask = _mask("I,II", len(windows))
    with torch.no_grad():
        mean, _ = net(windows * mask[:, :, None], mask)
        torch.testing.assert_close(mean, net.prior(windows, mask))
        mean2, _ = net(_garbage(windows, mask), mask)
    torch.testing.assert_close(mean, mean2, atol=1e-6, rtol=1e-5)
    assert net.get_config()["prior_half_taps"] == 4
    assert "prior_half_taps" not in AnySubsetNet(None, levels=2, base_channels=4).get_config()
