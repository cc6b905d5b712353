"""One prepared GPU check for both papers (run it when a GPU is at hand; it finishes in < 8 min).

Sections, in priority order (each is timed against ``--budget-s``; a section that would start
after the budget is recorded as skipped, and the results file is rewritten after every section so
a run stopped from outside still leaves what it measured):

1. ``leadbank_vs_loop``: one training step of the paper-size per-lead MAE bank (12 leads, ViT-B
   encoders, 5 s at 500 Hz) vs the same weights as 12 modules in a Python loop
   (``benchmarks/loop_lead_mae.py``), bf16 autocast, interleaved steps; goal ≥ 3× (ECGs/s).
2. ``mae_throughput``: training-step throughput (ECGs/s) and peak GPU memory of the paper-1 MAE
   at the CPU-default size (``mae-cpu``) and the paper size (``mae-paper``) at several batch sizes.
3. ``recon_throughput``: the same for the paper-2 reconstructor (``recon-paper``: frozen SupCon
   encoder + fusion reconstructor, 2.56-s windows at 100 Hz), and the SupCon encoder step.
4. ``compile``: eager vs ``torch.compile`` training step of the ``mae-cpu`` bank (compile time,
   step time, max |Δloss| of the first step).
5. ``lightning_smoke``: a few steps of each paper's LightningModule through leadlift's one trainer
   factory (``make_trainer``) with ``strategy="ddp"`` and bf16 autocast on the GPU.

Input windows are real PTB-XL recordings (folds 1–8 only): either read from the prepared stores
(``--data-dir``), or from a file written beforehand with ``--export-windows FILE`` (so the check can
run on a machine without the dataset). Batches larger than the file repeat its windows.

Usage::

    # on a machine with the data: write the windows once (≈ 30 MB, float16 mV)
    python benchmarks/gpu_check.py --export-windows .gpu_check/windows.npz
    # on the GPU machine
    python benchmarks/gpu_check.py --windows .gpu_check/windows.npz
    # CPU smoke test of the script itself (tiny models, 2 steps, no compile codegen)
    python benchmarks/gpu_check.py --dry-run --out-dir /tmp/gpu_check

Writes ``benchmarks/results/gpu_check.json`` and ``.md`` (``gpu_check_dry_run.*`` for a dry run).
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
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from leadlift.config import config_to_dict, load_config
from leadlift.ecg import STANDARD_LEADS
from leadlift.losses import (
    masked_reconstruction_loss,
    mse_l1_loss,
    supervised_contrastive_loss,
    triplet_alignment_loss,
)
from leadlift.models import LeadBankMAE
from leadlift.models.recon import FusionReconstructor, PathologyEncoder, ReconNet
from leadlift.recon_config import load_recon_config
from loop_lead_mae import LoopLeadMAE

RESULTS = Path(__file__).resolve().parent / "results"
RECON_INPUTS = ("I", "II", "V2")
RECON_IN_ROWS = [STANDARD_LEADS.index(n) for n in RECON_INPUTS]
RECON_OUT_ROWS = [i for i, n in enumerate(STANDARD_LEADS)  # learned leads (III, aVR, aVL, aVF follow from I, II)
                  if n not in (*RECON_INPUTS, "III", "aVR", "aVL", "aVF")]


# ----------------------------------------------------------------------------------------- data
def export_windows(path: Path, data_dir: str | None, n100: int = 512, n500: int = 256) -> dict[str, Any]:
    """Write real PTB-XL train-fold (1–8) records as float16 mV: ``w100`` ``[n100, 12, 1000]``
    (10 s at 100 Hz) and ``w500`` ``[n500, 12, 2500]`` (the first 5 s at 500 Hz)."""
    from leadlift.conventions import PTBXL_TRAIN_FOLDS
    from leadlift.data.store import prepare
    from leadlift.paths import resolve_data_dir

    root = resolve_data_dir(data_dir)
    out: dict[str, np.ndarray] = {}
    for fs, n, length, key in ((100, n100, 1000, "w100"), (500, n500, 2500, "w500")):
        store = prepare("ptbxl", fs, root, progress=False)
        rows = np.flatnonzero(store.meta["strat_fold"].isin(PTBXL_TRAIN_FOLDS).to_numpy()
                              & (store.meta["n_valid"].to_numpy() >= length))[:n]
        out[key] = np.asarray(store.signals[np.sort(rows), :, :length], dtype=np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return {k: list(v.shape) for k, v in out.items()}


def load_windows(args: argparse.Namespace) -> dict[str, torch.Tensor]:
    if args.windows is not None:
        with np.load(args.windows) as f:
            return {k: torch.from_numpy(f[k].astype(np.float32)) for k in ("w100", "w500")}
    tmp = Path(args.out_dir) / ".gpu_check_windows.npz"
    n = (16, 8) if args.dry_run else (512, 256)
    export_windows(tmp, args.data_dir, *n)
    try:
        return load_windows(argparse.Namespace(windows=tmp))
    finally:
        tmp.unlink(missing_ok=True)


def batch_of(pool: torch.Tensor, batch: int, length: int, device: torch.device, step: int = 0) -> torch.Tensor:
    """``[batch, 12, length]`` real windows (repeated when the pool is smaller), z-scored per lead."""
    idx = (torch.arange(batch) + step * batch) % pool.shape[0]
    x = pool[idx, :, :length].to(device, non_blocking=True)
    return (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-6)


# ----------------------------------------------------------------------------------------- timing
class Clock:
    """Wall-clock step timing that waits for the device."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def time(self, fn: Callable[..., Any], *args: Any) -> float:
        """Seconds of ``fn(*args)``, device work included."""
        self.sync()
        t0 = time.perf_counter()
        fn(*args)
        self.sync()
        return time.perf_counter() - t0


def peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None


def autocast(device: torch.device, bf16: bool) -> Any:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


# ----------------------------------------------------------------------------------------- models
def mae_kwargs(name: str, dry: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    cfg = load_config("mae-tiny" if dry else name)
    m, d = cfg.model, cfg.data
    kw = dict(n_times=d.n_times, fs=d.fs, patch_size=m.patch_size, embed_dim=m.embed_dim, depth=m.depth,
              num_heads=m.num_heads, decoder_embed_dim=m.decoder_embed_dim, decoder_depth=m.decoder_depth,
              decoder_heads=m.decoder_heads, mlp_ratio=m.mlp_ratio)
    return kw, config_to_dict(cfg)


def mae_step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, mask: Any, bf16: bool) -> float:
    with autocast(x.device, bf16):
        out = model(x, mask=mask)
        recon = masked_reconstruction_loss(out.pred.float(), out.target_patches, out.mask, norm_target=True)
        align = triplet_alignment_loss(out.tokens.float(), margin=0.5, negatives="roll", detach_others=True)
        loss = 0.5 * recon + 0.5 * align
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def adamw(model: torch.nn.Module, device: torch.device) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05,
                             fused=device.type in ("cuda", "cpu"))


def recon_net(dry: bool) -> tuple[ReconNet, Any]:
    cfg = load_recon_config("recon-tiny" if dry else "recon-paper")
    enc = PathologyEncoder.from_config(cfg.encoder, len(RECON_INPUTS))
    rec = FusionReconstructor.from_config(cfg.fusion, len(RECON_INPUTS), len(RECON_OUT_ROWS), enc.embed_dim)
    return ReconNet(rec, enc, output_scale=cfg.train.output_scale, eps=cfg.data.zscore_eps), cfg


# ----------------------------------------------------------------------------------------- sections
def _bank_vs_loop_at(ctx: dict[str, Any], kw: dict[str, Any], bs: int) -> dict[str, Any]:
    dev, a, clock = ctx["device"], ctx["args"], ctx["clock"]
    torch.manual_seed(0)
    bank = LeadBankMAE(STANDARD_LEADS, **kw).to(dev).train()
    loop = LoopLeadMAE.from_bank(bank).to(dev).train()
    models = {"bank": (bank, adamw(bank, dev)), "loop": (loop, adamw(loop, dev))}
    pool = ctx["windows"]["w500" if kw["fs"] >= 500 else "w100"]
    times: dict[str, list[float]] = {"bank": [], "loop": []}
    gen = torch.Generator().manual_seed(1)
    peak_reset(dev)
    for step in range(a.warmup + a.steps):
        x = batch_of(pool, bs, kw["n_times"], dev, step)
        mask = bank.random_mask(bs, 0.75, generator=gen, device=dev)
        for name in (("bank", "loop") if step % 2 == 0 else ("loop", "bank")):
            dt = clock.time(mae_step, *models[name], x, mask, ctx["bf16"])
            if step >= a.warmup:
                times[name].append(dt)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"batch_size": bs, "bank_ecgs_per_s": bs / med["bank"], "loop_ecgs_per_s": bs / med["loop"],
            "speedup": med["loop"] / med["bank"], "bank_median_step_s": med["bank"],
            "loop_median_step_s": med["loop"], "peak_gib_both_models": peak_gib(dev),
            "params": sum(p.numel() for p in bank.parameters())}


def sec_leadbank_vs_loop(ctx: dict[str, Any]) -> dict[str, Any]:
    kw, _ = mae_kwargs("mae-paper", ctx["args"].dry_run)
    rows = []
    for bs in ctx["sizes"]["bank_vs_loop"]:
        rows.append(_bank_vs_loop_at(ctx, kw, bs))
        peak_reset(ctx["device"])
    return {"config": {**kw, "params": rows[0]["params"], "bf16": ctx["bf16"]}, "rows": rows, "goal_speedup": 3.0,
            "meets_goal": all(r["speedup"] >= 3.0 for r in rows)}


def _throughput(ctx: dict[str, Any], make: Callable[[], tuple[torch.nn.Module, Callable[[int], float]]],
                sizes: list[int]) -> list[dict[str, Any]]:
    dev, a, clock = ctx["device"], ctx["args"], ctx["clock"]
    rows = []
    for bs in sizes:
        torch.manual_seed(0)
        model, step_fn = make()
        peak_reset(dev)
        try:
            for _ in range(a.warmup):
                step_fn(bs)
            times = [clock.time(step_fn, bs) for _ in range(a.steps)]
        except torch.OutOfMemoryError:
            rows.append({"batch_size": bs, "error": "out of GPU memory"})
            break
        finally:
            del model, step_fn
        med = statistics.median(times)
        rows.append({"batch_size": bs, "ecgs_per_s": bs / med, "median_step_s": med, "peak_gib": peak_gib(dev)})
    return rows


def sec_mae_throughput(ctx: dict[str, Any]) -> dict[str, Any]:
    dev, a = ctx["device"], ctx["args"]
    out: dict[str, Any] = {}
    for name in ("mae-cpu", "mae-paper"):
        kw, _ = mae_kwargs(name, a.dry_run)
        pool = ctx["windows"]["w500" if kw["fs"] >= 500 else "w100"]

        def make(kw: dict[str, Any] = kw, pool: torch.Tensor = pool) -> tuple[torch.nn.Module, Callable[[int], float]]:
            model = LeadBankMAE(STANDARD_LEADS, **kw).to(dev).train()
            opt = adamw(model, dev)
            gen = torch.Generator().manual_seed(1)
            counter = iter(range(10**9))

            def step(bs: int) -> float:
                x = batch_of(pool, bs, kw["n_times"], dev, next(counter))
                return mae_step(model, opt, x, model.random_mask(bs, 0.75, generator=gen, device=dev), ctx["bf16"])
            return model, step
        out[name] = {"config": kw, "rows": _throughput(ctx, make, ctx["sizes"][name])}
    return out


def sec_recon_throughput(ctx: dict[str, Any]) -> dict[str, Any]:
    dev, a = ctx["device"], ctx["args"]
    pool = ctx["windows"]["w100"]
    in_rows, out_rows = RECON_IN_ROWS, RECON_OUT_ROWS
    _, cfg = recon_net(a.dry_run)
    w = cfg.data.window

    def make_fusion() -> tuple[torch.nn.Module, Callable[[int], float]]:
        net, _ = recon_net(a.dry_run)
        net = net.to(dev).train()
        net.encoder.requires_grad_(False).eval()
        opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-4, weight_decay=1e-4)
        counter = iter(range(10**9))

        def step(bs: int) -> float:
            win = batch_of(pool, bs, w, dev, next(counter)) * 0.3  # z-scored windows at a mV-like scale
            with autocast(dev, ctx["bf16"]):
                pred = net(win[:, in_rows])
                loss = mse_l1_loss(pred.float(), win[:, out_rows], cfg.train.mse_weight, cfg.train.l1_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return float(loss.detach())
        return net, step

    def make_supcon() -> tuple[torch.nn.Module, Callable[[int], float]]:
        net, _ = recon_net(a.dry_run)
        enc = net.encoder.to(dev).train()
        opt = torch.optim.AdamW(enc.parameters(), lr=cfg.supcon.lr, weight_decay=cfg.supcon.weight_decay)
        counter = iter(range(10**9))

        def step(bs: int) -> float:
            win = batch_of(pool, bs, w, dev, next(counter))[:, in_rows]
            views = torch.cat([win + 0.01 * torch.randn_like(win), torch.roll(win, 8, -1)])
            labels = torch.arange(bs, device=dev) % 16
            with autocast(dev, ctx["bf16"]):
                _, z = enc(views)
                loss = supervised_contrastive_loss(z.float(), labels.repeat(2), temperature=cfg.supcon.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return float(loss.detach())
        return enc, step

    return {"config": {"inputs": list(RECON_INPUTS), "window": w, "fs": cfg.data.fs, "config": cfg.name},
            "fusion": _throughput(ctx, make_fusion, ctx["sizes"]["recon"]),
            "supcon_encoder": _throughput(ctx, make_supcon, ctx["sizes"]["recon"])}


def sec_compile(ctx: dict[str, Any]) -> dict[str, Any]:
    dev, a, clock = ctx["device"], ctx["args"], ctx["clock"]
    kw, _ = mae_kwargs("mae-cpu", a.dry_run)
    pool = ctx["windows"]["w100"]
    bs = ctx["sizes"]["compile"]
    res: dict[str, Any] = {"batch_size": bs, "backend": "eager" if a.dry_run else "inductor"}
    losses: dict[str, float] = {}
    for mode in ("eager", "compiled"):
        torch.manual_seed(0)
        model = LeadBankMAE(STANDARD_LEADS, **kw).to(dev).train()
        opt = adamw(model, dev)
        fn = torch.compile(model, backend=res["backend"]) if mode == "compiled" else model
        gen = torch.Generator().manual_seed(1)
        x = batch_of(pool, bs, kw["n_times"], dev)
        mask = model.random_mask(bs, 0.75, generator=gen, device=dev)
        t0 = time.perf_counter()
        losses[mode] = mae_step(fn, opt, x, mask, ctx["bf16"])
        clock.sync()
        t_first = time.perf_counter() - t0
        t_second = clock.time(mae_step, fn, opt, x, mask, ctx["bf16"])  # the lead-index cache: one recompile
        times = [clock.time(mae_step, fn, opt, x, mask, ctx["bf16"]) for _ in range(a.steps)]
        res[mode] = {"first_step_s": t_first, "second_step_s": t_second, "median_step_s": statistics.median(times),
                     "ecgs_per_s": bs / statistics.median(times)}
    res["speedup"] = res["eager"]["median_step_s"] / res["compiled"]["median_step_s"]
    res["first_loss_abs_diff"] = abs(losses["eager"] - losses["compiled"])
    return res


def sec_lightning_smoke(ctx: dict[str, Any]) -> dict[str, Any]:
    """Each paper's LightningModule through ``make_trainer(strategy="ddp")`` for a few steps."""
    from torch.utils.data import Dataset

    from leadlift.recon_config import ReconTrainConfig
    from leadlift.training.mae_module import MAEPretrainModule, build_model
    from leadlift.training.recon_module import ReconModule

    dev, a = ctx["device"], ctx["args"]
    accelerator = "gpu" if dev.type == "cuda" else "cpu"
    precision = "bf16-mixed" if ctx["bf16"] else "32-true"
    n_steps = 3 if a.dry_run else 20
    pool = ctx["windows"]["w100"]

    class Items(Dataset):
        def __init__(self, fn: Callable[[int], dict[str, torch.Tensor]], n: int) -> None:
            self.fn, self.n = fn, n

        def __len__(self) -> int:
            return self.n

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return self.fn(i)

    out: dict[str, Any] = {"strategy": "ddp", "devices": 1, "precision": precision, "steps": n_steps}
    mae_kw, mae_cfg = mae_kwargs("mae-cpu", a.dry_run)
    n_t = mae_kw["n_times"]
    bs = 4 if a.dry_run else 64
    mae_items = Items(lambda i: {"signal": batch_of(pool, 1, n_t, torch.device("cpu"), i)[0]}, bs * n_steps)
    rcfg = load_recon_config("recon-tiny" if a.dry_run else "recon-paper")
    in_rows, out_rows = RECON_IN_ROWS, RECON_OUT_ROWS

    def recon_item(i: int) -> dict[str, torch.Tensor]:
        win = pool[i % pool.shape[0], :, : rcfg.data.window]
        return {"x": win[in_rows], "y": win[out_rows]}

    recon_items = Items(recon_item, bs * n_steps)
    runs = {"mae": (lambda: MAEPretrainModule(build_model(load_config("mae-tiny" if a.dry_run else "mae-cpu")),
                                              mae_cfg), mae_items),
            "recon": (lambda: ReconModule(recon_net(a.dry_run)[0], ReconTrainConfig()), recon_items)}
    env_before = {k: os.environ.get(k) for k in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK",
                                                 "NODE_RANK")}
    try:
        for name, (make_module, items) in runs.items():
            try:
                out[name] = _smoke_fit(make_module, items, accelerator, precision, bs, Path(a.out_dir), dev)
            except Exception as exc:  # record, then try the other paper
                traceback.print_exc()
                out[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
    finally:  # leave no process group (it holds its port) and no DDP variables behind
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out


def _smoke_fit(make_module: Callable[[], Any], items: Any, accelerator: str, precision: str, bs: int, out_dir: Path,
               dev: torch.device) -> dict[str, Any]:
    from torch.utils.data import DataLoader

    from leadlift.training.trainer import make_trainer, quiet_lightning

    t0 = time.perf_counter()
    with quiet_lightning():
        trainer = make_trainer(max_epochs=1, accelerator=accelerator, devices=1, strategy="ddp",
                               precision=precision, limit_val_batches=2, checkpointing=False, progress=False,
                               sanity_val_steps=0, default_root_dir=out_dir / ".lightning")
        module = make_module()
        loader = DataLoader(items, batch_size=bs, shuffle=False, num_workers=0, pin_memory=dev.type == "cuda")
        trainer.fit(module, train_dataloaders=loader, val_dataloaders=loader)
    loss = trainer.callback_metrics.get("train/loss_epoch", trainer.callback_metrics.get("train/loss"))
    return {"seconds": time.perf_counter() - t0, "global_step": int(trainer.global_step),
            "final_loss": None if loss is None else float(loss),
            "finite": loss is not None and bool(torch.isfinite(loss))}


SECTIONS: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], float]] = [
    # (name, function, the least budget (s) left to start it)
    ("leadbank_vs_loop", sec_leadbank_vs_loop, 60),
    ("mae_throughput", sec_mae_throughput, 60),
    ("recon_throughput", sec_recon_throughput, 30),
    ("compile", sec_compile, 90),
    ("lightning_smoke", sec_lightning_smoke, 45),
]


def sizes_for(dry: bool) -> dict[str, Any]:
    if dry:
        return {"bank_vs_loop": [2], "mae-cpu": [2, 4], "mae-paper": [2], "recon": [4, 8], "compile": 2}
    return {"bank_vs_loop": [64, 256], "mae-cpu": [256, 1024, 4096], "mae-paper": [64, 256],
            "recon": [256, 1024, 4096], "compile": 512}


def environment(device: torch.device) -> dict[str, Any]:
    env: dict[str, Any] = {"torch": torch.__version__, "python": platform.python_version(),
                           "platform": platform.platform(), "device": str(device), "cpus": os.cpu_count()}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        env.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), capability=f"{p.major}.{p.minor}",
                   multiprocessors=p.multi_processor_count, bf16=torch.cuda.is_bf16_supported(),
                   cuda=torch.version.cuda)
    return env


def write(result: dict[str, Any], out_dir: Path, stem: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in ((out_dir / f"{stem}.json", json.dumps(result, indent=2, default=float) + "\n"),
                       (out_dir / f"{stem}.md", markdown(result))):
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)


def _f(v: Any, nd: int = 1) -> str:
    return "–" if v is None else f"{v:,.{nd}f}"


def markdown(r: dict[str, Any]) -> str:
    env, s = r["environment"], r["sections"]
    lines = [f"# GPU check{' (dry run on CPU: tiny models, numbers meaningless)' if r['dry_run'] else ''}", "",
             f"{env.get('gpu', env['device'])}, torch {env['torch']}"
             + (f" (CUDA {env['cuda']})" if env.get("cuda") else "")
             + f", {'bf16 autocast' if r['bf16'] else 'fp32'}; {r['seconds']:.0f} s in all. "
             f"Command: `{r['command']}`", "", *[f"Note: {n}" for n in r.get("notes", [])], ""]
    for name, sec in s.items():
        if "skipped" in sec or "error" in sec:
            lines += [f"## {name}", "", f"**{'skipped' if 'skipped' in sec else 'failed'}**: "
                      f"{sec.get('skipped') or sec.get('error')}", ""]
    if "rows" in s.get("leadbank_vs_loop", {}):
        b = s["leadbank_vs_loop"]
        c = b["config"]
        lines += ["## Per-lead MAE bank vs 12 modules in a loop (one training step)", "",
                  f"{c['params']:,} parameters, width {c['embed_dim']} × depth {c['depth']}, "
                  f"{c['n_times']} samples at {c['fs']:g} Hz; goal ≥ {b['goal_speedup']:g}×: "
                  f"**{'met' if b['meets_goal'] else 'not met'}**.", "",
                  "| batch | bank ECGs/s | loop ECGs/s | speedup | peak GiB (both) |", "|---:|---:|---:|---:|---:|"]
        lines += [f"| {x['batch_size']} | {_f(x['bank_ecgs_per_s'])} | {_f(x['loop_ecgs_per_s'])} | "
                  f"{x['speedup']:.2f}× | {_f(x['peak_gib_both_models'], 2)} |" for x in b["rows"]]
        lines.append("")
    tables = []
    for name, sec in s.get("mae_throughput", {}).items():
        if isinstance(sec, dict) and "rows" in sec:
            tables.append((f"paper 1 MAE `{name}` (train step)", sec["rows"]))
    rt = s.get("recon_throughput", {})
    for key, title in (("fusion", "paper 2 fusion reconstructor (train step, frozen encoder)"),
                       ("supcon_encoder", "paper 2 SupCon encoder (train step, 2 views)")):
        if key in rt:
            tables.append((title, rt[key]))
    if tables:
        lines += ["## Training throughput", "", "| model | batch | ECG windows/s | step (ms) | peak GiB |",
                  "|---|---:|---:|---:|---:|"]
        for title, rows in tables:
            for x in rows:
                if "error" in x:
                    lines.append(f"| {title} | {x['batch_size']} | {x['error']} | | |")
                else:
                    lines.append(f"| {title} | {x['batch_size']} | {_f(x['ecgs_per_s'])} | "
                                 f"{x['median_step_s'] * 1e3:.1f} | {_f(x['peak_gib'], 2)} |")
        lines.append("")
    if "speedup" in s.get("compile", {}):
        c = s["compile"]
        lines += ["## torch.compile (mae-cpu bank, one training step)", "",
                  f"batch {c['batch_size']}, backend {c['backend']}: eager {c['eager']['median_step_s'] * 1e3:.1f} ms, "
                  f"compiled {c['compiled']['median_step_s'] * 1e3:.1f} ms (**{c['speedup']:.2f}×**); "
                  f"first compiled steps (incl. compilation) {c['compiled']['first_step_s']:.1f} s + "
                  f"{c['compiled']['second_step_s']:.1f} s; "
                  f"|Δ first loss| {c['first_loss_abs_diff']:.2e}.", ""]
    if "mae" in s.get("lightning_smoke", {}):
        ls = s["lightning_smoke"]
        lines += ["## Lightning smoke run (make_trainer, strategy ddp, 1 device)", "",
                  "| paper | steps | seconds | final loss | finite |", "|---|---:|---:|---:|---|"]
        for name in ("mae", "recon"):
            if name in ls:
                x = ls[name]
                lines.append(f"| {name} | {x['global_step']} | {x['seconds']:.1f} | {_f(x['final_loss'], 4)} | "
                             f"{x['finite']} |")
        lines.append("")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--windows", type=Path, help="real windows written by --export-windows")
    p.add_argument("--data-dir", help="data directory (default: LEADLIFT_DATA / the usual places)")
    p.add_argument("--export-windows", type=Path, metavar="FILE", help="write the windows file and exit")
    p.add_argument("--dry-run", action="store_true", help="tiny models on the CPU: checks the script, not speed")
    p.add_argument("--budget-s", type=float, default=420.0, help="no section starts after this many seconds")
    p.add_argument("--steps", type=int, default=None, help="timed steps per measurement (default 10; dry 2)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 3; dry 1)")
    p.add_argument("--only", default="", help="comma list of sections to run (default all)")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.steps = args.steps or (2 if args.dry_run else 10)
    args.warmup = args.warmup or (1 if args.dry_run else 3)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.export_windows:
        shapes = export_windows(args.export_windows, args.data_dir)
        print(f"wrote {args.export_windows}: {shapes}")
        return 0
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run it on a GPU machine, or pass --dry-run to check the script",
              file=sys.stderr)
        return 2
    device = torch.device("cpu" if args.dry_run else "cuda")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    t0 = time.perf_counter()
    stem = "gpu_check_dry_run" if args.dry_run else "gpu_check"
    ctx = {"args": args, "device": device, "clock": Clock(device), "windows": load_windows(args),
           "bf16": device.type == "cuda" and torch.cuda.is_bf16_supported(), "sizes": sizes_for(args.dry_run)}
    result: dict[str, Any] = {"dry_run": args.dry_run, "bf16": ctx["bf16"], "environment": environment(device),
                              "windows": {k: list(v.shape) for k, v in ctx["windows"].items()},
                              "command": shlex.join(["python", *sys.argv]), "sections": {}, "seconds": 0.0}
    only = {s for s in args.only.split(",") if s}
    for name, fn, min_left in SECTIONS:
        if only and name not in only:
            continue
        left = args.budget_s - (time.perf_counter() - t0)
        if left < min_left and not args.dry_run:
            result["sections"][name] = {"skipped": f"{left:.0f} s of the {args.budget_s:g}-s budget left"}
        else:
            t1 = time.perf_counter()
            try:
                result["sections"][name] = {**fn(ctx), "section_seconds": round(time.perf_counter() - t1, 1)}
            except Exception as exc:  # record and go on: the other sections still run
                traceback.print_exc()
                result["sections"][name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
            if device.type == "cuda":
                torch.cuda.empty_cache()
        result["seconds"] = round(time.perf_counter() - t0, 1)
        write(result, args.out_dir, stem)
        print(f"[{result['seconds']:.0f} s] {name}: "
              f"{json.dumps(result['sections'][name], default=float)[:400]}", flush=True)
    print(markdown(result))
    failed = [n for n, s in result["sections"].items() if "error" in s]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
