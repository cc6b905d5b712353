"""Truncated recordings, duplicate CSV columns and dotted record names (issue 14, items 3 and 6).

Every bad file is made in ``tmp_path`` from a real PTB-XL record (00001 at 500 Hz, 10 s): an EDF cut
to half its data records and a WFDB ``.dat`` shorter than its header says must be refused with one
line (never read as 5 of 10 s with only library warnings); ``I,I`` is reported as a duplicate ``I``;
``rec.v2.hea`` reads.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import edfio
import numpy as np
import pytest
import wfdb

from helpers import error_line, one_line, run_cli
from leadlift.errors import CorruptFileError, InputError
from leadlift.io import read_ecg

FS = 500


@pytest.fixture(scope="module")
def real(data_dir: Path) -> wfdb.Record:
    rec = wfdb.rdrecord(str(data_dir / "ptb-xl" / "records500" / "00000" / "00001_hr"))
    assert rec.fs == FS and rec.sig_len == 5000
    return rec


# --------------------------------------------------------------------------------------- EDF
@pytest.fixture
def edf_halves(real: wfdb.Record, tmp_path: Path) -> tuple[Path, Path]:
    """A 3-lead EDF of 10 one-second data records, and a copy cut after 5 of them (+ a few bytes)."""
    sigs = [edfio.EdfSignal(real.p_signal[:, i] * 1000, FS, label=f"ECG {name}", physical_dimension="uV",
                            physical_range=(-10000, 10000)) for i, name in enumerate(real.sig_name[:3])]
    whole = tmp_path / "whole.edf"
    edfio.Edf(sigs, data_record_duration=1.0).write(whole)
    data = whole.read_bytes()
    header = 256 * (1 + len(sigs))
    per_record = (len(data) - header) // 10
    cut = tmp_path / "cut.edf"
    cut.write_bytes(data[: header + 5 * per_record + 7])
    return whole, cut


def test_whole_edf_reads_all_of_it(edf_halves: tuple[Path, Path], real: wfdb.Record) -> None:
    ecg = read_ecg(edf_halves[0])
    assert ecg.n_samples == 5000
    np.testing.assert_allclose(ecg.signal[0], real.p_signal[:, 0], atol=1e-3)


def test_edf_cut_to_half_its_records_is_refused(edf_halves: tuple[Path, Path]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library warning may stand in for the error
        with pytest.raises(CorruptFileError) as info:
            read_ecg(edf_halves[1])
    msg = one_line(info)
    assert msg.startswith(f"{edf_halves[1]} is truncated: its header declares 10 data records (10 s) but the "
                          "file holds 5 (5 s)")
    assert "copy or export the file again" in msg


def test_show_on_a_truncated_edf_isone_line(edf_halves: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    png = tmp_path / "cut.png"
    code, _out, err = run_cli(["show", str(edf_halves[1]), "-o", str(png)], capsys)
    assert code == 2
    assert "is truncated" in error_line(err) and "5 (5 s)" in err
    assert not png.exists()


# --------------------------------------------------------------------------------------- WFDB
def _wfdb_copy(data_dir: Path, tmp_path: Path, name: str, *, keep_bytes: int | None = None,
               record_line_name: str | None = None, dat_name: str | None = None) -> Path:
    """PTB-XL 00001_hr (12 leads, format 16, 120000 bytes) copied as ``name`` (header rewritten)."""
    src = data_dir / "ptb-xl" / "records500" / "00000" / "00001_hr"
    dat_name = dat_name or f"{name}.dat"
    text = (src.with_suffix(".hea")).read_text().replace("00001_hr.dat", dat_name)
    text = text.replace("00001_hr", record_line_name or name, 1)
    (tmp_path / f"{name}.hea").write_text(text)
    data = src.with_suffix(".dat").read_bytes()
    (tmp_path / dat_name).write_bytes(data if keep_bytes is None else data[:keep_bytes])
    return tmp_path / f"{name}.hea"


@pytest.mark.parametrize("keep", [60_000, 60_005, 119_999])  # half (whole frames), half + odd bytes, 1 byte short
def test_wfdb_dat_shorter_than_its_header_is_refused(data_dir: Path, tmp_path: Path, keep: int) -> None:
    hea = _wfdb_copy(data_dir, tmp_path, "cut", keep_bytes=keep)
    with pytest.raises(CorruptFileError) as info:
        read_ecg(hea)
    msg = one_line(info)
    assert msg.startswith(f"WFDB signal file {tmp_path / 'cut.dat'} is truncated: {keep} of the 120000 bytes")
    assert "re-download or copy the record again" in msg
    assert "reshape" not in msg and "not loaded correctly" not in msg
    if keep == 60_000:
        assert "(5 of 10 s)" in msg


def test_show_on_a_truncated_wfdb_record_isone_line(data_dir: Path, tmp_path: Path, capsys) -> None:
    hea = _wfdb_copy(data_dir, tmp_path, "cut", keep_bytes=60_000)
    code, _out, err = run_cli(["show", str(hea), "-o", str(tmp_path / "cut.png")], capsys)
    assert code == 2
    assert "cut.dat is truncated: 60000 of the 120000 bytes" in error_line(err)


@pytest.mark.parametrize(("record_line", "dat"), [
    ("rec.v2", "rec.v2.dat"),      # the header itself uses the dotted name (wfdb's parser refuses it)
    ("00001_hr", "00001_hr.dat"),  # only the files were renamed
])
def test_record_name_with_a_dot_reads(data_dir: Path, tmp_path: Path, real: wfdb.Record,
                                      record_line: str, dat: str) -> None:
    hea = _wfdb_copy(data_dir, tmp_path, "rec.v2", record_line_name=record_line, dat_name=dat)
    assert hea.name == "rec.v2.hea"
    for arg in (hea, tmp_path / "rec.v2"):
        ecg = read_ecg(arg)
        assert ecg.n_samples == 5000 and ecg.fs == FS and ecg.record_id == "rec.v2"
        np.testing.assert_allclose(ecg.signal[1], real.p_signal[:, 1], atol=1e-6)


def test_dotted_record_errors_name_the_real_files(data_dir: Path, tmp_path: Path) -> None:
    hea = _wfdb_copy(data_dir, tmp_path, "rec.v2", keep_bytes=1000)
    with pytest.raises(CorruptFileError, match=r"rec\.v2\.dat is truncated: 1000 of the 120000 bytes"):
        read_ecg(hea)
    (tmp_path / "rec.v2.dat").unlink()
    with pytest.raises(FileNotFoundError, match=r"signal file of rec\.v2 missing \(.*rec\.v2\.dat\)"):
        read_ecg(hea)


def test_show_reads_a_dotted_record_name(data_dir: Path, tmp_path: Path, capsys) -> None:
    hea = _wfdb_copy(data_dir, tmp_path, "rec.v2", record_line_name="rec.v2", dat_name="rec.v2.dat")
    png = tmp_path / "rec.png"
    code, out, err = run_cli(["show", str(hea), "-o", str(png)], capsys)
    assert code == 0, err
    assert "12" in out and png.stat().st_size > 20_000


# --------------------------------------------------------------------------------------- CSV
@pytest.mark.parametrize(("header", "expected"), [
    (["I", "I", "V1"], "duplicate column 'I' (columns 1 and 2)"),
    (["I", "II", "I"], "duplicate column 'I' (columns 1 and 3)"),
    (["ECG I", "lead I", "V1"], "columns 'ECG I' and 'lead I' (columns 1 and 2) are both lead I"),
])
def test_csv_duplicate_lead_column_is_named_as_such(real: wfdb.Record, tmp_path: Path, header: list[str],
                                                     expected: str) -> None:
    path = tmp_path / "dup.csv"
    rows = "\n".join(",".join(f"{v:.4f}" for v in row) for row in real.p_signal[:, :3])
    path.write_text(",".join(header) + "\n" + rows + "\n")
    with pytest.raises(InputError) as info:
        read_ecg(path, fs=FS)
    msg = one_line(info)
    assert msg == f"{path}: {expected}; remove or rename one of them"
    assert ".1" not in msg


def test_cli_csv_duplicate_column(real: wfdb.Record, tmp_path: Path, capsys) -> None:
    path = tmp_path / "dup.csv"
    rows = "\n".join(",".join(f"{v:.4f}" for v in row) for row in real.p_signal[:, :2])
    path.write_text("I,I\n" + rows + "\n")
    code, _out, err = run_cli(["show", str(path), "--fs", "500", "-o", str(tmp_path / "d.png")], capsys)
    assert code == 2
    line = error_line(err)
    assert "duplicate column 'I' (columns 1 and 2)" in line and "I.1" not in line
