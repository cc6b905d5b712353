"""Wall time of ``leadlift reconstruct`` on 50 real files in one call against one file.

Users reconstruct a folder of recordings in one command; its cost should be dominated by the
start-up every call pays (Python, torch, the model), not by the files: the goal is that 50 files
take at most 3x the time of one. This script copies 50 PTB-XL WFDB records (10 s, 500 Hz, 12
leads) into a temporary folder and times, alternately and ``--repeats`` times each, the command
users run (a subprocess)::

    leadlift reconstruct ONE.hea --leads I --out x.csv             # one file
    leadlift reconstruct F1.hea ... F50.hea --leads I --out outdir  # 50 files, one CSV each

with the CLI's default model (``--model auto``: the bundled ``recon-i`` for lead I) and, as a
second row, the API's default ``mae-cpu``. It records the medians, their ratio (goal: <= 3), the
marginal cost of one more file and the load average, as JSON + Markdown::

    LEADLIFT_DATA=../shared/data python benchmarks/batch_files.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RECORDS = "ptb-xl/records500/00000"
GOAL = 3.0


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if run.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd[:8])} ... failed ({run.returncode}): {run.stderr.strip()[-500:]}")
    return wall


def _copy_records(data_dir: Path, n: int, dest: Path) -> list[Path]:
    """The first ``n`` WFDB records (header + signal) of ``RECORDS``, copied into ``dest``."""
    src = data_dir / RECORDS
    heads = sorted(src.glob("*.hea"))[:n]
    if len(heads) < n:
        raise SystemExit(f"{src} holds {len(heads)} records, need {n}; set LEADLIFT_DATA to the folder that "
                         "holds ptb-xl/")
    out = []
    for h in heads:
        for f in (h, h.with_suffix(".dat")):
            shutil.copy2(f, dest / f.name)
        out.append(dest / h.name)
    return out


def measure(data_dir: Path, n_files: int, repeats: int, models: list[str]) -> dict[str, Any]:
    """For each model, alternate the 1-file and the ``n_files`` call ``repeats`` times; medians (s)."""
    leadlift = [sys.executable, "-m", "leadlift.cli", "reconstruct"]
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="leadlift-batch-") as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        files = _copy_records(data_dir, n_files, inputs)
        one = [*leadlift, str(files[0]), "--leads", "I", "--out", str(Path(tmp) / "one.csv")]
        many = [*leadlift, *map(str, files), "--leads", "I", "--out", str(Path(tmp) / "many")]
        for model in models:
            opt = [] if model == "auto" else ["--model", model]
            _time(many + opt)  # warm the disk cache and the model files
            times: dict[str, list[float]] = {"one": [], "many": []}
            for _ in range(repeats):
                times["one"].append(_time(one + opt))
                times["many"].append(_time(many + opt))
            med = {k: statistics.median(v) for k, v in times.items()}
            rows[model] = {
                "seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
                "median_s": {k: round(v, 3) for k, v in med.items()},
                "ratio": round(med["many"] / med["one"], 2),
                "marginal_ms_per_file": round(1000 * (med["many"] - med["one"]) / (n_files - 1), 1),
            }
        n_written = len(list((Path(tmp) / "many").glob("*.csv")))
    return {
        "command": "python benchmarks/batch_files.py",
        "records": f"{RECORDS}: first {n_files} WFDB records (10 s, 500 Hz, 12 leads; lead I used)",
        "cli": {"one": "leadlift reconstruct ONE.hea --leads I --out one.csv",
                "many": f"leadlift reconstruct F1.hea ... F{n_files}.hea --leads I --out many/"},
        "n_files": n_files,
        "outputs_written": n_written,
        "repeats": repeats,
        "models": rows,
        "goal_ratio": GOAL,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d"),
    }


def markdown(res: dict[str, Any]) -> str:
    n = res["n_files"]
    lines = [
        f"# `leadlift reconstruct`: {n} files in one call vs one file",
        "",
        f"`{res['command']}` — {res['machine']}, load average {res['load_average_1min_at_end']} at the end, "
        f"{res['repeats']} alternating repeats, medians. Inputs: {res['records']}; outputs one CSV per file "
        "(12 leads, 500 Hz).",
        "",
        f"| model | 1 file (s) | {n} files (s) | ratio (goal ≤ {res['goal_ratio']:g}) | each further file (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for model, r in res["models"].items():
        label = "`--model auto` (CLI default: recon-i for lead I)" if model == "auto" else f"`--model {model}`"
        lines.append(f"| {label} | {r['median_s']['one']:.2f} | {r['median_s']['many']:.2f} | **{r['ratio']:.2f}** | "
                     f"{r['marginal_ms_per_file']:.0f} |")
    lines += [
        "",
        f"Commands: `{res['cli']['one']}` and `{res['cli']['many']}` (subprocesses, as users run them). The one-file "
        "time is mostly start-up (Python, torch, the model), which the batch pays once.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("LEADLIFT_DATA", str(HERE.parents[1] / "shared" / "data")))
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="auto,mae-cpu", help="comma-separated --model values")
    parser.add_argument("--out", default=str(HERE / "results" / "batch_files"))
    args = parser.parse_args()
    if args.files < 2:
        raise SystemExit("--files must be at least 2")
    res = measure(Path(args.data_dir), args.files, args.repeats, args.models.split(","))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
