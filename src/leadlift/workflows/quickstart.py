"""``leadlift quickstart``: the whole system on real data with one command.

Steps (each prints where it is; pretraining shows Lightning's progress bar):

1. prepare the PTB-XL, ECG-ID and PTB Diagnostic stores at the model's rate (100 Hz);
2. pretrain the CPU-default aligned per-lead MAE (the shipped ``mae-cpu`` config) for at most
   ``minutes`` minutes (Lightning ``max_time``; a re-run resumes from the last checkpoint);
3. optionally pretrain the no-alignment baseline in the same budget (``baseline=True``);
4. run the reconstruction benchmark for inputs I, II, V2 with the shipped ``recon-quickstart``
   config (:func:`leadlift.workflows.recon_benchmark.run_benchmark`), in a child process with a
   time limit;
5. evaluate the checkpoint (:func:`leadlift.evaluation.evaluate.evaluate`) and write the report.

Everything goes under ``out``: ``mae_cpu/`` (checkpoint), ``recon_benchmark/``,
``evaluation/report.html`` (the page to open) and ``quickstart.json`` (timings and paths).
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadlift.config import PretrainConfig, load_config
from leadlift.errors import DataNotFoundError

BENCHMARK_INPUTS = "I,II,V2"
BENCHMARK_CONFIG = "recon-quickstart"
"""Shipped reconstruction-benchmark config of the quickstart (``src/leadlift/configs/recon_quickstart.yaml``)."""


CPU_DEFAULT_CONFIG = "mae-cpu"
"""Shipped pretraining config of the quickstart (``src/leadlift/configs/mae_cpu.yaml``)."""


def cpu_default_config(alignment: bool = True, minutes: float | None = None) -> PretrainConfig:
    """The shipped CPU-default config (:data:`CPU_DEFAULT_CONFIG`) with a time limit of ``minutes``;
    ``alignment=False`` gives the no-alignment baseline (name suffixed ``-noalign``)."""
    overrides: dict[str, Any] = {"trainer.max_time_minutes": minutes} if minutes else {}
    if not alignment:  # the twin without any alignment term: masked reconstruction only
        overrides.update({"loss.alignment": False, "loss.contrastive": 0.0, "loss.cross_decode": 0.0})
    cfg = load_config(CPU_DEFAULT_CONFIG, overrides)
    if not alignment:
        cfg.name = f"{cfg.name}-noalign"
    return cfg


def _benchmark_child(data_dir: str, out: str, store_dir: str | None, checkpoint: str | None, quick: bool) -> None:
    """Body of the benchmark process (1 torch thread: small convolutions on a shared machine)."""
    import torch

    from leadlift.ecg import parse_leads
    from leadlift.recon_config import load_recon_config
    from leadlift.workflows.recon_benchmark import run_benchmark as run

    torch.set_num_threads(1)
    cfg = load_recon_config(BENCHMARK_CONFIG if quick else None, {"data.inputs": list(parse_leads(BENCHMARK_INPUTS))})
    run(cfg, data_dir, out, mae_checkpoint=checkpoint, store_dir=store_dir, progress=True, say=print,
        command=f"leadlift quickstart (reconstruction benchmark, config {BENCHMARK_CONFIG})")


def run_benchmark(data_dir: Path, out: Path, store_dir: Path | None, checkpoint: Path | None,
                  timeout_min: float, say: Callable[[str], None], quick: bool = True) -> dict[str, Any]:
    """Run the reconstruction benchmark (inputs I, II, V2; the aligned MAE ``checkpoint`` as one more
    method) in a child process stopped after ``timeout_min`` minutes; returns the report block
    (see :func:`leadlift.evaluation.evaluate.benchmark_block`).

    ``quick`` uses the shipped :data:`BENCHMARK_CONFIG` instead of the paper-sized CPU default.
    """
    from leadlift.evaluation.evaluate import benchmark_block

    say(f"  run_benchmark(load_recon_config({BENCHMARK_CONFIG!r}), inputs {BENCHMARK_INPUTS}) in a child process")
    proc = multiprocessing.get_context("spawn").Process(
        target=_benchmark_child, args=(str(data_dir), str(out), None if store_dir is None else str(store_dir),
                                       None if checkpoint is None else str(checkpoint), quick), daemon=True)
    proc.start()
    proc.join(timeout_min * 60)
    if proc.is_alive():
        proc.terminate()
        proc.join(30)
        if proc.is_alive():
            proc.kill()
            proc.join()
        return {"status": "failed", "reason": f"stopped after the {timeout_min:g}-minute limit "
                                              "(raise it with --benchmark-minutes)"}
    if proc.exitcode != 0:
        return {"status": "failed", "reason": f"the benchmark process exited with status {proc.exitcode}"}
    return benchmark_block(out)


def quickstart(data_dir: Path, out: Path, minutes: float = 30.0, store_dir: Path | None = None,
               baseline: bool = False, benchmark: bool = True, benchmark_minutes: float = 12.0,
               n_boot: int = 1000, progress: bool = True,
               say: Callable[[str], None] = print) -> dict[str, Any]:
    """Prepare, pretrain (≤ ``minutes``), benchmark, evaluate; returns the run summary.

    Args:
        data_dir: data directory with PTB-XL (required), ECG-ID and PTB Diagnostic (optional).
        out: output folder.
        minutes: pretraining time limit in minutes (shared with the baseline when ``baseline``). The
            full ``mae-cpu`` schedule (50 epochs) took ~25 min on 2 idle cores; a shorter limit stops
            the cosine schedule early (said in the output; a re-run with more minutes resumes).
        store_dir: prepared-store folder (default ``DATA_DIR/leadlift-prepared``).
        baseline: also pretrain the no-alignment baseline and show it in the report.
        benchmark: run the reconstruction benchmark (I, II, V2).
        benchmark_minutes: time limit of the benchmark process.
        n_boot: bootstrap resamples of the evaluation.
        progress: show the pretraining progress bar.
        say: status callback.
    """
    from leadlift.data.store import prepare
    from leadlift.evaluation.evaluate import evaluate
    from leadlift.training.pretrain import pretrain

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n_steps = 5 if baseline else 4
    step = 0
    timings: dict[str, float] = {}

    def stage(title: str) -> None:
        nonlocal step
        step += 1
        say(f"[{step}/{n_steps}] {title}  (elapsed {(time.perf_counter() - t0) / 60:.1f} min)")

    train_minutes = minutes / 2 if baseline else minutes
    cfg = cpu_default_config(minutes=train_minutes)
    stage(f"preparing data at {cfg.data.fs:g} Hz in {store_dir or Path(data_dir) / 'leadlift-prepared'}")
    t = time.perf_counter()
    for ds in ("ptbxl", "ecgid", "ptbdb"):
        try:
            st = prepare(ds, cfg.data.fs, data_dir, store_dir=store_dir, progress=progress, on_status=say)
            say(f"  {ds}: {len(st)} records x {len(st.leads)} lead(s)")
        except DataNotFoundError as exc:
            if ds == "ptbxl":
                raise
            say(f"  {ds}: absent, its evaluation will be skipped ({exc})")
    timings["prepare"] = time.perf_counter() - t

    runs = [("mae_cpu", cfg)]
    summary_epochs: dict[str, dict[str, int]] = {}
    if baseline:
        runs.append(("mae_cpu_noalign", cpu_default_config(alignment=False, minutes=train_minutes)))
    for folder, c in runs:
        stage(f"pretraining {c.name} for at most {c.trainer.max_epochs} epochs / {c.trainer.max_time_minutes:g} min "
              f"-> {out / folder}")
        t = time.perf_counter()
        s = pretrain(c, data_dir, out / folder, resume=True, store_dir=store_dir, progress=progress)
        timings[f"pretrain_{folder}"] = time.perf_counter() - t
        say(f"  {s['epochs']} epochs, {s['global_step']} steps in {s['seconds']:.0f} s"
            + (f" (resumed from {s['resumed_from']})" if s["resumed_from"] else ""))
        if s["epochs"] < c.trainer.max_epochs:
            say(f"  stopped by the {c.trainer.max_time_minutes:g}-min limit at epoch {s['epochs']} of "
                f"{c.trainer.max_epochs}: the learning-rate schedule did not finish, so this model is weaker than "
                "the bundled mae-cpu; re-run with a larger --minutes to resume it")
        summary_epochs[folder] = {"epochs": s["epochs"], "max_epochs": c.trainer.max_epochs}

    stage(f"reconstruction benchmark, inputs {BENCHMARK_INPUTS} (at most {benchmark_minutes:g} min)")
    t = time.perf_counter()
    if benchmark:
        bench = run_benchmark(Path(data_dir), out / "recon_benchmark", store_dir, out / "mae_cpu",
                              benchmark_minutes, say)
    else:
        bench = {"status": "missing", "reason": "skipped (--no-benchmark)"}
    timings["benchmark"] = time.perf_counter() - t
    say(f"  benchmark: {bench['status']}" + (f" ({bench.get('reason')})" if bench.get("reason") else ""))

    stage("evaluating the checkpoint beside a random-initialised encoder" + (" and the baseline" if baseline else ""))
    t = time.perf_counter()
    results = evaluate(out / "mae_cpu", data_dir, out / "evaluation",
                       baseline=out / "mae_cpu_noalign" if baseline else None, store_dir=store_dir,
                       n_boot=n_boot, benchmark=bench, say=lambda m: say("  " + m))
    timings["evaluate"] = time.perf_counter() - t
    summary = {
        "report": str(out / "evaluation" / "report.html"),
        "results": str(out / "evaluation" / "results.json"),
        "checkpoint": str(out / "mae_cpu"),
        "epochs": summary_epochs,
        "benchmark": {k: v for k, v in bench.items() if k != "markdown"},
        "headline": results["headline"],
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "quickstart.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
