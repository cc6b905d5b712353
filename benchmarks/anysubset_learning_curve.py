"""Learning curve of the any-subset reconstructor: how its gain over FIR least squares grows with data.

The shipped configuration (``recon-anysubset``) is trained unchanged on nested, seeded fractions of
the PTB-XL training records (folds 1–8 of the shared subset) and scored on the fold-9 windows the
training validates on (fold 10 is never read). For every fraction the same-run classical baseline
is the model's own Wiener prior (FIR least squares for any subset, fitted on that fraction's
windows, the filter length of the config), and the FIR fitted on all training records is scored as
a fixed reference. Reported per core input subset: RMSE over the learned basis leads (mV), the
ratio to the same-run FIR, and a least-squares line of that ratio against log2(training records).

    python benchmarks/anysubset_learning_curve.py --data-dir ../shared/data \\
        --fractions 0.125 0.25 0.5 1.0 --reuse 1.0=src/leadlift/weights/recon-any

``--reuse F=CHECKPOINT`` scores an existing checkpoint trained with this configuration on fraction
F (1.0: the shipped model) instead of training it again. Each fraction's scores are cached in
``--work-dir`` (``fraction_F.json``), so a killed run resumes with the next fraction. Writes
``benchmarks/results/anysubset_learning_curve.{json,md}``. The line is a description of four
points, one training seed each; the extrapolation in the Markdown is labelled as such.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anysubset_selection import score
from leadlift.atomic import atomic_path
from leadlift.data.windows import gather_windows
from leadlift.models.anysubset import CORE_SUBSETS, WienerPrior

OUT = Path(__file__).resolve().parent / "results" / "anysubset_learning_curve"

#: Records of the full PTB-XL 1.0.3 (Wagner et al. 2020); the shared data holds about 2,000 of them.
FULL_PTBXL_RECORDS = 21_799
#: About eight of its ten stratified folds are training folds (1–8): roughly this many records.
FULL_PTBXL_TRAIN_RECORDS = round(0.8 * FULL_PTBXL_RECORDS)


def _write(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def fraction_rows(rows: np.ndarray, fractions: list[float], seed: int) -> dict[float, np.ndarray]:
    """Nested record sets: one seeded permutation of the unique training rows, cut at each fraction."""
    uniq = np.unique(rows)
    perm = np.random.default_rng(seed).permutation(uniq)
    return {f: np.sort(perm[:max(1, round(f * len(uniq)))]) for f in fractions}


def trend(n_records: list[int], ratios: list[float]) -> dict[str, float]:
    """Least-squares line ``ratio = a + b·log2(n)``: slope per doubling ``b`` and, when ``b < 0``, the
    number of records at which the line reaches 0.90 (an extrapolation)."""
    x = np.log2(np.asarray(n_records, dtype=float))
    b, a = np.polyfit(x, np.asarray(ratios, dtype=float), 1)
    out = {"slope_per_doubling": round(float(b), 4), "intercept": round(float(a), 4)}
    if b < 0:
        out["records_at_0.90"] = float(2 ** ((0.90 - a) / b))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    p.add_argument("--config", default="recon-anysubset")
    p.add_argument("--fractions", type=float, nargs="+", default=[0.125, 0.25, 0.5, 1.0])
    p.add_argument("--reuse", action="append", default=[], metavar="F=CHECKPOINT")
    p.add_argument("--seed", type=int, default=0, help="seed of the record draw")
    p.add_argument("--work-dir", type=Path, default=Path("runs/anysubset_curve"))
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    from leadlift.api import LeadLift
    from leadlift.recon_config import load_recon_config
    from leadlift.training.anysubset import fit_anysubset_net
    from leadlift.training.recon import setup, windows_with_qc

    torch.set_num_threads(args.threads)
    reuse = {float(k): v for k, v in (item.split("=", 1) for item in args.reuse)}
    cfg = load_recon_config(args.config)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    ctx, store, parts = setup(cfg, args.data_dir, None, args.work_dir / "work", False, lambda s: None)
    idx, _, _ = windows_with_qc(ctx, store.meta["n_valid"].to_numpy(), {k: parts[k] for k in ("train", "val")},
                                fit_on=("train", "val"))
    train = idx["train"]
    val = idx["val"].subset((idx["val"].starts % cfg.train.val_hop) == 0)
    x = gather_windows(ctx.records, val, cfg.data.window)
    half_taps = round(cfg.anysubset.prior_half_taps_s * cfg.data.fs)

    def fir_on(index: Any) -> dict[str, float]:
        prior = WienerPrior(half_taps, cfg.anysubset.prior_ridge).fit(
            gather_windows(ctx.records, index.subset(slice(s, s + 2048)), cfg.data.window)
            for s in range(0, len(index), 2048))
        return score(prior, x)

    fir_full = fir_on(train)
    chosen = fraction_rows(train.rows, sorted(args.fractions), args.seed)
    points = []
    for f, rows in chosen.items():
        cache = args.work_dir / f"fraction_{f:g}.json"
        if cache.exists():
            points.append(json.loads(cache.read_text()))
            print(f"fraction {f:g}: cached ({cache})", flush=True)
            continue
        sub = train.subset(np.isin(train.rows, rows))
        t0 = time.perf_counter()
        if f in reuse:
            net = LeadLift.from_pretrained(reuse[f]).backend.net
            how = f"reused {reuse[f]}"
        else:
            net, _ = fit_anysubset_net(cfg, ctx.records, sub, val, ctx.labels, ctx.keys,
                                       args.work_dir / "work" / f"f{f:g}")
            how = "trained here"
        seconds = round(time.perf_counter() - t0, 1)
        fir = fir_on(sub)
        with torch.no_grad():
            rmse = score(lambda xx, mm, n=net: n(xx, mm)[0], x)
        point = {"fraction": f, "n_records": len(rows), "n_windows": len(sub), "how": how, "seconds": seconds,
                 "rmse": rmse, "fir_rmse": fir, "ratio_to_fir": {s: round(rmse[s] / fir[s], 4) for s in CORE_SUBSETS},
                 "ratio_to_full_fir": {s: round(rmse[s] / fir_full[s], 4) for s in CORE_SUBSETS}}
        _write(cache, json.dumps(point, indent=1) + "\n")
        points.append(point)
        print(f"fraction {f:g} ({len(rows)} records, {how}, {seconds} s): " + ", ".join(
            f"{s} {point['ratio_to_fir'][s]:.3f}" for s in CORE_SUBSETS), flush=True)
    points.sort(key=lambda q: q["n_records"])
    n = [q["n_records"] for q in points]
    trends = {s: trend(n, [q["ratio_to_fir"][s] for q in points]) for s in CORE_SUBSETS} if len(points) > 1 else {}
    command = ("python benchmarks/anysubset_learning_curve.py --data-dir ../shared/data --fractions "
               + " ".join(f"{f:g}" for f in sorted(args.fractions))
               + "".join(f" --reuse {k:g}={v}" for k, v in reuse.items()))
    res = {"command": command, "config": args.config, "seed": args.seed, "n_val_windows": len(val),
           "fir_full_rmse": fir_full, "points": points, "trend": trends,
           "full_ptbxl_train_records": FULL_PTBXL_TRAIN_RECORDS}
    lines = ["# Any-subset reconstructor: learning curve (PTB-XL fold 9)", "",
             f"Command: `{command}`. The `{args.config}` configuration trained on nested, seeded fractions of the "
             f"training records (folds 1–8), one seed per point; scored on {len(val)} fold-9 windows (fold 10 is "
             "not read). Cells: RMSE over the learned basis leads (mV) ÷ the same-run FIR least squares (the "
             "any-subset Wiener prior fitted on the same records).", "",
             "| records | windows | " + " | ".join(CORE_SUBSETS) + " |", "|---:|---:|" + "---:|" * len(CORE_SUBSETS)]
    for q in points:
        lines.append(f"| {q['n_records']} | {q['n_windows']} | "
                     + " | ".join(f"{q['rmse'][s]:.4f} ({q['ratio_to_fir'][s]:.3f})" for s in CORE_SUBSETS) + " |")
    lines += ["", "Same-run FIR least squares RMSE (mV) by training records:", "",
              "| records | " + " | ".join(CORE_SUBSETS) + " |", "|---:|" + "---:|" * len(CORE_SUBSETS)]
    lines += [f"| {q['n_records']} | " + " | ".join(f"{q['fir_rmse'][s]:.4f}" for s in CORE_SUBSETS) + " |"
              for q in points]
    if trends:
        lines += ["", "Line through the ratios, ratio = a + b·log2(records) (four points, one seed each: a "
                  "description, not a prediction; the last column extrapolates it, for scale only, beyond the "
                  f"{max(n)} records measured; the full PTB-XL has {FULL_PTBXL_RECORDS:,} records, about "
                  f"{FULL_PTBXL_TRAIN_RECORDS:,} of them in folds 1–8):", "",
                  "| inputs | b (per doubling) | ratio at the largest point | records where the line reaches 0.90 |",
                  "|---|---:|---:|---:|"]
        for s in CORE_SUBSETS:
            t = trends[s]
            at = t.get("records_at_0.90")
            where = "– (not falling)" if at is None else (f"already below ({points[-1]['ratio_to_fir'][s]:.3f})"
                                                          if points[-1]["ratio_to_fir"][s] <= 0.90 else f"{at:,.0f}")
            lines.append(f"| {s} | {t['slope_per_doubling']:+.4f} | {points[-1]['ratio_to_fir'][s]:.3f} | {where} |")
    _write(args.out.with_suffix(".json"), json.dumps(res, indent=1) + "\n")
    _write(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
