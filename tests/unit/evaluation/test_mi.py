"""MI detection: PTB Diagnostic patient-grouped CV and the PTB-XL MI table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadlift.evaluation.embeddings import StoreEmbeddings, random_encoder
from leadlift.evaluation.mi import ptbdb_counts, ptbdb_mi, ptbxl_mi_table


def _emb(x: np.ndarray) -> StoreEmbeddings:
    n = len(x)
    return StoreEmbeddings(views=("I",), rows=np.arange(n), record=x[:, None], window=x[:, None],
                           window_row=np.arange(n), window_start=np.zeros(n, dtype=int))


def test_ptbdb_single_real_record_is_skipped_with_counts(data_dir) -> None:
    from leadlift.data.store import prepare
    from leadlift.evaluation.embeddings import embed_store

    store = prepare("ptbdb", 100, data_dir, progress=False)
    enc = random_encoder({"format": "leadlift-mae/1", "model": {"class": "LeadBankMAE", "kwargs": {
        "n_times": 500, "fs": 100.0, "patch_size": 25, "embed_dim": 8, "depth": 1, "num_heads": 2,
        "decoder_embed_dim": 8, "decoder_depth": 0, "decoder_heads": 2}},
        "preprocessing": {"fs": 100.0, "window_samples": 500}})
    res = ptbdb_mi(embed_store(enc, store), store.meta, ["I"])
    assert res["status"] == "skipped"
    assert res["n_records"] == len(store) and res["n_patients"] == store.meta["patient_id"].nunique()
    assert "at least 2 patients per class" in res["reason"] and "\n" not in res["reason"]


def test_ptbdb_cv_groups_patients_and_scores_separable_data() -> None:
    rng = np.random.default_rng(0)
    n_pat = 12
    pid = np.repeat([f"patient{i:03d}" for i in range(n_pat)], 3)  # 3 records per patient
    mi = (np.arange(n_pat) % 2 == 0).repeat(3).astype(int)
    meta = pd.DataFrame({"patient_id": pid, "mi": mi, "healthy": 1 - mi})
    meta.loc[0, ["mi", "healthy"]] = 0  # another diagnosis: left out
    x = rng.normal(size=(len(meta), 4)) + 3 * mi[:, None]
    res = ptbdb_mi(_emb(x), meta, ["I"], n_splits=4, n_boot=100)
    assert res["status"] == "ok" and res["n_splits"] == 4 and res["n_used_records"] == len(meta) - 1
    assert res["views"]["I"]["auroc"] > 0.95
    assert ptbdb_counts(meta)["n_mi_patients"] == 6


def test_ptbxl_mi_table_picks_the_mi_label() -> None:
    probes = {"I": {"per_class": {"MI": {"auroc": 0.7, "ci": [0.6, 0.8], "n_pos_test": 40},
                                  "NORM": {"auroc": 0.9, "ci": [0.8, 0.95], "n_pos_test": 100}}}}
    assert ptbxl_mi_table(probes) == {"I": {"auroc": 0.7, "ci": [0.6, 0.8], "n_pos_test": 40}}
    assert ptbxl_mi_table(probes)["I"]["auroc"] == pytest.approx(0.7)
