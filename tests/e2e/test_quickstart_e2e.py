"""`leadlift quickstart` end to end on the real data: report, checkpoint, headline numbers, and
how much disk it leaves behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_quickstart_end_to_end(data_dir, tmp_path) -> None:
    out = tmp_path / "qs"
    run = subprocess.run([sys.executable, "-m", "leadlift.cli", "quickstart", "--data-dir", str(data_dir),
                          "--minutes", "0.5", "--benchmark-minutes", "15", "--out", str(out)],
                         capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((out / "quickstart.json").read_text())
    assert Path(summary["report"]).exists() and (out / "mae_cpu" / "model.safetensors").exists()
    assert summary["headline"]["checkpoint"]["lead_I_probe_macro_auroc"] > 0.5
    assert "[4/4]" in run.stderr and "open the report" in run.stdout
    # half a minute cannot finish the 50-epoch schedule: the run says so and records it
    ep = summary["epochs"]["mae_cpu"]
    assert ep["epochs"] < ep["max_epochs"] == 50 and "schedule did not finish" in run.stderr
    # only last + best training states are kept: the whole output stays small
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert size < 200 * 2**20, f"quickstart left {size / 2**20:.0f} MiB under {out}"
    kept = {p.name for p in (out / "mae_cpu" / "checkpoints").glob("*.safetensors")}
    assert kept <= {"best.safetensors", "last.safetensors"}, kept
