"""The reconstruction benchmark with an aligned MAE as one more method, on the same windows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import run_cli as run

TINY = "recon-tiny"


@pytest.mark.slow
def test_benchmark_with_mae_baseline(data_dir, tmp_path, capsys) -> None:
    """Baseline (d): a tiny aligned MAE (2-s windows, unlike the benchmark's 2.56 s) is applied to
    whole records and scored on the same windows as every other method."""
    from leadlift.config import load_config
    from leadlift.training.pretrain import pretrain

    mae_dir = tmp_path / "mae"
    pretrain(load_config("mae-tiny", {"trainer.max_epochs": 1}), data_dir, mae_dir,
             progress=False)
    out = tmp_path / "bench"
    code, _, err = run(["reconstruct-benchmark", "--config", TINY, "--folds", "0", "--threads", "1",
                        "--mae", str(mae_dir), "--data-dir", str(data_dir), "--out", str(out)], capsys)
    assert code == 0, err
    res = json.loads((out / "results.json").read_text())
    test = res["test"]
    assert "mae" in test["learned"] and res["training"]["mae"]["window_samples"] == 200
    assert test["per_lead"]["mae"]["V3"]["n_windows"] == test["per_lead"]["fir"]["V3"]["n_windows"]
    assert np.isfinite(test["per_lead"]["mae"]["V3"]["rmse"]) and "vs_reference" in test["ci"]["mae"]
    assert "mae" in res["zero_shot"]["ptbdb"]["per_lead"]
