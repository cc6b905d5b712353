"""Inference latency and throughput of the Python API (`LeadLift.embed` / `LeadLift.reconstruct`).

What is timed is what a user calls, end to end on an in-memory recording: resampling to the
model rate and back, windowing, z-scoring, the model, calibration, overlap-add.

* latency, one thread (``torch.set_num_threads(1)``): ``embed`` of one 10-s lead I and
  ``reconstruct`` of the 12 leads from one 10-s lead I, on a real recording at its own rate
  (ECG-ID Person_01/rec_1 at 500 Hz by default; also reported at the model's rate); median and
  90th percentile over ``--repeats`` calls after ``--warmup`` calls;
* throughput, two threads (and one, for reference): ``embed_batch`` / ``reconstruct_batch`` on
  ``--batch`` different 10-s lead-I recordings (PTB-XL records at 500 Hz), ECGs per second (best
  of ``--rounds``). Two torch threads on a machine whose 2 cores are busy with other processes
  can be much slower than one: compare with the load average in the results.

Usage::

    python benchmarks/inference_latency.py --model mae-cpu [--data-dir DATA]

Writes ``benchmarks/results/inference_latency.json`` and ``.md``. The machine's load average is
recorded too: other processes on the 2 cores slow every number (on a shared machine, run it with
``nice -n -10`` as root to measure the model rather than the neighbours; the niceness is recorded).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from leadlift.api import LeadLift
from leadlift.ecg import ECG
from leadlift.io import read_ecg
from leadlift.paths import resolve_data_dir
from leadlift.preprocessing import resample

RESULTS = Path(__file__).resolve().parent / "results"
GOALS_MS = {"embed_ms": 5.0, "reconstruct_ms": 20.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="mae-cpu", help="bundled name, checkpoint folder or org/name")
    p.add_argument("--data-dir", default=None, help="data directory (default: $LEADLIFT_DATA rule)")
    p.add_argument("--record", default="ecgiddb/Person_01/rec_1", help="lead-I WFDB record under DATA")
    p.add_argument("--repeats", type=int, default=50, help="timed calls per latency measure")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls first")
    p.add_argument("--batch", type=int, default=64, help="recordings per throughput batch")
    p.add_argument("--rounds", type=int, default=3, help="throughput rounds (best is reported)")
    p.add_argument("--out", default=str(RESULTS / "inference_latency.json"), help="JSON output")
    return p.parse_args(argv)


def _latency(fn: Callable[[], Any], repeats: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median": statistics.median(times), "p90": float(np.percentile(times, 90)), "min": min(times)}


def _throughput(fn: Callable[[], Any], n: int, rounds: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def _batch_inputs(data_dir: Path, n: int) -> list[ECG]:
    """Lead I of the first ``n`` PTB-XL records at 500 Hz (10 s each)."""
    folder = data_dir / "ptb-xl" / "records500"
    heads = sorted(folder.glob("*/*_hr.hea"))[:n]
    if len(heads) < n:
        raise SystemExit(f"need {n} PTB-XL 500 Hz records under {folder}, found {len(heads)}")
    return [read_ecg(h, leads="I") for h in heads]


def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = resolve_data_dir(args.data_dir)
    model = LeadLift.from_pretrained(args.model)
    rec = read_ecg(data_dir / f"{args.record}.hea", leads="I")
    ten = ECG(rec.signal[:, : int(10 * rec.fs)], rec.fs, rec.leads, record_id=rec.record_id, check_units=False)
    at_model = ECG(resample(ten.signal, ten.fs, model.fs), model.fs, ten.leads, check_units=False)
    batch = _batch_inputs(data_dir, args.batch)

    torch.set_num_threads(1)
    lat = {
        "embed": _latency(lambda: model.embed(ten), args.repeats, args.warmup),
        "reconstruct": _latency(lambda: model.reconstruct(ten), args.repeats, args.warmup),
        "embed_model_fs": _latency(lambda: model.embed(at_model), args.repeats, args.warmup),
        "reconstruct_model_fs": _latency(lambda: model.reconstruct(at_model), args.repeats, args.warmup),
    }
    thr_embed_1 = _throughput(lambda: model.embed_batch(batch), len(batch), args.rounds)
    thr_recon_1 = _throughput(lambda: model.reconstruct_batch(batch), len(batch), args.rounds)
    torch.set_num_threads(2)
    thr_embed = _throughput(lambda: model.embed_batch(batch), len(batch), args.rounds)
    thr_recon = _throughput(lambda: model.reconstruct_batch(batch), len(batch), args.rounds)
    n_params = sum(p.numel() for p in model._backend.model.parameters()) if hasattr(model._backend, "model") else None
    command = shlex.join(["python", "benchmarks/inference_latency.py", *sys.argv[1:]])
    return {
        "embed_ms": round(lat["embed"]["median"], 3),
        "reconstruct_ms": round(lat["reconstruct"]["median"], 3),
        "embed_ms_p90": round(lat["embed"]["p90"], 3),
        "reconstruct_ms_p90": round(lat["reconstruct"]["p90"], 3),
        "embed_ms_min": round(lat["embed"]["min"], 3),
        "reconstruct_ms_min": round(lat["reconstruct"]["min"], 3),
        "embed_ms_at_model_fs": round(lat["embed_model_fs"]["median"], 3),
        "reconstruct_ms_at_model_fs": round(lat["reconstruct_model_fs"]["median"], 3),
        "embed_throughput_per_s": round(thr_embed, 1),
        "reconstruct_throughput_per_s": round(thr_recon, 1),
        "embed_throughput_per_s_1thread": round(thr_embed_1, 1),
        "reconstruct_throughput_per_s_1thread": round(thr_recon_1, 1),
        "goals_ms": GOALS_MS,
        "meets_goals": {k: bool(round(lat[k[:-3]]["median"], 3) <= v) for k, v in GOALS_MS.items()},
        "latency_input": f"{rec.record_id} lead I, first 10 s at {ten.fs:g} Hz ({ten.n_samples} samples); "
                         f"'_at_model_fs': the same resampled to {model.fs:g} Hz",
        "latency_threads": 1,
        "throughput_input": f"lead I of {len(batch)} PTB-XL records at 500 Hz, 10 s each, one batch call",
        "throughput_threads": 2,
        "repeats": args.repeats,
        "model": args.model,
        "model_kind": model.kind,
        "model_window": f"{model.window_samples} samples @ {model.fs:g} Hz",
        "model_parameters": n_params,
        "command": command,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                   f"Python {platform.python_version()}, torch {torch.__version__}",
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "niceness": os.nice(0),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def markdown(res: dict[str, Any]) -> str:
    ok = res["meets_goals"]
    rows = [
        ("embed, one 10-s lead (input rate), 1 thread",
         f"{res['embed_ms']:.2f} ms (p90 {res['embed_ms_p90']:.2f}, min {res['embed_ms_min']:.2f})",
         f"<= {res['goals_ms']['embed_ms']:g} ms: {'yes' if ok['embed_ms'] else 'no'}"),
        ("reconstruct 12 leads from lead I (10 s, input rate), 1 thread",
         f"{res['reconstruct_ms']:.2f} ms (p90 {res['reconstruct_ms_p90']:.2f}, min {res['reconstruct_ms_min']:.2f})",
         f"<= {res['goals_ms']['reconstruct_ms']:g} ms: {'yes' if ok['reconstruct_ms'] else 'no'}"),
        ("embed, same at the model rate, 1 thread", f"{res['embed_ms_at_model_fs']:.2f} ms", ""),
        ("reconstruct, same at the model rate, 1 thread", f"{res['reconstruct_ms_at_model_fs']:.2f} ms", ""),
        (f"embed throughput, batch, {res['throughput_threads']} threads",
         f"{res['embed_throughput_per_s']:.0f} ECGs/s", ""),
        (f"reconstruct throughput, batch, {res['throughput_threads']} threads",
         f"{res['reconstruct_throughput_per_s']:.0f} ECGs/s", ""),
        ("embed throughput, batch, 1 thread", f"{res['embed_throughput_per_s_1thread']:.0f} ECGs/s", ""),
        ("reconstruct throughput, batch, 1 thread", f"{res['reconstruct_throughput_per_s_1thread']:.0f} ECGs/s", ""),
    ]
    lines = [
        "# Inference latency (`LeadLift.embed` / `LeadLift.reconstruct`)",
        "",
        f"Model `{res['model']}` ({res['model_kind']}, {res['model_parameters']:,} parameters, windows of "
        f"{res['model_window']}); {res['machine']}; load average {res['load_average_1min_at_end']} at the end "
        f"(niceness {res.get('niceness', 0)}).",
        "",
        f"Latency input: {res['latency_input']}; median of {res['repeats']} calls. "
        f"Throughput input: {res['throughput_input']}.",
        "",
        "| measure | value | goal |",
        "|---|---:|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
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
