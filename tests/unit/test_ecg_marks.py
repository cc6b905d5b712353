"""ECG.spread and the reconstruction marks: validation, the interval, and how select / derive /
with_signal carry them (small hand-built records)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import one_line
from leadlift.ecg import ECG, STANDARD_LEADS, gaussian_z
from leadlift.errors import InputError

FS = 100.0
N = 200  # 2 s


def _marked(leads: tuple[str, ...] = ("I", "II", "V1", "V2")) -> ECG:
    """A small marked record: I measured, the rest synthesized with spreads 0.01, 0.02, ... mV."""
    t = np.arange(N) / FS
    signal = np.stack([np.sin(2 * np.pi * (k + 1) * t) for k in range(len(leads))]).astype(np.float32)
    spread = np.stack([np.full(N, 0.01 * k) for k in range(len(leads))]).astype(np.float32)
    labels = {"measured": ["I"], "synthesized": list(leads[1:]), "model": "recon-i", "model_version": "1.0",
              "interval": {"level": 0.9, "z": 1.6449}}
    return ECG(signal, FS, leads, labels=labels, spread=spread)


def test_spread_is_stored_as_float32_and_defaults_to_none() -> None:
    ecg = _marked()
    assert ecg.spread is not None and ecg.spread.dtype == np.float32 and ecg.spread.flags.c_contiguous
    assert ecg.spread.shape == ecg.signal.shape
    plain = ECG(ecg.signal, FS, ecg.leads)
    assert plain.spread is None and not plain.is_marked and ecg.is_marked
    assert plain.synthesized_leads == () and plain.measured_leads == ()
    one = ECG(np.sin(np.arange(N) / 10), FS, ("V1",), spread=np.full(N, 0.1))  # 1-D for one lead
    assert one.spread is not None and one.spread.shape == (1, N)


@pytest.mark.parametrize(("spread", "fragment"), [
    (np.zeros((4, N - 1)), "shape"),
    (np.full((4, N), np.nan), "NaN/inf"),
    (np.full((4, N), -0.1), "negative"),
    (np.full((4, N), "x"), "dtype"),
])
def test_bad_spread_is_refused_in_one_line(spread: np.ndarray, fragment: str) -> None:
    ecg = _marked()
    with pytest.raises(InputError) as exc:
        ECG(ecg.signal, FS, ecg.leads, spread=spread)
    assert fragment in one_line(exc)


def test_marked_leads_follow_the_lead_order() -> None:
    ecg = _marked()
    assert ecg.synthesized_leads == ("II", "V1", "V2")
    assert ecg.measured_leads == ("I",)
    shuffled = ECG(ecg.signal, FS, ecg.leads, labels={"synthesized": ["V2", "v1", "nonsense"]})
    assert shuffled.synthesized_leads == ("V1", "V2")  # any spelling, unknown names skipped


def test_interval_uses_the_stored_z() -> None:
    ecg = _marked()
    low, high = ecg.interval()
    assert low.shape == high.shape == ecg.signal.shape and low.dtype == np.float32
    np.testing.assert_allclose(high - ecg.signal, 1.6449 * ecg.spread, atol=1e-6)
    np.testing.assert_allclose(ecg.signal - low, 1.6449 * ecg.spread, atol=1e-6)
    np.testing.assert_array_equal(low[0], ecg.signal[0])  # measured: no width
    with pytest.raises(InputError) as exc:
        ecg.interval(0.5)
    assert "0.9" in one_line(exc)
    without_z = ECG(ecg.signal, FS, ecg.leads, spread=ecg.spread)  # no stored interval: Gaussian z
    _, high50 = without_z.interval(0.5)
    np.testing.assert_allclose(high50 - ecg.signal, gaussian_z(0.5) * ecg.spread, atol=1e-6)
    assert gaussian_z(0.9) == pytest.approx(1.6449, abs=1e-4)
    with pytest.raises(InputError) as exc:
        ECG(ecg.signal, FS, ecg.leads).interval()
    assert "no spread" in one_line(exc)


def test_select_carries_spread_and_cuts_the_marks() -> None:
    ecg = _marked()
    sub = ecg.select("V2,I")
    assert sub.leads == ("V2", "I")
    assert sub.spread is not None
    np.testing.assert_array_equal(sub.spread, ecg.spread[[3, 0]])
    assert sub.labels["synthesized"] == ["V2"] and sub.labels["measured"] == ["I"]
    assert sub.labels["model"] == "recon-i"
    twelve = _marked(STANDARD_LEADS).to_standard12()
    assert twelve.spread is not None and twelve.spread.shape == (12, N)


def test_derived_limb_leads_get_a_bound_and_the_synthesized_mark() -> None:
    ecg = _marked()
    three = ecg.select("I,II,III,aVR")
    assert three.spread is not None
    sd_i, sd_ii = ecg.spread[0], ecg.spread[1]  # 0 and 0.01 mV
    np.testing.assert_allclose(three.spread[2], sd_i + sd_ii, atol=1e-7)  # III = II - I
    np.testing.assert_allclose(three.spread[3], 0.5 * sd_i + 0.5 * sd_ii, atol=1e-7)
    assert three.synthesized_leads == ("II", "III", "aVR")  # derived from a synthesized II
    both_measured = ECG(ecg.signal, FS, ecg.leads, spread=ecg.spread * np.array([[0], [0], [1], [1]]),
                        labels={"measured": ["I", "II"], "synthesized": ["V1", "V2"]})
    derived = both_measured.with_derived_limb_leads()
    assert derived.spread is not None
    assert not derived.spread[[derived.leads.index(n) for n in ("III", "aVR", "aVL", "aVF")]].any()
    assert derived.synthesized_leads == ("V1", "V2") and derived.measured_leads == ("I", "II")
    assert derived.labels["derived_exactly"] == ["III", "aVR", "aVL", "aVF"]
    assert "derived_exactly" not in three.labels or three.labels["derived_exactly"] == []


def test_with_signal_drops_the_spread_unless_given() -> None:
    ecg = _marked()
    filtered = ecg.with_signal(ecg.signal * 0.5)
    assert filtered.spread is None and filtered.labels == ecg.labels
    kept = ecg.with_signal(ecg.signal * 0.5, spread=ecg.spread)
    assert kept.spread is not None
    with pytest.raises(InputError):
        ecg.with_signal(ecg.signal[:, ::2], fs=FS / 2, spread=ecg.spread)  # shape no longer fits
