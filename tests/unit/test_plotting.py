"""Tests of leadlift.plotting on the real PTB-XL record 00001 (100 Hz)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import wfdb

from leadlift.ecg import ECG, STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.plotting import MM_PER_MV, MM_PER_S, lead_labels, plot_ecg
from leadlift.preprocessing import preprocess_ecg


@pytest.fixture(scope="module")
def ecg(data_dir: Path) -> ECG:
    path = data_dir / "ptb-xl" / "records100" / "00000" / "00001_lr"
    if not path.with_suffix(".hea").exists():
        pytest.fail(f"PTB-XL record {path} not found; set LEADLIFT_DATA to the folder holding ptb-xl/")
    signal, fields = wfdb.rdsamp(str(path))
    return ECG.from_array(signal.T, fs=fields["fs"], leads=fields["sig_name"], record_id="ptbxl/00001")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    return width, height


def test_plot_saves_png_with_12_labels_on_true_scale(ecg: ECG, tmp_path: Path) -> None:
    out = tmp_path / "plots" / "ecg.png"  # the folder does not exist yet
    fig = plot_ecg(ecg, out, dpi=100)
    assert out.is_file()
    assert 20_000 < out.stat().st_size < 5_000_000
    assert [p.name for p in out.parent.iterdir()] == ["ecg.png"]  # no temp file left behind
    width, height = png_size(out)
    # 10 s at 25 mm/s = 250 mm of paper plus 16 mm of margins, at 100 px per 25.4 mm
    assert abs(width - (250 + 16) / 25.4 * 100) <= 2
    assert 12 * 20 / 25.4 * 100 < height < 12 * 60 / 25.4 * 100  # 12 rows of 2-6 mV

    assert lead_labels(fig) == list(STANDARD_LEADS)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sorted(texts) == sorted(STANDARD_LEADS)
    assert any("25 mm/s" in t.get_text() for t in fig.texts)
    assert any(t.get_text() == "ptbxl/00001" for t in fig.texts)  # default title: record id

    # 1 mm of paper is the same length in x (0.04 s) and y (0.1 mV): dpi/25.4 pixels
    ax = fig.axes[0]
    (x0, y0), (x1, y1) = ax.transData.transform([(1.0, -1.0), (1.0 + 1 / MM_PER_S, -1.0 + 1 / MM_PER_MV)])
    px_per_mm = fig.dpi / 25.4
    assert abs((x1 - x0) - px_per_mm) < 1e-6 * px_per_mm
    assert abs((y1 - y0) - px_per_mm) < 1e-6 * px_per_mm
    assert ax.get_xlim() == (0.0, 10.0)
    lo, hi = ax.get_ylim()
    assert hi == 0 and (-lo / 0.5) == int(-lo / 0.5)  # rows are whole 0.5 mV major squares


def test_plot_overlay_with_reference(ecg: ECG, tmp_path: Path) -> None:
    recon = preprocess_ecg(ecg, baseline_window_s=None)  # stands in for a reconstruction
    out = tmp_path / "overlay.png"
    out.write_bytes(b"old")  # an existing file is replaced atomically
    fig = plot_ecg(recon, out, title="true vs reconstructed", reference=ecg,
                   label="reconstructed", reference_label="true", seconds=5)
    assert png_size(out)[0] == pytest.approx((125 + 16) / 25.4 * 100, abs=2)
    ax = fig.axes[0]
    assert len(ax.lines) == 24  # 12 reference traces under 12 main traces
    ref_lines, main_lines = ax.lines[0::2], ax.lines[1::2]
    assert all(r.get_zorder() < m.get_zorder() for r, m in zip(ref_lines, main_lines, strict=True))
    assert {r.get_color() for r in ref_lines} != {m.get_color() for m in main_lines}
    legend_texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert legend_texts == ["reconstructed", "true"]
    assert np.ptp(ref_lines[0].get_xdata()) <= 5.0


def test_plot_subset_of_leads_without_path(ecg: ECG) -> None:
    two = ecg.select("II,V2")
    fig = plot_ecg(two, seconds=(2.0, 4.0))
    assert lead_labels(fig) == ["II", "V2"]
    assert fig.axes[0].get_xlim() == (2.0, 4.0)
    assert len(fig.legends) == 0  # no reference, no legend
    partial = plot_ecg(ecg, reference=two, seconds=2)  # reference with only some of the leads
    assert len(partial.axes[0].lines) == 12 + 2


def test_plot_errors(ecg: ECG, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.png"):
        plot_ecg(ecg, tmp_path / "ecg.jpg")
    with pytest.raises(InputError, match="none of the plotted leads"):
        plot_ecg(ecg.select("V1"), reference=ecg.select("V2"))
    with pytest.raises(InputError, match="seconds"):
        plot_ecg(ecg, seconds=0)
    with pytest.raises(InputError, match="ECG record"):
        plot_ecg(ecg.signal)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def _marked(ecg: ECG, with_spread: bool = True) -> ECG:
    """The record dressed as a reconstruction from lead I: I measured, the other 11 synthesized."""
    spread = np.zeros_like(ecg.signal)
    spread[1:] = 0.08  # mV
    labels = {"measured": ["I"], "synthesized": list(STANDARD_LEADS[1:]), "model": "recon-i",
              "model_version": "1.0", "interval": {"level": 0.9, "z": 1.6449}}
    return ECG(ecg.signal, ecg.fs, ecg.leads, record_id=ecg.record_id, labels=labels,
               spread=spread if with_spread else None)


def test_plot_marks_synthesized_leads_and_their_interval(ecg: ECG, tmp_path: Path) -> None:
    marked = _marked(ecg)
    fig = plot_ecg(marked, tmp_path / "marked.png", seconds=3)
    assert (tmp_path / "marked.png").is_file()
    assert lead_labels(fig) == ["I"] + [f"{n}*" for n in STANDARD_LEADS[1:]]
    legend_texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert legend_texts == ["measured", "synthesized (model recon-i)", "90% interval"]
    ax = fig.axes[0]
    colors = [line.get_color() for line in ax.lines]
    assert colors[0] == "black" and len(set(colors[1:])) == 1 and colors[1] != "black"
    bands = [c for c in ax.collections if c.get_gid() == "interval-band"]
    assert len(bands) == 11  # one shaded 90 % band per synthesized lead, none for the measured lead I
    # the band of II spans ±1.6449·0.08 mV around its trace (in the row's coordinates)
    path = bands[0].get_paths()[0].vertices
    trace = ax.lines[1].get_ydata()
    assert np.max(path[:, 1]) == pytest.approx(np.max(trace) + 1.6449 * 0.08, abs=1e-3)


def test_plot_marked_without_spread_and_with_reference(ecg: ECG) -> None:
    marked = _marked(ecg, with_spread=False)
    fig = plot_ecg(marked.select("I,V2"), reference=ecg, seconds=2, label="reconstructed", reference_label="recorded")
    assert lead_labels(fig) == ["I", "V2*"]
    legend_texts = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert legend_texts == ["measured", "synthesized (model recon-i)", "recorded"]
    assert not [c for c in fig.axes[0].collections if c.get_gid() == "interval-band"]
    only_synth = plot_ecg(_marked(ecg).select("V1"), seconds=2)  # no measured lead shown: no "measured" entry
    assert [t.get_text() for leg in only_synth.legends for t in leg.get_texts()] == [
        "synthesized (model recon-i)", "90% interval"]
