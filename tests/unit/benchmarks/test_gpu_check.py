"""benchmarks/gpu_check.py: the prepared GPU script, dry-run on the CPU (tiny models, 2 steps) on real
PTB-XL windows, so the script a GPU session runs is known to work before the machine is lent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import gpu_check


def test_export_windows_are_real_train_fold_records(data_dir, tmp_path) -> None:
    path = tmp_path / "w.npz"
    shapes = gpu_check.export_windows(path, str(data_dir), n100=6, n500=3)
    assert shapes == {"w100": [6, 12, 1000], "w500": [3, 12, 2500]}
    with np.load(path) as f:
        w = f["w100"].astype(np.float32)
    assert w.dtype == np.float32 and np.isfinite(w).all()
    amp = np.percentile(np.abs(w), 99, axis=-1)  # mV: real ECG leads, not noise or zeros
    assert (amp > 0.02).mean() > 0.9 and amp.max() < 20


def test_dry_run_writes_every_section(data_dir, tmp_path) -> None:
    import os
    import subprocess

    # its own process: the DDP smoke run starts a process group, which must not share a port with
    # the DDP tests that run later in this session
    script = Path(gpu_check.__file__)
    res = subprocess.run([sys.executable, str(script), "--dry-run", "--out-dir", str(tmp_path)], capture_output=True,
                         text=True, timeout=600, env={**os.environ, "LEADLIFT_DATA": str(data_dir)})
    result = json.loads((tmp_path / "gpu_check_dry_run.json").read_text())
    assert res.returncode == 0, res.stderr[-2000:]
    assert "MASTER_PORT" not in os.environ
    s = result["sections"]
    assert set(s) == {name for name, _, _ in gpu_check.SECTIONS}
    assert not [n for n, sec in s.items() if "error" in sec or "skipped" in sec]
    assert s["leadbank_vs_loop"]["rows"][0]["speedup"] > 0
    assert all(r["ecgs_per_s"] > 0 for r in s["recon_throughput"]["fusion"])
    assert s["compile"]["first_loss_abs_diff"] < 1e-5  # the compiled model computes the same loss
    assert s["lightning_smoke"]["mae"]["finite"] and s["lightning_smoke"]["recon"]["global_step"] == 3
    md = (tmp_path / "gpu_check_dry_run.md").read_text()
    assert "dry run" in md and "Lightning smoke run" in md


def test_refuses_to_run_without_a_gpu_unless_dry(tmp_path, capsys) -> None:
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the refusal is for machines without one")
    assert gpu_check.main(["--out-dir", str(tmp_path)]) == 2
    assert "no CUDA device" in capsys.readouterr().err
