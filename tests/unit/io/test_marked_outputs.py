"""Marked reconstructions in every output format: a real PTB-XL record dressed as a reconstruction
(I and II measured, III-aVF derived from them, V1-V6 synthesized with a spread) goes through each
writer and back with its marks and spread; unmarked records are written as before."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import edfio
import numpy as np
import pytest

from leadlift.ecg import ECG, PRECORDIAL_LEADS, STANDARD_LEADS
from leadlift.io import output_paths, read_ecg, write_csv, write_ecg, write_edf, write_npz, write_wfdb
from leadlift.io.marks import format_model, mark_lines, parse_mark_lines, parse_model
from leadlift.io.writers import sidecar_path

MARKS = {"measured": ["I", "II"], "derived_exactly": ["III", "aVR", "aVL", "aVF"],
         "synthesized": list(PRECORDIAL_LEADS), "model": "recon-i-ii-v2",
         "model_version": "1.2", "interval": {"level": 0.9, "z": 1.6449}, "bandpass_hz": [0.5, 45.0]}


@pytest.fixture(scope="module")
def plain(data_dir: Path) -> ECG:
    """PTB-XL 00001 at 500 Hz: 12 leads, 10 s, no marks."""
    return read_ecg(data_dir / "ptb-xl" / "records500" / "00000" / "00001_hr.hea")


@pytest.fixture(scope="module")
def marked(plain: ECG) -> ECG:
    """The same record marked as a reconstruction: a smooth positive spread on V1-V6, 0 elsewhere."""
    t = np.arange(plain.n_samples) / plain.fs
    spread = np.zeros_like(plain.signal)
    for k, lead in enumerate(plain.leads):
        if lead in PRECORDIAL_LEADS:
            spread[k] = 0.05 + 0.02 * k * (1 + np.sin(2 * np.pi * 0.3 * t))  # mV
    return ECG(plain.signal, plain.fs, plain.leads, record_id="ptbxl/00001", labels=MARKS, spread=spread)


def _read(tmp_path: Path, name: str, **kwargs) -> ECG:
    return read_ecg(tmp_path / name if name != "rec" else tmp_path / "rec.hea", **kwargs)


def _marks(ecg: ECG) -> dict:
    return {k: ecg.labels[k] for k in MARKS if k in ecg.labels}


# tolerance on the spread per format (mV): NPZ exact, CSV 6 decimals, WFDB/EDF 16-bit over [0, max]
def _spread_tol(name: str, ecg: ECG) -> float:
    assert ecg.spread is not None
    step = float(ecg.spread.max()) / 65535
    return {"rec.npz": 0.0, "rec.csv": 5e-7 + 1e-7, "rec.edf": step, "rec": step}[name] + 1e-7


@pytest.mark.parametrize("name", ["rec.csv", "rec.npz", "rec.edf", "rec"])
def test_marked_round_trip(marked: ECG, tmp_path: Path, name: str) -> None:
    write_ecg(marked, tmp_path / name)
    back = _read(tmp_path, name)
    assert back.leads == STANDARD_LEADS and back.fs == marked.fs and back.n_samples == marked.n_samples
    assert _marks(back) == MARKS
    assert back.synthesized_leads == PRECORDIAL_LEADS and back.measured_leads == ("I", "II")
    assert back.spread is not None and marked.spread is not None
    np.testing.assert_allclose(back.spread, marked.spread, atol=_spread_tol(name, marked), rtol=0)
    assert not back.spread[:6].any()  # measured and derived leads: exactly 0
    signal_tol = {"rec.npz": 0.0, "rec.csv": 1e-6, "rec.edf": 1e-4, "rec": 1e-4}[name]
    np.testing.assert_allclose(back.signal, marked.signal, atol=signal_tol + 1e-7, rtol=0)
    low, high = back.interval()
    want_low, want_high = marked.interval()
    np.testing.assert_allclose(high, want_high, atol=2 * _spread_tol(name, marked) + signal_tol + 1e-6, rtol=0)
    np.testing.assert_allclose(low, want_low, atol=2 * _spread_tol(name, marked) + signal_tol + 1e-6, rtol=0)


@pytest.mark.parametrize("name", ["rec.csv", "rec.npz", "rec.edf", "rec"])
def test_selecting_leads_of_a_marked_file(marked: ECG, tmp_path: Path, name: str) -> None:
    write_ecg(marked, tmp_path / name)
    back = _read(tmp_path, name, leads="V3,I")
    assert back.leads == ("V3", "I")
    assert back.labels["synthesized"] == ["V3"] and back.labels["measured"] == ["I"]
    assert back.spread is not None and marked.spread is not None
    np.testing.assert_allclose(back.spread[0], marked.spread[8], atol=_spread_tol(name, marked))
    assert not back.spread[1].any()


def test_csv_layout_and_sidecar(marked: ECG, tmp_path: Path) -> None:
    out = tmp_path / "rec.csv"
    write_csv(marked, out)
    header = out.read_text().splitlines()[0].split(",")
    sd_cols = [f"{n}_sd" for n in PRECORDIAL_LEADS]
    assert header == ["time_s", *STANDARD_LEADS, *sd_cols]  # lead columns unchanged, sd columns after
    side = json.loads(sidecar_path(out).read_text())
    assert sidecar_path(out).name == "rec.csv.json"
    assert side["format"] == "leadlift-marks/1" and side["columns"] == header and side["fs"] == 500.0
    assert side["units"] == "mV" and side["sd_columns"] == dict(zip(PRECORDIAL_LEADS, sd_cols, strict=True))
    assert {k: side[k] for k in MARKS} == MARKS
    assert output_paths(out, marked) == [out, sidecar_path(out)]
    assert output_paths(out) == [out]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.csv", "rec.csv.json"]  # no temp files left
    # without the sidecar the sd columns are still spread, never leads; fs comes from the time column
    sidecar_path(out).unlink()
    bare = read_ecg(out)
    assert bare.leads == STANDARD_LEADS and bare.spread is not None and bare.is_marked
    assert "synthesized" not in bare.labels
    # without a time column the sidecar gives fs
    write_csv(marked, out, time_column=False)
    assert read_ecg(out).fs == 500.0


def test_stale_or_foreign_sidecars(marked: ECG, plain: ECG, tmp_path: Path, caplog, monkeypatch) -> None:
    # the CLI's logging setup (run by earlier CLI tests) stops propagation; caplog listens at the root
    monkeypatch.setattr(logging.getLogger("leadlift"), "propagate", True)
    out = tmp_path / "rec.csv"
    write_csv(marked, out)
    write_csv(plain.select("I,II"), out)  # an unmarked write removes the old sidecar
    assert not sidecar_path(out).exists()
    assert "measured" not in read_ecg(out).labels
    sidecar_path(out).write_text('{"mine": 1}')  # a JSON file of someone else is left alone
    write_csv(plain, out)
    assert sidecar_path(out).read_text() == '{"mine": 1}'
    write_csv(marked, tmp_path / "other.csv")  # a leadlift sidecar that describes other columns
    sidecar_path(out).write_text(sidecar_path(tmp_path / "other.csv").read_text())
    with caplog.at_level(logging.WARNING, logger="leadlift.io"):
        back = read_ecg(out)
    assert "synthesized" not in back.labels and "describes other columns" in caplog.text


def test_npz_layout(marked: ECG, tmp_path: Path) -> None:
    write_npz(marked, tmp_path / "rec.npz")
    with np.load(tmp_path / "rec.npz", allow_pickle=False) as z:
        assert {"signal", "spread", "measured_mask", "measured", "derived_exactly", "synthesized", "model",
                "model_version", "interval_level", "interval_z", "bandpass_hz"} <= set(z.files)
        assert z["spread"].dtype == np.float32 and z["spread"].shape == (12, 5000)
        assert z["measured_mask"].dtype == bool and z["measured_mask"].tolist() == [True, True] + [False] * 10
        assert list(z["synthesized"]) == list(PRECORDIAL_LEADS)
        assert str(z["model"]) == "recon-i-ii-v2" and str(z["model_version"]) == "1.2"
        assert float(z["interval_level"]) == 0.9 and float(z["interval_z"]) == 1.6449


def test_wfdb_layout(marked: ECG, tmp_path: Path) -> None:
    import wfdb

    write_wfdb(marked, tmp_path / "rec")
    header = wfdb.rdheader(str(tmp_path / "rec"))
    assert header.sig_name == [*STANDARD_LEADS, *(f"{n}_sd" for n in PRECORDIAL_LEADS)]
    assert set(header.units) == {"mV"}
    text = (tmp_path / "rec.hea").read_text()
    assert "# leadlift measured: I,II\n" in text
    assert "# leadlift derived_exactly: III,aVR,aVL,aVF\n" in text
    assert "# leadlift synthesized: V1,V2,V3,V4,V5,V6\n" in text
    assert "# leadlift model: recon-i-ii-v2 1.2\n" in text
    assert "# leadlift interval: 0.9 z=1.6449\n" in text
    assert "# leadlift: record_id ptbxl/00001\n" in text


def test_edf_layout(marked: ECG, tmp_path: Path) -> None:
    write_edf(marked, tmp_path / "rec.edf")
    edf = edfio.read_edf(tmp_path / "rec.edf")
    by_label = {s.label: s for s in edf.signals}
    assert list(by_label) == [f"ECG {n}" for n in STANDARD_LEADS] + [f"{n} sd" for n in PRECORDIAL_LEADS]
    assert all(len(label) <= 16 for label in by_label)
    assert by_label["ECG I"].transducer_type == "measured" and by_label["ECG I"].prefiltering == ""
    assert by_label["ECG III"].transducer_type == "derived"
    assert by_label["ECG V1"].transducer_type == "synthesized:recon-i-ii-v2 1.2"
    assert by_label["ECG V1"].prefiltering == "HP:0.5Hz LP:45Hz"
    assert by_label["V1 sd"].physical_dimension == "mV" and by_label["V1 sd"].physical_range.min == 0
    texts = [a.text for a in edf.annotations]
    assert "leadlift model: recon-i-ii-v2 1.2" in texts and "leadlift interval: 0.9 z=1.6449" in texts


def test_edf_marks_from_signal_fields_alone(marked: ECG, tmp_path: Path) -> None:
    """An EDF whose annotations were lost (re-exported by another tool) still gives the leads' roles,
    the model and the band from the per-signal fields; a trailing '*' on a label is stripped."""
    write_edf(marked, tmp_path / "rec.edf")
    edf = edfio.read_edf(tmp_path / "rec.edf")
    signals = []
    for s in edf.signals:
        label = s.label + "*" if s.transducer_type.startswith("synthesized") else s.label
        signals.append(edfio.EdfSignal(s.data, s.sampling_frequency, label=label, transducer_type=s.transducer_type,
                                       physical_dimension=s.physical_dimension, prefiltering=s.prefiltering))
    edfio.Edf(signals, data_record_duration=edf.data_record_duration).write(tmp_path / "bare.edf")
    back = read_ecg(tmp_path / "bare.edf")
    assert back.leads == STANDARD_LEADS
    keys = ("measured", "derived_exactly", "synthesized", "model", "model_version", "bandpass_hz")
    assert {k: back.labels[k] for k in keys} == {k: MARKS[k] for k in keys}
    assert back.spread is not None and back.spread[6:].any()


def test_unmarked_records_are_written_as_before(plain: ECG, tmp_path: Path) -> None:
    """No sd channel, no sidecar, no comment, no annotation: the files of an ECG without marks (a
    'model' label alone is no mark) are those leadlift always wrote, and read back unmarked."""
    old_style = ECG(plain.signal, plain.fs, plain.leads, labels={"model": "recon-i", "reconstructed_from": ["I"]})
    assert not old_style.is_marked
    for name in ("rec.csv", "rec.npz", "rec.edf", "rec"):
        write_ecg(old_style, tmp_path / name)
        back = _read(tmp_path, name)
        assert back.spread is None and not back.is_marked and back.leads == STANDARD_LEADS
    assert (tmp_path / "rec.csv").read_text().splitlines()[0] == "time_s," + ",".join(STANDARD_LEADS)
    assert not sidecar_path(tmp_path / "rec.csv").exists()
    with np.load(tmp_path / "rec.npz", allow_pickle=False) as z:
        assert set(z.files) == {"signal", "fs", "leads", "units", "record_id"}
    assert "leadlift" not in (tmp_path / "rec.hea").read_text()
    assert (tmp_path / "rec.edf").read_bytes()[192:197] == b"     "  # plain EDF: no EDF+ reserved field
    edf = edfio.read_edf(tmp_path / "rec.edf")
    assert [s.label for s in edf.signals] == [f"ECG {n}" for n in STANDARD_LEADS]
    assert all(s.transducer_type == "" and s.prefiltering == "" for s in edf.signals)


def test_a_synthesized_lead_with_zero_spread_and_a_spread_without_labels(plain: ECG, tmp_path: Path) -> None:
    """Hand-built corner cases: a synthesized lead whose spread is 0 still gets its (flat) sd channel;
    a spread without lead marks stores the leads with a non-zero spread and the Gaussian 90 % z."""
    two = plain.select("I,V1")
    zero = ECG(two.signal, two.fs, two.leads, labels={"measured": ["I"], "synthesized": ["V1"]},
               spread=np.zeros_like(two.signal))
    only_sd = ECG(two.signal, two.fs, two.leads, spread=np.stack([np.zeros(two.n_samples),
                                                                   np.full(two.n_samples, 0.1)]))
    for name in ("rec.csv", "rec.npz", "rec.edf", "rec"):
        write_ecg(zero, tmp_path / name)
        back = _read(tmp_path, name)
        assert back.spread is not None and not back.spread.any() and back.synthesized_leads == ("V1",)
        write_ecg(only_sd, tmp_path / name)
        back = _read(tmp_path, name)
        assert back.spread is not None
        np.testing.assert_allclose(back.spread[1], 0.1, atol=1e-5)
        assert back.labels["interval"] == {"level": 0.9, "z": 1.6449}


def test_mark_lines_round_trip() -> None:
    lines = mark_lines({**MARKS, "model": "my model", "model_version": ""})
    assert lines[3] == "leadlift model: my model -"
    back = parse_mark_lines(["# " + ln for ln in lines] + ["age: 56", "leadlift: record_id x"])
    assert lines[0] == "leadlift measured: I,II" and lines[1] == "leadlift derived_exactly: III,aVR,aVL,aVF"
    assert back == {**MARKS, "model": "my model", "model_version": ""}
    assert parse_model(format_model("recon-i", "1.0")) == ("recon-i", "1.0")
    assert parse_model("recon-i") == ("recon-i", "")
