"""How leadlift's data path scales with the record count: prepare, store size, loading, training.

The real PTB-XL records of the data directory (100 Hz) are *tiled* into larger sources made at run
time under ``--work-dir`` (never committed): a ``ptbxl_database.csv`` whose rows repeat the present
records with new ``ecg_id``/``patient_id`` values and point into ``records100/tNNN/``, each a
symbolic link to the real ``records100`` folder. The reader, the fingerprint and ``prepare`` see
an ordinary PTB-XL copy of 2 k, 20 k or 100 k records (the same waveforms repeated), so the cost of
every record is the real one.

Measured per size, each in a fresh process (wall time; peak RSS of the main process and of the
largest pool worker, from ``getrusage`` and the workers' ``VmHWM``):

* ``prepare`` at each worker count (``--workers``) and storage type (``--dtypes``, the first at
  every worker count, the others with the most workers; the largest size only with the most
  workers and the first type, to bound the run time), and the store size on disk;
* one epoch of the pretraining data path (random 5-s crops of every record from the memory-mapped
  store through a ``DataLoader``, capped at ``--epoch-cap`` records) in windows/s and its peak RSS;
* the training throughput (ECGs/s) of the default MAE (``mae-cpu``) and of the reconstructor
  (``recon-cpu`` fusion net, frozen encoder) on batches from that store.

The result has the slope of time vs records (log-log; 1 = linear) and of peak RSS vs records.
Writes ``benchmarks/results/scale.json`` and ``.md``::

    python benchmarks/scale.py                       # 2 k, 20 k, 100 k records (about 25 min on 2 cores)
    python benchmarks/scale.py --sizes 500,2000 --out-dir /tmp/scale   # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


# ------------------------------------------------------------------------------------------ fixture
def tile_source(data_dir: Path, n: int, dest: Path) -> Path:
    """A PTB-XL folder of ``n`` records tiled from the real ones of ``data_dir`` (symbolic links)."""
    import pandas as pd

    src = data_dir / "ptb-xl"
    root = dest / "ptb-xl"
    if (root / "ptbxl_database.csv").exists() and len(pd.read_csv(root / "ptbxl_database.csv",
                                                                   usecols=["ecg_id"])) == n:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    (root / "records100").mkdir(parents=True)
    db = pd.read_csv(src / "ptbxl_database.csv")
    present = db[[(src / f"{p}.hea").exists() for p in db["filename_lr"]]].reset_index(drop=True)
    tiles = math.ceil(n / len(present))
    parts = []
    for k in range(tiles):
        (root / "records100" / f"t{k:03d}").symlink_to((src / "records100").resolve(), target_is_directory=True)
        t = present.copy()
        t["ecg_id"] = t["ecg_id"] + k * 1_000_000
        t["patient_id"] = t["patient_id"] + k * 1_000_000
        t["filename_lr"] = [p.replace("records100/", f"records100/t{k:03d}/", 1) for p in t["filename_lr"]]
        t["filename_hr"] = t["filename_lr"]
        parts.append(t)
    pd.concat(parts).iloc[:n].to_csv(root / "ptbxl_database.csv", index=False)
    shutil.copy(src / "scp_statements.csv", root / "scp_statements.csv")
    return dest


# ------------------------------------------------------------------------------------------ child runs
def _peak_mib(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux: KiB


def _worker_peaks_mib() -> list[float]:
    """Peak RSS (VmHWM) of this process's live child processes that are pool workers (Linux /proc)."""
    me, peaks = os.getpid(), []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            status = (p / "status").read_text()
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("PPid", "0").strip()) == me and "popen_loky" in cmd:
            peaks.append(round(int(fields["VmHWM"].split()[0]) / 1024, 1))
    return peaks


def child_prepare(source: Path, stores: Path, workers: int, dtype: str) -> dict[str, Any]:
    from leadlift.data.store import prepare

    shutil.rmtree(stores, ignore_errors=True)
    t0 = time.perf_counter()
    store = prepare("ptbxl", 100, source, store_dir=stores, progress=False, workers=workers, dtype=dtype, force=True)
    seconds = time.perf_counter() - t0
    version = store.path / (store.path / "CURRENT").read_text().strip()
    size = sum(f.stat().st_size for f in version.glob("signals*.npy"))
    workers_peak = _worker_peaks_mib()  # the pool's workers idle until their timeout: read their high-water mark
    return {"records": len(store), "seconds": seconds, "records_per_s": len(store) / seconds,
            "store_mib": round(size / 2**20, 1), "peak_rss_main_mib": _peak_mib(resource.RUSAGE_SELF),
            "peak_rss_worker_mib": max(workers_peak, default=0.0), "n_workers_seen": len(workers_peak)}


def child_loading(source: Path, stores: Path, cap: int, batch: int, loader_workers: int) -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader

    from leadlift.data.datasets import CropDataset
    from leadlift.data.store import prepare

    torch.set_num_threads(1)
    store = prepare("ptbxl", 100, source, store_dir=stores, progress=False)
    rows = np.random.default_rng(0).permutation(len(store))[:cap]
    torch.manual_seed(0)
    ds = CropDataset(store, rows, crop=500, mode="random")
    loader = DataLoader(ds, batch_size=batch, shuffle=False, num_workers=loader_workers,
                        persistent_workers=False)
    t0 = time.perf_counter()
    n = 0
    for b in loader:
        n += int(b["signal"].shape[0])
    seconds = time.perf_counter() - t0
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    mib = {k: round(int(status[k].split()[0]) / 1024, 1) for k in ("RssAnon", "RssFile") if k in status}
    return {"windows": n, "seconds": seconds, "windows_per_s": n / seconds, "loader_workers": loader_workers,
            "peak_rss_main_mib": _peak_mib(resource.RUSAGE_SELF), "rss_anon_end_mib": mib.get("RssAnon"),
            "rss_file_end_mib": mib.get("RssFile")}


def child_training(source: Path, stores: Path, steps: int) -> dict[str, Any]:
    import torch

    from leadlift.config import load_config
    from leadlift.data.store import prepare
    from leadlift.ecg import STANDARD_LEADS
    from leadlift.losses import masked_reconstruction_loss, mse_l1_loss, triplet_alignment_loss
    from leadlift.models.recon import FusionReconstructor, PathologyEncoder, ReconNet
    from leadlift.recon_config import load_recon_config
    from leadlift.training.mae_module import build_model

    torch.set_num_threads(os.cpu_count() or 1)
    store = prepare("ptbxl", 100, source, store_dir=stores, progress=False)
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}

    cfg = load_config("mae-cpu")
    model = build_model(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    bs, t = cfg.data.batch_size, cfg.data.n_times

    def batch(length: int) -> torch.Tensor:
        rows = np.sort(rng.choice(len(store), bs, replace=False))
        start = int(rng.integers(0, store.n_samples - length + 1))
        x = torch.from_numpy(np.asarray(store.signals[rows, :, start:start + length], dtype=np.float32))
        return (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-6)

    def mae_loss(x: torch.Tensor) -> torch.Tensor:
        o = model(x, mask_ratio=0.75)
        return (0.5 * masked_reconstruction_loss(o.pred, o.target_patches, o.mask)
                + 0.5 * triplet_alignment_loss(o.tokens))

    out["mae_cpu"] = {"batch_size": bs, "ecgs_per_s": _train_rate(mae_loss, opt, lambda: batch(t), bs, steps)}

    rc = load_recon_config("recon-cpu")
    inputs = [STANDARD_LEADS.index(n) for n in rc.data.inputs]
    learned = [i for i, n in enumerate(STANDARD_LEADS)
               if n not in (*rc.data.inputs, "III", "aVR", "aVL", "aVF")]
    enc = PathologyEncoder.from_config(rc.encoder, len(inputs)).requires_grad_(False).eval()
    net = ReconNet(FusionReconstructor.from_config(rc.fusion, len(inputs), len(learned), enc.embed_dim), enc).train()
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=rc.train.lr)
    bs = rc.train.batch_size
    out["recon_cpu_fusion"] = {"batch_size": bs, "ecgs_per_s": _train_rate(
        lambda w: mse_l1_loss(net(w[:, inputs]), w[:, learned]), opt, lambda: batch(rc.data.window) * 0.3, bs, steps)}
    out["threads"] = torch.get_num_threads()
    return out


def _train_rate(loss_fn: Any, opt: Any, next_batch: Any, batch_size: int, steps: int, warmup: int = 2) -> float:
    """ECGs/s of ``loss_fn(batch)`` + backward + optimizer step: median over ``steps`` timed steps (batch
    loading not timed) after ``warmup`` untimed ones."""
    times = []
    for step in range(warmup + steps):
        x = next_batch()
        t0 = time.perf_counter()
        loss = loss_fn(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= warmup:
            times.append(time.perf_counter() - t0)
    return batch_size / float(np.median(times))


def run_child(kind: str, **kw: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (clean peak RSS); returns its JSON."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps({"kind": kind, **{
        k: str(v) if isinstance(v, Path) else v for k, v in kw.items()}})]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if res.returncode != 0:
        raise RuntimeError(f"{kind} failed: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else '?'}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def child_main(spec: str) -> None:
    kw = json.loads(spec)
    kind = kw.pop("kind")
    for k in ("source", "stores"):
        kw[k] = Path(kw[k])
    fn = {"prepare": child_prepare, "loading": child_loading, "training": child_training}[kind]
    print(json.dumps(fn(**kw)))


# ------------------------------------------------------------------------------------------ report
def slope(xs: list[float], ys: list[float]) -> float | None:
    """Log-log slope of ``ys`` against ``xs`` (1 = linear, 0 = flat)."""
    if len(xs) < 2:
        return None
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def markdown(r: dict[str, Any]) -> str:
    lines = ["# Scale: prepare, store, loading and training vs the record count", "",
             f"Source: PTB-XL 100 Hz records of the data directory tiled to each size (the same "
             f"{r['real_records']} real waveforms repeated; symbolic links, made at run time). "
             f"Machine: {r['machine']['cpu']} ({r['machine']['logical_cpus']} logical CPUs), "
             f"{r['machine']['memory_gib']} GiB; torch {r['torch']}. Peak RSS from getrusage "
             "(main process, getrusage; largest pool worker, VmHWM).", "",
             "## prepare", "",
             "| records | workers | dtype | seconds | records/s | store MiB | peak RSS main MiB | "
             "peak RSS worker MiB |",
             "|---:|---:|---|---:|---:|---:|---:|---:|"]
    for p in r["prepare"]:
        lines.append(f"| {p['records']:,} | {p['workers']} | {p['dtype']} | {p['seconds']:.1f} | "
                     f"{p['records_per_s']:.0f} | {p['store_mib']:,.1f} | {p['peak_rss_main_mib']:,.0f} | "
                     f"{p['peak_rss_worker_mib']:,.0f} |")
    lines += [""]
    for w, s in r["summary"]["prepare_speedup"].items():
        lines.append(f"- {w} workers vs 1: **{s['speedup']:.2f}×** at {s['records']:,} records.")
    for key, s in r["summary"]["slopes"].items():
        lines.append(f"- log-log slope vs records, {key}: **{s:.2f}**" if s is not None else f"- {key}: –")
    lines += ["", "## One epoch of the pretraining data path and training throughput", "",
              "| records | windows read | loader workers | windows/s | peak RSS MiB | at the end: anonymous / "
              "file-backed MiB | MAE (mae-cpu) ECGs/s | reconstructor (recon-cpu) ECGs/s |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in r["sizes"]:
        lo = next(x for x in r["loading"] if x["records"] == n)
        tr = next(x for x in r["training"] if x["records"] == n)
        lines.append(f"| {n:,} | {lo['windows']:,} | {lo['loader_workers']} | {lo['windows_per_s']:,.0f} | "
                     f"{lo['peak_rss_main_mib']:,.0f} | {lo.get('rss_anon_end_mib')} / {lo.get('rss_file_end_mib')} | "
                     f"{tr['mae_cpu']['ecgs_per_s']:.0f} | "
                     f"{tr['recon_cpu_fusion']['ecgs_per_s']:.0f} |")
    lines += ["", f"{r['seconds'] / 60:.1f} min in all. Command: `{r['command']}`", ""]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "memory_gib": round(mem, 1), "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--sizes", default="2000,20000,100000", help="record counts (comma list)")
    ap.add_argument("--workers", default="1,2", help="prepare worker counts; the largest size uses only the last")
    ap.add_argument("--dtypes", default="float32,float16", help="store types; the first at every worker count")
    ap.add_argument("--epoch-cap", type=int, default=20000, help="records read in the loading epoch")
    ap.add_argument("--loader-workers", type=int, default=2)
    ap.add_argument("--train-steps", type=int, default=8)
    ap.add_argument("--data-dir", help="data directory (default: LEADLIFT_DATA / the usual places)")
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/leadlift-scale"),
                    help="where the tiled sources and stores go (removed at the end unless --keep)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0
    import torch

    from leadlift.paths import resolve_data_dir

    data_dir = resolve_data_dir(args.data_dir)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    workers = [int(w) for w in args.workers.split(",")]
    dtypes = args.dtypes.split(",")
    t_all = time.perf_counter()
    res: dict[str, Any] = {"sizes": sizes, "real_records": _real_count(data_dir), "prepare": [], "loading": [],
                           "training": [], "machine": machine(), "torch": torch.__version__,
                           "command": shlex.join(["python", "benchmarks/scale.py", *(argv or sys.argv[1:])])}
    for n in sizes:
        src = tile_source(data_dir, n, args.work_dir / f"source-{n}")
        stores = args.work_dir / f"stores-{n}"
        largest = n == sizes[-1] and len(sizes) > 1  # only the default run there (time)
        runs = [(w, dtypes[0]) for w in (workers[-1:] if largest else workers)]
        runs += [] if largest else [(workers[-1], d) for d in dtypes[1:]]
        for w, d in runs:
            print(f"[{(time.perf_counter() - t_all) / 60:.1f} min] prepare {n:,} records, {w} worker(s), {d}",
                  flush=True)
            row = run_child("prepare", source=src, stores=stores / f"{w}-{d}", workers=w, dtype=d)
            res["prepare"].append({"workers": w, "dtype": d, **row})
        keep = stores / f"{workers[-1]}-{dtypes[0]}"
        for other in stores.iterdir():
            if other != keep:
                shutil.rmtree(other, ignore_errors=True)
        print(f"[{(time.perf_counter() - t_all) / 60:.1f} min] loading + training on {n:,} records", flush=True)
        lo = run_child("loading", source=src, stores=keep, cap=args.epoch_cap, batch=64,
                       loader_workers=args.loader_workers)
        res["loading"].append({"records": n, **lo})
        tr = run_child("training", source=src, stores=keep, steps=args.train_steps)
        res["training"].append({"records": n, **tr})
        if not args.keep:
            shutil.rmtree(keep, ignore_errors=True)
    first = [p for p in res["prepare"] if p["dtype"] == dtypes[0] and p["workers"] == workers[-1]]
    speed = {}
    for w in workers[:-1]:
        pairs = [(a, b) for a in res["prepare"] for b in res["prepare"]
                 if a["records"] == b["records"] and a["workers"] == w and b["workers"] == workers[-1]
                 and a["dtype"] == b["dtype"] == dtypes[0]]
        if pairs:
            a, b = max(pairs, key=lambda ab: ab[0]["records"])
            speed[str(workers[-1])] = {"vs_workers": w, "records": a["records"], "speedup": a["seconds"] / b["seconds"]}
    res["summary"] = {
        "prepare_speedup": speed,
        "slopes": {
            f"prepare seconds ({workers[-1]} workers, {dtypes[0]})": slope([p["records"] for p in first],
                                                                           [p["seconds"] for p in first]),
            "prepare peak RSS, main process": slope([p["records"] for p in first],
                                                    [p["peak_rss_main_mib"] for p in first]),
            "prepare peak RSS, largest worker": slope([p["records"] for p in first],
                                                      [p["peak_rss_worker_mib"] for p in first]),
            "loading-epoch peak RSS": slope([x["records"] for x in res["loading"]],
                                            [x["peak_rss_main_mib"] for x in res["loading"]]),
        },
    }
    res["seconds"] = time.perf_counter() - t_all
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in ((args.out_dir / "scale.json", json.dumps(res, indent=2) + "\n"),
                       (args.out_dir / "scale.md", markdown(res))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    print(markdown(res))
    if not args.keep:
        shutil.rmtree(args.work_dir, ignore_errors=True)
    return 0


def _real_count(data_dir: Path) -> int:
    import pandas as pd

    db = pd.read_csv(data_dir / "ptb-xl" / "ptbxl_database.csv", usecols=["filename_lr"])
    return int(sum((data_dir / "ptb-xl" / f"{p}.hea").exists() for p in db["filename_lr"]))


if __name__ == "__main__":
    raise SystemExit(main())
