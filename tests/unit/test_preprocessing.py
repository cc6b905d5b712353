"""Tests of leadlift.preprocessing on the real PTB-XL record 00001 (100 Hz and 500 Hz versions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import wfdb

from leadlift import preprocessing as pp
from leadlift.ecg import ECG
from leadlift.errors import InputError

FS_HR, FS_LR = 500, 100
_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _read(data_dir: Path, rel: str) -> tuple[np.ndarray, dict]:
    path = data_dir / "ptb-xl" / rel
    if not path.with_suffix(".hea").exists():
        pytest.fail(f"PTB-XL record {path} not found; set LEADLIFT_DATA to the folder holding ptb-xl/")
    signal, fields = wfdb.rdsamp(str(path))
    return signal.T.astype(np.float32), fields  # [12, n_samples], mV


@pytest.fixture(scope="module")
def hr(data_dir: Path) -> np.ndarray:
    """PTB-XL 00001 at 500 Hz, [12, 5000] float32 mV."""
    signal, fields = _read(data_dir, "records500/00000/00001_hr")
    assert fields["fs"] == FS_HR and signal.shape == (12, 5000)
    return signal


@pytest.fixture(scope="module")
def lr(data_dir: Path) -> np.ndarray:
    """The same recording as distributed at 100 Hz, [12, 1000] float32 mV."""
    signal, fields = _read(data_dir, "records100/00000/00001_lr")
    assert fields["fs"] == FS_LR and signal.shape == (12, 1000)
    return signal


def corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation along the last axis."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def tone_amplitude(x: np.ndarray, fs: float, hz: float) -> np.ndarray:
    """Amplitude of the ``hz`` component of x (least-squares projection on sin/cos)."""
    t = np.arange(x.shape[-1]) / fs
    s, c = np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)
    return np.hypot(2 * (x * s).mean(-1), 2 * (x * c).mean(-1))


# ------------------------------------------------------------------------------------- resample
def test_resample_round_trip_keeps_passband(hr: np.ndarray) -> None:
    down = pp.resample(hr, FS_HR, FS_LR)
    assert down.shape == (12, 1000) and down.dtype == np.float32
    back = pp.resample(down, FS_LR, FS_HR)
    assert back.shape == hr.shape
    # the 100 Hz version can only hold < 50 Hz: compare both after band-limiting to 0.5-40 Hz
    a = pp.bandpass(hr, FS_HR, 0.5, 40.0)[:, 250:-250]
    b = pp.bandpass(back, FS_HR, 0.5, 40.0)[:, 250:-250]
    c = corr(a, b)
    assert c.min() > 0.99, c


def test_resample_matches_ptbxl_100hz_version(hr: np.ndarray, lr: np.ndarray) -> None:
    # Same recording: PTB-XL's records100 were made from records500. Seen with this code:
    # per-lead correlation 0.971-0.996 (median ~0.985), RMS difference ~0.017 mV.
    down = pp.resample(hr, FS_HR, FS_LR)
    c = corr(down, lr)
    assert c.min() > 0.95, c
    assert np.sqrt(np.mean((down - lr) ** 2)) < 0.05


def test_resample_identity_lengths_and_rational_ratio(hr: np.ndarray) -> None:
    same = pp.resample(hr, 500, 500.0)
    assert same is not hr and np.array_equal(same, hr)
    x = hr[:, :1001]
    assert pp.resample(x, 500, 100).shape[-1] == 200  # round(1001 / 5)
    assert pp.resample(x, 500, 360).shape[-1] == round(1001 * 360 / 500)
    assert pp.resample(x, 500, 257).shape[-1] == round(1001 * 257 / 500)
    assert pp.resample(x[0], 500, 250).shape == (501,)  # 1-D works too
    assert pp._resampling_ratio(500, 360) == (18, 25)


# ------------------------------------------------------------------------------------- bandpass
def test_bandpass_removes_dc_and_mains(hr: np.ndarray) -> None:
    t = np.arange(hr.shape[-1]) / FS_HR
    noisy = hr + 1.5 + 0.3 * np.sin(2 * np.pi * 60 * t)
    clean = pp.bandpass(hr, FS_HR)
    out = pp.bandpass(noisy, FS_HR)
    inner = slice(FS_HR, -FS_HR)  # filtfilt edge transients live in the first/last second
    assert np.abs(out[:, inner].mean(-1)).max() < 0.02  # the 1.5 mV offset is gone
    assert tone_amplitude(out[:, inner], FS_HR, 60).max() < 0.03  # 0.3 mV hum -> < 10 %
    diff = (out - clean)[:, inner]
    assert np.sqrt(np.mean(diff**2)) < 0.03  # seen: 0.022 mV (60 Hz attenuated to ~7.5 %)
    # the odd-extension edge transient of the synthetic hum decays over ~2 s; the middle is clean
    assert np.abs(out - clean)[:, 2 * FS_HR:-2 * FS_HR].max() < 0.05


def test_bandpass_preserves_10hz_amplitude_and_has_no_lag(hr: np.ndarray) -> None:
    t = np.arange(5000) / FS_HR
    sine = np.sin(2 * np.pi * 10 * t)
    out = pp.bandpass(sine, FS_HR)
    amp = tone_amplitude(out[FS_HR:-FS_HR], FS_HR, 10)
    assert abs(amp - 1.0) < 0.02
    # zero phase: the filtered real lead II lines up with the original (cross-correlation peak
    # at lag 0), and the sine is not shifted (its phase matches)
    lead = hr[1].astype(np.float64)
    filt = pp.bandpass(lead, FS_HR)
    xc = np.correlate(filt - filt.mean(), lead - lead.mean(), mode="full")
    assert int(np.argmax(xc)) - (len(lead) - 1) == 0
    assert np.abs(out[FS_HR:-FS_HR] - sine[FS_HR:-FS_HR]).max() < 0.02


def test_bandpass_cutoff_policy_and_errors(hr: np.ndarray) -> None:
    lead = hr[0, :1000]
    # high cut-off at/above Nyquist (here 45 Hz at fs=80) -> high-pass only
    hp = pp.bandpass(lead, 80.0, 0.5, 45.0)
    assert np.allclose(hp, pp.bandpass(lead, 80.0, 0.5, None))
    lowpass = pp.bandpass(lead, FS_HR, None, 40.0)
    assert lowpass.shape == lead.shape
    with pytest.raises(InputError, match="at least 28 samples"):
        pp.bandpass(lead[:20], FS_HR)
    assert pp.filtfilt_min_samples(FS_HR) == 28
    with pytest.raises(InputError, match="below high_hz"):
        pp.bandpass(lead, FS_HR, 40.0, 20.0)
    with pytest.raises(InputError, match="Nyquist"):
        pp.bandpass(lead, FS_HR, 300.0, None)
    with pytest.raises(InputError, match="no band"):
        pp.bandpass(lead, FS_HR, None, None)


# ------------------------------------------------------------------------------------- baseline
def test_remove_baseline_removes_slow_drift(hr: np.ndarray) -> None:
    t = np.arange(hr.shape[-1]) / FS_HR
    drift = 0.8 * np.sin(2 * np.pi * 0.15 * t) + 0.1 * t  # breathing-like wander + linear drift
    out = pp.remove_baseline(hr + drift, FS_HR)
    ref = pp.remove_baseline(hr, FS_HR)
    assert out.shape == hr.shape
    rms_drift = np.sqrt(np.mean((drift - drift.mean()) ** 2))
    assert np.sqrt(np.mean((out - ref) ** 2)) < 0.1 * rms_drift  # seen: 0.027 mV vs 0.6 mV
    slow = pp.bandpass(out, FS_HR, None, 0.5)  # what is left below 0.5 Hz
    assert np.sqrt(np.mean(slow**2)) < 0.05


def test_remove_baseline_window_errors(hr: np.ndarray) -> None:
    with pytest.raises(InputError, match="window_s"):
        pp.remove_baseline(hr, FS_HR, window_s=0.002)
    with pytest.raises(InputError, match="window_s"):
        pp.remove_baseline(hr, FS_HR, window_s=-1)


# ------------------------------------------------------------------------------------- zscore
def test_zscore_per_lead_and_flat_leads(hr: np.ndarray) -> None:
    x = hr.copy()
    x[3] = 0.7  # a flat (disconnected) lead with an offset
    z, mean, std = pp.zscore(x, return_stats=True)
    assert z.shape == x.shape and mean.shape == (12, 1) and std.shape == (12, 1)
    live = [i for i in range(12) if i != 3]
    assert np.allclose(z[live].mean(-1), 0, atol=1e-5)
    assert np.allclose(z[live].std(-1), 1, atol=1e-4)
    assert np.all(z[3] == 0)
    assert np.allclose(pp.denormalize(z, mean, std), x, atol=1e-5)
    m2, s2 = pp.zscore_stats(x)
    assert np.allclose(m2, mean) and np.allclose(s2, std)


def test_zscore_torch_differentiable(hr: np.ndarray) -> None:
    """The torch path is differentiable with the right gradient: gradcheck (finite differences, float64)
    on 60 samples of two real leads, and the torch result equals the NumPy one."""
    x = torch.from_numpy(hr[:2, 100:160].astype(np.float64)).requires_grad_(True)
    w = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 60)))
    assert torch.autograd.gradcheck(lambda v: (pp.zscore(v) * w).sum(), (x,))
    np.testing.assert_allclose(pp.zscore(x).detach().numpy(), pp.zscore(hr[:2, 100:160].astype(np.float64)),
                               atol=1e-10)


# ------------------------------------------------------------------------------------- windows
@pytest.mark.parametrize("pad", ["none", "zero", "reflect", "edge"])
def test_windows_shapes_and_overlap_add_inverse(hr: np.ndarray, pad: str) -> None:
    w, starts = pp.windows(hr, FS_HR, window=1200, hop=700, pad=pad, return_starts=True)
    n_expected = 6 if pad == "none" else 7  # 5000 samples: (5000-1200)//700+1 = 6; +1 to cover the tail
    assert w.shape == (12, n_expected, 1200)
    assert starts.tolist() == [700 * i for i in range(n_expected)]
    assert np.array_equal(starts, pp.window_starts(5000, 1200, 700, pad))
    assert np.array_equal(w[:, 2], hr[:, 1400:2600])
    back = pp.overlap_add(w, starts, 5000)
    covered = starts[-1] + 1200 if pad == "none" else 5000
    assert np.array_equal(back[:, :covered], hr[:, :covered])
    assert np.isnan(back[:, covered:]).all()  # the dropped tail is marked, not invented
    if pad != "none":
        tail = w[:, -1, 5000 - 4200:]  # the padded part of the last window
        expected = {
            "zero": np.zeros((12, 400)),
            "edge": np.repeat(hr[:, -1:], 400, axis=1),
            "reflect": np.pad(hr, ((0, 0), (0, 400)), mode="reflect")[:, 5000:],
        }[pad]
        assert np.array_equal(tail, expected)


def test_windows_seconds_and_errors(hr: np.ndarray) -> None:
    w = pp.windows(hr, FS_HR, window_s=2.5, hop_s=1.25)
    assert w.shape == (12, 7, 1250)
    assert pp.windows(hr[:, :100], FS_HR, window=300, pad="zero").shape == (12, 1, 300)
    assert pp.windows(hr[:, :1], FS_HR, window=3, pad="reflect").shape == (12, 1, 3)
    with pytest.raises(InputError, match="shorter than one window"):
        pp.windows(hr[:, :100], FS_HR, window=300)
    with pytest.raises(InputError, match="not both"):
        pp.windows(hr, FS_HR, window=100, window_s=1.0)
    with pytest.raises(InputError, match="no window length"):
        pp.windows(hr, FS_HR)
    with pytest.raises(InputError, match="padding policy"):
        pp.windows(hr, FS_HR, window=100, pad="wrap")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="hop"):
        pp.window_starts(1000, 100, 200, "zero")
    with pytest.raises(InputError, match="start indices"):
        pp.overlap_add(np.zeros((2, 3, 10)), [0, 10], 30)


# ------------------------------------------------------------------------------------- numpy vs torch
def test_numpy_and_torch_agree(hr: np.ndarray) -> None:
    hr = np.ascontiguousarray(hr[:6])  # fewer leads keep the median filter quick
    xt = torch.from_numpy(hr)
    cases = {
        "resample": lambda v: pp.resample(v, FS_HR, FS_LR),
        "bandpass": lambda v: pp.bandpass(v, FS_HR),
        "baseline": lambda v: pp.remove_baseline(v, FS_HR),
        "zscore": pp.zscore,
        "windows": lambda v: pp.windows(v, FS_HR, window=1000, hop=300, pad="reflect"),
    }
    for name, fn in cases.items():
        a, b = fn(hr), fn(xt)
        assert isinstance(b, torch.Tensor) and b.dtype == torch.float32, name
        assert a.dtype == np.float32, name
        np.testing.assert_allclose(b.numpy(), a, atol=1e-4, err_msg=name)
    w, starts = pp.windows(xt, FS_HR, window=1000, hop=300, pad="edge", return_starts=True)
    torch.testing.assert_close(pp.overlap_add(w, starts, 5000), xt)
    assert pp.resample(xt.double(), FS_HR, FS_LR).dtype == torch.float64
    assert pp.bandpass(xt[None], FS_HR).shape == (1, 6, 5000)  # extra batch axis


# ------------------------------------------------------------------------------------- fs errors
def test_fs_is_required_and_validated(hr: np.ndarray) -> None:
    with pytest.raises(TypeError):
        pp.bandpass(hr)  # type: ignore[call-arg]  # fs has no default
    for bad in (None, 0, -500, float("nan"), "fast", True):
        with pytest.raises(InputError, match="fs"):
            pp.bandpass(hr, bad)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="fs"):
            pp.remove_baseline(hr, bad)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="fs"):
            pp.windows(hr, bad, window=100)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="fs_in"):
            pp.resample(hr, bad, 100)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="fs_out"):
            pp.resample(hr, 500, bad)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="fs"):
            pp.quality_ok(hr, bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="empty"):
        pp.bandpass(np.zeros((12, 0)), FS_HR)
    with pytest.raises(InputError, match=r"\.signal"):
        pp.bandpass(ECG(hr, FS_HR, _LEADS), FS_HR)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- quality
def test_quality_check_flags_nan_flat_and_outliers(hr: np.ndarray) -> None:
    good = hr[:, :1000]
    report = pp.quality_check(good, FS_HR, leads=_LEADS)
    assert report.ok and report.reasons == [] and bool(report)

    nan = good.copy()
    nan[1, 10:13] = np.nan
    flat = good.copy()
    flat[7] = 0.2
    spike = good.copy()
    spike[9, 500] = 12.0
    for window, fragment in ((nan, "lead II: 3 NaN"), (flat, "lead V2: flat"),
                             (spike, "lead V4: amplitude")):
        report = pp.quality_check(window, FS_HR, leads=_LEADS)
        assert not report.ok
        assert len(report.reasons) == 1 and report.reasons[0].startswith(fragment), report.reasons

    batch = np.stack([good, nan, flat, spike, good])
    mask = pp.quality_ok(batch, FS_HR)
    assert mask.tolist() == [True, False, False, False, True]
    reports = pp.quality_check(batch, FS_HR)
    assert [r.ok for r in reports] == mask.tolist()
    assert pp.quality_ok(torch.from_numpy(batch), FS_HR).tolist() == mask.tolist()
    assert not pp.quality_check(good, FS_HR, min_duration_s=5.0).ok  # 1000 samples = 2 s


def test_percentile_outlier_mask(hr: np.ndarray) -> None:
    w = pp.windows(hr, FS_HR, window=250, hop=50)  # [12, 96, 250] -> [96, 12, 250]
    w = np.ascontiguousarray(np.moveaxis(w, 0, 1))
    assert w.shape == (96, 12, 250)
    # percentiles over 96 windows: at 0.1/99.9 % only the extreme window per lead/feature falls
    # outside, so few real windows have > 3 bad leads; an amplified window must be flagged
    bad = w.copy()
    bad[10, :5] *= 20  # five leads with 20x the usual range/RMS
    bad[20, 6:9] *= 20  # only three (other) leads: tolerated with max_bad_leads=3
    mask = pp.percentile_outlier_mask(bad)
    assert mask.shape == (96,) and mask.dtype == bool
    assert mask[10] and not mask[20]
    assert pp.percentile_outlier_mask(bad, max_bad_leads=2)[20]
    flat = w.copy()
    flat[30, :6] = 0.0  # six dead leads: range and RMS 0, below every low percentile
    assert pp.percentile_outlier_mask(flat)[30]
    assert mask.sum() <= 5  # real windows are mostly kept
    tmask = pp.percentile_outlier_mask(torch.from_numpy(bad))
    assert isinstance(tmask, torch.Tensor) and tmask.tolist() == mask.tolist()
    with pytest.raises(InputError, match="n_windows, n_leads, n_samples"):
        pp.percentile_outlier_mask(bad[None])


# ------------------------------------------------------------------------------------- ECG level
def test_preprocess_ecg_default_band_is_0_5_to_45_hz(hr: np.ndarray) -> None:
    """The defaults are baseline removal (0.6 s) then a 0.5-45 Hz band-pass: equal to those steps
    spelled out; on the real record, added 50 Hz mains hum is damped while 1-40 Hz content stays."""
    t = np.arange(5000) / FS_HR
    hum = 0.3 * np.sin(2 * np.pi * 50 * t)
    ecg = ECG(hr + hum, FS_HR, _LEADS)
    out = pp.preprocess_ecg(ecg)
    explicit = pp.bandpass(pp.remove_baseline(ecg.signal.astype(np.float64), FS_HR, window_s=0.6), FS_HR,
                           low_hz=0.5, high_hz=45.0)
    np.testing.assert_allclose(out.signal, explicit, atol=1e-5)
    spec = np.abs(np.fft.rfft(out.signal[:, 500:-500], axis=-1))
    f = np.fft.rfftfreq(4000, 1 / FS_HR)
    clean = np.abs(np.fft.rfft(pp.bandpass(pp.remove_baseline(hr.astype(np.float64), FS_HR, 0.6), FS_HR,
                                           0.5, 45.0)[:, 500:-500], axis=-1))
    at50 = np.argmin(np.abs(f - 50))
    assert (spec[:, at50] < 0.5 * 0.3 * 4000 / 2).all()  # hum more than halved (past the 45 Hz edge)
    band = (f >= 1) & (f <= 40)
    np.testing.assert_allclose(spec[:, band].sum(-1), clean[:, band].sum(-1), rtol=0.05)
def test_preprocess_ecg(hr: np.ndarray) -> None:
    t = np.arange(5000) / FS_HR
    ecg = ECG(hr + 0.5 * np.sin(2 * np.pi * 0.2 * t), FS_HR, _LEADS, record_id="ptbxl/00001")
    out = pp.preprocess_ecg(ecg, fs_out=FS_LR)
    assert out.fs == FS_LR and out.signal.shape == (12, 1000) and out.signal.dtype == np.float32
    assert out.leads == ecg.leads and out.record_id == "ptbxl/00001"
    assert np.abs(out.signal[:, 100:-100].mean(-1)).max() < 0.05  # wander removed
    same = pp.preprocess_ecg(ecg, bandpass=None, baseline_window_s=None)
    assert same.fs == FS_HR and np.array_equal(same.signal, ecg.signal)
    with pytest.raises(InputError, match="pair"):
        pp.preprocess_ecg(ecg, bandpass=(0.5,))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="pair"):
        pp.preprocess_ecg(ecg, bandpass=0.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="ECG record"):
        pp.preprocess_ecg(hr, fs_out=100)  # type: ignore[arg-type]
