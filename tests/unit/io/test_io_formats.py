"""Readers and writers for users' files (leadlift.io) on real recordings: round trips of every
format, the fs / lead / unit rules, one-line errors, atomic writes."""

from __future__ import annotations

from pathlib import Path

import edfio
import numpy as np
import pytest

from helpers import one_line
from leadlift.ecg import ECG, STANDARD_LEADS
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError
from leadlift.io import (
    output_format,
    read_csv,
    read_ecg,
    read_edf,
    read_npy,
    read_npz,
    write_csv,
    write_ecg,
    write_edf,
    write_npz,
    write_wfdb,
)


@pytest.fixture(scope="module")
def ecgid(data_dir) -> ECG:
    """ECG-ID Person_01/rec_1: lead I, 500 Hz, 20 s."""
    return read_ecg(data_dir / "ecgiddb" / "Person_01" / "rec_1.hea")


@pytest.fixture(scope="module")
def ptbxl(data_dir) -> ECG:
    """PTB-XL 00001 at 500 Hz: 12 leads, 10 s."""
    return read_ecg(data_dir / "ptb-xl" / "records500" / "00000" / "00001_hr.hea")


def _no_leftovers(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == []


# --------------------------------------------------------------------------------------- real records
def test_real_records_read(ecgid: ECG, ptbxl: ECG) -> None:
    assert ecgid.leads == ("I",) and ecgid.fs == 500 and ecgid.n_samples == 10000  # "ECG I filtered" dropped
    assert ptbxl.leads == STANDARD_LEADS and ptbxl.fs == 500 and ptbxl.n_samples == 5000
    assert 0.1 < np.abs(ptbxl["II"]).max() < 5  # mV


@pytest.mark.parametrize("name", ["rec.csv", "rec.npz", "rec.edf", "rec"])
@pytest.mark.parametrize("which", ["ecgid", "ptbxl"])
def test_round_trip(name: str, which: str, request, tmp_path: Path) -> None:
    ecg: ECG = request.getfixturevalue(which)
    target = tmp_path / name
    write_ecg(ecg, target)
    back = read_ecg(target if name != "rec" else tmp_path / "rec.hea")
    assert back.leads == ecg.leads and back.fs == ecg.fs and back.n_samples == ecg.n_samples
    # NPZ is exact; CSV keeps 1 nV; WFDB/EDF quantise to 16 bits over each lead's range
    tol = {"rec.npz": 0.0, "rec.csv": 1e-6, "rec.edf": 1e-4, "rec": 1e-4}[name]
    np.testing.assert_allclose(back.signal, ecg.signal, atol=tol + 1e-7, rtol=0)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_npy_both_orientations(ptbxl: ECG, tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", ptbxl.signal)
    np.save(tmp_path / "b.npy", ptbxl.signal.T)
    for f in ("a.npy", "b.npy"):
        back = read_ecg(tmp_path / f, fs=500, leads=",".join(STANDARD_LEADS))
        np.testing.assert_array_equal(back.signal, ptbxl.signal)
    one = read_npy(tmp_path / "a.npy", fs=500, leads="all")
    assert one.leads == STANDARD_LEADS
    np.save(tmp_path / "lead.npy", ptbxl["I"])
    assert read_ecg(tmp_path / "lead.npy", fs=500, leads="I").n_leads == 1


def test_npz_selects_and_checks(ptbxl: ECG, tmp_path: Path) -> None:
    write_npz(ptbxl, tmp_path / "r.npz")
    sel = read_npz(tmp_path / "r.npz", leads="V2,I")
    assert sel.leads == ("V2", "I")
    np.testing.assert_array_equal(sel.signal[1], ptbxl["I"])
    with pytest.raises(InputError, match="contradicts the 500 Hz") as exc:
        read_npz(tmp_path / "r.npz", fs=512)
    one_line(exc)
    # an archive without metadata needs fs and leads
    np.savez(tmp_path / "bare.npz", x=ptbxl.signal[:2])
    with pytest.raises(InputError, match="stores no 'fs'"):
        read_npz(tmp_path / "bare.npz", leads="I,II")
    bare = read_npz(tmp_path / "bare.npz", leads="I,II", fs=500)
    assert bare.leads == ("I", "II")


# --------------------------------------------------------------------------------------- CSV rules
def test_csv_time_column_gives_fs(ecgid: ECG, tmp_path: Path) -> None:
    write_csv(ecgid, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines()[0] == "time_s,I"
    assert read_csv(tmp_path / "t.csv").fs == 500
    assert read_csv(tmp_path / "t.csv", fs=500).fs == 500
    with pytest.raises(InputError, match="fs=512 Hz contradicts the 500 Hz stored in its time column") as exc:
        read_csv(tmp_path / "t.csv", fs=512)
    one_line(exc)
    # time in milliseconds, semicolon-separated, odd rate
    t_ms = np.arange(600) / 257 * 1000
    rows = "\n".join(f"{t:.6f};{v:.5f}" for t, v in zip(t_ms, ecgid["I"][:600], strict=True))
    (tmp_path / "ms.csv").write_text("Time (ms);ECG I\n" + rows + "\n")
    odd = read_csv(tmp_path / "ms.csv")
    assert odd.leads == ("I",) and abs(odd.fs - 257) < 1e-3


def test_csv_without_header_or_with_other_names(ptbxl: ECG, tmp_path: Path) -> None:
    np.savetxt(tmp_path / "raw.csv", ptbxl.signal[:3].T, delimiter=",", fmt="%.6f")
    with pytest.raises(InputError, match="has no header; pass leads=") as exc:
        read_csv(tmp_path / "raw.csv", fs=500)
    one_line(exc)
    with pytest.raises(InputError, match="sampling rate unknown; pass fs="):
        read_csv(tmp_path / "raw.csv", leads="I,II,III")
    got = read_csv(tmp_path / "raw.csv", fs=500, leads="I,II,III")
    np.testing.assert_allclose(got.signal, ptbxl.signal[:3], atol=1e-6)
    np.savetxt(tmp_path / "ch.csv", ptbxl.signal[:2].T, delimiter="\t", fmt="%.6f", header="ch1\tch2", comments="")
    with pytest.raises(InputError, match="not lead names"):
        read_csv(tmp_path / "ch.csv", fs=500)
    assert read_csv(tmp_path / "ch.csv", fs=500, leads="I,II").leads == ("I", "II")
    # header with a lead and an unknown column: select the lead
    np.savetxt(tmp_path / "mix.csv", ptbxl.signal[:2].T, delimiter=",", fmt="%.6f", header="II,resp", comments="")
    with pytest.raises(InputError, match="'resp' are neither leads nor a time column"):
        read_csv(tmp_path / "mix.csv", fs=500)
    assert read_csv(tmp_path / "mix.csv", fs=500, leads="II").leads == ("II",)


def test_csv_bad_content(ptbxl: ECG, tmp_path: Path) -> None:
    (tmp_path / "text.csv").write_text("I,II\n0.1,0.2\n0.1,abc\n")
    with pytest.raises(CorruptFileError, match="non-numeric value 'abc' in column 'II'") as exc:
        read_csv(tmp_path / "text.csv", fs=500)
    one_line(exc)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="is empty"):
        read_csv(tmp_path / "empty.csv", fs=500)
    (tmp_path / "bin.csv").write_bytes(bytes(range(256)) * 4)
    with pytest.raises((CorruptFileError, InputError)):
        read_csv(tmp_path / "bin.csv", fs=500)
    sig = ptbxl.signal[:1].copy()
    sig[0, 100:110] = np.nan
    np.savetxt(tmp_path / "nan.csv", sig.T, delimiter=",", fmt="%.6f", header="I", comments="")
    with pytest.raises(InputError, match=r"10 invalid \(NaN\) sample.*= 20 ms.*--fill-gaps 20") as exc:
        read_csv(tmp_path / "nan.csv", fs=500)
    one_line(exc)
    with pytest.raises(InputError, match="too short"):
        read_csv(tmp_path / "nan.csv", fs=500_000, fill_gaps_ms=1)


# --------------------------------------------------------------------------------------- units
def test_units_explicit_or_checked(ptbxl: ECG, tmp_path: Path) -> None:
    np.save(tmp_path / "uv.npy", ptbxl.signal * 1000)
    with pytest.raises(InputError, match=r"look like µV, not mV.*--units uV") as exc:
        read_ecg(tmp_path / "uv.npy", fs=500, leads="all")
    one_line(exc)
    got = read_ecg(tmp_path / "uv.npy", fs=500, leads="all", units="uV")
    np.testing.assert_allclose(got.signal, ptbxl.signal, atol=1e-6)
    np.save(tmp_path / "v.npy", ptbxl.signal / 1000)
    with pytest.raises(InputError, match="look like V, not mV"):
        read_ecg(tmp_path / "v.npy", fs=500, leads="all")
    np.testing.assert_allclose(read_ecg(tmp_path / "v.npy", fs=500, leads="all", units="V").signal,
                               ptbxl.signal, atol=1e-6)
    with pytest.raises(InputError, match="unknown unit 'kV'"):
        read_ecg(tmp_path / "v.npy", fs=500, leads="all", units="kV")


def test_edf_units_and_extra_signals(ecgid: ECG, tmp_path: Path) -> None:
    x = ecgid["I"].astype(np.float64)
    sigs = [
        edfio.EdfSignal(x * 1000, 500, label="ECG I", physical_dimension="uV", physical_range=(-5000, 5000)),
        edfio.EdfSignal(np.zeros(len(x) // 20), 25, label="Resp", physical_dimension="a.u.",
                        physical_range=(-1, 1)),
    ]
    edfio.Edf(sigs).write(tmp_path / "dev.edf")
    got = read_edf(tmp_path / "dev.edf")
    assert got.leads == ("I",) and got.fs == 500
    np.testing.assert_allclose(got.signal[0], x, atol=2e-3)
    with pytest.raises(InputError, match="declares units"):
        read_edf(tmp_path / "dev.edf", units="mV")
    (tmp_path / "junk.edf").write_bytes(b"0       this is not an EDF header" * 10)
    with pytest.raises(CorruptFileError, match="not a readable EDF file") as exc:
        read_edf(tmp_path / "junk.edf")
    one_line(exc)


@pytest.mark.parametrize(("fs", "n"), [(500, 5001), (257, 334), (128.5, 300)])
def test_edf_odd_rates_and_lengths(ecgid: ECG, tmp_path: Path, fs: float, n: int) -> None:
    x = ECG(ecgid.signal[:, :n], fs, ("I",), check_units=False)
    write_edf(x, tmp_path / "odd.edf")
    back = read_edf(tmp_path / "odd.edf")
    assert back.fs == fs and back.n_samples >= n  # EDF pads to whole data records when it must
    np.testing.assert_allclose(back.signal[:, :n], x.signal, atol=1e-4)


def test_wfdb_rules(data_dir: Path, tmp_path: Path) -> None:
    rec = data_dir / "ptb-xl" / "records500" / "00000" / "00001_hr"
    sel = read_ecg(rec, leads="II,V2")
    assert sel.leads == ("II", "V2")
    with pytest.raises(InputError, match="contradicts the 500 Hz stored in its header"):
        read_ecg(rec, fs=512)
    with pytest.raises(InputError, match=r"lead\(s\) V7|unknown lead name 'V7'"):
        read_ecg(rec, leads="V7")
    with pytest.raises(DataNotFoundError, match="not found"):
        read_ecg(tmp_path / "missing.hea")
    (tmp_path / "bad.hea").write_text("bad 2 500 x\nnonsense\n")
    with pytest.raises(CorruptFileError) as exc:
        read_ecg(tmp_path / "bad.hea")
    one_line(exc)


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "x.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(CorruptFileError, match=r"not a readable \.npy"):
        read_ecg(tmp_path / "x.npy", fs=500, leads="I")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CorruptFileError):  # never unpickled
        read_ecg(tmp_path / "obj.npy", fs=500, leads="I")
    with pytest.raises(InputError, match=r"unknown file type '\.xyz'"):
        read_ecg(tmp_path / "a.xyz")
    with pytest.raises(DataNotFoundError):
        read_ecg(tmp_path / "none.csv", fs=500)


# --------------------------------------------------------------------------------------- writers
def test_writers_are_atomic(ptbxl: ECG, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    out.mkdir()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError, match="disk full"):
        write_npz(ptbxl, out / "r.npz")
    monkeypatch.setattr(np, "savetxt", boom)
    with pytest.raises(OSError, match="disk full"):
        write_csv(ptbxl, out / "r.csv")
    import wfdb

    monkeypatch.setattr(wfdb, "wrsamp", boom)
    with pytest.raises(InputError, match="cannot write WFDB"):
        write_wfdb(ptbxl, out / "r")
    monkeypatch.setattr(edfio.Edf, "write", boom)
    with pytest.raises(OSError, match="disk full"):
        write_edf(ptbxl, out / "r.edf")
    _no_leftovers(out)


def test_output_format_rules(tmp_path: Path, ptbxl: ECG) -> None:
    assert [output_format(p) for p in ("a.csv", "a.NPZ", "a.edf", "a", "a.hea")] == ["csv", "npz", "edf", "wfdb",
                                                                                       "wfdb"]
    with pytest.raises(InputError, match=r"unknown output type '\.txt'"):
        write_ecg(ptbxl, tmp_path / "a.txt")
    with pytest.raises(InputError, match="not a valid WFDB record name"):
        write_ecg(ptbxl, tmp_path / "bad name")
    _no_leftovers(tmp_path)


def test_wfdb_header_in_microvolts_is_read_in_millivolts(ptbxl: ECG, tmp_path: Path) -> None:
    """A WFDB record whose header declares µV (a real PTB-XL excerpt written with wfdb) comes back in
    mV: the declared unit is applied, not assumed."""
    import wfdb

    sig = ptbxl.signal[:3, :1000].astype(np.float64).T * 1000.0  # µV
    wfdb.wrsamp("rec_uv", fs=ptbxl.fs, units=["uV"] * 3, sig_name=list(ptbxl.leads[:3]), p_signal=sig,
                fmt=["16"] * 3, adc_gain=[1.0] * 3, baseline=[0] * 3, write_dir=str(tmp_path))
    back = read_ecg(tmp_path / "rec_uv.hea")
    np.testing.assert_allclose(back.signal, ptbxl.signal[:3, :1000], atol=1e-3)  # 1-µV quantum


def test_dataset_reader_applies_a_wfdb_header_in_microvolts(data_dir: Path, tmp_path: Path) -> None:
    """The dataset readers' WFDB path (leadlift.io.wfdb.read_wfdb) applies a declared µV too: an
    ECG-ID record whose header is rewritten with wfdb.wrsamp to say µV (gain 0.2/µV, the same .dat
    bytes) reads exactly like the original (gain 200/mV)."""
    import shutil

    import wfdb

    from leadlift.data.readers import ECGIDReader
    from leadlift.io.wfdb import read_wfdb

    src, dst = data_dir / "ecgiddb", tmp_path / "ecgiddb"
    shutil.copytree(src / "Person_01", dst / "Person_01")
    for extra in src.iterdir():
        if extra.is_file():
            shutil.copy2(extra, dst / extra.name)
    rec = wfdb.rdrecord(str(dst / "Person_01" / "rec_1"))
    assert rec.units == ["mV", "mV"]
    wfdb.wrsamp("rec_1", fs=rec.fs, units=["uV"] * 2, sig_name=rec.sig_name, p_signal=rec.p_signal * 1000,
                fmt=["16"] * 2, adc_gain=[g / 1000 for g in rec.adc_gain], baseline=rec.baseline,
                comments=rec.comments, write_dir=str(dst / "Person_01"))
    assert "/uV" in (dst / "Person_01" / "rec_1.hea").read_text()
    assert (dst / "Person_01" / "rec_1.dat").read_bytes() == (src / "Person_01" / "rec_1.dat").read_bytes()
    signal, fs, _names, units, _ = read_wfdb(dst / "Person_01" / "rec_1")
    assert units == ["uV", "uV"] and fs == 500
    original, _, _, _, _ = read_wfdb(src / "Person_01" / "rec_1")
    np.testing.assert_allclose(signal, original, atol=1e-6)
    got, want = ECGIDReader(tmp_path).read(0), ECGIDReader(data_dir).read(0)
    assert got.record_id == want.record_id == "Person_01/rec_1"
    np.testing.assert_allclose(got.signal, want.signal, atol=1e-6)
    assert 0.1 < np.abs(got.signal).max() < 10  # mV, not µV

@pytest.mark.parametrize("name", ["s.csv", "s.npz", "s.edf", "s"])
def test_every_writer_keeps_each_leads_values_under_its_name(ptbxl: ECG, tmp_path: Path, name: str) -> None:
    """Leads in a non-standard order go through every writer and back lead by lead (each file names
    the rows/columns actually written, in the record's order)."""
    order = ("V2", "I", "aVF", "V6", "III")
    shuffled = ptbxl.select(list(order))
    write_ecg(shuffled, tmp_path / name)
    back = read_ecg(tmp_path / name if name != "s" else tmp_path / "s.hea")
    assert back.leads == order
    tol = {"s.npz": 0.0, "s.csv": 1e-6, "s.edf": 1e-4, "s": 1e-4}[name]
    for lead in order:
        np.testing.assert_allclose(back[lead], ptbxl[lead], atol=tol + 1e-7, rtol=0)
