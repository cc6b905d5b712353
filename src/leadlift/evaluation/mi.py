"""Myocardial infarction detection from frozen embeddings.

* PTB-XL, MI vs rest: the ``MI`` label of the superdiagnostic probes (:mod:`.probes`, one
  independent binary logistic regression per label, C tuned on fold 9, tested on fold 10);
  :func:`ptbxl_mi_table` collects it per embedding view.
* PTB Diagnostic, MI vs healthy controls: patient-grouped k-fold cross-validation
  (:func:`leadlift.data.splits.patient_kfold`) of a standardised logistic regression (C = 1) on
  record embeddings; out-of-fold scores are pooled for one AUROC. Other diagnoses are left out.
  The authors' notebook split by record, which leaks patients across folds; leadlift never does.
  With fewer than 2 patients per class (e.g. the single record shipped in the shared data) the
  evaluation is skipped and the counts say why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from leadlift.data.splits import assert_patient_disjoint, patient_kfold
from leadlift.evaluation.embeddings import StoreEmbeddings
from leadlift.evaluation.metrics import bootstrap_weights, percentile_ci
from leadlift.evaluation.probes import auroc


def ptbxl_mi_table(probes: dict[str, Any], label: str = "MI") -> dict[str, dict[str, Any]]:
    """``{view: {"auroc", "ci", "n_pos_test"}}`` of the ``label`` column of per-view probe results."""
    out = {}
    for view, res in probes.items():
        row = res["per_class"].get(label)
        if row is not None:
            out[view] = {"auroc": row["auroc"], "ci": row.get("ci"), "n_pos_test": row["n_pos_test"]}
    return out


def ptbdb_counts(meta: Any) -> dict[str, int]:
    """Records and patients of a PTB Diagnostic store, overall and per class (MI / healthy)."""
    mi, healthy = meta["mi"].to_numpy() == 1, meta["healthy"].to_numpy() == 1
    pid = meta["patient_id"].to_numpy()
    return {"n_records": len(meta), "n_patients": len(set(pid)),
            "n_mi_records": int(mi.sum()), "n_healthy_records": int(healthy.sum()),
            "n_mi_patients": len(set(pid[mi])), "n_healthy_patients": len(set(pid[healthy]))}


def ptbdb_mi(emb: StoreEmbeddings, meta: Any, views: Sequence[str], n_splits: int = 5,
             seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """MI vs healthy on PTB Diagnostic with patient-grouped CV, per embedding view.

    Args:
        emb: record embeddings of the PTB Diagnostic store (``emb.rows`` index ``meta``).
        meta: the store's metadata (``mi``, ``healthy``, ``patient_id``).
        views: embedding views to evaluate (lead names, ``"12-lead"``).
        n_splits: folds (reduced to the number of patients of the smaller class when fewer).
        seed: seed of the patient shuffle and of the bootstrap.
        n_boot: bootstrap resamples (of records) for the pooled AUROC interval.

    Returns:
        ``{"status": "ok" | "skipped", "reason", counts..., "n_splits", "views": {view:
        {"auroc", "ci", "accuracy_mean", "accuracy_std"}}}``.
    """
    counts = ptbdb_counts(meta)
    out: dict[str, Any] = {"status": "skipped", **counts}
    m = meta.iloc[emb.rows]
    keep = (m["mi"].to_numpy() == 1) | (m["healthy"].to_numpy() == 1)
    y = m["mi"].to_numpy()[keep].astype(int)
    groups = m["patient_id"].to_numpy()[keep]
    n_pos_p, n_neg_p = len(set(groups[y == 1])), len(set(groups[y == 0]))
    k = min(n_splits, n_pos_p, n_neg_p)
    if k < 2:
        out["reason"] = (f"{counts['n_records']} PTB Diagnostic record(s) of {counts['n_patients']} patient(s) present "
                         f"({n_pos_p} MI and {n_neg_p} healthy patient(s) with a full window); patient-grouped "
                         "cross-validation needs at least 2 patients per class: download ptbdb "
                         "(`leadlift download ptbdb`) to run it")
        return out
    folds = patient_kfold(groups, n_splits=k, seed=seed)
    for tr, te in folds:
        assert_patient_disjoint(groups, {"train": tr, "test": te})
    out.update(status="ok", n_splits=k, n_used_records=int(keep.sum()), views={})
    weights = bootstrap_weights(len(y), n_boot, seed) if n_boot > 0 else None
    for view in views:
        x = emb.view(view)[keep]
        score = np.zeros(len(y))
        accs = []
        for tr, te in folds:
            if len(set(y[tr])) < 2:
                continue
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, random_state=seed))
            clf.fit(x[tr], y[tr])
            score[te] = clf.decision_function(x[te])
            accs.append(float(np.mean(clf.predict(x[te]) == y[te])))
        ci = list(percentile_ci(auroc(y, score, weights))) if weights is not None else [float("nan")] * 2
        out["views"][view] = {"auroc": auroc(y, score), "ci": ci, "accuracy_mean": float(np.mean(accs)),
                              "accuracy_std": float(np.std(accs))}
    return out
