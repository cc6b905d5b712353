"""Wall time of one ``leadlift reconstruct`` call against ``python -c "import torch"``, same run.

A user's first impression of the command line is its start-up: one 10-s recording should cost
little more than importing torch. This script times, alternately and ``--repeats`` times each:

* ``python -c "import torch"`` (the floor every PyTorch tool pays);
* ``leadlift reconstruct <10-s PTB-XL WFDB record at 500 Hz> --leads I --out x.csv`` (the bundled
  ``recon-i`` is chosen automatically);
* ``python -c "import leadlift.api, sys; LeadLift.from_pretrained('recon-i')"`` and whether
  Lightning ended up in ``sys.modules`` (it must not: inference never imports training code).

It records medians, the ratio (goal: at most 2.5) and the load average, as JSON + Markdown::

    LEADLIFT_DATA=../shared/data python benchmarks/cli_startup.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RECORD = "ptb-xl/records500/00000/00001_hr"
LOAD_CHECK = ("import sys, leadlift.api; leadlift.api.LeadLift.from_pretrained('recon-i'); "
              "print('lightning' in sys.modules)")


def _time(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if run.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed ({run.returncode}): {run.stderr.strip()[-500:]}")
    return wall, run.stdout


def measure(data_dir: Path, repeats: int) -> dict[str, Any]:
    """Alternate the three commands ``repeats`` times; medians in seconds."""
    record = data_dir / RECORD
    if not record.with_suffix(".hea").exists():
        raise SystemExit(f"{record}.hea not found; set LEADLIFT_DATA to the folder that holds ptb-xl/")
    leadlift = [sys.executable, "-m", "leadlift.cli"]
    times: dict[str, list[float]] = {"import_torch": [], "reconstruct": [], "load_recon_i": []}
    lightning_loaded = None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.csv"
        _time([*leadlift, "reconstruct", f"{record}.hea", "--leads", "I", "--out", str(out)])  # warm the disk cache
        for _ in range(repeats):
            times["import_torch"].append(_time([sys.executable, "-c", "import torch"])[0])
            times["reconstruct"].append(_time([*leadlift, "reconstruct", f"{record}.hea", "--leads", "I",
                                               "--out", str(out)])[0])
            wall, stdout = _time([sys.executable, "-c", LOAD_CHECK])
            times["load_recon_i"].append(wall)
            lightning_loaded = stdout.strip().splitlines()[-1] == "True"
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "command": "python benchmarks/cli_startup.py",
        "record": RECORD,
        "repeats": repeats,
        "seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "ratio_reconstruct_to_import_torch": round(med["reconstruct"] / med["import_torch"], 2),
        "goal_ratio": 2.5,
        "lightning_imported_by_from_pretrained": lightning_loaded,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "date": time.strftime("%Y-%m-%d"),
    }


def markdown(res: dict[str, Any]) -> str:
    m = res["median_s"]
    return "\n".join([
        "# `leadlift reconstruct` start-up vs `import torch`",
        "",
        f"`{res['command']}` — {res['machine']}, load average {res['load_average_1min_at_end']} at the end, "
        f"{res['repeats']} alternating repeats, medians.",
        "",
        "| command | wall time (s) |",
        "|---|---:|",
        f"| `python -c \"import torch\"` | {m['import_torch']:.2f} |",
        f"| `leadlift reconstruct {res['record']}.hea --leads I --out x.csv` | {m['reconstruct']:.2f} |",
        f"| `LeadLift.from_pretrained('recon-i')` (fresh interpreter) | {m['load_recon_i']:.2f} |",
        "",
        f"Ratio reconstruct / import torch: **{res['ratio_reconstruct_to_import_torch']:.2f}** "
        f"(goal ≤ {res['goal_ratio']}). Lightning imported by `from_pretrained`: "
        f"{res['lightning_imported_by_from_pretrained']}.",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("LEADLIFT_DATA", str(HERE.parents[1] / "shared" / "data")))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=str(HERE / "results" / "cli_startup"))
    args = parser.parse_args()
    res = measure(Path(args.data_dir), args.repeats)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
