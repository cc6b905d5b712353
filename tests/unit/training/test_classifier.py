"""The superdiagnostic classifier's training on the real PTB-XL store: a tiny seeded run that never
loads fold 10, saves safetensors + a typed yaml, reloads to the same fold-9 score and repeats exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import one_line
from leadlift.conventions import SUPERCLASSES
from leadlift.data.store import prepare
from leadlift.ecg import ECG
from leadlift.errors import ConfigError
from leadlift.evaluation.diagnostic import load_classifier
from leadlift.evaluation.probes import auroc
from leadlift.training import classifier as training
from leadlift.training.classifier import parse_classifier_train_config, train_classifier

TINY = {"model": {"stem_channels": 4, "widths": [8, 16], "strides": [2, 2]}, "max_epochs": 2,
        "max_records_per_part": 40, "batch_size": 16}


@pytest.fixture(scope="module")
def run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    stores = tmp_path_factory.mktemp("stores")
    seen: list[np.ndarray] = []
    original = training.preprocessed_records

    def spy(store: Any, cfg: Any, rows: Any = None) -> Any:
        seen.append(np.asarray(rows))
        return original(store, cfg, rows)

    messages: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "preprocessed_records", spy)
        cfg = parse_classifier_train_config(TINY)
        outs = [tmp_path_factory.mktemp("clf_a"), tmp_path_factory.mktemp("clf_b")]
        records = [train_classifier(cfg, data_dir, out, store_dir=stores, say=messages.append) for out in outs]
    store = prepare("ptbxl", 100, data_dir, store_dir=stores, progress=False)
    return {"outs": outs, "records": records, "seen": seen, "store": store, "messages": messages}


def test_fold_10_is_never_loaded(run: dict[str, Any]) -> None:
    folds = run["store"].meta["strat_fold"].to_numpy()
    assert run["seen"] and all(set(folds[rows]) <= set(range(1, 10)) for rows in run["seen"])
    rec = run["records"][0]
    assert rec["n_train"] == rec["n_val"] == 40


def test_saved_classifier_reloads_to_its_fold_9_score(run: dict[str, Any]) -> None:
    rec = run["records"][0]
    clf = load_classifier(run["outs"][0])
    cfg = clf.config
    assert cfg.format == "leadlift-diagnostic-classifier/1" and cfg.classes == list(SUPERCLASSES)
    assert cfg.weights_sha256 and len(cfg.weights_sha256) == 64
    assert cfg.input.mode == rec["input_mode"] and set(rec["candidates"]) == {"full", "crops"}
    assert cfg.metrics["val_macro_auroc"] == rec["val_macro_auroc"] == max(
        c["val_macro_auroc"] for c in rec["candidates"].values())
    assert 1 <= rec["best_epoch"] <= rec["epochs"] <= 2
    # the validation records read back as ECGs score what training recorded
    store = run["store"]
    meta = store.meta
    y = meta[list(SUPERCLASSES)].to_numpy()
    rows = np.flatnonzero((meta["strat_fold"].to_numpy() == 9) & (y.sum(axis=1) > 0))[:40]
    ecgs = [ECG(np.asarray(store.signals[r]), store.fs, store.leads, check_units=False) for r in rows]
    p = clf.predict(ecgs)
    per = [auroc(y[rows, c], p[:, c]) for c in range(5)]
    assert np.nanmean(per) == pytest.approx(rec["val_macro_auroc"], abs=1e-4)
    assert any("chosen" in m for m in run["messages"])


def test_training_is_seeded(run: dict[str, Any]) -> None:
    a, b = (load_classifier(o).config for o in run["outs"])
    assert a.weights_sha256 == b.weights_sha256


def test_config_refuses_the_test_fold() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_classifier_train_config({"val_folds": [10]})
    assert "fold 10" in one_line(exc)
    with pytest.raises(ConfigError):
        parse_classifier_train_config({"input_modes": []})
    with pytest.raises(ConfigError):
        parse_classifier_train_config({"unknown": 1})
