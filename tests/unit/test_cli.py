"""The command line: help, datasets, prepare, show, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_cli

run = run_cli


def test_version(capsys) -> None:
    import leadlift

    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"leadlift {leadlift.__version__}"


def test_help_lists_commands(capsys) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for cmd in ("datasets", "download", "prepare", "show"):
        assert cmd in out


def test_console_script_installed() -> None:
    res = subprocess.run(["leadlift", "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "prepare" in res.stdout


def test_datasets_counts(data_dir, capsys) -> None:
    code, out, _ = run(["datasets", "--data-dir", str(data_dir)], capsys)
    assert code == 0
    assert str(data_dir) in out and "--data-dir" in out
    lines = {ln.split("│")[1].strip(): ln for ln in out.splitlines() if ln.count("│") > 3}
    assert "310" in lines["ecgid"] and "1997" in lines["ptbxl"] and "49" in lines["cinc2021"]


def test_data_dir_from_environment(data_dir, capsys, monkeypatch) -> None:
    monkeypatch.setenv("LEADLIFT_DATA", str(data_dir))
    code, out, _ = run(["datasets"], capsys)
    assert code == 0 and "$LEADLIFT_DATA" in out


def test_prepare_and_show(data_dir, tmp_path, capsys) -> None:
    code, out, _ = run(["prepare", "ecgid", "--fs", "100", "--data-dir", str(data_dir),
                        "--store-dir", str(tmp_path / "stores")], capsys)
    assert code == 0 and "310 records" in out
    code, out, _ = run(["prepare", "ecgid", "--fs", "100", "--data-dir", str(data_dir),
                        "--store-dir", str(tmp_path / "stores")], capsys)
    assert code == 0 and "up to date" in out
    png = tmp_path / "show.png"
    code, out, _ = run(["show", "ptbxl:00001", "--data-dir", str(data_dir), "-o", str(png)], capsys)
    assert code == 0 and "100 Hz" in out and png.stat().st_size > 50_000
    png2 = tmp_path / "ptbdb.png"
    code, out, _ = run(["show", str(data_dir / "ptbdb/patient001/s0010_re.hea"), "-o", str(png2),
                        "--seconds", "5"], capsys)
    assert code == 0 and "1000 Hz" in out and png2.exists()


@pytest.mark.parametrize(("args", "pattern"), [
    (["show", "nosuchfile"], "neither a WFDB record path"),
    (["show", "ptbxl:99999"], "not present"),
    (["prepare", "mitdb"], "unknown dataset"),
    (["prepare", "ecgid", "--fs", "-5"], "not a positive sampling rate"),
])
def test_errors_are_one_line(args, pattern, data_dir, capsys, tmp_path) -> None:
    code, _, err = run([*args, "--data-dir", str(data_dir)], capsys)
    assert code == 2
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and pattern in errors[0] and "Traceback" not in err


def test_missing_dataset_says_what_to_do(tmp_path, capsys) -> None:
    code, _, err = run(["prepare", "ptbxl", "--data-dir", str(tmp_path)], capsys)
    text = " ".join(err.split())
    assert code == 2 and "leadlift download ptbxl" in text and "LEADLIFT_DATA" in text


def test_module_entry_point(data_dir) -> None:
    res = subprocess.run([sys.executable, "-m", "leadlift.cli", "show", "x:y", "--data-dir", str(data_dir)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "error:" in res.stderr and "Traceback" not in res.stderr
    assert Path(data_dir).exists()
