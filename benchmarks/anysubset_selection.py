"""Model selection of the any-subset reconstructor on the validation fold (PTB-XL fold 9).

Scores any-subset checkpoints on the fold-9 windows the training code validates on (QC'd, hop
``train.val_hop``), per core input subset, against the any-subset Wiener prior (FIR least squares,
±0.4 s, fitted on folds 1–8). Fold 10 is never read: the release candidate is chosen here, then
measured once on fold 10 by ``benchmarks/anysubset.py``. Each checkpoint's own training overrides
(prior, core weight, steps) and its best validation MSE are read from its ``config.yaml``.

    python benchmarks/anysubset_selection.py --data-dir ../shared/data \\
        previous=runs/recon-any-noprior no-prior=runs/recon-any-core3 shipped=src/leadlift/weights/recon-any

A checkpoint may be a deep ensemble, ``NAME=CKPT_A+CKPT_B+...``: the mean of the members' predicted
means is scored (its training settings and validation MSE are the first member's; ``members``
lists them all). Writes ``benchmarks/results/anysubset_selection.{json,md}`` (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cli_args import parse_named
from leadlift.atomic import atomic_path
from leadlift.data.windows import gather_windows, window_chunks
from leadlift.ecg import STANDARD_LEADS
from leadlift.models.anysubset import BASIS_LEADS, CORE_SUBSETS, WienerPrior, presence_mask
from leadlift.models.recon import LeadPlan

OUT = Path(__file__).resolve().parent / "results" / "anysubset_selection"


@torch.no_grad()
def score(predict: Any, x: torch.Tensor) -> dict[str, float]:
    """Per core subset: mean over the learned basis leads of the per-lead RMSE (mV)."""
    out = {}
    for sub in CORE_SUBSETS:
        plan = LeadPlan.from_inputs(sub)
        li = [BASIS_LEADS.index(n) for n in plan.learned]
        ti = [STANDARD_LEADS.index(n) for n in plan.learned]
        m = torch.from_numpy(np.tile(presence_mask(sub), (len(x), 1)))
        y = torch.cat([predict(x[s:s + 512] * m[s:s + 512, :, None], m[s:s + 512]) for s in range(0, len(x), 512)])
        out[sub] = round(float(((y[:, li] - x[:, ti]) ** 2).mean(dim=(0, 2)).sqrt().mean()), 5)
    return out


def fold9_windows(cfg: Any, data_dir: Path, workdir: Path) -> tuple[Any, Any, Any, torch.Tensor]:
    """What the any-subset training validates on, built the way it builds it: ``(context, training
    windows, fold-9 windows, fold-9 signals [N, 12, T] mV)`` (QC'd; fold 9 at hop ``train.val_hop``)."""
    from leadlift.training.recon import setup, windows_with_qc

    ctx, store, parts = setup(cfg, data_dir, None, workdir, False, lambda s: None)
    idx, _, _ = windows_with_qc(ctx, store.meta["n_valid"].to_numpy(), {k: parts[k] for k in ("train", "val")},
                                fit_on=("train", "val"))
    val = idx["val"].subset((idx["val"].starts % cfg.train.val_hop) == 0)
    return ctx, idx["train"], val, gather_windows(ctx.records, val, cfg.data.window)


def fir_prior(records: torch.Tensor, index: Any, window: int, half_taps: int, ridge: float = 1e-3) -> WienerPrior:
    """The any-subset FIR least squares (Wiener prior, ±``half_taps`` samples) fitted on ``index``'s windows."""
    return WienerPrior(half_taps, ridge).fit(window_chunks(records, index, window, chunk=2048))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", metavar="NAME=CHECKPOINT")
    p.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    named = parse_named(args.checkpoints)
    from leadlift.api import LeadLift
    from leadlift.recon_config import load_recon_config

    torch.set_num_threads(args.threads)
    cfg = load_recon_config("recon-anysubset")
    ctx, train, val, x = fold9_windows(cfg, args.data_dir, args.out.parent / ".selection_work")
    fir = score(fir_prior(ctx.records, train, cfg.data.window, round(0.4 * cfg.data.fs)), x)
    rows = []
    for name, path in named:
        lifts = [LeadLift.from_pretrained(member) for member in path.split("+")]
        lift = lifts[0]
        a = lift.config.training["anysubset"]
        rec = lift.config.metrics["training"]["reconstructor"]
        nets = [m.backend.net for m in lifts]
        rmse = score(lambda xx, mm, nets=nets: sum(n(xx, mm)[0] for n in nets) / len(nets), x)
        rows.append({"name": name, "checkpoint": path, "members": len(nets),
                     "prior_half_taps_s": a.get("prior_half_taps_s", 0.0),
                     "core_weight": a.get("core_weight", 1.0), "steps": a["steps"], "best_val_mse": rec["best_val_mse"],
                     "rmse": rmse, "ratio_to_fir": {s: round(rmse[s] / fir[s], 3) for s in CORE_SUBSETS}})
    out_arg = "" if args.out.resolve() == OUT.resolve() else f" --out {args.out}"
    command = f"python benchmarks/anysubset_selection.py --data-dir {args.data_dir}" + out_arg + " " + " ".join(
        args.checkpoints)
    res = {"command": command, "n_val_windows": len(val), "n_train_windows": len(train), "fir_rmse": fir,
           "models": rows}
    lines = ["# Any-subset reconstructor: model selection on the validation fold (PTB-XL fold 9)", "",
             f"Command: `{command}`. {len(val)} fold-9 windows (fold 10 is not read); RMSE in mV over the learned "
             "basis leads, ÷ the any-subset Wiener prior (FIR least squares ±0.4 s, folds 1–8) in brackets; "
             "best val MSE: the training run's own fold-9 MSE over the core subsets (mV²); a deep ensemble (mean "
             "of its members' predictions) shows its first member's settings and no val MSE.", "",
             "| model | prior (s) | core weight | steps | best val MSE | " + " | ".join(CORE_SUBSETS) + " |",
             "|---|---:|---:|---:|---:|" + "---:|" * len(CORE_SUBSETS),
             "| FIR LS (Wiener prior) | | | | | " + " | ".join(f"{fir[s]:.4f}" for s in CORE_SUBSETS) + " |"]
    for r in rows:
        label = f"{r['name']} (ensemble of {r['members']})" if r["members"] > 1 else r["name"]
        val_mse = f"{r['best_val_mse']:.5f}" if r["members"] == 1 else "–"
        lines.append(f"| {label} | {r['prior_half_taps_s']:g} | {r['core_weight']:g} | {r['steps']} | "
                     f"{val_mse} | " + " | ".join(f"{r['rmse'][s]:.4f} ({r['ratio_to_fir'][s]:.3f})"
                                                            for s in CORE_SUBSETS) + " |")
    for path, text in ((args.out.with_suffix(".json"), json.dumps(res, indent=1) + "\n"),
                       (args.out.with_suffix(".md"), "\n".join(lines) + "\n")):
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
