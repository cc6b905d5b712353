"""Quickstart pieces: the pretraining time limit, the CPU-default config, the optional benchmark;
the whole quickstart end to end is a slow test."""

from __future__ import annotations

from leadlift.config import load_config
from leadlift.evaluation.evaluate import benchmark_block
from leadlift.training.pretrain import pretrain
from leadlift.workflows import quickstart as qs


def test_max_time_stops_pretraining_and_still_exports(data_dir, tmp_path) -> None:
    cfg = load_config("mae-tiny", {"trainer.max_epochs": 1000, "trainer.max_time_minutes": 0.05})
    summary = pretrain(cfg, data_dir, tmp_path / "run", progress=False)
    assert summary["epochs"] < 1000 and summary["seconds"] < 60
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_cpu_default_config_has_a_time_limit() -> None:
    cfg = qs.cpu_default_config(minutes=7)
    ref = load_config("mae-cpu")
    # the quickstart trains the corrected objective (cross-lead decoding + InfoNCE) of mae-cpu
    assert cfg.trainer.max_time_minutes == 7 and cfg.loss.corrected and cfg.loss == ref.loss
    assert (cfg.model, cfg.data, cfg.trainer.max_epochs) == (ref.model, ref.data, ref.trainer.max_epochs)
    base = qs.cpu_default_config(alignment=False, minutes=7)
    assert not base.loss.alignment and not base.loss.corrected and base.name.endswith("noalign")
    assert base.model == cfg.model and base.loss.contrastive == base.loss.cross_decode == 0


def test_benchmark_block_reports_missing_results(tmp_path) -> None:
    assert benchmark_block(tmp_path)["status"] == "missing"
    (tmp_path / "results.md").write_text("# t\n")
    (tmp_path / "fig.png").write_bytes(b"\x89PNG")
    block = benchmark_block(tmp_path)
    assert block["status"] == "ok" and block["markdown"] == "# t\n" and block["figures"][0].endswith("fig.png")


def test_failing_benchmark_is_reported_not_fatal(tmp_path) -> None:
    """A benchmark that cannot run (no PTB-XL here) is a status in the report, not a crash."""
    res = qs.run_benchmark(tmp_path / "no-data", tmp_path / "b", None, None, 2.0, print)
    assert res["status"] == "failed" and "status" in res["reason"]


def test_quick_benchmark_config_is_shipped_and_small() -> None:
    from leadlift.recon_config import load_recon_config

    cfg = load_recon_config(qs.BENCHMARK_CONFIG, {"data.inputs": ["I", "II", "V2"]})
    assert cfg.benchmark.cv_folds == 0 and cfg.train.max_epochs <= 10 and cfg.supcon.max_epochs <= 10


