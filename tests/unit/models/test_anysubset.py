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
    assemble_with_spread,
    masked_zscore,
    presence_mask,
    subset_key,
)
from leadlift.models.recon import LeadPlan, PathologyEncoder
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
