"""Dry run of benchmarks/diagnostic_fidelity.py on a handful of real records: the public API's
reconstruction, a saved classifier reused, both reports written, a subset the model cannot take skipped."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from leadlift.models.classifier import ClassifierConfig, SuperclassNet
from leadlift.training.classifier import save_classifier

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import diagnostic_fidelity


@pytest.mark.slow  # builds the PTB-XL and Brugada stores: about a minute on 2 shared cores
def test_dry_run_writes_both_reports(data_dir, tmp_path) -> None:
    torch.manual_seed(0)
    cfg = ClassifierConfig.model_validate({"model": {"stem_channels": 4, "widths": [8, 8], "strides": [2, 2]},
                                           "input": {"mode": "crops"}, "metrics": {"val_macro_auroc": 0.5}})
    save_classifier(SuperclassNet.from_spec(cfg.model), cfg, tmp_path / "clf")
    out = tmp_path / "res" / "diag"
    res = diagnostic_fidelity.main([
        "--data-dir", str(data_dir), "--store-dir", str(tmp_path / "stores"), "--model", "recon-i-ii-v2",
        "--subsets", "I,II,V2; I", "--classifier-dir", str(tmp_path / "clf"), "--out", str(out),
        "--max-records", "6", "--n-boot", "20"])
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["records"]["ptbxl_fold10"] == 6 and saved["records"]["brugada"] == 6
    assert saved["classifier"]["trained_in_this_run"] is False
    assert set(saved["subsets"]) == {"I,II,V2", "I"}
    assert "reconstructs from I,II,V2 only" in saved["subsets"]["I"]["skipped"]
    done = saved["subsets"]["I,II,V2"]
    assert done["ptbxl"]["n"] == 6 and set(done["ptbxl"]["classes"]) == {"NORM", "MI", "STTC", "CD", "HYP"}
    assert set(done["brugada"]) == {"st_j60", "st_j"}
    assert done["brugada"]["st_j60"]["n"]["brugada_1"] == 3 == done["brugada"]["st_j60"]["n"]["brugada_0"]
    v2 = done["brugada"]["st_j60"]["agreement"]["V2"]  # an input lead comes back as measured
    assert v2["mean_diff_mv"] == 0.0 and v2["n"] == 6
    md = out.with_suffix(".md").read_text()
    for text in ("## PTB-XL fold 10", "## Brugada-HUCA", "| I,II,V2 | **macro** |", "V2 (measured)",
                 "- `I`: skipped", "--max-records 6", "dry run"):
        assert text in md, text
    assert res["subsets"]["I,II,V2"]["leads"] == ["I", "II", "V2"]
