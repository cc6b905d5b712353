"""ECG record type: lead names, lead algebra on real PTB-XL records, the bad-input matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import wfdb

from leadlift.data.readers import PTBXLReader
from leadlift.ecg import (
    ECG,
    STANDARD_LEADS,
    derive_limb_leads,
    normalize_lead_name,
    parse_leads,
)
from leadlift.errors import InputError


@pytest.mark.parametrize(("raw", "std"), [
    ("AVR", "aVR"), ("avr", "aVR"), ("aVF", "aVF"), ("MLII", "II"), ("ECG I", "I"), ("Lead II", "II"),
    ("v1", "V1"), (" V6 ", "V6"), ("iii", "III"), ("D2", "II"),
])
def test_normalize_lead_name(raw: str, std: str) -> None:
    assert normalize_lead_name(raw) == std


def test_parse_leads() -> None:
    assert parse_leads("I,II,V2") == ("I", "II", "V2")
    assert parse_leads("all") == STANDARD_LEADS
    with pytest.raises(InputError, match="more than once"):
        parse_leads("I,i")


@pytest.mark.parametrize("fs", [100, 500])
def test_lead_algebra_matches_recorded_leads(data_dir, fs: int) -> None:
    """Derived III/aVR/aVL/aVF equal the recorded ones to within the quantisation of the files."""
    reader = PTBXLReader(data_dir, fs=fs)
    rows = range(0, len(reader), max(1, len(reader) // 60))
    worst = []
    for i in rows:
        ecg = reader.read(i)
        hdr = wfdb.rdheader(str(reader.root / reader.metadata().iloc[i]["path"]))
        quantum = 1.0 / min(hdr.adc_gain)  # mV per ADC unit
        derived = ecg.with_derived_limb_leads(overwrite=True)
        record_max = 0.0
        for lead in ("III", "aVR", "aVL", "aVF"):
            err = np.abs(derived[lead] - ecg[lead]) / quantum  # in ADC quanta
            # each recorded lead is rounded to ±q/2 and the relations combine up to three of them
            # (1.5 q). The files themselves break this in a few samples of a few records: the
            # device derived the limb leads from its own I/II before rounding (00184, 00511: 2 q)
            # and a handful of records carry single-sample glitches in one lead (00162 at 500 Hz:
            # 2.56 mV in 0.2 % of aVR/aVF samples). So: 99 % of every lead's samples within the
            # rounding bound, and the typical record within it everywhere.
            assert np.quantile(err, 0.99) <= 1.5 + 1e-2, (ecg.record_id, lead, float(np.quantile(err, 0.99)))
            record_max = max(record_max, float(err.max()))
        worst.append(record_max)
    assert np.median(worst) <= 1.5 + 1e-2, np.median(worst)
    assert np.mean(np.asarray(worst) <= 1.5 + 1e-2) >= 0.9
    # and the derivation is not trivially the recorded lead: removing it and deriving works
    ecg = reader.read(0)
    full = ecg.select(["I", "II", "V1"]).select(STANDARD_LEADS[:6])
    np.testing.assert_allclose(full["III"], ecg["II"] - ecg["I"], atol=1e-6)


def test_derive_limb_leads_numpy_and_torch() -> None:
    i = np.array([1.0, 0.5, -0.2])
    ii = np.array([0.4, 1.0, 0.3])
    d = derive_limb_leads(i, ii)
    np.testing.assert_allclose(d["III"], [-0.6, 0.5, 0.5])
    np.testing.assert_allclose(d["aVR"], [-0.7, -0.75, -0.05])
    np.testing.assert_allclose(d["aVL"], [0.8, 0.0, -0.35])
    np.testing.assert_allclose(d["aVF"], [-0.1, 0.75, 0.4])
    # Goldberger: aVR + aVL + aVF = 0
    np.testing.assert_allclose(d["aVR"] + d["aVL"] + d["aVF"], 0, atol=1e-12)
    dt = derive_limb_leads(torch.tensor(i), torch.tensor(ii))
    assert isinstance(dt["aVL"], torch.Tensor)
    np.testing.assert_allclose(dt["aVL"].numpy(), d["aVL"])


def test_select_reorders_and_derives(data_dir) -> None:
    ecg = PTBXLReader(data_dir).read(0)
    sel = ecg.select(["V2", "I"])
    assert sel.leads == ("V2", "I")
    np.testing.assert_array_equal(sel.signal[0], ecg["V2"])
    two = ecg.select("I,II")
    with pytest.raises(InputError, match=r"V1, V2, V3, V4, V5, V6 missing"):
        two.to_standard12()
    limb = two.select(["aVF", "III"])
    np.testing.assert_allclose(limb["III"], ecg["II"] - ecg["I"], atol=1e-6)


def _sig(n_leads: int = 2, n: int = 500) -> np.ndarray:
    t = np.arange(n) / 100.0
    return np.stack([0.8 * np.sin(2 * np.pi * 1.2 * t + k) for k in range(n_leads)])


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"signal": np.where(np.arange(500) == 7, np.nan, 0.1) * np.ones((2, 1))}, "NaN/inf"),
    ({"signal": np.full((2, 500), np.inf)}, "NaN/inf"),
    ({"signal": np.zeros((2, 0))}, "empty"),
    ({"signal": _sig(2, 20)}, "too short"),
    ({"fs": 0}, "not a positive sampling rate"),
    ({"fs": -100}, "not a positive sampling rate"),
    ({"fs": float("nan")}, "not a positive sampling rate"),
    ({"fs": "abc"}, "not a number"),
    ({"leads": ("I", "X7")}, "unknown lead name 'X7'"),
    ({"leads": ("I", "i")}, "more than once"),
    ({"signal": _sig(2).T}, "transposed"),
    ({"signal": _sig(3)}, "3 rows but 2 lead names"),
    ({"signal": _sig(2) * 1000}, "look like µV"),
    ({"signal": _sig(2) / 1000}, "look like V"),
    ({"signal": np.zeros((2, 3, 500))}, "expected 2-D"),
])
def test_bad_input_matrix(kwargs: dict, pattern: str) -> None:
    args = {"signal": _sig(2), "fs": 100, "leads": ("I", "II")} | kwargs
    with pytest.raises(InputError, match=pattern) as info:
        ECG(**args)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 220
    # every message says what to do
    assert any(w in msg for w in ("pass", "use", "convert", "interpolate", "check", "select"))


def test_units_conversion_and_valid_construction() -> None:
    sig_uv = _sig(2) * 1000
    ecg = ECG.from_array(sig_uv, fs=100, leads="I,II", units="uV")
    np.testing.assert_allclose(ecg.signal, _sig(2), rtol=1e-6)
    assert ecg.signal.dtype == np.float32
    assert ecg.duration_s == pytest.approx(5.0)
    one = ECG(_sig(1)[0], 100, ["MLII"])
    assert one.leads == ("II",) and one.signal.shape == (1, 500)
    ecg_t = ECG.from_array(torch.tensor(_sig(2)), fs=100, leads=("AVR", "v5"))
    assert ecg_t.leads == ("aVR", "V5")
    assert "100 Hz" in ecg.summary()


def test_limb_coefficient_table_is_the_derivation_rule() -> None:
    """One rule, two forms: the (a, b) table used by lead plans equals derive_limb_leads."""
    from leadlift.ecg import LIMB_COEFFICIENTS

    rng = np.random.default_rng(0)
    i, ii = rng.normal(size=50), rng.normal(size=50)
    derived = {"I": i, "II": ii, **derive_limb_leads(i, ii)}
    for lead, (a, b) in LIMB_COEFFICIENTS.items():
        np.testing.assert_allclose(a * i + b * ii, derived[lead], atol=1e-12)


def test_derived_limb_leads_overwrite_replaces_only_when_asked(data_dir) -> None:
    """``overwrite=True`` recomputes a recorded III/aVR/aVL/aVF from I and II; the default keeps it
    (without this, the lead-algebra test would compare the recorded leads with themselves)."""
    ecg = PTBXLReader(data_dir, fs=100).read(0)
    spoiled = ecg.with_signal(ecg.signal.copy())
    spoiled.signal[ecg.leads.index("aVF")] += 1.0  # 1 mV off
    kept = spoiled.with_derived_limb_leads()
    fixed = spoiled.with_derived_limb_leads(overwrite=True)
    np.testing.assert_allclose(kept["aVF"], ecg["aVF"] + 1.0, atol=1e-6)
    np.testing.assert_allclose(fixed["aVF"], ecg["II"] - ecg["I"] / 2, atol=1e-6)


@pytest.mark.parametrize(("units", "factor"), [("mV", 1.0), ("uV", 1e-3), ("µV", 1e-3), ("V", 1e3)])
def test_from_array_unit_factors(units: str, factor: float) -> None:
    """A tiny array in each unit comes out in mV by the exact factor."""
    values = np.array([[0.5, -1.25, 2.0] * 40])
    ecg = ECG.from_array(values / factor, fs=100, leads="I", units=units)
    np.testing.assert_allclose(ecg.signal, values, rtol=1e-6)


def test_plausibility_bounds_on_real_records(data_dir) -> None:
    """The one amplitude rule on every 10th PTB-XL record (100 Hz): each is accepted in mV (the
    largest reach ~5-7 mV of robust amplitude, so a bound moved 10x down would refuse them) and
    refused when the same values are said to be mV but are µV (x1000); in V (/1000) the typical and
    the quietest record are refused (a few mV in V is below any real mV ECG)."""
    from leadlift.ecg import MAX_PLAUSIBLE_MV, MIN_PLAUSIBLE_MV, amplitude_scale_mv, implausible_amplitude

    reader = PTBXLReader(data_dir, fs=100)
    signals = [reader.read(i).signal.astype(np.float64) for i in range(0, len(reader), 10)]
    scales = np.array([amplitude_scale_mv(s) for s in signals])
    assert scales.max() > 5.0 and scales.min() < 1.0  # the sample spans quiet and large ECGs
    assert MIN_PLAUSIBLE_MV * 100 < scales.min() and scales.max() * 2 < MAX_PLAUSIBLE_MV
    for sig in signals:
        assert implausible_amplitude(sig) is None
        assert implausible_amplitude(sig * 1000)[0] == "high"
    typical = signals[int(np.argsort(scales)[len(scales) // 2])]
    assert implausible_amplitude(typical / 1000)[0] == "low"
    big = signals[int(np.argmax(scales))]
    ECG(big, 100, STANDARD_LEADS)  # the default check accepts the largest record as mV
    with pytest.raises(InputError, match="look like µV"):
        ECG(big * 1000, 100, STANDARD_LEADS)
    quiet = signals[int(np.argmin(scales))]
    with pytest.raises(InputError, match="look like V"):
        ECG(quiet / 1000, 100, STANDARD_LEADS)
