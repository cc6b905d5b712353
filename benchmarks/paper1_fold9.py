"""Paper-1 encoders on PTB-XL fold 9 (validation): the numbers a design choice may be selected by.

Fold 10, ECG-ID and PTB Diagnostic are test sets; choosing an objective by them would tune on the
test. This script scores checkpoints (and a random-init twin of the first) on fold 9 only, with
the evaluation's own protocols (:func:`leadlift.evaluation.embeddings.embed_store`: non-overlapping
5-s windows from each record's start, per-record mean):

* ``retrieval`` / ``gap``: lead-pair retrieval top-1 and same- minus different-ECG cosine
  (:func:`leadlift.evaluation.agreement.lead_agreement`) among fold 9's records;
* ``self_retrieval_I``: an identity proxy — lead I of a record's first window finds the same
  record's second window (the next 5 s, other beats at other phases) among fold 9's records, cosine
  1-NN top-1, both directions averaged;
* ``probe_I`` / ``probe_12``: superdiagnostic logistic probes trained on folds 1–8, C chosen and
  scored on fold 9 (macro AUROC; optimistic by the C choice, equally for every model).

Writes JSON + Markdown (``--out``)::

    python benchmarks/paper1_fold9.py --data-dir ../shared/data \\
        --checkpoints default=src/leadlift/weights/mae-cpu q1024=runs/exp/q1024 --out runs/exp/fold9
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np


def self_retrieval(window: np.ndarray, window_row: np.ndarray, window_start: np.ndarray,
                   rows: np.ndarray, n_times: int) -> float:
    """Top-1 of "first window finds the same record's second window" (both directions averaged).

    Args:
        window: ``[W, D]`` window embeddings of one view.
        window_row, window_start: ``[W]`` store row and first sample of each window.
        rows: the store rows to score (those with both windows are used).
        n_times: window length in samples (the second window starts there).
    """
    first = {int(r): i for i, (r, s) in enumerate(zip(window_row, window_start, strict=True)) if s == 0}
    second = {int(r): i for i, (r, s) in enumerate(zip(window_row, window_start, strict=True)) if s == n_times}
    keep = [int(r) for r in rows if int(r) in first and int(r) in second]
    if len(keep) < 2:
        return float("nan")
    a = window[[first[r] for r in keep]].astype(np.float64)
    b = window[[second[r] for r in keep]].astype(np.float64)
    a /= np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)
    b /= np.linalg.norm(b, axis=1, keepdims=True).clip(1e-12)
    sim = a @ b.T
    truth = np.arange(len(keep))
    return float(0.5 * ((sim.argmax(1) == truth).mean() + (sim.argmax(0) == truth).mean()))


def score(encoder: Any, store: Any, n_boot: int, pooled: bool = False) -> dict[str, Any]:
    """Fold-9 numbers of one encoder (see the module docstring)."""
    from leadlift.conventions import SUPERCLASSES
    from leadlift.data.splits import ptbxl_folds
    from leadlift.evaluation.agreement import lead_agreement
    from leadlift.evaluation.embeddings import TWELVE_LEAD, embed_store
    from leadlift.evaluation.probes import linear_probe

    parts = ptbxl_folds(store.meta["strat_fold"])
    idx = np.concatenate([parts["train"], parts["val"]])
    emb = embed_store(encoder, store, idx)
    pos = {int(r): i for i, r in enumerate(emb.rows)}

    def pick(rows: np.ndarray) -> np.ndarray:
        return np.asarray([pos[int(r)] for r in rows if int(r) in pos], dtype=int)

    val = pick(parts["val"])
    agree = lead_agreement(emb.record[val], emb.views)
    iv = emb.views.index("I")
    out: dict[str, Any] = {
        "n_val_records": len(val),
        "retrieval": agree["cosine"]["mean_retrieval"],
        "gap": agree["cosine"]["mean_gap"],
        "chance_retrieval": agree["chance_retrieval"],
        "self_retrieval_I": self_retrieval(emb.window[:, iv], emb.window_row, emb.window_start, parts["val"],
                                           encoder.n_times),
    }
    y_all = store.meta[list(SUPERCLASSES)].to_numpy(dtype=int)
    labelled = np.flatnonzero(y_all.sum(axis=1) > 0)
    tr, va = pick(np.intersect1d(parts["train"], labelled)), pick(np.intersect1d(parts["val"], labelled))
    y = y_all[emb.rows]
    for name, view in (("probe_I", "I"), ("probe_12", TWELVE_LEAD)):
        x = emb.view(view)
        p = linear_probe(x[tr], y[tr], x[va], y[va], x[va], y[va], SUPERCLASSES, n_boot=n_boot)
        out[name] = p["macro_auroc"]
    if pooled:  # the lead-I probe on the API's pooled embedding (what a user's embed() returns)
        from leadlift.evaluation.embeddings import api_embeddings

        x = api_embeddings(encoder, store, emb.rows, leads=("I",))[:, 0]
        p = linear_probe(x[tr], y[tr], x[va], y[va], x[va], y[va], SUPERCLASSES, n_boot=n_boot)
        out["probe_I_api"] = p["macro_auroc"]
    return out


def markdown(res: dict[str, Any]) -> str:
    rows = ["| model | lead-pair retrieval top-1 | same − diff cosine | lead-I self-retrieval (next 5 s) | "
            "lead-I probe AUROC | 12-lead probe AUROC |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in res["models"].items():
        api = f" (API-pooled {r['probe_I_api']:.3f})" if "probe_I_api" in r else ""
        rows.append(f"| {name} | {r['retrieval']:.3f} | {r['gap']:.3f} | {r['self_retrieval_I']:.3f} | "
                    f"{r['probe_I']:.3f}{api} | {r['probe_12']:.3f} |")
    first = next(iter(res["models"].values()))
    return "\n".join([
        "# Paper-1 encoders on PTB-XL fold 9 (validation)", "",
        f"{first['n_val_records']} fold-9 records; chance retrieval {first['chance_retrieval']:.3f}. Probes trained "
        "on folds 1–8, C chosen and scored on fold 9.", "", *rows, "",
        f"Command: `{res['command']}`", ""])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("LEADLIFT_DATA", "../shared/data")))
    p.add_argument("--checkpoints", nargs="+", required=True, metavar="NAME=FOLDER")
    p.add_argument("--no-random", action="store_true", help="skip the random-init twin of the first checkpoint")
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--api-pooled", action="store_true",
                   help="also the lead-I probe on the API's pooled embedding (windows every embed_hop_s)")
    p.add_argument("--out", type=Path, required=True, help="output path without suffix (.json and .md)")
    args = p.parse_args(argv)
    import torch

    from cli_args import parse_named  # same folder (benchmarks/)
    from leadlift.data.store import prepare
    from leadlift.evaluation.embeddings import load_encoder, random_encoder

    named = [(n, Path(f)) for n, f in parse_named(args.checkpoints, "default=runs/paper1/default")]
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    res: dict[str, Any] = {"command": shlex.join(["python", "benchmarks/paper1_fold9.py", *(argv or sys.argv[1:])]),
                           "models": {}}
    encoders = [(n, load_encoder(f, name=n)) for n, f in named]
    if not args.no_random:
        encoders.append(("random init", random_encoder(encoders[0][1].config)))
    store = prepare("ptbxl", encoders[0][1].fs, args.data_dir, progress=False)
    for name, enc in encoders:
        res["models"][name] = score(enc, store, args.n_boot, pooled=args.api_pooled)
        print(name, json.dumps(res["models"][name]), flush=True)
    from paper1 import write_outputs  # same folder (benchmarks/)

    write_outputs(args.out, res, markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
