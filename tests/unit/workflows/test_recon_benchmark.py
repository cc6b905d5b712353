"""End-to-end reconstruction benchmark and train-recon on the real data (tiny sizes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from helpers import run_cli
from leadlift.api import LeadLift
from leadlift.data.store import prepare
from leadlift.ecg import STANDARD_LEADS
from leadlift.inference.checkpoint import read_config
from leadlift.recon_config import ReconConfig, load_recon_config

TINY = "recon-tiny"


@pytest.fixture(autouse=True)
def _restore_threads():
    """``--threads`` sets torch's thread count for the process; give other tests theirs back."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


run = run_cli


def test_configs_validate_and_cpu_yaml_is_the_default() -> None:
    for name in ("recon_tiny", "recon_cpu", "recon_paper"):
        load_recon_config(name)
    assert load_recon_config("recon-cpu") == load_recon_config() == ReconConfig()
    paper = load_recon_config("recon-paper")
    assert paper.supcon.max_epochs == 60 and paper.train.max_epochs == 60 and paper.train.early_stop_patience == 12
    assert paper.encoder.widths[-1] == 128 and paper.fusion.branch_dim == 128 and paper.train.lr == 1e-4


def test_anysubset_control_twin_differs_only_by_the_prior() -> None:
    """recon-anysubset-noprior isolates the Wiener prior: everything else equals the shipped config."""
    shipped = load_recon_config("recon-anysubset").model_dump()
    twin = load_recon_config("recon-anysubset-noprior").model_dump()
    assert shipped["anysubset"]["prior_half_taps_s"] > 0 and twin["anysubset"]["prior_half_taps_s"] == 0
    for d in (shipped, twin):
        d.pop("name")
        d["anysubset"].pop("prior_half_taps_s")
    assert twin == shipped


def test_tiny_benchmark_end_to_end(data_dir, tmp_path, capsys, tiny_anysubset_checkpoint) -> None:
    out = tmp_path / "bench"
    ck = str(tiny_anysubset_checkpoint)
    code, stdout, err = run(["reconstruct-benchmark", "--inputs", "I,II,V2", "--config", TINY, "--folds", "2",
                             "--threads", "1", "--data-dir", str(data_dir), "--out", str(out),
                             "--checkpoint", f"any={ck}", "--checkpoint", f"twin={ck}"], capsys)
    assert code == 0, err
    assert "Δ RMSE vs FIR LS (mV)" in stdout and "RMSE (mV)" in stdout
    res = json.loads((out / "results.json").read_text())
    methods = {"zero", "linear", "fir", "unet", "fusion_noemb", "fusion_random", "fusion"}
    test = res["test"]
    assert set(test["per_lead"]) == set(test["learned"]) == methods | {"any", "twin"}
    # given checkpoints: compared, paired, with each specialist and with the checkpoints given after them
    pairs = {(c["method"], c["control"]): c for c in test["contrasts"]}
    assert {("any", "unet"), ("any", "fusion"), ("twin", "fusion"), ("any", "twin")} <= set(pairs)
    assert ("twin", "any") not in pairs
    assert pairs[("any", "twin")]["rmse"]["diff"] == pytest.approx(0.0, abs=1e-9)  # the same weights
    unc = res["uncertainty"]["any"]["test"]  # the any-subset model's spread is scored
    assert 0 <= unc["coverage_min"] <= unc["coverage_max"] <= 1 and "spearman" in unc
    for m in methods:
        assert set(test["per_lead"][m]) == set(STANDARD_LEADS)
        for lead in ("V1", "V6"):
            assert set(test["per_lead"][m][lead]) >= {"rmse", "pearson_r", "r2", "bias", "var_ratio"}
        # limb leads derived exactly from I and II: identical for every method, kept out of the means
        assert test["per_lead"][m]["aVF"] == test["per_lead"]["zero"]["aVF"]
        assert test["derived"][m] == test["derived"]["zero"]
        assert test["per_lead"][m]["III"]["rmse"] < 0.03 and test["per_lead"][m]["III"]["pearson_r"] > 0.99
        lo, hi = test["ci"][m]["learned"]["rmse"]
        assert lo <= test["learned"][m]["rmse"] <= hi
        if m != "fir":
            d = test["ci"][m]["vs_reference"]["rmse"]
            assert d["diff"] == pytest.approx(test["learned"][m]["rmse"] - test["learned"]["fir"]["rmse"])
    assert res["leads"]["learned"] == ["V1", "V3", "V4", "V5", "V6"]
    # the classical baselines: FIR at least as good as the instantaneous map on validation-chosen taps
    assert test["learned"]["fir"]["rmse"] <= test["learned"]["linear"]["rmse"] + 1e-6
    assert test["learned"]["zero"]["rmse"] > test["learned"]["fir"]["rmse"]
    assert res["training"]["fir"]["half_s"] in (0.1, 0.2, 0.4)
    assert res["cv"]["n_folds"] == 2 and set(res["cv"]["methods"]) >= {"fir", "fusion"}
    assert "own SupCon" in res["cv"]["description"]
    assert {"ptbdb", "cinc2021-ptb", "brugada"} <= set(res["zero_shot"])
    assert res["zero_shot"]["brugada"]["n_records"] >= 300 and res["zero_shot"]["brugada"]["ci"]
    md = (out / "results.md").read_text()
    for text in ("RMSE in mV", "per window, then averaged", "(derived exactly)", "instantaneous LS", "FIR LS",
                 "U-Net", "fusion w/o embedding", "random frozen encoder", "SupCon encoder", "mean ± std",
                 "Zero-shot: Brugada-HUCA", "paired bootstrap"):
        assert text in md, text
    assert (out / "per_lead_test.png").stat().st_size > 10_000
    assert list((out / "figures").glob("overlay_test_*_fusion.png"))
    # the exported main-split model reconstructs a whole record through the API
    lift = LeadLift.from_pretrained(out / "models" / "fusion")
    pre = lift.config.preprocessing
    assert tuple(pre.bandpass_hz) == (0.5, 45.0) and pre.window_samples == 256
    ecg = prepare("ptbxl", 100, data_dir, progress=False).ecg(0).select("I,II,V2")
    full = lift.reconstruct(ecg)
    assert full.leads == STANDARD_LEADS and full.n_samples == ecg.n_samples
    np.testing.assert_allclose(full["III"], full["II"] - full["I"], atol=1e-5)


def test_train_recon_exports_checkpoint(data_dir, tmp_path, capsys) -> None:
    out = tmp_path / "fusion"
    code, stdout, err = run(["train-recon", "--config", TINY, "--inputs", "I", "--method", "fusion_noemb",
                             "--no-progress", "--threads", "1", "--data-dir", str(data_dir), "--out", str(out)],
                            capsys)
    assert code == 0, err
    assert "RMSE" in stdout and "as LeadLift.reconstruct delivers it" in stdout
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["format"] == "leadlift-recon/1" and cfg["preprocessing"]["input_leads"] == ["I"]
    assert cfg["leads"]["learned"][0] == "II" and cfg["preprocessing"]["units"] == "mV"
    assert "test" not in cfg["metrics"]  # training never scores the test fold; the evaluation does
    typed = read_config(out)
    assert typed.evaluation is not None and set(typed.evaluation.inputs) == {"I"}
    assert "LeadLift.reconstruct" in typed.evaluation.protocol
    lift = LeadLift.from_pretrained(out)
    assert lift.leads == ("I",) and lift.backend.net.reconstructor.n_outputs == 7
    # the shared trainer factory logs every epoch to CSV, and no training state is left behind
    assert "val/mse" in (out / "logs" / "train" / "fusion_noemb" / "csv" / "metrics.csv").read_text()
    assert not (out / "checkpoints").exists()


def test_cli_errors_are_one_line(data_dir, tmp_path, capsys) -> None:
    code, _, err = run(["reconstruct-benchmark", "--inputs", "I,X1", "--data-dir", str(data_dir),
                        "--out", str(tmp_path)], capsys)
    assert code == 2 and "unknown lead name" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(["reconstruct-benchmark", "--folds", "1", "--out", str(tmp_path)], capsys)
    assert code == 2 and "--folds" in err
    code, _, err = run(["train-recon", "--method", "magic", "--config", TINY, "--data-dir", str(data_dir),
                        "--out", str(tmp_path)], capsys)
    assert code == 2 and "unknown method" in err


