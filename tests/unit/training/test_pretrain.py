"""MAE pretraining on real PTB-XL records: smoke run, exact resume, DDP on 2 CPU processes,
config validation, pickle-free checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from leadlift.config import load_config, parse_config
from leadlift.configs import available_configs
from leadlift.data.readers import PTBXLReader
from leadlift.errors import ConfigError, CorruptFileError
from leadlift.inference.checkpoint import export_model, load_checkpoint
from leadlift.training.checkpoint import load_state, save_state
from leadlift.training.data import PretrainDataModule, SeededSampler
from leadlift.training.mae_module import build_model
from leadlift.training.pretrain import pretrain

TINY = "mae-tiny"


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stores")


def test_all_configs_validate() -> None:
    names = available_configs("mae_")
    assert {"mae_tiny", "mae_cpu", "mae_paper", "mae_cpu_noalign", "mae_cpu_multichannel"} <= set(names)
    for name in names:
        cfg = load_config(name)
        model = build_model(cfg)
        assert model.n_times == cfg.data.n_times
    paper = load_config("mae-paper")
    assert (paper.data.fs, paper.data.n_times, paper.model.patch_size, paper.model.embed_dim) == (500, 2500, 100, 768)
    assert (paper.model.depth, paper.model.num_heads, paper.data.batch_size) == (12, 8, 256)
    assert (paper.model.decoder_embed_dim, paper.model.decoder_depth, paper.model.decoder_heads) == (512, 8, 16)


@pytest.mark.parametrize(("patch", "pattern"), [
    ({"data": {"train_folds": [1, 10]}}, "test fold"),
    ({"model": {"patch_size": 33}}, "multiple of patch_size"),
    ({"model": {"embed_dimm": 3}}, "embed_dimm"),
    ({"loss": {"curriculum": "linear"}}, "curriculum"),
    ({"data": {"leads": ["I", "Q"]}}, "unknown lead"),
])
def test_config_errors_are_one_line(patch: dict, pattern: str) -> None:
    base = {"name": "x"}
    with pytest.raises(ConfigError, match=pattern) as info:
        parse_config(base | patch)
    assert "\n" not in str(info.value)


def test_pretraining_never_sees_val_or_test_folds(data_dir, stores) -> None:
    cfg = load_config(TINY)
    dm = PretrainDataModule(cfg.data, data_dir, seed=0, store_dir=stores)
    dm.setup("fit")
    meta = dm.store.meta
    train_rows = dm.train_set.base.indices
    assert set(meta["strat_fold"].iloc[train_rows]) <= set(range(1, 9))
    assert set(meta["strat_fold"].iloc[dm.val_set.base.indices]) == {9}
    x = dm.train_set[(0, 123)]["signal"]
    assert x.shape == (12, cfg.data.n_times)
    np.testing.assert_allclose(x.mean(-1).numpy(), 0, atol=1e-5)


def test_two_crops_are_other_windows_of_the_same_record(data_dir, stores) -> None:
    cfg = load_config(TINY)
    dm = PretrainDataModule(cfg.data, data_dir, seed=0, store_dir=stores, two_crops=True)
    dm.setup("fit")
    item = dm.train_set[(3, 99)]
    assert item["signal"].shape == item["signal2"].shape == (12, cfg.data.n_times)
    assert not torch.equal(item["signal"], item["signal2"])  # another start in the same 10-s record
    again = dm.train_set[(3, 99)]
    assert torch.equal(item["signal2"], again["signal2"])  # a pure function of the item's seed
    val = dm.val_set[0]
    assert not torch.equal(val["signal"], val["signal2"])  # centred crop vs the record's start


def test_corrected_objective_trains_cross_decoding_and_contrast(data_dir, stores, tmp_path) -> None:
    cfg = load_config(TINY, {"trainer.max_epochs": 3, "trainer.limit_train_batches": 6, "loss.alignment": False,
                             "loss.curriculum": "constant", "loss.cross_decode": 1.0, "loss.contrastive": 1.0,
                             "loss.mask_sharing": "batch", "loss.norm_target": False,
                             "loss.contrastive_view_leads": 3, "loss.contrastive_queue": 16})
    pretrain(cfg, data_dir, tmp_path / "run", store_dir=stores, progress=False)
    log = pd.read_csv(tmp_path / "run" / "logs" / "csv" / "metrics.csv")
    for col in ("train/cross_step", "train/nce_step", "train/triplet_mask0_step", "train/emb_std_step",
                "val/cross", "val/nce", "val/triplet_mask0", "val/emb_std"):
        assert col in log.columns, col
    cross = log["train/cross_epoch"].dropna().to_numpy()
    nce = log["train/nce_epoch"].dropna().to_numpy()
    assert cross[-1] < cross[0] and nce[-1] < nce[0]
    _, config = load_checkpoint(tmp_path / "run")
    from leadlift.inference.backends import decoding_views

    assert decoding_views(config) == 1  # trained to decode every patch: one unmasked pass


def test_momentum_keys_train_one_way_infonce_against_a_queue(data_dir, stores, tmp_path) -> None:
    cfg = load_config(TINY, {"trainer.max_epochs": 2, "trainer.limit_train_batches": 6, "loss.alignment": False,
                             "loss.curriculum": "constant", "loss.cross_decode": 1.0, "loss.contrastive": 1.0,
                             "loss.norm_target": False, "loss.contrastive_queue": 16,
                             "loss.contrastive_momentum": 0.9})
    pretrain(cfg, data_dir, tmp_path / "run", store_dir=stores, progress=False)
    log = pd.read_csv(tmp_path / "run" / "logs" / "csv" / "metrics.csv")
    nce = log["train/nce_step"].dropna().to_numpy()
    assert np.isfinite(nce).all() and len(nce) >= 1
    from safetensors import safe_open

    with safe_open(str(tmp_path / "run" / "model.safetensors"), "pt") as f:
        assert not any("key" in k.split(".")[0] or "queue" in k for k in f.keys())  # weights hold the network only
    with pytest.raises((ConfigError, ValueError), match="needs contrastive_queue"):
        load_config(TINY, {"loss.contrastive_momentum": 0.9})


def test_same_lead_infonce_is_logged_and_needs_the_second_crop_pass(data_dir, stores, tmp_path) -> None:
    cfg = load_config(TINY, {"trainer.max_epochs": 1, "trainer.limit_train_batches": 3, "loss.alignment": False,
                             "loss.curriculum": "constant", "loss.cross_decode": 1.0, "loss.contrastive": 1.0,
                             "loss.norm_target": False, "loss.contrastive_view_leads": 3,
                             "loss.contrastive_same_lead": 1.0})
    pretrain(cfg, data_dir, tmp_path / "run", store_dir=stores, progress=False)
    log = pd.read_csv(tmp_path / "run" / "logs" / "csv" / "metrics.csv")
    same = log["train/nce_same_step"].dropna().to_numpy()
    assert len(same) >= 1 and np.isfinite(same).all() and "val/nce_same" in log.columns
    with pytest.raises((ConfigError, ValueError), match="contrastive_view_leads > 0"):
        load_config(TINY, {"loss.contrastive": 1.0, "loss.contrastive_same_lead": 1.0})


def test_faithful_config_keeps_the_authors_objective() -> None:
    cfg = load_config("mae-paper-faithful")
    lc = cfg.loss
    assert lc.alignment and lc.include_self_pair and lc.norm_target and lc.curriculum == "code"
    assert lc.mask_sharing == "sample" and not lc.corrected
    assert cfg.data.train_folds == [1, 2, 3, 4, 5, 6, 7, 8] and cfg.data.val_folds == [9]


def test_seeded_sampler_splits_ranks_and_repeats() -> None:
    s0, s1 = SeededSampler(10, seed=1, rank=0, world_size=2), SeededSampler(10, seed=1, rank=1, world_size=2)
    for s in (s0, s1):
        s.set_epoch(3)
    a, b = [i for i, _ in s0], [i for i, _ in s1]
    assert sorted(a + b) == list(range(10))
    s0.set_epoch(3)
    assert [i for i, _ in s0] == a
    s0.set_epoch(4)
    assert [i for i, _ in s0] != a


def test_smoke_run_losses_fall_and_info_reads_checkpoint(data_dir, stores, tmp_path) -> None:
    cfg = load_config(TINY, {"trainer.max_epochs": 3, "trainer.limit_train_batches": 6,
                             "loss.curriculum": "constant"})
    summary = pretrain(cfg, data_dir, tmp_path / "run", store_dir=stores, progress=False)
    assert summary["epochs"] == 3 and summary["global_step"] == 18
    log = pd.read_csv(tmp_path / "run" / "logs" / "csv" / "metrics.csv")
    for col in ("train/recon_step", "train/align_step", "train/w_recon_step", "train/w_align_step", "train/lr",
                "val/recon", "val/align"):
        assert col in log.columns, col
    recon = log["train/recon_epoch"].dropna().to_numpy()
    assert np.isfinite(recon).all() and recon[-1] < recon[0]
    state, config = load_checkpoint(tmp_path / "run")
    assert config.preprocessing.fs == 100 and config.preprocessing.window_samples == 200
    assert config.model.class_name == "LeadBankMAE" and config.kind == "mae"
    res = subprocess.run([sys.executable, "-m", "leadlift.cli", "info", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "per lead" in res.stdout and "window_samples: 200" in res.stdout
    # rebuild from the checkpoint alone and run inference
    model = build_model(parse_config(config.training))
    model.load_state_dict(state)
    with torch.no_grad():
        emb = model.embed(torch.randn(2, 12, 200))
    assert emb.shape == (2, 12, 16)
    # cross-lead reconstruction from lead I on fold 10, with the one-line CLI
    res = subprocess.run([sys.executable, "-m", "leadlift.cli", "cross-recon", str(tmp_path / "run"), "--inputs", "I",
                          "--out", str(tmp_path / "xr"), "--data-dir", str(data_dir), "--store-dir", str(stores)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-1500:]
    results = json.loads((tmp_path / "xr" / "results.json").read_text())
    table = results["models"]["run"]["mV"]
    assert list(table) == ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    assert all(np.isfinite(m["rmse"]) and -1 <= m["pearson_r"] <= 1 for m in table.values())
    n_fold10 = int((PTBXLReader(data_dir).metadata()["strat_fold"] == 10).sum())
    assert results["models"]["run"]["n_test_records"] == n_fold10


class _Kill(Callback):
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated kill")


def test_resume_after_kill_equals_uninterrupted(data_dir, stores, tmp_path) -> None:
    cfg = load_config(TINY)
    full = pretrain(cfg, data_dir, tmp_path / "a", store_dir=stores, progress=False)
    with pytest.raises(RuntimeError, match="simulated kill"):
        pretrain(cfg, data_dir, tmp_path / "b", store_dir=stores, progress=False, extra_callbacks=[_Kill()])
    assert (tmp_path / "b" / "checkpoints" / "last.safetensors").exists()
    resumed = pretrain(cfg, data_dir, tmp_path / "b", store_dir=stores, progress=False)
    assert resumed["resumed_from"] and resumed["global_step"] == full["global_step"]
    wa, _ = load_checkpoint(tmp_path / "a")
    wb, _ = load_checkpoint(tmp_path / "b")
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0)


@pytest.mark.parametrize("keep_every", [None, 1])
def test_only_last_and_best_training_states_are_kept(data_dir, stores, tmp_path, keep_every) -> None:
    cfg = load_config(TINY, {"trainer.max_epochs": 3, "trainer.keep_every_n_epochs": keep_every})
    out = tmp_path / "run"
    summary = pretrain(cfg, data_dir, out, store_dir=stores, progress=False)
    assert summary["epochs"] == 3 and (out / "model.safetensors").exists()
    states = sorted(p.name for p in (out / "checkpoints").iterdir())
    if keep_every is None:
        assert states == ["best.safetensors", "last.safetensors"]
    else:
        assert states == ["best.safetensors", "epoch=0.safetensors", "epoch=1.safetensors", "epoch=2.safetensors",
                          "last.safetensors"]
    last = load_state(out / "checkpoints" / "last.safetensors")
    assert last["epoch"] == 2 and last["optimizer_states"]
    # best = the epoch with the lowest logged validation loss
    log = pd.read_csv(out / "logs" / "csv" / "metrics.csv").dropna(subset=["val_loss"])
    best_epoch = int(log.loc[log["val_loss"].idxmin(), "epoch"])
    assert load_state(out / "checkpoints" / "best.safetensors")["epoch"] == best_epoch
    assert summary["best_checkpoint"].endswith("best.safetensors")
    assert summary["best_val_loss"] == pytest.approx(log["val_loss"].min(), rel=1e-5)


def test_ddp_two_cpu_processes_end_identical(data_dir, stores, tmp_path) -> None:
    out = tmp_path / "ddp"
    res = subprocess.run(
        [sys.executable, "-m", "leadlift.cli", "pretrain", "-c", TINY, "--data-dir", str(data_dir),
         "--store-dir", str(stores), "--out", str(out), "--devices", "2", "--strategy", "ddp",
         "--accelerator", "cpu", "--max-epochs", "2"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    ranks = [json.loads(p.read_text()) for p in sorted((out / "ranks").glob("rank-*.json"))]
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["world_size"] == 2 for r in ranks)
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    assert ranks[0]["global_step"] == 8  # limit_train_batches=4 per rank x 2 epochs


def test_checkpoint_io_has_no_pickle_and_detects_damage(tmp_path) -> None:
    state = {"epoch": 3, "optimizer_states": [{"state": {0: {"exp_avg": torch.ones(3)}},
                                               "param_groups": [{"betas": (0.9, 0.95), "lr": 1e-3}]}],
             "hyper_parameters": {"config": {"name": "x"}}, "none": None}
    path = tmp_path / "s.safetensors"
    save_state(state, path)
    back = load_state(path)
    assert back["epoch"] == 3 and back["optimizer_states"][0]["param_groups"][0]["betas"] == (0.9, 0.95)
    assert torch.equal(back["optimizer_states"][0]["state"][0]["exp_avg"], torch.ones(3))
    assert b"\x80\x04" not in path.read_bytes()[:64]  # not a pickle stream
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CorruptFileError):
        load_state(path)
    model = torch.nn.Linear(3, 2)
    folder = export_model(model, {"format": "leadlift-mae/1", "model": {"class": "Linear", "kwargs": {}},
                                  "preprocessing": {"fs": 100.0, "window_samples": 10}}, tmp_path / "exp")
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="checksum"):
        load_checkpoint(folder)


def test_export_killed_between_its_renames_is_completed_not_corrupt(tmp_path) -> None:
    """A kill after the new weights were moved into place but before the config (the old two-rename
    export left new weights with the old checksum) is finished by the next load; an incomplete stage
    (killed while writing) is discarded and the previous checkpoint still loads."""
    import os

    from leadlift.inference.checkpoint import CONFIG_FILE, STAGING, WEIGHTS_FILE

    cfg = {"format": "leadlift-mae/1", "model": {"class": "Linear", "kwargs": {}},
           "preprocessing": {"fs": 100.0, "window_samples": 10}}
    torch.manual_seed(0)
    old, new = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    folder = export_model(old, cfg, tmp_path / "ckpt")
    # a complete stage of the new export, killed after the weights' rename
    scratch = export_model(new, cfg, tmp_path / "scratch")
    stage = folder / STAGING
    stage.mkdir()
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        (stage / name).write_bytes((scratch / name).read_bytes())
    (stage / "COMPLETE").write_text("x\n")
    os.replace(stage / WEIGHTS_FILE, folder / WEIGHTS_FILE)
    state, _ = load_checkpoint(folder)  # verified: the stage's config was published first
    assert torch.equal(state["weight"], new.weight.detach()) and not stage.exists()
    # an incomplete stage is thrown away; what is published is untouched
    stage.mkdir()
    (stage / WEIGHTS_FILE).write_bytes(b"half")
    state, _ = load_checkpoint(folder)
    assert torch.equal(state["weight"], new.weight.detach()) and not stage.exists()


def test_stale_temps_of_dead_processes_are_removed(tmp_path) -> None:
    from leadlift.atomic import remove_stale_temps

    dead = tmp_path / ".last.tmp-999999999-deadbeef.safetensors"  # no such process
    mine = tmp_path / f".best.tmp-{os.getpid()}-cafe.safetensors"
    keep = tmp_path / "last.safetensors"
    for p in (dead, mine, keep):
        p.write_bytes(b"x")
    assert remove_stale_temps(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, keep.name])


def test_impossible_trainer_settings_are_one_line(data_dir, tmp_path) -> None:
    """Lightning's own refusals and a batch larger than the training set: one InputError each, and
    no "done: 0 epochs" run without a model."""
    from leadlift.errors import InputError
    from leadlift.training.trainer import make_trainer

    for kwargs, fragment in (({"strategy": "bogus"}, "strategy"), ({"devices": "foo"}, "devices"),
                             ({"accelerator": "tpu"}, "accelerator")):
        with pytest.raises(InputError, match="Lightning rejected") as exc:
            make_trainer(max_epochs=1, progress=False, **kwargs)
        assert fragment in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(InputError, match="batch size 5000 is larger"):
        pretrain(load_config("mae-tiny", {"data.batch_size": 5000}), data_dir, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_resume_with_another_network_or_fewer_epochs_is_one_line(data_dir, stores, tmp_path, capsys) -> None:
    from helpers import run_cli

    out = tmp_path / "run"
    base = ["pretrain", "-c", TINY, "--data-dir", str(data_dir), "--store-dir", str(stores), "-o", str(out),
            "--accelerator", "cpu", "--no-progress", "--limit-train-batches", "2"]
    code, _, err = run_cli([*base, "--max-epochs", "2"], capsys)
    assert code == 0, err
    wide = tmp_path / "wide.yaml"
    text = (Path(__file__).resolve().parents[3] / "src" / "leadlift" / "configs" / "mae_tiny.yaml").read_text()
    wide.write_text(text.replace("embed_dim: 16", "embed_dim: 32", 1))
    code, _, err = run_cli([*base[:2], str(wide), *base[3:], "--max-epochs", "3"], capsys)
    assert code == 2 and "Traceback" not in err
    assert "another network" in err and "model.embed_dim 16 -> 32" in err and "--no-resume" in err
    code, _, err = run_cli([*base, "--max-epochs", "1"], capsys)
    assert code == 2 and "already trained 2 epoch(s)" in err and "--max-epochs" in err
    code, _, err = run_cli([*base, "--max-epochs", "1", "--no-resume"], capsys)
    assert code == 0, err
