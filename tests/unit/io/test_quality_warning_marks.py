"""``labels["quality_warning"]`` (a reconstruction below its model's quality floor) is a persisted
mark: every writer stores it and every reader gives it back, as one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadlift.ecg import ECG, MARK_KEYS, PRECORDIAL_LEADS
from leadlift.io import read_ecg, write_ecg
from leadlift.io.marks import mark_lines, marks_from_json, marks_of, parse_mark_lines

WARNING = ("model mae-cpu was never measured reconstructing from I,II (its evaluation covers: I; I,II,V2), so the "
           "quality of the synthesized leads is unknown; use recon-any (--model recon-any), the any-subset "
           "reconstructor with a calibrated spread")
MARKS = {"measured": ["I", "II"], "derived_exactly": ["III", "aVR", "aVL", "aVF"],
         "synthesized": list(PRECORDIAL_LEADS), "model": "mae-cpu", "model_version": "0.1.0",
         "quality_warning": WARNING}


@pytest.fixture(scope="module")
def flagged(data_dir: Path) -> ECG:
    """PTB-XL 00001 (500 Hz, 12 leads) marked as a reconstruction that carries a quality warning."""
    plain = read_ecg(data_dir / "ptb-xl" / "records500" / "00000" / "00001_hr.hea")
    return ECG(plain.signal, plain.fs, plain.leads, record_id="ptbxl/00001", labels=MARKS)


def test_quality_warning_is_a_mark_key() -> None:
    assert "quality_warning" in MARK_KEYS
    lines = mark_lines({"quality_warning": WARNING})
    assert lines == [f"leadlift quality_warning: {WARNING}"]
    assert parse_mark_lines(lines) == {"quality_warning": WARNING}
    assert marks_from_json({"quality_warning": " two\n lines "}) == {"quality_warning": "two lines"}
    assert marks_from_json({"quality_warning": ""}) == {} and marks_from_json({"quality_warning": 3}) == {}


@pytest.mark.parametrize("name", ["rec.csv", "rec.npz", "rec.edf", "rec"])
def test_quality_warning_round_trip(flagged: ECG, tmp_path: Path, name: str) -> None:
    assert marks_of(flagged)["quality_warning"] == WARNING
    write_ecg(flagged, tmp_path / name)
    back = read_ecg(tmp_path / ("rec.hea" if name == "rec" else name))
    assert back.labels["quality_warning"] == WARNING
    assert {k: back.labels[k] for k in MARKS} == MARKS


def test_unflagged_marked_ecg_has_no_quality_warning(flagged: ECG, tmp_path: Path) -> None:
    clean = ECG(flagged.signal, flagged.fs, flagged.leads,
                labels={k: v for k, v in MARKS.items() if k != "quality_warning"})
    for name in ("c.csv", "c.npz"):
        write_ecg(clean, tmp_path / name)
        assert "quality_warning" not in read_ecg(tmp_path / name).labels
