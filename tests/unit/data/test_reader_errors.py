"""A damaged record in the middle of a dataset is reported by name (issue 14, item 6).

An ECG-ID copy of three real records is made in ``tmp_path``; the middle one gets invalid (NaN)
samples written with ``wfdb.wrsamp``, or its ``.dat`` is cut short. Reading the dataset must stop at
that record with one line naming the dataset, the record and its file, and what to do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from leadlift.data.readers import ECGIDReader
from leadlift.errors import CorruptFileError

RECORDS = ["Person_01/rec_1", "Person_01/rec_2", "Person_02/rec_1"]


@pytest.fixture
def ecgid_copy(data_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data" / "ecgiddb"
    for rec in RECORDS:
        (root / rec).parent.mkdir(parents=True, exist_ok=True)
        for ext in (".hea", ".dat"):
            shutil.copyfile(data_dir / "ecgiddb" / f"{rec}{ext}", root / f"{rec}{ext}")
    (root / "RECORDS").write_text("\n".join(RECORDS) + "\n")
    return tmp_path / "data"


def _read_all(reader: ECGIDReader) -> list[str]:
    return [ecg.record_id for ecg in reader]


def test_nan_record_in_the_middle_is_named(ecgid_copy: Path) -> None:
    folder = ecgid_copy / "ecgiddb" / "Person_01"
    rec = wfdb.rdrecord(str(folder / "rec_2"))
    sig = rec.p_signal.copy()
    sig[4000:4012, 1] = np.nan  # the filtered lead I that the reader uses
    wfdb.wrsamp("rec_2", fs=rec.fs, units=rec.units, sig_name=rec.sig_name, p_signal=sig, fmt=rec.fmt,
                adc_gain=rec.adc_gain, baseline=rec.baseline, comments=rec.comments, write_dir=str(folder))
    reader = ECGIDReader(ecgid_copy)
    assert reader.read(0).record_id == "Person_01/rec_1"
    with pytest.raises(CorruptFileError) as info:
        _read_all(reader)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"ECG-ID Database record Person_01/rec_2 ({folder / 'rec_2'}): 12 invalid (NaN) "
                          "samples in lead I;")
    assert "leadlift download ecgid --verify" in msg
    assert reader.read(2).record_id == "Person_02/rec_1"


def test_truncated_record_in_the_middle_is_named(ecgid_copy: Path) -> None:
    dat = ecgid_copy / "ecgiddb" / "Person_01" / "rec_2.dat"
    dat.write_bytes(dat.read_bytes()[:20_000])
    with pytest.raises(CorruptFileError) as info:
        _read_all(ECGIDReader(ecgid_copy))
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("ECG-ID Database record Person_01/rec_2: WFDB signal file ")
    assert "rec_2.dat is truncated: 20000 of the 40000 bytes" in msg and "(10 of 20 s)" in msg


def test_cli_prepare_names_the_bad_record(ecgid_copy: Path, tmp_path: Path, capsys) -> None:
    from helpers import run_cli

    dat = ecgid_copy / "ecgiddb" / "Person_01" / "rec_2.dat"
    dat.write_bytes(dat.read_bytes()[:20_000])
    code, _out, err = run_cli(["prepare", "ecgid", "--data-dir", str(ecgid_copy), "--store-dir",
                               str(tmp_path / "stores")], capsys)
    assert code == 2
    assert "Traceback" not in err
    lines = [" ".join(ln.split()) for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    assert "record Person_01/rec_2" in lines[0] and "is truncated" in lines[0]
