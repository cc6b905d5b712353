"""Fold-9 validation curves of paper-1 pretraining runs, side by side (read from their CSV logs).

``leadlift pretrain`` logs the validation terms every epoch (``logs/csv/metrics.csv``): the
cross-lead, cross-crop InfoNCE (``val/nce``, chance = log(batch size)), the spread of the unit
embeddings (``val/emb_std``, → 0 when they collapse), cross-lead decoding (``val/cross``) and the
triplet on unmasked tokens (``val/triplet_mask0``). This tabulates them for several runs at the same
epochs, so a design change can be judged on the validation fold while (or without) training to
the end::

    python benchmarks/paper1_curves.py default=runs/paper1/default q1024=runs/exp/q1024 \\
        --epochs 1 3 5 9 13 --out benchmarks/results/paper1_queue
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import pandas as pd

TERMS = ("val/nce", "val/emb_std", "val/cross", "val/triplet_mask0")


def curves(folder: Path) -> pd.DataFrame:
    """Per-epoch validation terms of one run (``[epochs, TERMS]``, indexed by epoch)."""
    path = folder / "logs" / "csv" / "metrics.csv"
    if not path.exists():
        raise SystemExit(f"{folder}: no {path.relative_to(folder)}; pass a folder written by leadlift pretrain")
    log = pd.read_csv(path)
    have = [t for t in TERMS if t in log.columns]
    val = log.dropna(subset=[have[0]]).groupby("epoch")[have].last()
    return val


def table(runs: dict[str, pd.DataFrame], epochs: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, df in runs.items():
        out[name] = {int(e): {t: float(df.loc[e, t]) for t in df.columns} for e in epochs if e in df.index}
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = ["# Paper-1 pretraining: fold-9 validation terms at equal epochs", "",
             "| run | epoch | InfoNCE (`val/nce`) | embedding spread (`val/emb_std`) | cross-lead decoding "
             "(`val/cross`) | triplet on unmasked tokens |", "|---|---:|---:|---:|---:|---:|"]
    for name, per_epoch in res["runs"].items():
        for e, v in per_epoch.items():
            lines.append(f"| {name} | {e} | {v.get('val/nce', float('nan')):.3f} | "
                         f"{v.get('val/emb_std', float('nan')):.4f} | {v.get('val/cross', float('nan')):.3f} | "
                         f"{v.get('val/triplet_mask0', float('nan')):.3f} |")
    lines += ["", f"Chance InfoNCE (in-batch negatives, batches of {res['batch_size']}): {res['chance_nce']:.3f}.", "",
              f"Command: `{res['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="NAME=FOLDER")
    p.add_argument("--epochs", type=int, nargs="+", default=[1, 3, 5, 9, 13])
    p.add_argument("--out", type=Path, required=True, help="output path without suffix (.json and .md)")
    args = p.parse_args(argv)
    from cli_args import parse_named  # same folder (benchmarks/)

    named = parse_named(args.runs, "default=runs/paper1/default")
    runs = {name: curves(Path(folder)) for name, folder in named}
    import math

    import yaml

    first = Path(named[0][1]) / "config.yaml"
    batch = int(((yaml.safe_load(first.read_text()) or {}).get("training") or {}).get("data", {}).get("batch_size", 32))
    res = {"command": shlex.join(["python", "benchmarks/paper1_curves.py", *(argv or sys.argv[1:])]),
           "batch_size": batch, "chance_nce": math.log(batch), "runs": table(runs, args.epochs)}
    from paper1 import write_outputs  # same folder (benchmarks/)

    write_outputs(args.out, res, markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
