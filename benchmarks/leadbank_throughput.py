"""Training-step throughput of the batched per-lead MAE bank vs. a loop over per-lead modules.

One training step = forward with a 0.75 patch mask shared by all leads + masked reconstruction
loss + triplet alignment loss + backward + AdamW step. Both models start from identical weights
(``LoopLeadMAE.from_bank``), see the same batch and the same mask at every step, and are timed
in the same process, interleaved step by step (alternating which goes first) so that machine
load affects both alike. Throughput = batch size / median step time, in ECGs (12-lead windows)
per second.

Usage (defaults = leadlift's CPU default model size, 5 s at 100 Hz)::

    python benchmarks/leadbank_throughput.py [--batch-size 32 --steps 20 --threads 2 ...]

Writes ``benchmarks/results/leadbank_throughput.json`` and ``.md``.
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
from typing import Any

import torch

from leadlift.ecg import STANDARD_LEADS
from leadlift.losses import masked_reconstruction_loss, triplet_alignment_loss
from leadlift.models import LeadBankMAE, PatchMask

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loop_lead_mae import LoopLeadMAE

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--batch-size", type=int, default=32, help="ECGs per step")
    p.add_argument("--steps", type=int, default=20, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per model first")
    p.add_argument("--n-times", type=int, default=500, help="samples per window")
    p.add_argument("--fs", type=float, default=100.0, help="sampling rate (Hz)")
    p.add_argument("--patch-size", type=int, default=25, help="samples per patch")
    p.add_argument("--embed-dim", type=int, default=96)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--num-heads", type=int, default=4)
    p.add_argument("--decoder-embed-dim", type=int, default=64)
    p.add_argument("--decoder-depth", type=int, default=1)
    p.add_argument("--decoder-heads", type=int, default=4)
    p.add_argument("--mask-ratio", type=float, default=0.75)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (intra-op threads)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sweep-batch-sizes", type=str, default="4,8,16",
                   help="extra batch sizes measured with the same model config (comma list; '' = none)")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    return p.parse_args(argv)


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, mask: PatchMask) -> float:
    """One optimisation step; returns the loss value."""
    out = model(x, mask=mask)
    recon = masked_reconstruction_loss(out.pred, out.target_patches, out.mask, norm_target=True)
    align = triplet_alignment_loss(out.tokens, margin=0.5, negatives="roll", detach_others=True)
    loss = 0.5 * recon + 0.5 * align
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def make_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    # fused=True: the fastest AdamW on CPU, used for both models
    return torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05, fused=True)


def measure(args: argparse.Namespace, batch_size: int) -> dict[str, Any]:
    """Interleaved timing of both models at one batch size."""
    torch.manual_seed(args.seed)
    cfg = dict(n_times=args.n_times, fs=args.fs, patch_size=args.patch_size, embed_dim=args.embed_dim,
               depth=args.depth, num_heads=args.num_heads, decoder_embed_dim=args.decoder_embed_dim,
               decoder_depth=args.decoder_depth, decoder_heads=args.decoder_heads)
    bank = LeadBankMAE(STANDARD_LEADS, **cfg).train()
    loop = LoopLeadMAE.from_bank(bank).train()
    n_params = sum(p.numel() for p in bank.parameters())
    assert n_params == sum(p.numel() for p in loop.parameters())
    opt_bank, opt_loop = make_optimizer(bank), make_optimizer(loop)

    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.randn(batch_size, len(STANDARD_LEADS), args.n_times, generator=gen)
    x = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-6)

    times: dict[str, list[float]] = {"bank": [], "loop": []}
    first_loss: dict[str, float] = {}
    models = {"bank": (bank, opt_bank), "loop": (loop, opt_loop)}
    for step in range(args.warmup + args.steps):
        mask = bank.random_mask(batch_size, args.mask_ratio, generator=gen)
        order = ["bank", "loop"] if step % 2 == 0 else ["loop", "bank"]
        for name in order:
            model, opt = models[name]
            t0 = time.perf_counter()
            loss = train_step(model, opt, x, mask)
            dt = time.perf_counter() - t0
            if step == 0:
                first_loss[name] = loss
            if step >= args.warmup:
                times[name].append(dt)

    med = {k: statistics.median(v) for k, v in times.items()}
    bank_rate = batch_size / med["bank"]
    loop_rate = batch_size / med["loop"]
    return {
        "speedup": bank_rate / loop_rate,
        "bank_ecgs_per_s": bank_rate,
        "loop_ecgs_per_s": loop_rate,
        "bank_median_step_s": med["bank"],
        "loop_median_step_s": med["loop"],
        "bank_step_s": times["bank"],
        "loop_step_s": times["loop"],
        "first_step_loss": first_loss,
        "first_step_loss_abs_diff": abs(first_loss["bank"] - first_loss["loop"]),
        "config": {**cfg, "leads": len(STANDARD_LEADS), "batch_size": batch_size,
                   "mask_ratio": args.mask_ratio, "steps": args.steps, "warmup": args.warmup,
                   "params_total": n_params, "optimizer": "AdamW(lr=1e-4, betas=(0.9, 0.95), wd=0.05, fused=True)",
                   "loss": "0.5*masked_recon(norm_target) + 0.5*triplet(roll, detach_others)"},
    }


def _summary(r: dict[str, Any], batch_size: int) -> dict[str, Any]:
    keys = ("speedup", "bank_ecgs_per_s", "loop_ecgs_per_s", "bank_median_step_s", "loop_median_step_s")
    return {"batch_size": batch_size, **{k: r[k] for k in keys}}


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    result = measure(args, args.batch_size)
    sweep = [_summary(result, args.batch_size)]
    for bs in sorted({int(v) for v in args.sweep_batch_sizes.split(",") if v.strip()} - {args.batch_size}):
        sweep.append(_summary(measure(args, bs), bs))
    result.update({
        "sweep": sorted(sweep, key=lambda r: r["batch_size"]),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": machine_info(),
        "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
    })
    return result


def write_results(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "leadbank_throughput.json"
    md_path = out_dir / "leadbank_throughput.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    c = result["config"]
    lines = [
        "# LeadBankMAE vs LoopLeadMAE: training-step throughput (CPU)",
        "",
        "One step = forward (mask 0.75, shared by all 12 leads) + masked reconstruction loss + "
        "triplet alignment loss + backward + AdamW. Identical weights, batch and masks; steps "
        f"interleaved; median of {c['steps']} timed steps after {c['warmup']} warm-up steps.",
        "",
        "| model | median step (s) | ECGs/s |",
        "|---|---:|---:|",
        f"| LeadBankMAE (batched over leads) | {result['bank_median_step_s']:.4f} | "
        f"{result['bank_ecgs_per_s']:.1f} |",
        f"| LoopLeadMAE (12 modules in a loop) | {result['loop_median_step_s']:.4f} | "
        f"{result['loop_ecgs_per_s']:.1f} |",
        f"| **speedup** | | **{result['speedup']:.2f}×** |",
        "",
        "Same model, other batch sizes:",
        "",
        "| batch | LeadBankMAE ECGs/s | LoopLeadMAE ECGs/s | speedup |",
        "|---:|---:|---:|---:|",
        *[f"| {r['batch_size']} | {r['bank_ecgs_per_s']:.1f} | {r['loop_ecgs_per_s']:.1f} | {r['speedup']:.2f}× |"
          for r in result["sweep"]],
        "",
        f"Config: 12 leads, n_times {c['n_times']} @ {c['fs']:g} Hz, patch {c['patch_size']}, "
        f"width {c['embed_dim']}, depth {c['depth']}, heads {c['num_heads']}, decoder "
        f"{c['decoder_embed_dim']}×{c['decoder_depth']} ({c['decoder_heads']} heads), batch {c['batch_size']}, "
        f"{c['params_total']:,} parameters.",
        "",
        f"torch {result['torch_version']}, {result['threads']} threads, {result['machine']['cpu']} "
        f"({result['machine']['logical_cpus']} logical CPUs), {result['machine']['platform']}; "
        f"1-min load average {result['load_average_1min']['before']:.2f} before, "
        f"{result['load_average_1min']['after']:.2f} after (the machine is shared).",
        "",
        f"Command: `{result['command']}`",
        "",
    ]
    md_path.write_text("\n".join(lines))
    return json_path, md_path


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = run(args)
    paths = write_results(result, args.out_dir)
    print(f"bank {result['bank_ecgs_per_s']:.1f} ECGs/s, loop {result['loop_ecgs_per_s']:.1f} ECGs/s, "
          f"speedup {result['speedup']:.2f}x  -> {paths[0]}")


if __name__ == "__main__":
    main()
