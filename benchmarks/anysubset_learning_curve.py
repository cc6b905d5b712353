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

``--train-seeds`` trains every fraction once per seed (the config's ``seed`` replaced; the record
draw stays the same), so the spread between seeds shows how much of a step is noise.
``--reuse F=CHECKPOINT`` scores an existing checkpoint trained with this configuration and its own
seed on fraction F (1.0: the shipped model) instead of training it again. Each run's scores are
cached in ``--work-dir`` (``fraction_F_seed_S.json``), so a killed run resumes with the next one.
Writes ``benchmarks/results/anysubset_learning_curve.{json,md}``. The line is a description of a
few points; the extrapolation in the Markdown is labelled as such.
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
from anysubset_selection import fir_prior, fold9_windows, parse_named, score
from leadlift.atomic import atomic_path
from leadlift.models.anysubset import CORE_SUBSETS

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


def summarise(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per fraction: records, windows, seeds and the mean / min / max ratio over its runs
    (the FIR is the same for every seed of a fraction)."""
    rows = []
    for f in sorted({q["fraction"] for q in points}):
        runs = [q for q in points if q["fraction"] == f]
        ratios = {s: [q["ratio_to_fir"][s] for q in runs] for s in CORE_SUBSETS}
        rows.append({"fraction": f, "n_records": runs[0]["n_records"], "n_windows": runs[0]["n_windows"],
                     "n_seeds": len(runs), "fir_rmse": runs[0]["fir_rmse"],
                     "ratio_mean": {s: round(float(np.mean(v)), 4) for s, v in ratios.items()},
                     "ratio_min": {s: min(v) for s, v in ratios.items()},
                     "ratio_max": {s: max(v) for s, v in ratios.items()}})
    return rows


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
    p.add_argument("--train-seeds", type=int, nargs="+", default=None,
                   help="training seeds (default: the config's own)")
    p.add_argument("--work-dir", type=Path, default=Path("runs/anysubset_curve"))
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    reuse = {}
    for f, path in parse_named(args.reuse, "1.0=src/leadlift/weights/recon-any"):
        try:
            reuse[float(f)] = path
        except ValueError:
            raise SystemExit(f"error: --reuse {f}={path}: {f!r} is not a fraction; write it like "
                             "1.0=src/leadlift/weights/recon-any") from None
    from leadlift.api import LeadLift
    from leadlift.recon_config import load_recon_config
    from leadlift.training.anysubset import fit_anysubset_net

    torch.set_num_threads(args.threads)
    cfg = load_recon_config(args.config)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    ctx, train, val, x = fold9_windows(cfg, args.data_dir, args.work_dir / "work")
    half_taps = round(cfg.anysubset.prior_half_taps_s * cfg.data.fs)

    def fir_on(index: Any) -> dict[str, float]:
        return score(fir_prior(ctx.records, index, cfg.data.window, half_taps, cfg.anysubset.prior_ridge), x)

    fir_full = fir_on(train)
    chosen = fraction_rows(train.rows, sorted(args.fractions), args.seed)
    seeds = args.train_seeds or [cfg.seed]
    points = []
    for f, rows in chosen.items():
        for seed in seeds:
            cache = args.work_dir / f"fraction_{f:g}_seed_{seed}.json"
            if cache.exists():
                points.append(json.loads(cache.read_text()))
                print(f"fraction {f:g}, seed {seed}: cached ({cache})", flush=True)
                continue
            sub = train.subset(np.isin(train.rows, rows))
            t0 = time.perf_counter()
            if f in reuse and seed == cfg.seed:
                net = LeadLift.from_pretrained(reuse[f]).backend.net
                how = f"reused {reuse[f]}"
            else:
                net, _ = fit_anysubset_net(cfg.model_copy(update={"seed": seed}), ctx.records, sub, val, ctx.labels,
                                           ctx.keys, args.work_dir / "work" / f"f{f:g}_s{seed}")
                how = "trained here"
            seconds = round(time.perf_counter() - t0, 1)
            fir = fir_on(sub)
            with torch.no_grad():
                rmse = score(lambda xx, mm, n=net: n(xx, mm)[0], x)
            point = {"fraction": f, "train_seed": seed, "n_records": len(rows), "n_windows": len(sub), "how": how,
                     "seconds": seconds, "rmse": rmse, "fir_rmse": fir,
                     "ratio_to_fir": {s: round(rmse[s] / fir[s], 4) for s in CORE_SUBSETS},
                     "ratio_to_full_fir": {s: round(rmse[s] / fir_full[s], 4) for s in CORE_SUBSETS}}
            _write(cache, json.dumps(point, indent=1) + "\n")
            points.append(point)
            print(f"fraction {f:g}, seed {seed} ({len(rows)} records, {how}, {seconds} s): " + ", ".join(
                f"{s} {point['ratio_to_fir'][s]:.3f}" for s in CORE_SUBSETS), flush=True)
    points.sort(key=lambda q: (q["n_records"], q["train_seed"]))
    by_fraction = summarise(points)
    n = [q["n_records"] for q in points]
    trends = ({s: trend(n, [q["ratio_to_fir"][s] for q in points]) for s in CORE_SUBSETS}
              if len(by_fraction) > 1 else {})
    command = (f"python benchmarks/anysubset_learning_curve.py --data-dir {args.data_dir} --fractions "
               + " ".join(f"{f:g}" for f in sorted(args.fractions))
               + (" --train-seeds " + " ".join(map(str, seeds)) if args.train_seeds else "")
               + "".join(f" --reuse {k:g}={v}" for k, v in reuse.items()))
    res = {"command": command, "config": args.config, "seed": args.seed, "train_seeds": seeds,
           "n_val_windows": len(val), "fir_full_rmse": fir_full, "points": points, "by_fraction": by_fraction,
           "trend": trends, "full_ptbxl_train_records": FULL_PTBXL_TRAIN_RECORDS}
    lines = ["# Any-subset reconstructor: learning curve (PTB-XL fold 9)", "",
             f"Command: `{command}`. The `{args.config}` configuration trained on nested, seeded fractions of the "
             f"training records (folds 1–8), {len(seeds)} training seed(s) per fraction; scored on {len(val)} "
             "fold-9 windows (fold 10 is not read). Cells: RMSE over the learned basis leads (mV) ÷ the same-run "
             "FIR least squares (the any-subset Wiener prior fitted on the same records); with several seeds, "
             "the mean and the range over seeds.", "",
             "| records | windows | " + " | ".join(CORE_SUBSETS) + " |", "|---:|---:|" + "---:|" * len(CORE_SUBSETS)]
    for q in by_fraction:
        cells = [f"{q['ratio_mean'][s]:.3f}" + (f" ({q['ratio_min'][s]:.3f}–{q['ratio_max'][s]:.3f})"
                                                if q["n_seeds"] > 1 else "") for s in CORE_SUBSETS]
        lines.append(f"| {q['n_records']} | {q['n_windows']} | " + " | ".join(cells) + " |")
    lines += ["", "Same-run FIR least squares RMSE (mV) by training records:", "",
              "| records | " + " | ".join(CORE_SUBSETS) + " |", "|---:|" + "---:|" * len(CORE_SUBSETS)]
    lines += [f"| {q['n_records']} | " + " | ".join(f"{q['fir_rmse'][s]:.4f}" for s in CORE_SUBSETS) + " |"
              for q in by_fraction]
    if trends:
        last = by_fraction[-1]
        lines += ["", f"Line through the ratios of all {len(points)} runs, ratio = a + b·log2(records) (a "
                  "description, not a prediction; the last column extrapolates it, for scale only, beyond the "
                  f"{max(n)} records measured; the full PTB-XL has {FULL_PTBXL_RECORDS:,} records, about "
                  f"{FULL_PTBXL_TRAIN_RECORDS:,} of them in folds 1–8):", "",
                  "| inputs | b (per doubling) | mean ratio at the largest point | records where the line "
                  "reaches 0.90 |",
                  "|---|---:|---:|---:|"]
        for s in CORE_SUBSETS:
            t = trends[s]
            at = t.get("records_at_0.90")
            where = "– (not falling)" if at is None else (f"already below ({last['ratio_mean'][s]:.3f})"
                                                          if last["ratio_mean"][s] <= 0.90 else f"{at:,.0f}")
            lines.append(f"| {s} | {t['slope_per_doubling']:+.4f} | {last['ratio_mean'][s]:.3f} | {where} |")
    _write(args.out.with_suffix(".json"), json.dumps(res, indent=1) + "\n")
    _write(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
