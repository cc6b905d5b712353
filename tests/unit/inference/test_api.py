"""The Python API (leadlift.api.LeadLift) with a tiny MAE trained in the test session: loading
(local folder, bundled name, checksums; Hub repo ids: test_hub.py), reconstruction and
embeddings of real recordings of any duration and sampling rate, the release helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import leadlift
from leadlift import LeadLift
from leadlift.api import Embeddings, available_models, resolve_model
from leadlift.ecg import ECG, STANDARD_LEADS
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError
from leadlift.evaluation.metrics import pearson_per_window
from leadlift.io import read_ecg
from leadlift.preprocessing import resample
from leadlift.workflows.release import (
    bundle_checkpoint,
    model_card_markdown,
    read_config,
    update_config,
    write_model_card,
)


@pytest.fixture(scope="module")
def model(tiny_mae_checkpoint: Path) -> LeadLift:
    return LeadLift.from_pretrained(tiny_mae_checkpoint)


@pytest.fixture(scope="module")
def ecgid(data_dir: Path) -> ECG:
    """ECG-ID Person_01/rec_1: lead I, 500 Hz, 20 s."""
    return read_ecg(data_dir / "ecgiddb" / "Person_01" / "rec_1.hea")


@pytest.fixture(scope="module")
def ptbxl(data_dir: Path) -> ECG:
    """PTB-XL 00009 (fold 10) at 500 Hz: 12 leads, 10 s."""
    return read_ecg(data_dir / "ptb-xl" / "records500" / "00000" / "00009_hr.hea")


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("checkpoints", "logs", "ranks"))
    return dst


# --------------------------------------------------------------------------------------- loading
def test_package_exports_leadlift_lazily() -> None:
    """``import leadlift`` stays light (no torch) until ``leadlift.LeadLift`` is first used; every
    name in ``__all__`` resolves; an unknown attribute is an AttributeError naming it."""
    import subprocess
    import sys

    code = ("import sys, leadlift; light = 'torch' not in sys.modules; cls = leadlift.LeadLift; "
            "print(light, 'torch' in sys.modules, cls.__module__, hasattr(cls, 'from_pretrained'), "
            "all(hasattr(leadlift, n) for n in leadlift.__all__))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.split() == ["True", "True", "leadlift.api", "True", "True"]
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        leadlift.Nope  # noqa: B018


def test_load_local_folder(model: LeadLift, tiny_mae_checkpoint: Path) -> None:
    assert model.kind == "mae" and model.fs == 100 and model.window_samples == 200
    assert model.leads == STANDARD_LEADS and model.path == tiny_mae_checkpoint
    assert "mae" in repr(model)
    # a file inside the folder works too
    assert LeadLift.from_pretrained(tiny_mae_checkpoint / "model.safetensors").fs == 100


def test_checksum_mismatch_is_refused(tiny_mae_checkpoint: Path, tmp_path: Path) -> None:
    bad = _copy(tiny_mae_checkpoint, tmp_path / "bad")
    data = bytearray((bad / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="does not match the checksum"):
        LeadLift.from_pretrained(bad)


def test_unknown_model_and_formats(tiny_mae_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="not a bundled name") as exc:
        LeadLift.from_pretrained("no-such-model")
    assert "\n" not in str(exc.value)
    recon = _copy(tiny_mae_checkpoint, tmp_path / "recon")
    raw = yaml.safe_load((recon / "config.yaml").read_text())
    # the typed config rejects a format that contradicts its preprocessing, and unknown keys
    for change, match in (({"format": "leadlift-recon/1"}, "needs ReconPreprocessing"),
                          ({"format": "something-else/3"}, "unknown checkpoint format"),
                          ({"colour": "red"}, "colour: Extra inputs are not permitted")):
        (recon / "config.yaml").write_text(yaml.safe_dump({**raw, **change}, sort_keys=False))
        with pytest.raises(CorruptFileError, match=match) as exc:
            LeadLift.from_pretrained(recon)
        assert "\n" not in str(exc.value)
    with pytest.raises(CorruptFileError, match="Extra inputs"):
        update_config(tiny_mae_checkpoint, {"colour": "red"})  # validated before anything is written
    assert "colour" not in (tiny_mae_checkpoint / "config.yaml").read_text()


def test_bundled_name(tiny_mae_checkpoint: Path, tmp_path: Path, monkeypatch, data_dir: Path) -> None:
    ckpt = _copy(tiny_mae_checkpoint, tmp_path / "ckpt")
    with pytest.raises(DataNotFoundError, match=r"MODEL_CARD\.md"):
        bundle_checkpoint(ckpt, "tiny", dest_root=tmp_path / "weights")
    update_config(ckpt, {"evaluation": _fake_evaluation()})
    write_model_card(ckpt, name="tiny")
    dest = bundle_checkpoint(ckpt, "tiny", dest_root=tmp_path / "weights")
    assert sorted(p.name for p in dest.iterdir()) == ["MODEL_CARD.md", "config.yaml", "model.safetensors"]
    monkeypatch.setattr("leadlift.inference.hub.bundled_weights_dir", lambda: tmp_path / "weights")
    assert available_models() == ["tiny"]
    assert resolve_model("tiny") == (dest, "bundled")
    assert LeadLift.from_pretrained("tiny").path == dest
    # bundled/downloaded models must carry a checksum
    cfg = yaml.safe_load((dest / "config.yaml").read_text())
    cfg.pop("weights_sha256")
    (dest / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(CorruptFileError, match="no weights_sha256"):
        LeadLift.from_pretrained("tiny")


# --------------------------------------------------------------------------------------- reconstruct
def test_reconstruct_lead_i_at_input_rate(model: LeadLift, ecgid: ECG) -> None:
    rec = model.reconstruct(ecgid)
    assert rec.leads == STANDARD_LEADS and rec.fs == 500 and rec.n_samples == ecgid.n_samples
    assert np.isfinite(rec.signal).all()
    np.testing.assert_array_equal(rec["I"], ecgid["I"])  # the measured lead is kept
    assert rec.labels["reconstructed_from"] == ["I"]
    amp = rec.signal.std(axis=1)
    assert (amp > 0.01).all() and (amp < 2).all()  # mV from the calibration, not z-scores


def test_reconstruct_derives_limb_leads(model: LeadLift, ptbxl: ECG) -> None:
    rec = model.reconstruct(ptbxl, leads="I,II,V2")
    for lead in ("III", "aVR", "aVL", "aVF"):  # exact from I and II (file values are rounded to 1 µV)
        np.testing.assert_allclose(rec[lead], ptbxl[lead], atol=2e-3)
    np.testing.assert_array_equal(rec["V2"], ptbxl["V2"])
    auto = model.reconstruct(ptbxl, leads="I", keep_inputs=False)
    assert not np.array_equal(auto["I"], ptbxl["I"])  # re-synthesised by the model


@pytest.mark.parametrize(("seconds", "fs"), [(0.5, 500), (1.3, 257), (2.0, 100), (7.77, 360), (61.0, 128)])
def test_any_duration_and_rate(model: LeadLift, ecgid: ECG, seconds: float, fs: float) -> None:
    x = resample(ecgid.signal[0], 500, fs)
    n = round(seconds * fs)
    x = np.tile(x, 1 + n // len(x))[:n]  # 61 s: the 20-s record repeated
    rec = model.reconstruct(x, fs=fs, leads="I")
    assert rec.fs == fs and rec.n_samples == n and rec.leads == STANDARD_LEADS
    assert np.isfinite(rec.signal).all()
    emb = model.embed(x, fs=fs, leads="I")
    n_model = round(n * 100 / fs)
    expected = 1 if n_model <= 200 else -(-(n_model - 200) // 200) + 1
    assert emb.windows.shape == (expected, 16) and emb.pooled.shape == (16,)
    assert emb.starts_s[0] == 0 and emb.starts_s[-1] <= seconds - min(2.0, seconds) + 1e-9


def test_resampled_input_matches_100hz_version(model: LeadLift, data_dir: Path) -> None:
    """PTB-XL publishes every record at 500 Hz (records500) and 100 Hz (records100): feeding either
    gives the same reconstruction (compared at 100 Hz)."""
    hi = read_ecg(data_dir / "ptb-xl" / "records500" / "00000" / "00009_hr.hea", leads="I")
    lo = read_ecg(data_dir / "ptb-xl" / "records100" / "00000" / "00009_lr.hea", leads="I")
    from_hi = resample(model.reconstruct(hi).signal, 500, 100)
    from_lo = model.reconstruct(lo).signal
    own = model.reconstruct(resample(hi.signal, 500, 100), fs=100, leads="I").signal
    assert from_hi.shape == from_lo.shape == (12, 1000)
    recon = slice(1, None)  # II..V6 (lead I is the input itself)
    # our own 100 Hz version: identical up to resampling round trips
    assert pearson_per_window(own[recon], from_hi[recon]).min() > 0.97
    assert np.sqrt(((own - from_hi) ** 2).mean()) < 0.03
    # PhysioNet's 100 Hz version (filtered differently by its publishers)
    assert pearson_per_window(from_lo[recon], from_hi[recon]).min() > 0.95
    assert np.sqrt(((from_lo - from_hi) ** 2).mean()) < 0.04


def test_uncalibrated_checkpoint_refuses_mv(tiny_mae_checkpoint: Path, tmp_path: Path, ecgid: ECG) -> None:
    raw = _copy(tiny_mae_checkpoint, tmp_path / "raw")
    cfg = yaml.safe_load((raw / "config.yaml").read_text())
    cfg.pop("calibration")
    (raw / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    lift = LeadLift.from_pretrained(raw)
    with pytest.raises(InputError, match="no amplitude calibration"):
        lift.reconstruct(ecgid)
    assert lift.embed(ecgid).windows.shape[0] == 10  # embeddings need no calibration


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"fs": None}, "fs= is required"),
    ({"leads": None}, "leads= is required"),
    ({"fs": 10}, "too low for an ECG"),
    ({"fs": 0}, "not a positive sampling rate"),
    ({"leads": "X1"}, "unknown lead name 'X1'"),
    ({"units": "uV"}, "look like V"),
])
def test_bad_array_inputs(model: LeadLift, ecgid: ECG, kwargs: dict, pattern: str) -> None:
    args = {"fs": 500, "leads": "I", "units": "mV"} | kwargs
    with pytest.raises(InputError, match=pattern) as exc:
        model.reconstruct(ecgid.signal[0], **args)
    assert "\n" not in str(exc.value)


def test_bad_signals(model: LeadLift, ecgid: ECG) -> None:
    x = ecgid.signal[0].copy()
    x[5] = np.nan
    with pytest.raises(InputError, match="NaN"):
        model.embed(x, fs=500, leads="I")
    with pytest.raises(InputError, match="too short"):
        model.embed(ecgid.signal[0, :100], fs=500, leads="I")
    with pytest.raises(InputError, match="look like µV"):
        model.embed(ecgid.signal[0] * 1000, fs=500, leads="I")
    with pytest.raises(InputError, match="contradicts the ECG's own fs"):
        model.embed(ecgid, fs=250)


# --------------------------------------------------------------------------------------- embed
def test_embed_shapes_and_consistency(model: LeadLift, ecgid: ECG, ptbxl: ECG) -> None:
    emb = model.embed(ecgid)
    assert isinstance(emb, Embeddings) and len(emb) == 10 and emb.dim == 16
    assert emb.per_lead.shape == (10, 1, 16) and emb.leads == ("I",)
    np.testing.assert_allclose(emb.starts_s, np.arange(10) * 2.0)
    np.testing.assert_allclose(emb.pooled, emb.windows.mean(axis=0), rtol=1e-5, atol=1e-6)
    same = model.embed(ecgid.signal[0], fs=500, leads="I")
    np.testing.assert_allclose(same.windows, emb.windows, rtol=1e-5, atol=1e-6)
    multi = model.embed(ptbxl, leads="I,II,V2")
    assert multi.per_lead.shape == (5, 3, 16)
    np.testing.assert_allclose(multi.windows, multi.per_lead.mean(axis=1), rtol=1e-5, atol=1e-6)
    batch = model.embed_batch([ecgid, ptbxl.select("I")])
    np.testing.assert_allclose(batch[0].windows, emb.windows, rtol=1e-4, atol=1e-5)
    overlap = model.embed(ecgid, hop_s=1.0)
    assert len(overlap) == 19
    with pytest.raises(InputError, match="hop_s"):
        model.embed(ecgid, hop_s=5.0)


def test_reconstruct_batch_matches_single(model: LeadLift, ecgid: ECG, ptbxl: ECG) -> None:
    singles = [model.reconstruct(ecgid), model.reconstruct(ptbxl, leads="I")]
    batch = model.reconstruct_batch([ecgid, ptbxl.select("I")])
    for a, b in zip(singles, batch, strict=True):
        np.testing.assert_allclose(a.signal, b.signal, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------- reconstructor
@pytest.fixture(scope="module")
def recon_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised pathology-aware reconstructor (inputs I), exported as `leadlift
    train-recon` does (architecture + preprocessing + lead plan, safetensors): the API wiring needs
    no trained weights."""
    from leadlift.inference.checkpoint import export_model
    from leadlift.models.recon import LeadPlan, recon_net_spec
    from leadlift.models.registry import build_network
    from leadlift.recon_config import load_recon_config

    cfg = load_recon_config("recon-tiny")
    cfg.data.inputs = ["I"]
    plan = LeadPlan.from_inputs(["I"])
    net = build_network(
        "FusionReconstructor",
        {"n_inputs": 1, "n_outputs": len(plan.learned), "embed_dim": 16, "branch_dim": 4, "hidden": 4},
        encoder={"in_channels": 1, "stem_channels": 8, "widths": [8, 16], "strides": [2, 2], "proj_dim": 16},
    )
    folder = tmp_path_factory.mktemp("recon_i")
    export_model(net, {"format": "leadlift-recon/1", "model": recon_net_spec(net),
                       "preprocessing": cfg.preprocessing(), "leads": plan.describe()}, folder)
    return folder


def test_reconstructor_checkpoint(recon_checkpoint: Path, ecgid: ECG, ptbxl: ECG) -> None:
    lift = LeadLift.from_pretrained(recon_checkpoint)
    assert lift.kind == "recon" and lift.leads == ("I",) and lift.window_samples == 256 and lift.fs == 100
    rec = lift.reconstruct(ecgid)
    assert rec.leads == STANDARD_LEADS and rec.fs == 500 and rec.n_samples == ecgid.n_samples
    assert np.isfinite(rec.signal).all()
    np.testing.assert_array_equal(rec["I"], ecgid["I"])
    # limb leads follow Einthoven/Goldberger from the output's I (measured) and II (learned)
    np.testing.assert_allclose(rec["III"], rec["II"] - rec["I"], atol=1e-5)
    np.testing.assert_allclose(rec["aVR"], -(rec["I"] + rec["II"]) / 2, atol=1e-5)
    # a 12-lead file: its lead I is picked automatically; other lead sets are refused
    assert lift.reconstruct(ptbxl).labels["reconstructed_from"] == ["I"]
    with pytest.raises(InputError, match="reconstructs from I only"):
        lift.reconstruct(ptbxl, leads="I,II")
    with pytest.raises(InputError, match="does not produce per-lead embeddings"):
        lift.embed(ecgid)
    short = lift.reconstruct(ecgid.signal[0, :400], fs=500, leads="I")  # 0.8 s < one 2.56-s window
    assert short.n_samples == 400 and np.isfinite(short.signal).all()


# --------------------------------------------------------------------------------------- release helpers
def _fake_evaluation() -> dict:
    """A structurally complete evaluation entry (numbers irrelevant: only used to exercise bundling)."""
    table = {lead: {"rmse": 0.1, "pearson_r": 0.5, "r2": 0.2, "bias": 0.0, "var_ratio": 0.8,
                    "n_windows": 1, "n_flat_windows": 0} for lead in STANDARD_LEADS}
    return {"split": "test", "command": "test", "protocol": "test",
            "inputs": {"I": {"inputs": ["I"], "n_test_windows": 1, "window_samples": 200, "fs": 100.0,
                             "n_test_records": 1, "mV": table}}}


def test_reconstructor_model_card(recon_checkpoint: Path, tmp_path: Path, data_dir: Path, capsys) -> None:
    """A reconstructor's card is measured like an MAE's: fold 10 through the API's own path."""
    from leadlift.cli import main

    ckpt = _copy(recon_checkpoint, tmp_path / "recon")
    with pytest.raises(SystemExit):
        main(["model-card", str(ckpt), "--data-dir", str(data_dir), "--leads", "I,II"])
    assert "--leads applies to MAE" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["model-card", str(ckpt), "--data-dir", str(data_dir)])
    assert exc.value.code in (0, None)
    text = (ckpt / "MODEL_CARD.md").read_text()
    assert "input leads: I." in text and "emb = " not in text and "LeadLift.reconstruct" in text
    ev = read_config(ckpt).evaluation
    assert ev is not None and list(ev.inputs) == ["I"] and ev.inputs["I"]["window_samples"] == 256
    assert f"### Inputs I: {ev.inputs['I']['n_test_windows']} windows of 256 samples" in text


def test_calibration_is_stored_and_weights_stay_verifiable(tiny_mae_checkpoint: Path) -> None:
    cal = read_config(tiny_mae_checkpoint).calibration
    assert cal is not None and cal.leads == list(STANDARD_LEADS) and "1,2,3,4,5,6,7,8" in cal.data
    assert {"I", "I,II", "I,II,V2", "V6"} <= set(cal.input_sets)
    assert all(len(v.ratio) == 12 for v in cal.input_sets.values())
    assert cal.input_sets["I"].ratio[0] == pytest.approx(1.0, abs=1e-6)
    assert list(yaml.safe_load((tiny_mae_checkpoint / "config.yaml").read_text()))[-1] == "weights_sha256"
    from leadlift.inference.checkpoint import load_checkpoint

    load_checkpoint(tiny_mae_checkpoint, verify=True)  # still matches after the rewrite
    with pytest.raises(InputError, match="weights_sha256"):
        update_config(tiny_mae_checkpoint, {"weights_sha256": "0" * 64})


def test_model_card_needs_measured_numbers(tiny_mae_checkpoint: Path, tmp_path: Path) -> None:
    ckpt = _copy(tiny_mae_checkpoint, tmp_path / "ckpt")
    with pytest.raises(InputError, match="no evaluation"):
        model_card_markdown(ckpt)
    update_config(ckpt, {"evaluation": _fake_evaluation()})
    text = write_model_card(ckpt, name="tiny").read_text()
    for part in ("# Model card: `tiny`", "Not a medical device", "## Training data", "## Intended use",
                 "## Limits", "| V1 | 0.500 | 0.100 |", read_config(ckpt).weights_sha256):
        assert part in text




def test_weights_of_another_width_and_bracketed_messages(tiny_mae_checkpoint: Path, tmp_path: Path, capsys) -> None:
    """Weights that do not fit the config's shapes give one line (not a torch RuntimeError), and the CLI
    prints messages as plain text: brackets in them survive."""
    from leadlift.cli import main

    ckpt = _copy(tiny_mae_checkpoint, tmp_path / "[odd]" / "ckpt")
    raw = yaml.safe_load((ckpt / "config.yaml").read_text())
    raw["model"]["kwargs"]["embed_dim"] = raw["model"]["kwargs"]["embed_dim"] * 2
    raw.pop("weights_sha256")
    (ckpt / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(CorruptFileError, match="do not fit the architecture") as exc:
        LeadLift.from_pretrained(ckpt)
    assert "\n" not in str(exc.value)
    with pytest.raises(SystemExit) as code:
        main(["reconstruct", str(tmp_path / "[missing]" / "x.csv"), "--leads", "I", "--fs", "500",
              "--out", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert code.value.code == 2 and "[missing]" in err and len(err.strip().splitlines()) == 1


def test_devices(tiny_mae_checkpoint: Path, ecgid: ECG, capsys) -> None:
    """``device=`` / ``.to()``: the same outputs on the CPU by either route; a device that does not
    exist is one clear line (the API and the CLI)."""
    import torch

    from leadlift.cli import main

    a = LeadLift.from_pretrained(tiny_mae_checkpoint)
    b = LeadLift.from_pretrained(tiny_mae_checkpoint, device="auto" if not torch.cuda.is_available() else "cpu")
    assert a.device == torch.device("cpu") and b.to("cpu") is b
    np.testing.assert_array_equal(a.reconstruct(ecgid).signal, b.reconstruct(ecgid).signal)
    with pytest.raises(InputError, match="not a torch device"):
        LeadLift.from_pretrained(tiny_mae_checkpoint, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            a.to("cuda")
    with pytest.raises(SystemExit) as code:
        main(["reconstruct", "x.csv", "--fs", "500", "--leads", "I", "--model", str(tiny_mae_checkpoint),
              "--device", "tpu", "--out", "o.csv"])
    err = capsys.readouterr().err
    assert code.value.code == 2 and "not a torch device" in err


@pytest.mark.parametrize("which", ["recon_checkpoint", "tiny_mae_checkpoint"])
def test_checkpoint_weights_are_verified_and_complete(which: str, request, tmp_path: Path) -> None:
    """For both checkpoint formats (reconstructor, MAE): tampered weights are refused by their checksum,
    and a file that lacks a tensor (even with a matching checksum) is refused instead of running
    with random weights (strict loading)."""
    from safetensors.torch import load_file, save_file

    from leadlift.inference.checkpoint import file_sha256

    source: Path = request.getfixturevalue(which)
    bad = _copy(source, tmp_path / "tampered")
    data = bytearray((bad / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="does not match the checksum"):
        LeadLift.from_pretrained(bad)
    short = _copy(source, tmp_path / "short")
    state = load_file(str(short / "model.safetensors"))
    state.pop(sorted(state)[0])
    save_file(state, str(short / "model.safetensors"))
    cfg = yaml.safe_load((short / "config.yaml").read_text())
    cfg["weights_sha256"] = file_sha256(short / "model.safetensors")
    (short / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(CorruptFileError, match="missing"):
        LeadLift.from_pretrained(short)
    assert LeadLift.from_pretrained(source).kind == ("recon" if which == "recon_checkpoint" else "mae")

def test_overlapping_windows_are_stitched_with_hann_weights(model: LeadLift, data_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Where windows overlap, the output is the Hann-weighted average of the windows' predictions
    (window centres count more than their edges), not a flat mean: each window is made to predict
    its own number, and every output sample is checked against the weighted average."""
    from leadlift.preprocessing import window_index

    ecg = read_ecg(data_dir / "ptb-xl" / "records100" / "00000" / "00009_lr.hea")  # 100 Hz, the model rate
    win = model.window_samples

    def numbered(x: np.ndarray, leads: tuple[str, ...], targets: tuple[str, ...]) -> np.ndarray:
        return np.broadcast_to(np.arange(1.0, len(x) + 1)[:, None, None], (len(x), len(targets), win)).copy()

    monkeypatch.setattr(model._backend, "reconstruct_windows", numbered)
    out = model.reconstruct(ecg, leads="I", hop_s=0.5, keep_inputs=False)
    index = window_index(ecg.n_samples, win, 50)
    assert len(index) > 3
    hann = np.hanning(win + 2)[1:-1]
    num, den = np.zeros(ecg.n_samples), np.zeros(ecg.n_samples)
    for k, idx in enumerate(index):
        np.add.at(num, idx, hann * (k + 1))
        np.add.at(den, idx, hann)
    expected = num / den
    flat = np.bincount(index.ravel(), weights=np.repeat(np.arange(1.0, len(index) + 1), win),
                       minlength=ecg.n_samples) / np.bincount(index.ravel(), minlength=ecg.n_samples)
    assert np.abs(expected - flat).max() > 0.1  # the two rules differ on this record
    np.testing.assert_allclose(out["V1"], expected, atol=1e-4)

def test_hop_must_be_a_number(model: LeadLift, ecgid: ECG) -> None:
    for bad in (float("nan"), float("inf"), "x"):
        with pytest.raises(InputError, match="hop_s"):
            model.embed(ecgid, hop_s=bad)


def test_bundled_default_pools_its_embedding_over_50_ms_shifts(ecgid: ECG) -> None:
    """mae-cpu's checkpoint sets the embedding hop: a 20-s ECG-ID record at its 5-s window gives a
    window every 50 ms, and the pooled embedding barely moves when the record is shifted by a
    fraction of a beat (the single-window embedding moves more)."""
    default = LeadLift.from_pretrained("mae-cpu")
    emb = default.embed(ecgid)
    n = ecgid.n_samples * 100 // 500  # samples at the model rate
    assert len(emb) == (n - 500) // 5 + 1
    np.testing.assert_allclose(np.diff(emb.starts_s), 0.05, atol=1e-9)
    shifted = default.embed(ecgid.signal[0, 60:], fs=500, leads="I")  # 120 ms later
    single = default.embed(ecgid, hop_s=5.0).windows[0]
    single_shifted = default.embed(ecgid.signal[0, 60:], fs=500, leads="I", hop_s=5.0).windows[0]

    def cos(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cos(emb.pooled, shifted.pooled) > 0.99
    assert cos(emb.pooled, shifted.pooled) > cos(single, single_shifted)


def test_calibration_fitted_on_predictions_restores_the_amplitude() -> None:
    """A model whose z-scored output is the truth shrunk by 0.5 gets ratios twice the plain ones,
    so its calibrated output has the lead's amplitude (tiny arrays: a pure-function test)."""
    from leadlift.inference.calibration import fit_calibration

    rng = np.random.default_rng(0)
    windows = rng.standard_normal((40, 12, 100)) * np.linspace(0.1, 1.2, 12)[None, :, None]

    def shrunk(z: np.ndarray, leads: tuple[str, ...]) -> np.ndarray:
        z_all = (windows - windows.mean(-1, keepdims=True)) / windows.std(-1, keepdims=True)
        return 0.5 * z_all

    plain = fit_calibration(windows, data="t", input_sets=[("I",)])
    fitted = fit_calibration(windows, data="t", input_sets=[("I",)], predict=shrunk)
    ratio_plain = np.asarray(plain.input_sets["I"].ratio)
    ratio_fit = np.asarray(fitted.input_sets["I"].ratio)
    np.testing.assert_allclose(ratio_fit, 2 * ratio_plain, rtol=1e-4)
    assert plain.pred_std is None and np.allclose(fitted.pred_std, 0.5, atol=1e-6)
    # an input set without its own ratios divides the typical amplitude ratio by pred_std
    r_plain, _ = plain.ratio_mean(("II",), ("V1",))
    r_fit, _ = fitted.ratio_mean(("II",), ("V1",))
    np.testing.assert_allclose(r_fit, 2 * r_plain, rtol=1e-4)
