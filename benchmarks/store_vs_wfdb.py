"""One pass over the prepared store vs one pass of ``wfdb.rdsamp`` over the same records.

Both passes read every record of the dataset at its stored rate (PTB-XL at 100 Hz needs no
resampling, so the two sides return the same numbers) and are repeated ``--repeats`` times;
the median is reported. The file cache is warm for both (each side runs once untimed first), so
the ratio measures parsing/decoding cost, not the disk.

Writes ``benchmarks/results/store_vs_wfdb.json`` and ``.md``.

    python benchmarks/store_vs_wfdb.py --dataset ptbxl --fs 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import wfdb
from torch.utils.data import DataLoader

from leadlift.data.datasets import CropDataset
from leadlift.data.store import prepare
from leadlift.paths import resolve_data_dir

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="ptbxl")
    ap.add_argument("--fs", type=float, default=100.0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS / "store_vs_wfdb.json")
    args = ap.parse_args()

    data_dir = resolve_data_dir(args.data_dir)
    t0 = time.perf_counter()
    store = prepare(args.dataset, args.fs, data_dir, progress=False)
    prepare_s = time.perf_counter() - t0
    root = Path(store.manifest["source"])
    paths = [str(root / p) for p in store.meta["path"]]
    n = len(paths)

    def wfdb_pass() -> float:
        total = 0.0
        for p in paths:
            sig, _ = wfdb.rdsamp(p)
            total += float(sig[0, 0])
        return total

    def store_pass() -> float:
        total = 0.0
        for i in range(n):
            total += float(np.asarray(store.signals[i])[0, 0])
        return total

    loader = DataLoader(CropDataset(store, mode="start"), batch_size=64, num_workers=0)

    def dataset_pass() -> float:
        total = 0.0
        for batch in loader:
            total += float(batch["signal"][:, 0, 0].sum())
        return total

    timings: dict[str, list[float]] = {}
    for name, fn in (("wfdb_rdsamp", wfdb_pass), ("store", store_pass), ("store_dataloader", dataset_pass)):
        fn()  # warm-up (file cache, lazy imports)
        runs = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t)
        timings[name] = runs
    med = {k: statistics.median(v) for k, v in timings.items()}
    result = {
        "benchmark": "store_vs_wfdb",
        "dataset": store.dataset,
        "fs": store.fs,
        "n_records": n,
        "record_shape": list(store.signals.shape[1:]),
        "seconds_per_pass": med,
        "records_per_s": {k: n / v for k, v in med.items()},
        "speedup": med["wfdb_rdsamp"] / med["store"],
        "speedup_dataloader": med["wfdb_rdsamp"] / med["store_dataloader"],
        "repeats": args.repeats,
        "runs": timings,
        "prepare_seconds_this_run": prepare_s,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "torch": torch.__version__, "wfdb": wfdb.__version__},
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    md = [
        f"# Prepared store vs wfdb.rdsamp ({store.dataset}, {n} records, {store.fs:g} Hz)",
        "",
        f"Command: `{result['command']}` (median of {args.repeats} warm passes)",
        "",
        "| reader | s per pass | records/s | speedup vs wfdb |",
        "|---|---:|---:|---:|",
    ]
    for k in ("wfdb_rdsamp", "store", "store_dataloader"):
        md.append(f"| {k} | {med[k]:.3f} | {n / med[k]:.0f} | {med['wfdb_rdsamp'] / med[k]:.1f}x |")
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
