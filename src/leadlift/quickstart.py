"""``leadlift quickstart``: the whole system on real data with one command.

Steps (each prints where it is; pretraining shows Lightning's progress bar):

1. prepare the PTB-XL, ECG-ID and PTB Diagnostic stores at the model's rate (100 Hz);
2. pretrain the CPU-default aligned per-lead MAE (the shipped ``mae-cpu`` config) for at most
   ``minutes`` minutes (Lightning ``max_time``; a re-run resumes from the last checkpoint);
3. optionally pretrain the no-alignment baseline in the same budget (``baseline=True``);
4. run the reconstruction benchmark for inputs I, II, V2 when leadlift has it
   (``leadlift reconstruct-benchmark``), in a subprocess with a time limit;
5. evaluate the checkpoint (:func:`leadlift.evaluation.evaluate.evaluate`) and write the report.

Everything goes under ``out``: ``mae_cpu/`` (checkpoint), ``recon_benchmark/``,
``evaluation/report.html`` (the page to open) and ``quickstart.json`` (timings and paths).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadlift.config import PretrainConfig, load_config
from leadlift.errors import DataNotFoundError

BENCHMARK_MODULE = "leadlift.evaluation.recon_benchmark"
BENCHMARK_COMMAND = "reconstruct-benchmark"
BENCHMARK_INPUTS = "I,II,V2"

#: Reconstruction-benchmark settings of the quickstart: the paper-sized defaults (60 SupCon and
#: 60 reconstructor epochs, 5-fold CV) take far longer than the quickstart's budget on 2 CPU cores,
#: so the quickstart trains every method briefly (about 2 minutes on an idle 2-core machine) on
#: the same split, without the CV. Its numbers show the pipeline, not the methods' ceiling.
QUICK_RECON_CONFIG: dict[str, Any] = {
    "name": "recon-quickstart",
    "supcon": {"max_epochs": 4, "steps_per_epoch": 50},
    "train": {"max_epochs": 6, "limit_train_batches": 80, "val_hop": 256},
    "benchmark": {"cv_folds": 0, "n_figures": 2},
}


CPU_DEFAULT_CONFIG = "mae-cpu"
"""Shipped pretraining config of the quickstart (``src/leadlift/configs/mae_cpu.yaml``)."""


def cpu_default_config(alignment: bool = True, minutes: float | None = None) -> PretrainConfig:
    """The shipped CPU-default config (:data:`CPU_DEFAULT_CONFIG`) with a time limit of ``minutes``;
    ``alignment=False`` gives the no-alignment baseline (name suffixed ``-noalign``)."""
    overrides: dict[str, Any] = {"trainer.max_time_minutes": minutes} if minutes else {}
    if not alignment:
        overrides["loss.alignment"] = False
    cfg = load_config(CPU_DEFAULT_CONFIG, overrides)
    if not alignment:
        cfg.name = f"{cfg.name}-noalign"
    return cfg


def benchmark_available() -> bool:
    """True when the reconstruction benchmark (issue 4) is part of this leadlift."""
    try:
        return importlib.util.find_spec(BENCHMARK_MODULE) is not None
    except ModuleNotFoundError:
        return False


def _benchmark_options() -> set[str]:
    """Option names (``--x``) of ``leadlift reconstruct-benchmark``; empty if the command is missing."""
    import typer

    from leadlift.cli import app

    group = typer.main.get_command(app)
    cmd = getattr(group, "commands", {}).get(BENCHMARK_COMMAND)
    if cmd is None:
        return set()
    return {opt for p in cmd.params for opt in getattr(p, "opts", [])}


def run_benchmark(data_dir: Path, out: Path, store_dir: Path | None, checkpoint: Path | None,
                  timeout_min: float, say: Callable[[str], None], quick: bool = True) -> dict[str, Any]:
    """Run ``leadlift reconstruct-benchmark --inputs I,II,V2`` in a subprocess (killed after
    ``timeout_min``); returns the report block (see :func:`leadlift.evaluation.evaluate.benchmark_block`).

    ``quick`` uses :data:`QUICK_RECON_CONFIG` (written next to ``out``) instead of the benchmark's
    paper-sized defaults."""
    from leadlift.evaluation.evaluate import benchmark_block

    if not benchmark_available():
        return {"status": "missing", "reason": f"this leadlift has no reconstruction benchmark ({BENCHMARK_MODULE})"}
    opts = _benchmark_options()
    if not opts:
        return {"status": "missing", "reason": f"`leadlift {BENCHMARK_COMMAND}` is not a command of this leadlift"}
    cmd = [sys.executable, "-m", "leadlift.cli", BENCHMARK_COMMAND, "--inputs", BENCHMARK_INPUTS, "--out", str(out),
           "--data-dir", str(data_dir)]
    if quick and "--config" in opts:
        import yaml

        out.mkdir(parents=True, exist_ok=True)
        cfg_path = out.parent / "recon_quickstart.yaml"
        cfg_path.write_text("# written by leadlift quickstart: a time-bounded reconstruction benchmark\n"
                            + yaml.safe_dump(QUICK_RECON_CONFIG, sort_keys=False))
        cmd += ["--config", str(cfg_path)]
    if store_dir is not None and "--store-dir" in opts:
        cmd += ["--store-dir", str(store_dir)]
    if checkpoint is not None and "--mae" in opts:
        cmd += ["--mae", str(checkpoint)]  # the aligned MAE's cross-lead reconstruction as one more method
    if "--folds" in opts:
        cmd += ["--folds", "0"]  # the main split only: the 5-fold CV would not fit the time budget
    if "--progress" in opts:
        cmd += ["--progress"]
    if "--threads" in opts:
        cmd += ["--threads", "1"]  # small convolutions: 1 thread is as fast, and far faster on a busy machine
    say("$ " + " ".join(cmd[2:]).replace("leadlift.cli", "leadlift", 1))
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout_min * 60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return {"status": "failed", "reason": f"stopped after the {timeout_min:g}-minute limit "
                                              "(raise it with --benchmark-minutes)"}
    if rc != 0:
        return {"status": "failed", "reason": f"`leadlift {BENCHMARK_COMMAND}` exited with status {rc}"}
    return benchmark_block(out)


def quickstart(data_dir: Path, out: Path, minutes: float = 10.0, store_dir: Path | None = None,
               baseline: bool = False, benchmark: bool = True, benchmark_minutes: float = 12.0,
               n_boot: int = 1000, progress: bool = True,
               say: Callable[[str], None] = print) -> dict[str, Any]:
    """Prepare, pretrain (≤ ``minutes``), benchmark, evaluate; returns the run summary.

    Args:
        data_dir: data directory with PTB-XL (required), ECG-ID and PTB Diagnostic (optional).
        out: output folder.
        minutes: pretraining time limit in minutes (shared with the baseline when ``baseline``).
        store_dir: prepared-store folder (default ``DATA_DIR/leadlift-prepared``).
        baseline: also pretrain the no-alignment baseline and show it in the report.
        benchmark: run the reconstruction benchmark (I, II, V2) when available.
        benchmark_minutes: time limit of the benchmark subprocess.
        n_boot: bootstrap resamples of the evaluation.
        progress: show the pretraining progress bar.
        say: status callback.
    """
    from leadlift.evaluation.evaluate import evaluate
    from leadlift.store import prepare
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
        "benchmark": {k: v for k, v in bench.items() if k != "markdown"},
        "headline": results["headline"],
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "quickstart.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
