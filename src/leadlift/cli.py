"""The ``leadlift`` command line.

Every command takes ``--data-dir``; without it the data directory comes from ``$LEADLIFT_DATA``
or the user cache default (:mod:`leadlift.paths`). Errors caused by input or environment are
printed as one line (``error: ...``) with exit status 2, never as a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from leadlift.errors import InputError, LeadliftError

app = typer.Typer(
    name="leadlift",
    help="leadlift: from one or a few ECG leads to 12-lead embeddings and reconstructions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

DataDirOpt = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on py3.10
    typer.Option("--data-dir", "-d", help="Data directory (default: $LEADLIFT_DATA, else the user cache dir)."),
]


class _OneLineHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        console.print(f"[yellow]warning:[/yellow] {record.getMessage()}", highlight=False)


def _setup_logging(verbose: bool = False) -> None:
    root = logging.getLogger("leadlift")
    if not any(isinstance(h, _OneLineHandler) for h in root.handlers):
        root.addHandler(_OneLineHandler())
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output.")] = False) -> None:
    _setup_logging(verbose)


# --------------------------------------------------------------------------------------- datasets
@app.command()
def datasets(data_dir: DataDirOpt = None) -> None:
    """List the known datasets, where leadlift looks for them and how many records are present."""
    from leadlift.download import PHYSIONET_DATASETS
    from leadlift.paths import data_dir_source, prepared_root, resolve_data_dir
    from leadlift.readers import READERS

    root = resolve_data_dir(data_dir)
    out.print(f"data directory: {root}  (from {data_dir_source(data_dir)})")
    table = Table(show_lines=False)
    for col in ("dataset", "description", "folder", "records", "prepared stores"):
        table.add_column(col, overflow="fold")
    logging.getLogger("leadlift.readers").setLevel(logging.ERROR)  # counts say enough here
    for name, cls in READERS.items():
        folder = root / cls.folder
        if folder.is_dir():
            try:
                count = str(len(cls(root)))
            except LeadliftError as exc:
                count = f"unreadable: {exc}"
        else:
            count = "absent"
        stores = sorted(p.name for p in prepared_root(root).glob(f"{name}-*") if (p / "CURRENT").exists())
        table.add_row(name, cls.title, f"{cls.folder}/", count, ", ".join(stores) or "-")
    logging.getLogger("leadlift.readers").setLevel(logging.NOTSET)
    out.print(table)
    downloadable = [n for n, c in READERS.items() if c.download_name in PHYSIONET_DATASETS]
    out.print(f"download from PhysioNet: leadlift download {{{','.join(downloadable)}}} [--data-dir D]; "
              "a local copy works too: point --data-dir or $LEADLIFT_DATA at the folder holding them")


# --------------------------------------------------------------------------------------- download
@app.command()
def download(
    dataset: Annotated[str, typer.Argument(help="ptbxl, ptbdb or ecgid")],
    data_dir: DataDirOpt = None,
    files: Annotated[Optional[list[str]], typer.Option("--file", help="Only these paths/globs.")] = None,  # noqa: UP045
    verify: Annotated[bool, typer.Option("--verify", help="Only check present files against SHA256SUMS.txt.")] = False,
    base_url: Annotated[Optional[str], typer.Option(help="Mirror URL (default PhysioNet).")] = None,  # noqa: UP045
) -> None:
    """Fetch a public dataset from PhysioNet (resumable, SHA256-verified, with a progress bar)."""
    from leadlift.download import PHYSIONET_DATASETS, download_dataset, verify_dataset
    from leadlift.paths import resolve_data_dir

    if dataset not in PHYSIONET_DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; downloadable: {', '.join(PHYSIONET_DATASETS)}")
    root = resolve_data_dir(data_dir)
    if verify:
        problems = verify_dataset(dataset, root)
        for p in problems:
            out.print(f"  {p}")
        out.print(f"{dataset}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        raise typer.Exit(1 if problems else 0)
    root.mkdir(parents=True, exist_ok=True)
    report = download_dataset(dataset, root, base_url=base_url, files=files)
    out.print(f"{dataset}: {report}")
    out.print(f"data directory: {root}")


# --------------------------------------------------------------------------------------- prepare
@app.command()
def prepare(
    dataset: Annotated[str, typer.Argument(help="ptbxl, ptbdb, ecgid or cinc2021")],
    fs: Annotated[float, typer.Option("--fs", help="Target sampling rate in Hz.")] = 100.0,
    seconds: Annotated[Optional[float], typer.Option(help="Fixed record length in s (default: longest).")] = None,  # noqa: UP045
    data_dir: DataDirOpt = None,
    store_dir: Annotated[Optional[Path], typer.Option(help="Where to write stores (default DATA_DIR/leadlift-prepared).")] = None,  # noqa: UP045,E501
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if up to date.")] = False,
) -> None:
    """Read a dataset once into a memory-mapped store [n_records, n_leads, n_samples] (mV) + metadata."""
    from leadlift.paths import resolve_data_dir
    from leadlift.store import prepare as do_prepare

    store = do_prepare(dataset, fs, resolve_data_dir(data_dir), seconds=seconds, store_dir=store_dir,
                       force=force, on_status=out.print)
    out.print(f"{store.dataset}: {len(store)} records, leads {','.join(store.leads)}, "
              f"{store.n_samples} samples @ {store.fs:g} Hz -> {store.path}")


# --------------------------------------------------------------------------------------- show
@app.command()
def show(
    record: Annotated[str, typer.Argument(help="A WFDB record path (with or without .hea) or DATASET:RECORD_ID, "
                                          "e.g. ptbxl:00001 or ecgid:Person_01/rec_1.")],
    data_dir: DataDirOpt = None,
    out_png: Annotated[Optional[Path], typer.Option("--out", "-o", help="PNG to write (default RECORD.png).")] = None,  # noqa: UP045
    seconds: Annotated[Optional[float], typer.Option(help="Plot only the first SECONDS s.")] = None,  # noqa: UP045
) -> None:
    """Print a record's summary and write a 12-lead plot on the standard ECG grid."""
    from leadlift.paths import resolve_data_dir
    from leadlift.plotting import plot_ecg
    from leadlift.readers import get_reader
    from leadlift.readers.base import read_wfdb_ecg

    path = Path(record)
    if path.suffix in {".hea", ".dat", ".mat"}:
        path = path.with_suffix("")
    if path.with_name(path.name + ".hea").exists():
        ecg = read_wfdb_ecg(path)
    elif ":" in record:
        name, rid = record.split(":", 1)
        ecg = get_reader(name, resolve_data_dir(data_dir)).read(rid)
    else:
        raise InputError(f"{record!r} is neither a WFDB record path nor DATASET:RECORD_ID (e.g. ptbxl:00001)")
    out.print(ecg.summary(), highlight=False)
    target = out_png or Path(f"{(ecg.record_id or path.name).replace('/', '_')}.png")
    plot_ecg(ecg, path=target, title=ecg.record_id, seconds=seconds)
    out.print(f"plot: {target}")


# --------------------------------------------------------------------------------------- pretrain
@app.command()
def pretrain(
    config: Annotated[Path, typer.Option("--config", "-c", help="Experiment YAML (see configs/).")],
    data_dir: DataDirOpt = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Output folder (default runs/NAME).")] = None,  # noqa: UP045
    max_epochs: Annotated[Optional[int], typer.Option(help="Override trainer.max_epochs.")] = None,  # noqa: UP045
    devices: Annotated[Optional[str], typer.Option(help="Devices per node (e.g. 1, 4, auto).")] = None,  # noqa: UP045
    num_nodes: Annotated[Optional[int], typer.Option(help="Number of nodes (multi-node DDP).")] = None,  # noqa: UP045
    strategy: Annotated[Optional[str], typer.Option(help="Lightning strategy (auto, ddp, ...).")] = None,  # noqa: UP045
    accelerator: Annotated[Optional[str], typer.Option(help="cpu, gpu or auto.")] = None,  # noqa: UP045
    batch_size: Annotated[Optional[int], typer.Option(help="Override data.batch_size (per device).")] = None,  # noqa: UP045
    limit_train_batches: Annotated[Optional[float], typer.Option(help="Fraction (<=1) or number of batches per epoch.")] = None,  # noqa: UP045,E501
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Resume from OUT/checkpoints/last.")] = True,
    store_dir: Annotated[Optional[Path], typer.Option(help="Prepared-store folder.")] = None,  # noqa: UP045
) -> None:
    """Pretrain the aligned per-lead MAE (or a baseline) from a config on the PTB-XL training folds."""
    from leadlift.config import load_config
    from leadlift.paths import resolve_data_dir
    from leadlift.training.pretrain import pretrain as run

    overrides: dict[str, object] = {}
    if max_epochs is not None:
        overrides["trainer.max_epochs"] = max_epochs
    if devices is not None:
        overrides["trainer.devices"] = int(devices) if devices.isdigit() else devices
    if num_nodes is not None:
        overrides["trainer.num_nodes"] = num_nodes
    if strategy is not None:
        overrides["trainer.strategy"] = strategy
    if accelerator is not None:
        overrides["trainer.accelerator"] = accelerator
    if batch_size is not None:
        overrides["data.batch_size"] = batch_size
    if limit_train_batches is not None:
        overrides["trainer.limit_train_batches"] = (int(limit_train_batches) if limit_train_batches > 1
                                                    else limit_train_batches)
    cfg = load_config(config, overrides)
    target = out_dir or Path("runs") / cfg.name
    summary = run(cfg, resolve_data_dir(data_dir), target, resume=resume, store_dir=store_dir)
    if not summary["is_global_zero"]:
        return
    if summary["resumed_from"]:
        out.print(f"resumed from {summary['resumed_from']}")
    m = summary["metrics"]
    out.print(f"done: {summary['epochs']} epochs, {summary['global_step']} steps in {summary['seconds']} s "
              f"(s/epoch: {summary['epoch_seconds']}); val loss {m.get('val/loss', float('nan')):.4f}, "
              f"recon {m.get('val/recon', float('nan')):.4f}, align {m.get('val/align', float('nan')):.4f}")
    out.print(f"checkpoint: {target}  (inspect with `leadlift info {target}`)")


# --------------------------------------------------------------------------------------- cross-recon
@app.command("cross-recon")
def cross_recon(
    checkpoint: Annotated[Path, typer.Argument(help="Aligned per-lead MAE checkpoint folder.")],
    baseline: Annotated[Optional[list[Path]], typer.Option(help="More checkpoints to compare (e.g. no-alignment).")] = None,  # noqa: UP045,E501
    inputs: Annotated[str, typer.Option(help="Input lead(s), e.g. I or I,II.")] = "I",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for results.json / results.md.")] = Path("cross_recon"),
    data_dir: DataDirOpt = None,
    store_dir: Annotated[Optional[Path], typer.Option(help="Prepared-store folder.")] = None,  # noqa: UP045
) -> None:
    """Reconstruct all 12 leads from INPUTS on PTB-XL fold 10 with MAE checkpoints; per-lead r and RMSE."""
    from leadlift.ecg import parse_leads
    from leadlift.evaluation.cross_lead import cross_lead_report
    from leadlift.paths import resolve_data_dir

    ckpts = {checkpoint.name or str(checkpoint): str(checkpoint)}
    for b in baseline or []:
        ckpts[b.name if b.name not in ckpts else str(b)] = str(b)
    res = cross_lead_report(ckpts, resolve_data_dir(data_dir), parse_leads(inputs), out_dir, store_dir=store_dir)
    out.print((out_dir / "results.md").read_text(), highlight=False)
    out.print(f"wrote {out_dir / 'results.json'} and results.md in {res['seconds']} s")


# --------------------------------------------------------------------------------------- info
@app.command()
def info(checkpoint: Annotated[Path, typer.Argument(help="Checkpoint folder (or its model.safetensors).")]) -> None:
    """Print a checkpoint's config, preprocessing and parameter counts."""
    import yaml

    from leadlift.training.checkpoint import load_exported

    state, cfg = load_exported(checkpoint)
    total = sum(t.numel() for t in state.values())
    groups: dict[str, int] = {}
    for name, t in state.items():
        top = name.split(".")[0]
        groups[top] = groups.get(top, 0) + t.numel()
    model = cfg.get("model", {})
    kwargs = model.get("kwargs", {})
    n_leads = len(kwargs.get("leads", [])) or 1
    out.print(f"model: {model.get('class')}  format: {cfg.get('format')}  epoch: {cfg.get('epoch')}  "
              f"steps: {cfg.get('global_step')}")
    out.print(f"parameters: {total:,} total"
              + (f" ({total / n_leads:,.0f} per lead)" if model.get("class") == "LeadBankMAE" else ""))
    table = Table("tensor group", "parameters")
    for k, v in groups.items():
        table.add_row(k, f"{v:,}")
    out.print(table)
    out.print("preprocessing:")
    out.print(yaml.safe_dump(cfg.get("preprocessing", {}), sort_keys=False, default_flow_style=None).rstrip(),
              highlight=False)
    out.print("architecture:")
    out.print(yaml.safe_dump(kwargs, sort_keys=False, default_flow_style=None).rstrip(), highlight=False)
    if cfg.get("metrics"):
        shown = {k: round(v, 4) for k, v in cfg["metrics"].items() if k.startswith("val/")}
        out.print(f"last validation: {shown}")
    out.print(f"weights sha256: {cfg.get('weights_sha256')}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turn leadlift errors into one-line messages."""
    _setup_logging()
    try:
        app(args=argv, prog_name="leadlift")
    except LeadliftError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        sys.exit(130)


if __name__ == "__main__":
    main()
