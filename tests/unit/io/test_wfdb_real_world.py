"""Real-world WFDB (and EDF) files as others write them (issue 14, item 8): records written here with
``wfdb.wrsamp`` from real PTB-XL / PTB Diagnostic samples, shaped like the wfdb sample corpus —
multi-frequency frames, blood-pressure channels beside the ECG, invalid samples, raw ADC counts,
"ECG lead II" names, multi-segment records — read through the users'-file reader and ``leadlift show``."""

from __future__ import annotations

from pathlib import Path

import edfio
import numpy as np
import pytest
import wfdb

from helpers import error_line, one_line, run_cli
from leadlift.ecg import normalize_lead_name
from leadlift.errors import CorruptFileError, InputError
from leadlift.io import read_ecg
from leadlift.io.wfdb import read_wfdb

FS = 500


@pytest.fixture(scope="module")
def real(data_dir: Path) -> dict[str, np.ndarray]:
    """PTB-XL 00001 at 500 Hz (10 s), lead by lead, in mV, as wfdb reads it."""
    rec = wfdb.rdrecord(str(data_dir / "ptb-xl" / "records500" / "00000" / "00001_hr"))
    assert rec.fs == FS
    return {name.upper(): rec.p_signal[:, i].astype(np.float64) for i, name in enumerate(rec.sig_name)}


def _write(tmp_path: Path, name: str, signals: list[np.ndarray], names: list[str], units: list[str], *,
           fs: float = FS, samps_per_frame: list[int] | None = None, gains: list[float] | None = None) -> Path:
    """A WFDB record (format 16) written with wfdb.wrsamp; returns its header path."""
    n = len(signals)
    gains = gains or [1000.0 if u == "mV" else 10.0 for u in units]
    if samps_per_frame is None:
        wfdb.wrsamp(name, fs=fs, units=units, sig_name=names, p_signal=np.stack(signals, axis=1),
                    fmt=["16"] * n, adc_gain=gains, baseline=[0] * n, write_dir=str(tmp_path))
    else:
        wfdb.wrsamp(name, fs=fs, units=units, sig_name=names, e_p_signal=signals, samps_per_frame=samps_per_frame,
                    fmt=["16"] * n, adc_gain=gains, baseline=[0] * n, write_dir=str(tmp_path))
    return tmp_path / f"{name}.hea"


def _abp(n: int, fs: float) -> np.ndarray:
    """An arterial pressure trace in mmHg (80-120)."""
    return 100.0 + 20.0 * np.sin(2 * np.pi * 1.2 * np.arange(n) / fs)


# --------------------------------------------------------------------------------------- multi-frequency
def test_multi_frequency_ecg_is_read_at_its_own_rate(real, tmp_path: Path) -> None:
    """ECG at 4 samples per 125 Hz frame (500 Hz) beside a 125 Hz ABP: the ECG comes at 500 Hz with its own
    samples, not as 125 Hz frame averages."""
    hea = _write(tmp_path, "mf", [real["I"], real["II"], _abp(1250, 125)], ["I", "II", "ABP"], ["mV", "mV", "mmHg"],
                 fs=125, samps_per_frame=[4, 4, 1])
    assert " 125 " in hea.read_text().splitlines()[0]  # the header's rate is the frame rate
    ecg = read_ecg(hea)
    assert ecg.leads == ("I", "II") and ecg.fs == 500 and ecg.n_samples == 5000
    np.testing.assert_allclose(ecg["I"], real["I"], atol=1e-3)  # 1 µV quantum
    np.testing.assert_allclose(ecg["II"], real["II"], atol=1e-3)
    assert read_ecg(hea, fs=500, leads="II").fs == 500
    with pytest.raises(InputError, match="contradicts the 500 Hz"):
        read_ecg(hea, fs=125)
    # the dataset-side reader (same WFDB code) reads the ECG channels at 500 Hz too
    signal, fs, names, _, _ = read_wfdb(hea, channels=[0, 1])
    assert fs == 500 and signal.shape == (2, 5000) and names == ["I", "II"]


def test_multi_frequency_leads_of_different_rates_are_refused(real, tmp_path: Path) -> None:
    v1_250 = real["V1"][::2]
    hea = _write(tmp_path, "mixed", [real["I"], v1_250], ["I", "V1"], ["mV", "mV"], fs=125, samps_per_frame=[4, 2])
    with pytest.raises(InputError, match=r"different sampling rates \(I 500 Hz, V1 250 Hz\).*--leads") as exc:
        read_ecg(hea)
    one_line(exc)
    lead_i, lead_v1 = read_ecg(hea, leads="I"), read_ecg(hea, leads="V1")
    assert (lead_i.fs, lead_i.n_samples, lead_v1.fs, lead_v1.n_samples) == (500, 5000, 250, 2500)
    np.testing.assert_allclose(lead_v1["V1"], v1_250, atol=1e-3)


# --------------------------------------------------------------------------------------- units
def test_pressure_channels_beside_ecg_leads_do_not_block_them(real, tmp_path: Path) -> None:
    n = len(real["I"])
    hea = _write(tmp_path, "icu", [real["II"], _abp(n, FS), real["V2"], _abp(n, FS) / 4, real["I"]],
                 ["II", "ABP", "V2", "PAP", "I"], ["mV", "mmHg", "mV", "mmHg", "mV"])
    ecg = read_ecg(hea)
    assert ecg.leads == ("II", "V2", "I")
    np.testing.assert_allclose(ecg["V2"], real["V2"], atol=1e-3)
    only = read_ecg(hea, leads="II")
    assert only.leads == ("II",)
    np.testing.assert_allclose(only["II"], real["II"], atol=1e-3)


def test_a_lead_declared_in_mmhg_is_refused_by_name(real, tmp_path: Path) -> None:
    n = len(real["I"])
    hea = _write(tmp_path, "badunit", [real["I"], _abp(n, FS)], ["I", "II"], ["mV", "mmHg"])
    with pytest.raises(InputError, match=r"lead II \(channel 'II'\) is declared in 'mmHg'") as exc:
        read_ecg(hea)
    one_line(exc)
    assert read_ecg(hea, leads="I").leads == ("I",)  # the selected lead alone is fine


# --------------------------------------------------------------------------------------- amplitudes
def test_raw_counts_behind_gain_1_are_refused_with_an_override(real, tmp_path: Path) -> None:
    """MIT-BIH style raw counts (200 adu/mV) declared with a gain of 1 adu/mV read as ±100s of mV."""
    counts = [np.round(real[k] * 200.0) for k in ("I", "II")]
    hea = _write(tmp_path, "counts", counts, ["I", "II"], ["mV", "mV"], gains=[1.0, 1.0])
    with pytest.raises(InputError, match=r"header gain and units.*looks wrong.*raw ADC counts.*"
                                         r"allow_implausible_amplitude=True") as exc:
        read_ecg(hea)
    msg = one_line(exc)
    assert "--allow-implausible-amplitude" in msg
    raw = read_ecg(hea, allow_implausible_amplitude=True)
    np.testing.assert_allclose(raw["II"], counts[1], atol=1e-3)
    np.testing.assert_allclose(read_ecg(hea, leads="I", allow_implausible_amplitude=True)["I"], counts[0], atol=1e-3)


@pytest.mark.parametrize(("factor", "pattern"), [(1000.0, r"reaches [\d.]+ mV"), (1e-3, r"reaches only")])
def test_uv_or_v_declared_as_mv_are_refused(real, tmp_path: Path, factor: float, pattern: str) -> None:
    values = real["II"] * factor  # µV (or V) values under a header that says mV
    hea = _write(tmp_path, "wrongunit", [values], ["II"], ["mV"], gains=[1.0 if factor > 1 else 1e6])
    with pytest.raises(InputError, match=pattern) as exc:
        read_ecg(hea)
    one_line(exc)
    np.testing.assert_allclose(read_ecg(hea, allow_implausible_amplitude=True)["II"], values,
                               atol=1e-3 * max(factor, 1e-3))


def test_a_plausible_declared_record_passes(real, tmp_path: Path) -> None:
    hea = _write(tmp_path, "fine", [real[k] for k in ("I", "II", "V2")], ["I", "II", "V2"], ["mV"] * 3)
    assert read_ecg(hea).leads == ("I", "II", "V2")


# --------------------------------------------------------------------------------------- gaps
@pytest.fixture
def gappy(real, tmp_path: Path) -> tuple[Path, np.ndarray]:
    """Lead II with WFDB invalid samples: 3 at the start, 4 (8 ms) mid-record, 10 (20 ms) later."""
    ii = real["II"].copy()
    ii[:3] = np.nan
    ii[1000:1004] = np.nan
    ii[3000:3010] = np.nan
    return _write(tmp_path, "gappy", [real["I"], ii], ["I", "II"], ["mV", "mV"]), ii


def test_invalid_samples_are_refused_by_default_naming_the_option(gappy) -> None:
    hea, _ = gappy
    with pytest.raises(InputError, match=r"17 invalid \(NaN\) sample.*longest gap is 10 sample\(s\) = 20 ms "
                                         r"\(lead II at 6\.000 s\).*--fill-gaps 20") as exc:
        read_ecg(hea)
    one_line(exc)
    with pytest.raises(InputError, match=r"longer than the 8 ms allowed by fill_gaps_ms=8") as exc:
        read_ecg(hea, fill_gaps_ms=8)
    one_line(exc)
    with pytest.raises(InputError, match="fill_gaps_ms=-1"):
        read_ecg(hea, fill_gaps_ms=-1)


def test_fill_gaps_interpolates_short_runs(gappy, real) -> None:
    hea, ii = gappy
    ecg = read_ecg(hea, fill_gaps_ms=20)
    got = ecg["II"].astype(np.float64)
    valid = ~np.isnan(ii)
    np.testing.assert_allclose(got[valid], ii[valid], atol=1e-3)  # valid samples untouched
    # linear between the neighbours of each gap; the leading gap holds the first valid value
    for start, stop in ((1000, 1004), (3000, 3010)):
        left, right = got[start - 1], got[stop]
        expected = left + (right - left) * np.arange(1, stop - start + 1) / (stop - start + 1)
        np.testing.assert_allclose(got[start:stop], expected, atol=1e-5)
    np.testing.assert_allclose(got[:3], got[3], atol=1e-7)
    np.testing.assert_allclose(ecg["I"], real["I"], atol=1e-3)
    assert read_ecg(hea, leads="I").leads == ("I",)  # a clean lead needs no option


# --------------------------------------------------------------------------------------- names
@pytest.mark.parametrize(("raw", "lead"), [
    ("ECG lead II", "II"), ("ECG II", "II"), ("Lead II", "II"), ("lead ii", "II"), ("ECG lead aVR", "aVR"),
    ("ECG Lead V1", "V1"), ("EKG-V5", "V5"), ("ECG:I", "I"), ("MLII", "II"), ("ECG I", "I"),
])
def test_lead_name_spellings(raw: str, lead: str) -> None:
    assert normalize_lead_name(raw) == lead


@pytest.mark.parametrize("raw", ["ECG I filtered", "ECG", "ECG lead", "ECG1", "ABP", "Lead V"])
def test_not_lead_names(raw: str) -> None:
    with pytest.raises(InputError, match="unknown lead name"):
        normalize_lead_name(raw)


def test_ecg_lead_style_names_in_a_header(real, tmp_path: Path) -> None:
    hea = _write(tmp_path, "named", [real["I"], real["II"], real["V2"], real["AVR"]],
                 ["ECG lead I", "ECG lead II", "Lead V2", "ECG aVR"], ["mV"] * 4)
    ecg = read_ecg(hea)
    assert ecg.leads == ("I", "II", "V2", "aVR")
    np.testing.assert_allclose(ecg["V2"], real["V2"], atol=1e-3)


# --------------------------------------------------------------------------------------- multi-segment
@pytest.fixture
def multi_segment(real, tmp_path: Path) -> Path:
    """A two-segment record (5 s + 5 s of PTB-XL I, II) with a layout header, as MIMIC records are stored."""
    for k, part in enumerate((slice(0, 2500), slice(2500, 5000)), start=1):
        _write(tmp_path, f"ms_{k}", [real["I"][part], real["II"][part]], ["I", "II"], ["mV", "mV"])
    (tmp_path / "ms_layout.hea").write_text("ms_layout 2 500 0\n~ 0 1000/mV 16 0 0 0 0 I\n~ 0 1000/mV 16 0 0 0 0 II\n")
    (tmp_path / "ms.hea").write_text("ms/3 2 500 5000\nms_layout 0\nms_1 2500\nms_2 2500\n")
    return tmp_path / "ms.hea"


def test_multi_segment_record_is_read_whole(multi_segment: Path, real) -> None:
    ecg = read_ecg(multi_segment)
    assert ecg.leads == ("I", "II") and ecg.fs == 500 and ecg.n_samples == 5000
    np.testing.assert_allclose(ecg["II"], real["II"], atol=1e-3)


def test_layout_header_is_named_not_called_corrupt(multi_segment: Path) -> None:
    with pytest.raises(InputError, match=r"layout header of a multi-segment WFDB record.*master header "
                                         r".*ms\.hea") as exc:
        read_ecg(multi_segment.with_name("ms_layout.hea"))
    msg = one_line(exc)
    assert not isinstance(exc.value, CorruptFileError) and "corrupt" not in msg


# --------------------------------------------------------------------------------------- show
@pytest.fixture
def edf_file(real, tmp_path: Path) -> Path:
    """An EDF written by another program: 'ECG I' / 'ECG II' in µV, 10 s of PTB-XL, plus a respiration signal."""
    sigs = [edfio.EdfSignal(real[k] * 1000, FS, label=f"ECG {k}", physical_dimension="uV",
                            physical_range=(-10000, 10000)) for k in ("I", "II")]
    sigs.append(edfio.EdfSignal(np.zeros(250), 25, label="Resp", physical_dimension="a.u.", physical_range=(-1, 1)))
    path = tmp_path / "holter.edf"
    edfio.Edf(sigs).write(path)
    return path


def test_show_reads_edf(edf_file: Path, tmp_path: Path, capsys) -> None:
    png = tmp_path / "edf.png"
    code, out, err = run_cli(["show", str(edf_file), "-o", str(png)], capsys)
    assert code == 0, err
    assert "leads    : 2 (I, II)" in out and "500 Hz" in out and "shown    : whole record (10.00 s)" in out
    assert png.stat().st_size > 20_000


@pytest.fixture
def long_record(data_dir: Path, tmp_path: Path) -> Path:
    """A 6-minute record (PTB Diagnostic s0010_re's 38.4 s of leads I and II at 1000 Hz, repeated 10 times)."""
    rec = wfdb.rdrecord(str(data_dir / "ptbdb" / "patient001" / "s0010_re"), channels=[0, 1])
    signal = np.tile(rec.p_signal, (10, 1))
    hea = _write(tmp_path, "long", [signal[:, 0], signal[:, 1]], ["i", "ii"], ["mV", "mV"], fs=1000)
    assert len(signal) / 1000 > 300
    return hea


def test_show_long_record_plots_the_first_10_s(long_record: Path, tmp_path: Path, capsys) -> None:
    png = tmp_path / "long.png"
    code, out, err = run_cli(["show", str(long_record), "-o", str(png)], capsys)
    assert code == 0, err
    assert "shown    : first 10 s of 384.00 s; pass --seconds to plot more" in out
    assert png.stat().st_size > 20_000
    code, out, err = run_cli(["show", str(long_record), "-o", str(png), "--seconds", "20"], capsys)
    assert code == 0 and "first 20 s of 384.00 s" in out


def test_show_hints_use_cli_spelling(long_record: Path, tmp_path: Path, capsys) -> None:
    png = tmp_path / "x.png"
    code, _, err = run_cli(["show", str(long_record), "-o", str(png), "--seconds", "380"], capsys)
    line = error_line(err)
    assert code == 2 and "--seconds 10" in line and "seconds=" not in line and not png.exists()
    odd = tmp_path / "rec.dat2"
    odd.write_text("I\n0.1\n")
    code, _, err = run_cli(["show", str(odd)], capsys)
    line = error_line(err)
    assert code == 2 and "--format csv" in line and "format=" not in line
    code, _, err = run_cli(["show", str(long_record), "--seconds", "-1"], capsys)
    assert code == 2 and "--seconds" in error_line(err)


def test_show_fill_gaps_and_amplitude_options(gappy, real, tmp_path: Path, capsys) -> None:
    hea, _ = gappy
    code, _, err = run_cli(["show", str(hea), "-o", str(tmp_path / "g.png")], capsys)
    line = error_line(err)
    assert code == 2 and "--fill-gaps 20" in line and "fill_gaps_ms" not in line
    code, out, err = run_cli(["show", str(hea), "-o", str(tmp_path / "g.png"), "--fill-gaps", "20"], capsys)
    assert code == 0 and "leads    : 2 (I, II)" in out, err
    counts = _write(tmp_path, "counts", [np.round(real["II"] * 200.0)], ["II"], ["mV"], gains=[1.0])
    code, _, err = run_cli(["show", str(counts), "-o", str(tmp_path / "c.png")], capsys)
    line = error_line(err)
    assert code == 2 and "--allow-implausible-amplitude" in line and "allow_implausible_amplitude" not in line
    code, _, err = run_cli(["show", str(counts), "-o", str(tmp_path / "c.png"), "--allow-implausible-amplitude"],
                           capsys)
    assert code == 0, err


def test_reconstruct_takes_the_read_options(gappy, real, tmp_path: Path, capsys) -> None:
    hea, _ = gappy
    real_ii = real["II"]
    out_csv = tmp_path / "out.csv"
    code, _, err = run_cli(["reconstruct", str(hea), "--leads", "II", "--model", "mae-cpu", "--out", str(out_csv)],
                           capsys)
    assert code == 2 and "--fill-gaps 20" in error_line(err) and not out_csv.exists()
    code, _, err = run_cli(["reconstruct", str(hea), "--leads", "II", "--model", "mae-cpu", "--out", str(out_csv),
                            "--fill-gaps", "20"], capsys)
    assert code == 0, err
    assert read_ecg(out_csv).n_samples == 5000
    counts = _write(tmp_path, "counts", [np.round(real_ii * 200.0)], ["II"], ["mV"], gains=[1.0])
    code, _, err = run_cli(["reconstruct", str(counts), "--model", "mae-cpu", "--out", str(tmp_path / "c.csv")],
                           capsys)
    assert code == 2 and "--allow-implausible-amplitude" in error_line(err)
    code, _, err = run_cli(["reconstruct", str(counts), "--model", "mae-cpu", "--out", str(tmp_path / "c.csv"),
                            "--allow-implausible-amplitude"], capsys)
    assert code == 0, err


def test_show_dataset_record_refuses_file_options(data_dir: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["show", "ptbxl:00001", "--data-dir", str(data_dir), "--fill-gaps", "5"], capsys)
    assert code == 2 and "--fill-gaps: only for recording files" in error_line(err)
    png = tmp_path / "p.png"
    code, out, err = run_cli(["show", "ptbxl:00001", "--data-dir", str(data_dir), "--leads", "II,V2", "-o", str(png)],
                             capsys)
    assert code == 0 and "leads    : 2 (II, V2)" in out, err
