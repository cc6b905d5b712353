"""Every dataset reader on the real partial copies in the data directory."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pandas as pd
import pytest
import wfdb

from leadlift.data.readers import (
    SUPERCLASSES,
    CinC2021Reader,
    ECGIDReader,
    PTBDiagnosticReader,
    PTBXLReader,
    get_reader,
    scp_multi_hot,
)
from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import DataNotFoundError, InputError


def test_ptbxl_metadata_and_record(data_dir) -> None:
    reader = PTBXLReader(data_dir, fs=100)
    meta = reader.metadata()
    assert len(meta) > 1000
    assert set(meta["strat_fold"]) == set(range(1, 11))
    assert meta["record_id"].is_unique
    # every row points at files that exist
    assert all((reader.root / f"{p}.hea").exists() for p in meta["path"])
    # superclasses follow scp_statements.csv: record 00001 is {'NORM': 100, 'LVOLT': 0, 'SR': 0}
    row = meta.set_index("record_id").loc["00001"]
    assert row["superclasses"] == "NORM" and row["NORM"] == 1 and row["mi"] == 0
    assert json.loads(row["scp_codes"]) == {"NORM": 100.0, "LVOLT": 0.0, "SR": 0.0}
    # MI label equals the MI superclass column and occurs in the subset
    assert (meta["mi"] == meta["MI"]).all() and meta["mi"].sum() > 50
    assert meta[list(SUPERCLASSES)].to_numpy().max() == 1
    ecg = reader.read("00001")
    assert ecg.leads == STANDARD_LEADS and ecg.fs == 100 and ecg.n_samples == 1000
    assert ecg.patient_id == "15709" and ecg.labels["strat_fold"] == 3
    raw, _ = wfdb.rdsamp(str(reader.root / "records100/00000/00001_lr"))
    np.testing.assert_allclose(ecg.signal, raw.T.astype(np.float32), atol=1e-6)
    hot = scp_multi_hot(meta)
    assert {"NORM", "SR", "IMI"} <= set(hot.columns) and hot.shape[0] == len(meta)


def test_ptbxl_500hz_and_bad_fs(data_dir) -> None:
    reader = PTBXLReader(data_dir, fs=500)
    # a partial copy: exactly the indexed records whose 500-Hz header and signal are on disk
    meta = pd.read_csv(data_dir / "ptb-xl" / "ptbxl_database.csv")
    root = data_dir / "ptb-xl"
    present = sum((root / f"{p}.hea").exists() and (root / f"{p}.dat").exists() for p in meta["filename_hr"])
    assert len(reader) == present > 0
    ecg = reader.read(0)
    assert ecg.fs == 500 and ecg.n_samples == 5000
    with pytest.raises(InputError, match="100 or 500 Hz"):
        PTBXLReader(data_dir, fs=250)


def test_ptbxl_missing_records_are_skipped_with_one_warning(data_dir, tmp_path, caplog) -> None:
    """A partial copy: the index lists records whose files are absent."""
    src = data_dir / "ptb-xl"
    dst = tmp_path / "ptb-xl"
    dst.mkdir()
    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        shutil.copy(src / name, dst / name)
    meta = PTBXLReader(data_dir).metadata()
    for p in meta["path"][:3]:
        (dst / p).parent.mkdir(parents=True, exist_ok=True)
        for ext in (".hea", ".dat"):
            shutil.copy(src / f"{p}{ext}", dst / f"{p}{ext}")
    (dst / f"{meta['path'][2]}.dat").unlink()  # header without signal: skipped too
    caplog.clear()
    logger = logging.getLogger("leadlift")  # the CLI stops propagation to the root logger
    isolated = not logger.propagate  # else the root handler of caplog already sees the record
    if isolated:
        logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="leadlift.data.readers"):
            small = PTBXLReader(tmp_path)
            assert len(small) == 2
    finally:
        if isolated:
            logger.removeHandler(caplog.handler)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "missing" in warnings[0].getMessage()


def test_ptbdb_reader(data_dir) -> None:
    reader = PTBDiagnosticReader(data_dir)
    meta = reader.metadata()
    row = meta.iloc[0]
    assert row["record_id"] == "patient001/s0010_re" and row["patient_id"] == "patient001"
    assert row["mi"] == 1 and row["diagnosis"] == "MI" and row["fs"] == 1000
    ecg = reader.read(0)
    assert ecg.leads == STANDARD_LEADS and ecg.fs == 1000 and ecg.n_samples == 38400
    raw, _fields = wfdb.rdsamp(str(reader.root / "patient001/s0010_re"))
    np.testing.assert_allclose(ecg.signal, raw[:, :12].T.astype(np.float32), atol=1e-6)


def test_ecgid_reader(data_dir) -> None:
    reader = ECGIDReader(data_dir)
    meta = reader.metadata()
    assert len(meta) == 310 and meta["person"].nunique() == 90
    assert meta.iloc[0]["date"] == "2004-12-07"
    assert (meta["date"] != "").all()
    ecg = reader.read("Person_01/rec_1")
    assert ecg.leads == ("I",) and ecg.fs == 500 and ecg.n_samples == 10000
    raw, _ = wfdb.rdsamp(str(reader.root / "Person_01/rec_1"))
    np.testing.assert_allclose(ecg.signal[0], raw[:, 1], atol=1e-6)  # the filtered signal
    raw_reader = ECGIDReader(data_dir, signal="raw")
    np.testing.assert_allclose(raw_reader.read(0).signal[0], raw[:, 0], atol=1e-6)
    # persons with recordings on several dates exist (needed by the cross-session protocol)
    assert (meta.groupby("person")["date"].nunique() > 1).sum() > 5


def test_cinc2021_reader(data_dir) -> None:
    reader = CinC2021Reader(data_dir)
    meta = reader.metadata()
    assert {"ptb", "ptb-xl"} <= set(meta["source"])
    row = meta[meta["record_id"] == "ptb/S0001"].iloc[0]
    assert row["dx"] == "251146004;426783006" and row["fs"] == 1000
    assert "NSR" in row["dx_names"].split(";")
    ecg = reader.read("ptb/S0001")
    assert ecg.leads == STANDARD_LEADS and ecg.fs == 1000
    # same recording as PTB Diagnostic patient001/s0010_re (the challenge copy of PTB)
    ptb = PTBDiagnosticReader(data_dir).read(0)
    np.testing.assert_allclose(ecg.signal[:, :1000], ptb.signal[:, :1000], atol=2e-3)


def test_reader_errors(tmp_path, data_dir) -> None:
    with pytest.raises(DataNotFoundError, match="LEADLIFT_DATA"):
        PTBXLReader(tmp_path)
    with pytest.raises(InputError, match="unknown dataset"):
        get_reader("mitdb", data_dir)
    with pytest.raises(DataNotFoundError, match="not present"):
        PTBXLReader(data_dir).read("99999")


def test_corrupt_signal_file_gives_one_line_error(data_dir, tmp_path) -> None:
    from leadlift.data.readers.base import read_wfdb
    from leadlift.errors import CorruptFileError

    src = data_dir / "ptb-xl" / "records100" / "00000" / "00001_lr"
    shutil.copy(f"{src}.hea", tmp_path / "00001_lr.hea")
    (tmp_path / "00001_lr.dat").write_bytes(b"\x00\x01" * 10)  # truncated
    with pytest.raises((CorruptFileError, DataNotFoundError)) as info:
        read_wfdb(tmp_path / "00001_lr")
    assert "\n" not in str(info.value) and "re-download" in str(info.value)
