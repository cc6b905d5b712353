"""`leadlift reconstruct` / `leadlift embed` / `leadlift model-card` on real recordings with the
tiny session checkpoint: outputs, one-line errors for bad input, and no partial output left."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import run_cli
from leadlift.ecg import STANDARD_LEADS
from leadlift.io import read_ecg, write_csv

run = run_cli


@pytest.fixture(scope="module")
def ecgid_hea(data_dir: Path) -> Path:
    return data_dir / "ecgiddb" / "Person_01" / "rec_1.hea"


@pytest.fixture(scope="module")
def ptbxl_rec(data_dir: Path) -> Path:
    return data_dir / "ptb-xl" / "records500" / "00000" / "00009_hr"


def test_help_lists_new_commands(capsys) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for cmd in ("reconstruct", "embed", "model-card"):
        assert cmd in out


def test_reconstruct_ecgid_to_csv_and_plot(tiny_mae_checkpoint: Path, ecgid_hea: Path, tmp_path: Path,
                                           capsys) -> None:
    out_csv, png = tmp_path / "rec_1_12lead.csv", tmp_path / "rec_1.png"
    code, out, err = run(["reconstruct", str(ecgid_hea), "--model", str(tiny_mae_checkpoint),
                          "--out", str(out_csv), "--plot", str(png)], capsys)
    assert code == 0, err
    assert f"wrote {out_csv}" in out and png.stat().st_size > 50_000
    rec = read_ecg(out_csv)
    assert rec.leads == STANDARD_LEADS and rec.fs == 500 and rec.n_samples == 10000
    np.testing.assert_allclose(rec["I"], read_ecg(ecgid_hea)["I"], atol=1e-6)


@pytest.mark.parametrize("out_name", ["rec.npz", "rec", "rec.edf"])
def test_reconstruct_ptbxl_from_lead_i(tiny_mae_checkpoint: Path, ptbxl_rec: Path, tmp_path: Path, capsys,
                                       out_name: str) -> None:
    target = tmp_path / out_name
    code, _, err = run(["reconstruct", str(ptbxl_rec), "--leads", "I", "--model", str(tiny_mae_checkpoint),
                        "--out", str(target)], capsys)
    assert code == 0, err
    rec = read_ecg(target if out_name != "rec" else tmp_path / "rec.hea")
    assert rec.leads == STANDARD_LEADS and rec.fs == 500 and rec.n_samples == 5000


def test_reconstruct_many_files_into_folder(tiny_mae_checkpoint: Path, data_dir: Path, tmp_path: Path,
                                            capsys) -> None:
    files = [str(data_dir / "ecgiddb" / f"Person_0{i}" / "rec_1.hea") for i in (1, 2, 3)]
    code, _, err = run(["reconstruct", *files, "--model", str(tiny_mae_checkpoint), "--out", str(tmp_path / "o"),
                        "--format", "npz", "--plot", str(tmp_path / "p")], capsys)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["Person_01_rec_1.npz", "Person_02_rec_1.npz", "Person_03_rec_1.npz"]  # same stems: prefixed
    assert len(list((tmp_path / "p").glob("*.png"))) == 3
    assert "reconstruct" in err  # the progress bar


def test_embed_many_files_to_parquet(tiny_mae_checkpoint: Path, data_dir: Path, ptbxl_rec: Path, tmp_path: Path,
                                     capsys) -> None:
    files = [str(data_dir / "ecgiddb" / "Person_01" / "rec_1.hea"), str(ptbxl_rec) + ".hea"]
    target = tmp_path / "emb.parquet"
    code, out, err = run(["embed", *files, "--leads", "I", "--model", str(tiny_mae_checkpoint),
                          "--out", str(target)], capsys)
    assert code == 0, err
    table = pd.read_parquet(target)
    assert len(table) == 10 + 5 and "(15 rows)" in out
    assert list(table.columns[:8]) == ["file", "record_id", "window", "start_s", "end_s", "fs", "leads", "model"]
    assert [c for c in table.columns if c.startswith("emb_")] == [f"emb_{i}" for i in range(16)]
    assert sorted(table.groupby("file").size()) == [5, 10] and table["window"].max() == 9
    code, out, _ = run(["embed", *files, "--leads", "I", "--model", str(tiny_mae_checkpoint), "--pooled",
                        "--out", str(tmp_path / "pooled.parquet")], capsys)
    assert code == 0 and len(pd.read_parquet(tmp_path / "pooled.parquet")) == 2


# --------------------------------------------------------------------------------------- bad input
def _bad_files(folder: Path, ecgid_hea: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (arguments, expected message fragment); every case must fail with exit 2."""
    ecg = read_ecg(ecgid_hea)
    x = ecg.signal[0].astype(np.float64)
    nan = x.copy()
    nan[1000:1010] = np.nan
    np.save(folder / "nan.npy", nan)
    np.save(folder / "short.npy", x[:200])
    np.save(folder / "ok.npy", x)
    np.save(folder / "uv.npy", x * 1000)
    write_csv(ecg, folder / "timed.csv")
    (folder / "garbage.edf").write_bytes(b"not an edf file at all" * 20)
    (folder / "garbage.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    return {
        "nan": (["nan.npy", "--fs", "500", "--leads", "I"], "NaN"),
        "too short": (["short.npy", "--fs", "500", "--leads", "I"], "too short"),
        "fs contradicts file": (["timed.csv", "--fs", "512"], "contradicts the 500 Hz"),
        "fs too low": (["ok.npy", "--fs", "10", "--leads", "I"], "too low for an ECG"),
        "fs missing": (["ok.npy", "--leads", "I"], "stores no sampling rate"),
        "unknown lead": (["ok.npy", "--fs", "500", "--leads", "X1"], "unknown lead name 'X1'"),
        "lead not in file": (["timed.csv", "--leads", "V2"], "V2"),
        "implausible units": (["uv.npy", "--fs", "500", "--leads", "I"], "--units uV"),
        "unknown units": (["ok.npy", "--fs", "500", "--leads", "I", "--units", "kV"], "unknown unit"),
        "unreadable edf": (["garbage.edf"], "not a readable EDF"),
        "unreadable npy": (["garbage.npy", "--fs", "500", "--leads", "I"], "not a readable .npy"),
        "missing file": (["nothere.csv", "--fs", "500"], "not found"),
    }


@pytest.mark.parametrize("command", ["reconstruct", "embed"])
def test_bad_inputs_one_line_and_no_output(tiny_mae_checkpoint: Path, ecgid_hea: Path, tmp_path: Path, capsys,
                                           monkeypatch, command: str) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    cases = _bad_files(inputs, ecgid_hea)
    monkeypatch.chdir(inputs)
    outdir = tmp_path / "out"
    outdir.mkdir()
    target = outdir / ("r.csv" if command == "reconstruct" else "e.parquet")
    for name, (args, fragment) in cases.items():
        extra = ["--plot", str(outdir / "r.png")] if command == "reconstruct" else []
        code, _, err = run([command, *args, "--model", str(tiny_mae_checkpoint), "--out", str(target), *extra],
                           capsys)
        assert code == 2, f"{name}: exit {code}, {err}"
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), f"{name}: {err!r}"
        assert fragment in lines[0], f"{name}: {lines[0]}"
        assert sorted(p.name for p in outdir.iterdir()) == [], f"{name} left {list(outdir.iterdir())}"


def test_failure_midway_keeps_earlier_outputs(tiny_mae_checkpoint: Path, ecgid_hea: Path, tmp_path: Path,
                                              capsys) -> None:
    """A bad file stops the batch with one line that names it, what was kept and the option; the
    outputs written before it (and an older output from an earlier run) stay."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    _bad_files(inputs, ecgid_hea)
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.csv").write_text("from an earlier run\n")
    code, _, err = run(["reconstruct", str(ecgid_hea), str(inputs / "nan.npy"), "--fs", "500", "--leads", "I",
                        "--model", str(tiny_mae_checkpoint), "--out", str(out)], capsys)
    assert code == 2 and "nan.npy" in err and "file 2 of 2" in err and "--skip-errors" in err
    kept = sorted(p.name for p in out.iterdir())
    assert [n for n in kept if n != "rec_1.csv.json"] == ["earlier.csv", "rec_1.csv"]  # + the marks sidecar
    assert f"{len(kept) - 1} output(s) of the 1 file(s) before it were kept" in err
    assert len([ln for ln in err.splitlines() if ln.startswith("error:")]) == 1  # (besides the progress bar)
    code, _, err = run(["reconstruct", str(ecgid_hea), str(inputs / "nan.npy"), "--leads", "I",
                        "--model", str(tiny_mae_checkpoint), "--out", str(out), "--skip-errors"], capsys)
    assert code == 3 and "skipped:" in err and "1 of 2 file(s) skipped" in err
    assert sorted(p.name for p in out.iterdir()) == kept


def test_unknown_model_is_one_line(ecgid_hea: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run(["reconstruct", str(ecgid_hea), "--model", "nope", "--out", str(tmp_path / "a.csv")], capsys)
    assert code == 2 and err.startswith("error: model 'nope' not found") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_output_type_errors(tiny_mae_checkpoint: Path, ecgid_hea: Path, tmp_path: Path, capsys) -> None:
    for args, fragment in (
        (["--out", str(tmp_path / "a.txt")], "unknown output type"),
        (["--out", str(tmp_path / "a.csv"), "--plot", str(tmp_path / "a.jpg")], "must end in .png"),
    ):
        code, _, err = run(["reconstruct", str(ecgid_hea), "--model", str(tiny_mae_checkpoint), *args], capsys)
        assert code == 2 and fragment in err
    code, _, err = run(["embed", str(ecgid_hea), "--model", str(tiny_mae_checkpoint), "--out",
                        str(tmp_path / "e.csv")], capsys)
    assert code == 2 and "must end in .parquet" in err
    assert list(tmp_path.iterdir()) == []


def test_inputs_and_outputs_that_would_be_silently_wrong(tiny_mae_checkpoint: Path, ecgid_hea: Path,
                                                          tmp_path: Path, capsys, data_dir: Path) -> None:
    """A dead (flat) input lead, a boolean array, --out naming the input or something that is not a
    regular file (a device node, a folder): one clear line each (exit 2), nothing written or replaced."""
    import numpy as np

    from leadlift.io import read_ecg

    rec = read_ecg(data_dir / "ptb-xl" / "records500" / "00000" / "00001_hr.hea").select(["I", "II", "V2"])
    dead = rec.signal.copy()
    dead[2] = 0.0  # V2 electrode off
    np.save(tmp_path / "dead_v2.npy", dead)
    np.save(tmp_path / "bool.npy", rec.signal > 0)
    cases = {
        "flat lead": ([str(tmp_path / "dead_v2.npy"), "--fs", "500", "--leads", "I,II,V2", "--out",
                       str(tmp_path / "o.csv")], "V2 are flat"),
        "boolean": ([str(tmp_path / "bool.npy"), "--fs", "500", "--leads", "I,II,V2", "--out",
                     str(tmp_path / "o.csv")], "booleans"),
        "out is the input": ([str(tmp_path / "copy.csv"), "--out", str(tmp_path / "copy.csv")], "is one of the input"),
        "out is not a file": ([str(ecgid_hea), "--out", str(tmp_path / "dev.csv")], "not a regular file"),
    }
    (tmp_path / "copy.csv").write_text("I\n" + "\n".join(f"{v:.4f}" for v in rec["I"][:1000]) + "\n")
    (tmp_path / "dev.csv").mkdir()  # a folder stands in for a device node (both are not regular files)
    before = (tmp_path / "copy.csv").read_text()
    for name, (args, fragment) in cases.items():
        extra = ["--fs", "500"] if name == "out is the input" else []
        code, _, err = run(["reconstruct", *args, *extra, "--model", str(tiny_mae_checkpoint)], capsys)
        assert code == 2 and fragment in err, f"{name}: {code} {err}"
        assert len([ln for ln in err.splitlines() if ln.startswith("error:")]) == 1
    assert (tmp_path / "copy.csv").read_text() == before and not (tmp_path / "o.csv").exists()
