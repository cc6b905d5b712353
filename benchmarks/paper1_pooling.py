"""Time-shifted or R-peak-aligned pooling? Paper-1 embeddings pooled four ways, on PTB-XL fold 9.

The issue "Paper 1 that works" asks for embeddings "pooled over time-shifted or R-peak-aligned
crops (choose by measurement)". This script makes that measurement on fold 9 (validation; fold 10,
ECG-ID and PTB Diagnostic stay test sets) for a checkpoint and its random-init twin, so that a gain
of a pooling can be told apart from a gain of training. A per-lead embedding of a record is:

* ``window`` — the yardstick's protocol: the mean of the lead's patch tokens in non-overlapping
  5-s windows from the record's start, averaged over windows
  (:func:`leadlift.evaluation.embeddings.embed_store`);
* ``shifted`` — what ``LeadLift.embed`` returns: windows every ``embed_hop_s`` (50 ms), averaged
  (:func:`leadlift.evaluation.embeddings.api_embeddings`);
* ``rpeak`` — R-peak-aligned windows: one full window per R peak of that lead, placed so that the
  R peak sits at sample 12 of the middle patch (every crop has the same beat phase on the patch
  grid); mean of the patch tokens, averaged over crops. Needs records longer than a window;
* ``beat`` — beat-synchronous tokens: for every R peak, the 3 patches around it (0.37 s before
  to 0.38 s after R at 100 Hz / 25-sample patches) are encoded alone, as the visible patches of a
  masked window (the encoder's training regime: a quarter of the patches visible) at the middle
  positions; the mean of those tokens over the patches and beats (signal z-scored over the whole
  segment the beats come from).

R peaks: :func:`leadlift.preprocessing.r_peaks` (``polarity="auto"``) on each lead in mV.

Scored (fold 9, cosine unless said):

* ``retrieval`` / ``gap``: lead-pair retrieval top-1 and same- minus different-ECG cosine among
  fold 9's records (:func:`leadlift.evaluation.agreement.lead_agreement`);
* ``next5s``: identity proxy within a record — lead I of the first 5 s finds the same record's
  next 5 s (1-NN, both directions averaged). Only ``window`` and ``beat`` exist on 5-s halves;
* ``cross_record``: identity proxy across records — every fold-9 record of a patient with ≥ 2
  fold-9 records finds another record of that patient as its nearest neighbour among all other
  fold-9 records (lead I, whole record), with a bootstrap CI over probes (few probes: wide);
* ``probe_I`` / ``probe_12``: superdiagnostic logistic probes trained on folds 1–8, C chosen and
  scored on fold 9 (macro AUROC). ``probe_12`` is not computed for ``shifted`` (about 18 min per
  encoder at 50-ms hops);

beside the classical median-beat template (:func:`leadlift.evaluation.biometrics.median_beat`) for
the two identity proxies. Writes JSON + Markdown::

    python benchmarks/paper1_pooling.py --data-dir ../shared/data \\
        --checkpoint src/leadlift/weights/mae-cpu --out benchmarks/results/paper1_pooling
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

POOLINGS: tuple[str, ...] = ("window", "shifted", "rpeak", "beat")

#: Beat-synchronous tokens: patches per beat, of which this many lie before the R peak's patch.
BEAT_PATCHES = 3
BEAT_PRE_PATCHES = 1


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True).clip(1e-12)


def peaks_of(x: np.ndarray, fs: float) -> np.ndarray:
    """R peaks (samples) of one lead ``[T]`` in mV, as the template baseline finds them."""
    from leadlift.preprocessing import r_peaks

    return np.asarray(r_peaks(np.asarray(x, dtype=np.float64), fs, polarity="auto"), dtype=int)


def rpeak_starts(peaks: np.ndarray, n_valid: int, n_times: int, patch: int) -> np.ndarray:
    """Window starts that put each R peak at sample ``patch // 2`` of the window's middle patch;
    windows that would leave ``[0, n_valid)`` are dropped.

    Args:
        peaks: R peaks (samples).
        n_valid: samples of the record.
        n_times: window length (samples), a multiple of ``patch``.
        patch: patch length (samples).
    """
    mid = (n_times // patch) // 2
    starts = np.asarray(peaks, dtype=int) - (mid * patch + patch // 2)
    return starts[(starts >= 0) & (starts + n_times <= n_valid)]


def beat_crops(z: np.ndarray, peaks: np.ndarray, patch: int, k: int = BEAT_PATCHES,
               pre: int = BEAT_PRE_PATCHES) -> np.ndarray:
    """``[n_beats, k·patch]`` crops of a z-scored lead, each with its R peak at sample ``patch // 2``
    of patch ``pre``; beats too near the ends are dropped."""
    a = pre * patch + patch // 2
    keep = [int(r) for r in peaks if r - a >= 0 and r - a + k * patch <= len(z)]
    if not keep:
        return np.zeros((0, k * patch), dtype=np.float32)
    return np.stack([z[r - a:r - a + k * patch] for r in keep]).astype(np.float32)


def lead_embeddings(encoder: Any, sig: np.ndarray, leads: list[str], pooling: str) -> np.ndarray:
    """``[L, D]`` embeddings of the leads of one segment ``sig`` ``[L, T]`` (mV) with the
    ``rpeak`` or ``beat`` pooling (module docstring); zeros for a lead without a usable beat."""
    import torch

    from leadlift.inference.backends import zscore_windows

    model, fs, n_times = encoder.model, encoder.fs, encoder.n_times
    patch = int(model.patch_size)
    out = np.zeros((len(leads), encoder.embed_dim), dtype=np.float32)
    for i, lead in enumerate(leads):
        x = np.asarray(sig[i], dtype=np.float32)
        pk = peaks_of(x, fs)
        if pooling == "rpeak":
            starts = rpeak_starts(pk, len(x), n_times, patch)
            if len(starts) == 0:
                continue
            win = zscore_windows(np.stack([x[s:s + n_times] for s in starts])[:, None], encoder.eps)[0]
            with torch.no_grad():
                out[i] = model.embed(torch.from_numpy(win), leads=[lead])[:, 0].mean(0).numpy()
        elif pooling == "beat":
            sd = float(x.std())
            z = np.zeros_like(x) if sd < encoder.eps else (x - x.mean()) / (sd + encoder.eps)
            crops = beat_crops(z, pk, patch)
            if len(crops) == 0:
                continue
            pos0 = (n_times // patch) // 2 - BEAT_PRE_PATCHES
            win = np.zeros((len(crops), 1, n_times), dtype=np.float32)
            win[:, 0, pos0 * patch:pos0 * patch + crops.shape[1]] = crops
            ids = torch.arange(pos0, pos0 + BEAT_PATCHES).repeat(len(crops), 1)
            with torch.no_grad():
                tok = model.encode(torch.from_numpy(win), leads=[lead], ids_keep=ids)[:, 0, 1:]
            out[i] = tok.mean(dim=(0, 1)).numpy()
        else:
            raise ValueError(f"pooling {pooling!r} is computed elsewhere")
    return out


def top1(probe: np.ndarray, gallery: np.ndarray, probe_label: np.ndarray, gallery_label: np.ndarray,
         exclude: np.ndarray | None = None) -> np.ndarray:
    """Per-probe hit (1.0 / 0.0) of cosine 1-NN; ``exclude`` ``[P, G]`` marks candidates not allowed."""
    sim = _unit(probe) @ _unit(gallery).T
    if exclude is not None:
        sim = np.where(exclude, -np.inf, sim)
    return (np.asarray(gallery_label)[sim.argmax(1)] == np.asarray(probe_label)).astype(float)


def next5s(first: np.ndarray, second: np.ndarray) -> float:
    """First half finds its record's second half and back (1-NN top-1, averaged)."""
    lab = np.arange(len(first))
    return float(0.5 * (top1(first, second, lab, lab).mean() + top1(second, first, lab, lab).mean()))


def boot_ci(hits: np.ndarray, n_boot: int = 2000, seed: int = 0) -> list[float]:
    """95 % percentile bootstrap CI of a mean of per-probe hits."""
    rng = np.random.default_rng(seed)
    means = hits[rng.integers(0, len(hits), size=(n_boot, len(hits)))].mean(1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def score(encoder: Any, store: Any, n_boot: int) -> dict[str, dict[str, Any]]:
    """Every pooling's fold-9 numbers for one encoder (module docstring)."""
    from leadlift.conventions import SUPERCLASSES
    from leadlift.data.splits import ptbxl_folds
    from leadlift.evaluation.agreement import lead_agreement
    from leadlift.evaluation.embeddings import api_embeddings, embed_store
    from leadlift.evaluation.probes import linear_probe

    meta = store.meta
    parts = ptbxl_folds(meta["strat_fold"])
    leads = list(store.leads)
    li = leads.index("I")
    n_times = encoder.n_times
    win = embed_store(encoder, store, np.concatenate([parts["train"], parts["val"]]))
    rows = win.rows
    pos = {int(r): i for i, r in enumerate(rows)}

    def pick(rr: np.ndarray) -> np.ndarray:
        return np.asarray([pos[int(r)] for r in rr if int(r) in pos], dtype=int)

    val = pick(parts["val"])
    y_all = meta[list(SUPERCLASSES)].to_numpy(dtype=int)
    labelled = np.flatnonzero(y_all.sum(axis=1) > 0)
    tr, va = pick(np.intersect1d(parts["train"], labelled)), pick(np.intersect1d(parts["val"], labelled))
    y = y_all[rows]

    def record(r: int) -> np.ndarray:
        return np.asarray(store.signals[r, :, : int(meta["n_valid"].iloc[r])], dtype=np.float32)

    emb: dict[str, np.ndarray] = {"window": win.record}  # [R, L, D]
    emb["shifted_I"] = api_embeddings(encoder, store, rows, leads=("I",))[:, 0]
    emb["shifted_val"] = api_embeddings(encoder, store, rows[val])
    for pooling in ("rpeak", "beat"):
        emb[pooling] = np.stack([lead_embeddings(encoder, record(int(r)), leads, pooling) for r in rows])

    # identity proxies on fold 9 (lead I)
    val_rows = rows[val]
    pid = meta["patient_id"].astype(str).to_numpy()[val_rows]
    counts = {p: int((pid == p).sum()) for p in set(pid)}
    multi = np.asarray([counts[p] >= 2 for p in pid])
    exclude = np.eye(len(val_rows), dtype=bool)[multi]
    halves = [(int(r), record(int(r))[li]) for r in val_rows]
    halves = [(r, x) for r, x in halves if len(x) >= 2 * n_times]

    out: dict[str, dict[str, Any]] = {}
    for pooling in POOLINGS:
        res: dict[str, Any] = {}
        x12_val = emb["shifted_val"] if pooling == "shifted" else emb[pooling][val]
        agree = lead_agreement(x12_val, leads)
        res["retrieval"] = agree["cosine"]["mean_retrieval"]
        res["gap"] = agree["cosine"]["mean_gap"]
        x1 = emb["shifted_I"] if pooling == "shifted" else emb[pooling][:, li]
        p = linear_probe(x1[tr], y[tr], x1[va], y[va], x1[va], y[va], SUPERCLASSES, n_boot=n_boot)
        res["probe_I"], res["probe_I_ci"] = p["macro_auroc"], p["macro_ci"]
        if pooling != "shifted":
            x12 = emb[pooling].reshape(len(rows), -1)
            res["probe_12"] = linear_probe(x12[tr], y[tr], x12[va], y[va], x12[va], y[va], SUPERCLASSES,
                                           n_boot=0)["macro_auroc"]
        hits = top1(x1[val][multi], x1[val], pid[multi], pid, exclude=exclude)
        res["cross_record"], res["cross_record_ci"] = float(hits.mean()), boot_ci(hits)
        if pooling == "window":
            a = encoder.embed_windows(np.stack([x[:n_times] for _, x in halves])[:, None], ["I"])[:, 0]
            b = encoder.embed_windows(np.stack([x[n_times:2 * n_times] for _, x in halves])[:, None], ["I"])[:, 0]
            res["next5s"] = next5s(a, b)
        elif pooling == "beat":
            a = np.stack([lead_embeddings(encoder, x[None, :n_times], ["I"], "beat")[0] for _, x in halves])
            b = np.stack([lead_embeddings(encoder, x[None, n_times:2 * n_times], ["I"], "beat")[0]
                          for _, x in halves])
            res["next5s"] = next5s(a, b)
        out[pooling] = res
    out["_meta"] = {"n_val": len(val), "n_cross_record_probes": int(multi.sum()), "n_next5s": len(halves),
                    "chance_retrieval": agree["chance_retrieval"]}
    return out


def template_scores(store: Any, n_times: int) -> dict[str, Any]:
    """The median-beat template's two fold-9 identity proxies (lead I)."""
    from leadlift.data.splits import ptbxl_folds
    from leadlift.evaluation.biometrics import median_beat

    meta = store.meta
    fs = store.fs
    li = list(store.leads).index("I")
    val_rows = ptbxl_folds(meta["strat_fold"])["val"]
    sig = [np.asarray(store.signals[r, li, : int(meta["n_valid"].iloc[r])], dtype=np.float64) for r in val_rows]
    keep = [i for i, x in enumerate(sig) if len(x) >= n_times]
    sig = [sig[i] for i in keep]
    pid = meta["patient_id"].astype(str).to_numpy()[np.asarray(val_rows)[keep]]
    counts = {p: int((pid == p).sum()) for p in set(pid)}
    multi = np.asarray([counts[p] >= 2 for p in pid])
    whole = np.stack([median_beat(x, fs)[0] for x in sig])
    hits = top1(whole[multi], whole, pid[multi], pid, exclude=np.eye(len(sig), dtype=bool)[multi])
    halves = [x for x in sig if len(x) >= 2 * n_times]
    a = np.stack([median_beat(x[:n_times], fs)[0] for x in halves])
    b = np.stack([median_beat(x[n_times:2 * n_times], fs)[0] for x in halves])
    return {"cross_record": float(hits.mean()), "cross_record_ci": boot_ci(hits), "next5s": next5s(a, b)}


def _f(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}"


def markdown(res: dict[str, Any]) -> str:
    head = ("| encoder | pooling | lead-pair retrieval top-1 | same − diff cosine | lead I: next 5 s | "
            "lead I: cross-record [95 % CI] | lead-I probe AUROC [95 % CI] | 12-lead probe AUROC |")
    rows = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    meta: dict[str, Any] = {}
    for enc, by in res["encoders"].items():
        meta = by["_meta"]
        for pooling in POOLINGS:
            r = by[pooling]
            ci = r["cross_record_ci"]
            pci = r["probe_I_ci"]
            rows.append(f"| {enc} | {pooling} | {_f(r['retrieval'])} | {_f(r['gap'])} | {_f(r.get('next5s'))} | "
                        f"{_f(r['cross_record'])} [{ci[0]:.2f}, {ci[1]:.2f}] | "
                        f"{_f(r['probe_I'])} [{pci[0]:.3f}, {pci[1]:.3f}] | {_f(r.get('probe_12'))} |")
    t = res["template"]
    rows.append(f"| median-beat template (no model) | – | – | – | {_f(t['next5s'])} | {_f(t['cross_record'])} "
                f"[{t['cross_record_ci'][0]:.2f}, {t['cross_record_ci'][1]:.2f}] | – | – |")
    return "\n".join([
        "# Paper-1 embeddings: time-shifted or R-peak-aligned pooling? (PTB-XL fold 9)", "",
        f"{meta.get('n_val')} fold-9 records (chance retrieval {meta.get('chance_retrieval', float('nan')):.3f}); "
        f"next 5 s: {meta.get('n_next5s')} records; cross-record: {meta.get('n_cross_record_probes')} records of "
        "patients with ≥ 2 fold-9 records, each finds another record of its patient among all other fold-9 "
        "records. Probes trained on folds 1–8, C chosen and scored on fold 9. Poolings: `window` = the "
        "yardstick's non-overlapping windows; `shifted` = what `embed()` returns (windows every 50 ms); "
        "`rpeak` = one full window per R peak, R at the same phase of the patch grid; `beat` = the 3 patches "
        "around each R peak encoded alone (see the script's docstring). `–`: not defined for that pooling "
        "(5-s halves hold a single window) or not computed.", "", *rows, "",
        f"Command: `{res['command']}`", ""])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("LEADLIFT_DATA", "../shared/data")))
    p.add_argument("--checkpoint", type=Path, required=True, help="a paper-1 checkpoint folder (per-lead bank)")
    p.add_argument("--name", default="trained", help="label of the checkpoint in the tables")
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--out", type=Path, required=True, help="output path without suffix (.json and .md)")
    args = p.parse_args(argv)
    import torch

    from leadlift.data.store import prepare
    from leadlift.evaluation.embeddings import load_encoder, random_encoder

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    enc = load_encoder(args.checkpoint, name=args.name)
    if not enc.per_lead:
        raise SystemExit(f"{args.checkpoint} is not a per-lead bank; the poolings here embed one lead at a time")
    store = prepare("ptbxl", enc.fs, args.data_dir, progress=False)
    res: dict[str, Any] = {"command": shlex.join(["python", "benchmarks/paper1_pooling.py", *(argv or sys.argv[1:])]),
                           "encoders": {}}
    for name, e in ((args.name, enc), ("random init", random_encoder(enc.config))):
        res["encoders"][name] = score(e, store, args.n_boot)
        print(name, json.dumps({k: v for k, v in res["encoders"][name].items()}, default=float), flush=True)
    res["template"] = template_scores(store, enc.n_times)
    from paper1 import write_outputs  # same folder (benchmarks/)

    write_outputs(args.out, res, markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
