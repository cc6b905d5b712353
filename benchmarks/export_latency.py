"""On-device export (`leadlift export`): size, single-core latency and parity of the ONNX graphs.

For each bundled model (and recon-i fed at 500 Hz, resampling inside the graph), three ways to turn a
10-s strip of raw mV into the 12-lead reconstruction in mV:

* ``torch``: the Python path (``LeadLift.reconstruct``: SciPy/NumPy preprocessing + the torch network);
  size = the checkpoint's ``model.safetensors`` (the preprocessing is Python code, not counted);
* ``onnx-fp32``: the exported graph (preprocessing, network, stitching and calibration inside), run with
  onnxruntime;
* ``onnx-int8``: the same with the network's MatMul/Gemm/Conv weights dynamically quantised to int8.

Latency: one strip ``[1, n_leads, n]``, one thread (``torch.set_num_threads(1)``, onnxruntime
``intra_op_num_threads=1``), median and 90th percentile of ``--repeats`` calls after ``--warmup``.
Parity: max and mean |Δ| (mV) against the torch path over every lead and sample of ``--records`` real
PTB-XL records of the test fold (strat_fold 10), the same inputs for all three.

Usage::

    python benchmarks/export_latency.py [--data-dir DATA] [--records 100]

Writes ``benchmarks/results/export_latency.json`` and ``.md``. The machine's load average is recorded:
its 2 cores are shared with other processes, which slow every latency.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from leadlift.api import LeadLift
from leadlift.ecg import ECG
from leadlift.inference.export import export_onnx, onnx_session, run_onnx
from leadlift.inference.pipeline import reconstruct_records
from leadlift.io import read_ecg
from leadlift.paths import resolve_data_dir

RESULTS = Path(__file__).resolve().parent / "results"

CASES: list[dict[str, Any]] = [
    {"model": "recon-i", "leads": ("I",), "fs_in": 100},
    {"model": "recon-i-ii-v2", "leads": ("I", "II", "V2"), "fs_in": 100},
    {"model": "mae-cpu", "leads": ("I",), "fs_in": 100},
    {"model": "recon-i", "leads": ("I",), "fs_in": 500},
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data-dir", default=None, help="data directory (default: $LEADLIFT_DATA rule)")
    p.add_argument("--records", type=int, default=100, help="PTB-XL test-fold records for the parity errors")
    p.add_argument("--repeats", type=int, default=50, help="timed calls per latency measure")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls first")
    p.add_argument("--out", default=str(RESULTS / "export_latency.json"), help="JSON output")
    return p.parse_args(argv)


def _latency(fn: Callable[[], Any], repeats: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median": round(statistics.median(times), 3), "p90": round(float(np.percentile(times, 90)), 3)}


def _records(data_dir: Path, n: int, fs: int) -> list[ECG]:
    """The first ``n`` PTB-XL records of strat_fold 10 present at ``fs`` (100 or 500 Hz), 10 s each (the data
    folder may hold a part of PTB-XL: records absent at that rate are skipped)."""
    meta = pd.read_csv(data_dir / "ptb-xl" / "ptbxl_database.csv", index_col="ecg_id")
    col = "filename_lr" if fs == 100 else "filename_hr"
    heads = [data_dir / "ptb-xl" / f"{p}.hea" for p in meta[meta["strat_fold"] == 10][col]]
    return [read_ecg(h) for h in heads if h.is_file()][:n]


def _errors(got: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    return {"max_abs_mv": float(f"{d.max():.3g}"), "mean_abs_mv": float(f"{d.mean():.3g}"),
            "rmse_mv": float(f"{np.sqrt((d ** 2).mean()):.3g}")}


def run_case(case: dict[str, Any], data_dir: Path, records: dict[int, list[ECG]], args: argparse.Namespace,
             folder: Path) -> list[dict[str, Any]]:
    name, leads, fs_in = case["model"], case["leads"], case["fs_in"]
    lift = LeadLift.from_pretrained(name)
    backend = lift.backend
    ecgs = [e.select(list(leads)) for e in records[fs_in]]
    x = np.stack([e.signal for e in ecgs]).astype(np.float32)  # [N, L, n] mV
    ref = np.stack([r.signal for r in reconstruct_records(backend, ecgs, backend.hop, explicit=True,
                                                          refuse_flat=False)])
    one = ecgs[0]
    rows = []
    torch.set_num_threads(1)
    lat = _latency(lambda: lift.reconstruct(one), args.repeats, args.warmup)
    rows.append({"variant": "torch", "size_bytes": (lift.path / "model.safetensors").stat().st_size,
                 "latency_ms": lat, "parity": {"max_abs_mv": 0.0, "mean_abs_mv": 0.0, "rmse_mv": 0.0},
                 "export_s": None})
    for q in (None, "int8"):
        path = folder / f"{name}-{fs_in}-{q or 'fp32'}.onnx"
        t0 = time.perf_counter()
        rep = export_onnx(name, path, fs_in=fs_in, duration_s=10.0, leads=leads, quantize=q, check=False)
        export_s = round(time.perf_counter() - t0, 2)
        sess = onnx_session(path, threads=1)
        got = np.concatenate([run_onnx(sess, x[s:s + 25]) for s in range(0, len(x), 25)])
        strip = x[:1]
        rows.append({"variant": f"onnx-{q or 'fp32'}", "size_bytes": rep.size_bytes,
                     "latency_ms": _latency(lambda s=sess, v=strip: run_onnx(s, v), args.repeats, args.warmup),
                     "parity": _errors(got, ref), "export_s": export_s})
    for r in rows:
        r.update({"model": name, "leads": ",".join(leads), "fs_in": fs_in, "n_samples": int(x.shape[-1]),
                  "model_fs": backend.fs, "parity_records": len(ecgs)})
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = resolve_data_dir(args.data_dir)
    rates = sorted({c["fs_in"] for c in CASES})
    records = {fs: _records(data_dir, args.records, fs) for fs in rates}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            rows.extend(run_case(case, data_dir, records, args, Path(tmp)))
            print(f"done {case['model']} @ {case['fs_in']} Hz", file=sys.stderr)
    import onnxruntime

    command = shlex.join(["python", "benchmarks/export_latency.py", *sys.argv[1:]])
    return {
        "rows": rows,
        "records": f"the first {args.records} PTB-XL records of strat_fold 10 (test fold) present in the data folder "
                   f"at the input rate ({', '.join(f'{len(v)} at {k} Hz' for k, v in records.items())}), 10 s each",
        "latency_input": "the first of those records, one strip [1, n_leads, n], one thread",
        "repeats": args.repeats,
        "int8": "onnxruntime.quantization.quantize_dynamic, QInt8 weights of the network's MatMul/Gemm/Conv; "
                "preprocessing, stitching and calibration float32",
        "command": command,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared with other "
                   f"processes), Python {platform.python_version()}, torch {torch.__version__}, "
                   f"onnxruntime {onnxruntime.__version__}",
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "# On-device export: size, single-core latency and parity (`leadlift export`)",
        "",
        f"{res['machine']}; load average {res['load_average_1min_at_end']} at the end. The machine has 2 cores, "
        "possibly busy with other people's jobs: latencies are upper bounds, compare rows of one run.",
        "",
        f"Parity: {res['records']}; |Δ| against the torch path over all 12 leads and every sample (mV). "
        f"Latency: {res['latency_input']}, median (p90) of {res['repeats']} calls. int8: {res['int8']}.",
        "",
        "| model | input | variant | size on disk | latency, 1 thread | max \\|Δ\\| vs torch | mean \\|Δ\\| | RMSE |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in res["rows"]:
        p = r["parity"]
        lines.append(
            f"| {r['model']} | {r['leads']} @ {r['fs_in']:g} Hz, [1, {len(r['leads'].split(','))}, {r['n_samples']}] "
            f"| {r['variant']} | {r['size_bytes'] / 1e6:.2f} MB "
            f"| {r['latency_ms']['median']:.2f} ms ({r['latency_ms']['p90']:.2f}) "
            f"| {p['max_abs_mv']:.2g} mV | {p['mean_abs_mv']:.2g} mV | {p['rmse_mv']:.2g} mV |")
    lines += [
        "",
        "torch size: the checkpoint's `model.safetensors` (weights only; its preprocessing is Python code). "
        "ONNX sizes: the whole graph, preprocessing constants included.",
        "",
        f"Command: `{res['command']}` ({res['date']})",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    res = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
