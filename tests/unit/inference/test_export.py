"""On-device export: the ONNX graph (preprocessing, network, stitching, calibration inside) against the Python
path on real PTB-XL records, its tensor-op preprocessing against SciPy, int8 quantisation, the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from helpers import error_line, one_line, run_cli
from leadlift.api import LeadLift
from leadlift.ecg import ECG, STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.inference.export import (
    FiltFilt,
    PolyphaseResample,
    RunningMedian,
    build_pipeline,
    export_onnx,
    onnx_session,
    run_onnx,
)
from leadlift.inference.pipeline import reconstruct_records
from leadlift.io import read_ecg
from leadlift.preprocessing import bandpass, remove_baseline, resample

PARITY_MV = 1e-3
"""fp32 graph vs the Python path, max |Δ| over every lead and sample (mV)."""
INT8_MAX_MV = 0.25
INT8_MEAN_MV = 0.01
"""Loose bounds of the int8 graph's error (measured: see benchmarks/results/export_latency.md)."""

RECORDS = ["00001", "00002", "00003", "00004"]


def _records(data_dir: Path, rate: int) -> list[ECG]:
    folder = data_dir / "ptb-xl" / f"records{rate}" / "00000"
    suffix = "lr" if rate == 100 else "hr"
    return [read_ecg(folder / f"{r}_{suffix}.hea") for r in RECORDS]


@pytest.fixture(scope="module")
def ptbxl100(data_dir: Path) -> list[ECG]:
    return _records(data_dir, 100)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """fp32 and int8 graphs of the bundled models (10 s at the model rate, default leads), written once."""
    folder = tmp_path_factory.mktemp("onnx")
    paths = {}
    for name in ("recon-i", "recon-i-ii-v2", "mae-cpu"):
        for q in (None, "int8"):
            key = f"{name}-{q or 'fp32'}"
            paths[key] = export_onnx(name, folder / f"{key}.onnx", quantize=q, check=False).path
    return paths


def _python_path(name: str, ecgs: list[ECG], leads: tuple[str, ...]) -> np.ndarray:
    lift = LeadLift.from_pretrained(name)
    return np.stack([e.signal for e in lift.reconstruct_batch([e.select(list(leads)) for e in ecgs])])


# ------------------------------------------------------------------------ preprocessing as tensor ops vs SciPy
@pytest.mark.parametrize(("fs_in", "fs_out"), [(500, 100), (100, 500), (360, 100), (257, 100), (100, 128)])
def test_polyphase_resample_is_scipy_resample_poly(ptbxl100: list[ECG], fs_in: float, fs_out: float) -> None:
    x = resample(ptbxl100[0].signal.astype(np.float64), 100, fs_in)  # a real ECG at fs_in
    mod = PolyphaseResample(x.shape[-1], fs_in, fs_out)
    got = mod(torch.from_numpy(x.astype(np.float32))).numpy()
    want = resample(x, fs_in, fs_out)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 2e-5


def test_filtfilt_and_running_median_are_the_python_cleaning(ptbxl100: list[ECG]) -> None:
    x = ptbxl100[1].signal.astype(np.float64) + 3.0  # an electrode offset of 3 mV
    n = x.shape[-1]
    got = FiltFilt(n, 100.0, 0.5, 45.0, 4)(torch.from_numpy(x.astype(np.float32))).numpy()
    want = bandpass(x, 100.0, 0.5, 45.0, 4)
    assert np.abs(got - want).max() < 1e-5
    got_b = RunningMedian(n, 61)(torch.from_numpy(want.astype(np.float32))).numpy()
    assert np.abs(got_b - remove_baseline(want, 100.0, 0.6)).max() < 1e-5


# ------------------------------------------------------------------------ the graph vs the Python path
@pytest.mark.parametrize(("name", "leads"), [("recon-i", ("I",)), ("recon-i-ii-v2", ("I", "II", "V2")),
                                             ("mae-cpu", ("I",))])
def test_onnx_graph_matches_the_python_path_on_real_records(exported, ptbxl100, name, leads) -> None:
    want = _python_path(name, ptbxl100, leads)  # [4, 12, 1000] mV
    x = np.stack([e.select(list(leads)).signal for e in ptbxl100])
    fp32 = run_onnx(onnx_session(exported[f"{name}-fp32"]), x)
    assert fp32.shape == want.shape == (len(RECORDS), 12, 1000)
    assert np.abs(fp32 - want).max() <= PARITY_MV
    # measured leads pass through untouched, exactly as the Python path returns them
    for i, lead in enumerate(leads):
        np.testing.assert_array_equal(fp32[:, STANDARD_LEADS.index(lead)], x[:, i])
    # one strip at a time gives the same as a batch
    np.testing.assert_allclose(run_onnx(onnx_session(exported[f"{name}-fp32"]), x[2]), fp32[2], atol=1e-5)
    # int8: the network's weights only; loosely bounded (numbers in the benchmark)
    err = np.abs(run_onnx(onnx_session(exported[f"{name}-int8"]), x) - want)
    assert err.max() <= INT8_MAX_MV and err.mean() <= INT8_MEAN_MV, (err.max(), err.mean())
    assert exported[f"{name}-int8"].stat().st_size <= exported[f"{name}-fp32"].stat().st_size / 3  # the bound


def test_graph_input_and_metadata_say_rate_duration_units(exported) -> None:
    import onnx

    sess = onnx_session(exported["recon-i-ii-v2-fp32"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert (inp.name, inp.shape[1:], out.name, out.shape[1:]) == ("ecg_mv", [3, 1000], "twelve_lead_mv", [12, 1000])
    meta = {p.key: p.value for p in onnx.load(str(exported["recon-i-ii-v2-fp32"])).metadata_props}
    assert meta["fs_hz"] == "100" and meta["n_samples"] == "1000" and meta["units"] == "mV"
    assert meta["input_leads"] == "I,II,V2" and meta["output_leads"] == ",".join(STANDARD_LEADS)
    # int8 touches the network only: the preprocessing and stitching nodes stay float32
    q = onnx.load(str(exported["recon-i-ii-v2-int8"]))
    assert any(n.op_type == "ConvInteger" for n in q.graph.node)
    pre = ("/bandpass/", "/baseline/", "/windows/", "/stitch/", "/resample")
    assert not [n.name for n in q.graph.node if n.name.startswith(pre)
                and ("Integer" in n.op_type or "Quantize" in n.op_type)]
    assert any(n.name.startswith("/baseline/") for n in q.graph.node)  # the scopes survive the optimiser
    assert [n.op_type for n in q.graph.node if n.name.startswith("/bandpass/") and "Conv" in n.op_type] == ["Conv"] * 2


def test_resampling_inside_the_graph_on_500hz_records(data_dir: Path, tmp_path: Path) -> None:
    """A device at 500 Hz: the graph resamples to the model's 100 Hz and back, as the Python path does."""
    ecgs = _records(data_dir, 500)[:2]
    rep = export_onnx("recon-i", tmp_path / "r500.onnx", fs_in=500, check=False)
    assert rep.input_shape == ["B", 1, 5000] and rep.fs_in == 500
    x = np.stack([e.select(["I"]).signal for e in ecgs])
    got = run_onnx(onnx_session(rep.path), x)
    assert np.abs(got - _python_path("recon-i", ecgs, ("I",))).max() <= PARITY_MV


def test_torch_pipeline_other_lead_orders_and_short_strips(ptbxl100: list[ECG]) -> None:
    """The torch module the graph is traced from: rows in any lead order for an MAE, strips shorter than one
    model window (repeated to fill it, as the Python path does), two limb leads other than I and II (the
    other limb leads derived exactly, as the Python path does), and a one-pass decoding MAE."""
    lift = LeadLift.from_pretrained("mae-cpu")
    backend = lift.backend
    for leads, seconds in ((("V2", "I", "II"), 10.0), (("I",), 3.0), (("III", "aVF", "V2"), 10.0)):
        ecgs = [ECG(e.select(list(leads)).signal[:, :int(seconds * 100)], 100.0, leads) for e in ptbxl100[:2]]
        want = np.stack([r.signal for r in reconstruct_records(backend, ecgs, backend.hop, explicit=True)])
        pipe = build_pipeline(backend, duration_s=seconds, leads=leads)
        with torch.no_grad():
            got = pipe(torch.from_numpy(np.stack([e.signal for e in ecgs]))).numpy()
        assert np.abs(got - want).max() <= PARITY_MV
    backend.n_views = 1
    ecgs = [ptbxl100[0].select(["I"])]
    want = reconstruct_records(backend, ecgs, backend.hop)[0].signal
    with torch.no_grad():
        got = build_pipeline(backend)(torch.from_numpy(ecgs[0].signal[None]))[0].numpy()
    assert np.abs(got - want).max() <= PARITY_MV


def test_the_export_module_imports_no_training_code_and_no_onnx() -> None:
    import subprocess
    import sys

    code = ("import sys, leadlift.inference.export; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('lightning', 'pytorch_lightning', 'onnx', 'onnxruntime') or m.startswith('leadlift.training')))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]", res.stdout


# ------------------------------------------------------------------------ errors and the CLI
def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    out = tmp_path / "x.onnx"
    with pytest.raises(InputError) as exc:
        export_onnx("recon-i", out, quantize="int4")
    assert "int8" in one_line(exc)
    with pytest.raises(InputError) as exc:
        export_onnx("recon-i", out, leads="II")
    assert "reconstructs from I only" in one_line(exc)
    with pytest.raises(InputError) as exc:
        export_onnx("recon-i", out, duration_s=10.005)
    assert "whole number" in one_line(exc)
    with pytest.raises(InputError) as exc:
        export_onnx("recon-i", out, fs_in=20)
    assert "50 Hz" in one_line(exc)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_export_writes_a_checked_graph(tmp_path: Path, capsys) -> None:
    target = tmp_path / "recon-i.onnx"
    code, out, err = run_cli(["export", "recon-i", "--format", "onnx", "--quantize", "int8", "--duration", "5",
                              "-o", str(target)], capsys)
    assert code == 0, err
    assert target.is_file() and "[B, 1, 500]" in out and "int8" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("check on a synthetic"))
    assert "fp32" in line and "int8" in line
    assert not [p for p in tmp_path.iterdir() if p != target]  # no temporary left behind


@pytest.mark.parametrize(("args", "fragment"), [
    (["--quantize", "int4"], "--quantize 'int4' is not supported; use int8"),
    (["--format", "tflite"], "--format 'tflite' is not supported; use onnx"),
    (["--duration", "0.2"], "--duration 0.2 s is too short"),
])
def test_cli_bad_options_exit_2_with_one_line(tmp_path: Path, capsys, args, fragment) -> None:
    code, _, err = run_cli(["export", "recon-i", *args, "-o", str(tmp_path / "x.onnx")], capsys)
    assert code == 2
    error_line(err, fragment)
    assert not list(tmp_path.iterdir())


def test_cli_model_that_cannot_be_exported(tmp_path: Path, capsys) -> None:
    """An MAE without amplitude calibration cannot output mV, so it has no graph either; an unknown name."""
    from leadlift.inference.hub import bundled_weights_dir

    raw = tmp_path / "raw"
    shutil.copytree(bundled_weights_dir() / "mae-cpu", raw)
    cfg = yaml.safe_load((raw / "config.yaml").read_text())
    cfg.pop("calibration")
    (raw / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    code, _, err = run_cli(["export", str(raw), "-o", str(tmp_path / "x.onnx")], capsys)
    assert code == 2
    error_line(err, "no amplitude calibration")
    code, _, err = run_cli(["export", "no-such-model", "-o", str(tmp_path / "x.onnx")], capsys)
    assert code == 2
    error_line(err, "not found")
    assert not (tmp_path / "x.onnx").exists()
