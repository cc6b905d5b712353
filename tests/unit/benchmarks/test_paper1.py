"""benchmarks/paper1.py: the API-pooled section scores what ``embed()`` returns, with its random twin."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks"))
import paper1  # noqa: E402


def test_api_pooled_section_scores_checkpoint_and_random_twin(tiny_mae_checkpoint, data_dir, tmp_path) -> None:
    work = tmp_path / "work"
    shutil.copytree(tiny_mae_checkpoint, work / "default")
    res = paper1.api_pooled_all(["default"], work, data_dir, n_boot=20)
    assert set(res) == {"default", "random init"}
    for r in res.values():
        assert 0.5 < r["probe_I_auroc"] <= 1 and r["probe_I_ci"][0] <= r["probe_I_auroc"] <= r["probe_I_ci"][1]
        assert 0 <= r["retrieval_top1"] <= 1 and np.isfinite(r["same_minus_diff_cosine"])
        assert r["n_test"] > 100 and r["n_agreement_records"] > 100
    assert res["default"]["probe_I_auroc"] != res["random init"]["probe_I_auroc"]
    # cached: a second call reads the files
    cached = json.loads((work / "api_default.json").read_text())
    assert paper1.api_pooled("default", work / "default", data_dir, work, 20) == cached
    # the checks and the Markdown section use them
    checks = paper1._api_checks({"api_pooled": res})
    assert len(checks) == 2 and all(isinstance(v[1], bool) for v in checks.values())


def test_curves_table_reads_a_real_run_log(tiny_mae_checkpoint, tmp_path) -> None:
    import paper1_curves

    df = paper1_curves.curves(tiny_mae_checkpoint)
    assert len(df) >= 1 and "val/triplet_mask0" in df.columns
    paper1_curves.main([f"tiny={tiny_mae_checkpoint}", "--epochs", "0", "1", "99", "--out", str(tmp_path / "c")])
    res = json.loads((tmp_path / "c.json").read_text())
    assert set(res["runs"]["tiny"]) <= {"0", "1"} and res["batch_size"] > 1
    assert "| tiny | 0 |" in (tmp_path / "c.md").read_text()


def test_pretraining_note_says_how_the_default_was_timed() -> None:
    alone = paper1.pretraining_note({"default": {"seconds": 1500.0, "reused": False, "threads": 2, "alone": True},
                                     "faithful": {"seconds": 700.0, "reused": False, "threads": 1, "alone": False}})
    assert "first and alone with `--threads 2`" in alone and "two runs at a time" in alone
    assert "first and alone with `--threads 2` on 2 CPU cores" in paper1.pretraining_note(
        {"default": {"seconds": 1500.0, "reused": False, "threads": 2, "alone": True}}, "2 CPU cores")
    # a default reused from an earlier run is not passed off as the budget measurement
    kept = paper1.pretraining_note({"default": {"seconds": 1500.0, "reused": True, "threads": None, "alone": None}})
    assert "not trained in this run" in kept and "--threads" not in kept
    # results from before the default was timed alone keep their original description
    old = paper1.pretraining_note({"default": {"seconds": 1680.0, "reused": False}})
    assert old.startswith("Pretraining: `leadlift pretrain` on 1 thread") and "alone" not in old


def test_a_reused_checkpoint_keeps_the_measurement_of_the_invocation_that_trained_it(tmp_path) -> None:
    out = tmp_path / "default"
    (out / "ranks").mkdir(parents=True)
    (out / "config.yaml").write_text("epoch_seconds: [10.0, 12.5]\n")
    # finished without a record (before records existed): the sum of its epoch times, threads unknown
    old = paper1.train("default", tmp_path, tmp_path, threads=2, alone=True)
    assert old["reused"] and old["seconds"] == 22.5 and old["threads"] is None
    assert "not trained in this run" in paper1.pretraining_note({"default": old})
    # trained by an earlier invocation of the script: its wall clock and protocol survive the reuse
    first = {"name": "default", "seconds": 1500.0, "reused": False, "threads": 2, "alone": True, "command": "x"}
    (out / "paper1_training.json").write_text(json.dumps(first))
    again = paper1.train("default", tmp_path, tmp_path, threads=1)
    assert again == {**first, "reused": True}
    note = paper1.pretraining_note({"default": again}, "2 CPU cores")
    assert "first and alone with `--threads 2` on 2 CPU cores" in note and "earlier invocation" in note
    assert "sum of the epoch times" not in note
