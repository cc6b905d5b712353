"""The ``leadlift`` command line.

Every command takes ``--data-dir``; without it the data directory comes from ``$LEADLIFT_DATA``
or the user cache default (:mod:`leadlift.paths`). Errors caused by input or environment are
printed as one line (``error: ...``) with exit status 2, never as a traceback.
"""

from __future__ import annotations

import logging
import re
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
out = Console(soft_wrap=True, markup=False, highlight=False)  # results name users' paths: never parse them as markup

DataDirOpt = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on py3.10
    typer.Option("--data-dir", "-d", help="Data directory (default: $LEADLIFT_DATA, else the user cache dir)."),
]


_ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bars (default on).")]
_CommonThreadsOpt = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--threads", help="torch CPU threads (default: torch's choice; 1 is often faster on a busy shared machine).")]


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise InputError(f"--threads {threads}; pass a positive number of threads")
    import torch

    torch.set_num_threads(threads)


def _resolve(checkpoint: Path | str) -> Path:
    """A bundled model name (``mae-cpu``), a checkpoint folder or ``org/name`` → the folder."""
    from leadlift.inference.hub import resolve_model

    return resolve_model(str(checkpoint))[0]


class _OneLineHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        console.print("[yellow]warning:[/yellow] ", end="", highlight=False)
        console.print(record.getMessage(), markup=False, highlight=False)


def _setup_logging(verbose: bool = False) -> None:
    root = logging.getLogger("leadlift")
    if not any(isinstance(h, _OneLineHandler) for h in root.handlers):
        root.addHandler(_OneLineHandler())
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


def _version(value: bool) -> None:
    if value:
        import leadlift

        out.print(f"leadlift {leadlift.__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output.")] = False,
          version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version,
                                                is_eager=True)] = False) -> None:
    _setup_logging(verbose)


# --------------------------------------------------------------------------------------- datasets
@app.command()
def datasets(data_dir: DataDirOpt = None) -> None:
    """List the known datasets, where leadlift looks for them and how many records are present.

    Example: leadlift datasets --data-dir ~/ecg-data
    """
    from leadlift.data.download import PHYSIONET_DATASETS
    from leadlift.data.readers import READERS
    from leadlift.paths import data_dir_source, prepared_root, resolve_data_dir

    root = resolve_data_dir(data_dir)
    out.print(f"data directory: {root}  (from {data_dir_source(data_dir)})")
    table = Table(show_lines=False)
    for col in ("dataset", "description", "folder", "records", "prepared stores"):
        table.add_column(col, overflow="fold")
    logging.getLogger("leadlift.data.readers").setLevel(logging.ERROR)  # counts say enough here
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
    logging.getLogger("leadlift.data.readers").setLevel(logging.NOTSET)
    out.print(table)
    downloadable = [n for n, c in READERS.items() if c.download_name in PHYSIONET_DATASETS]
    out.print(f"download from PhysioNet: leadlift download {{{','.join(downloadable)}}} [--data-dir D]; "
              "a local copy works too: point --data-dir or $LEADLIFT_DATA at the folder holding them")


# --------------------------------------------------------------------------------------- download
@app.command()
def download(
    dataset: Annotated[str, typer.Argument(help="ptbxl, ptbdb, ecgid or cinc2021")],
    data_dir: DataDirOpt = None,
    files: Annotated[Optional[list[str]], typer.Option("--file", help="Only these paths/globs (cinc2021: a source, "  # noqa: UP045
                                                        "e.g. --file ptb).")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Only check present files against SHA256SUMS.txt.")] = False,
    base_url: Annotated[Optional[str], typer.Option(help="Mirror URL (default PhysioNet).")] = None,  # noqa: UP045
    deadline: Annotated[Optional[float], typer.Option(help="Seconds the whole download may take (default "  # noqa: UP045
                                                      "$LEADLIFT_DOWNLOAD_DEADLINE or no limit).")] = None,
    stall_timeout: Annotated[Optional[float], typer.Option(help="Give up when no byte arrives for this many "  # noqa: UP045
                                                           "seconds (default 60; 0 = never).")] = None,
    progress: _ProgressOpt = True,
) -> None:
    """Fetch a public dataset from PhysioNet (resumable, SHA256-verified, with a progress bar).

    Example: leadlift download ecgid --data-dir ~/ecg-data
    """
    from leadlift.data.download import PHYSIONET_DATASETS, download_dataset, verify_dataset
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
    report = download_dataset(dataset, root, base_url=base_url, files=files, progress=progress, deadline=deadline,
                              stall_timeout=stall_timeout)
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
    workers: Annotated[Optional[int], typer.Option(help="Reader processes (default: the CPU count).")] = None,  # noqa: UP045
    dtype: Annotated[Optional[str], typer.Option(help="Storage type: float32 or float16 (half the size; default: "  # noqa: UP045
                                                 "keep the existing store's, float32 for a new one).")] = None,
    shards: Annotated[Optional[int], typer.Option(help="Split the signals over N files (nodes or loader workers "  # noqa: UP045
                                                  "read disjoint files; default: keep, 1 for a new one).")] = None,
    progress: _ProgressOpt = True,
) -> None:
    """Read a dataset once into a memory-mapped store (records x leads x samples, mV) + metadata.

    Example: leadlift prepare ptbxl --fs 100 --workers 8 --dtype float16
    """
    from leadlift.data.store import prepare as do_prepare
    from leadlift.paths import resolve_data_dir

    store = do_prepare(dataset, fs, resolve_data_dir(data_dir), seconds=seconds, store_dir=store_dir,
                       force=force, on_status=out.print, workers=workers, dtype=dtype, shards=shards,
                       progress=progress)
    out.print(f"{store.dataset}: {len(store)} records, leads {','.join(store.leads)}, "
              f"{store.n_samples} samples @ {store.fs:g} Hz, {store.dtype}"
              + (f", {len(store.shards)} shards" if len(store.shards) > 1 else "") + f" -> {store.path}")


# --------------------------------------------------------------------------------------- show
SHOW_SECONDS = 10.0
"""Seconds ``leadlift show`` plots by default (the whole record when it is shorter)."""

_CLI_HINT = re.compile(r"\b[A-Za-z_]+=(?:'[^']*'|[^\s,;()]*)\s*\(CLI: ([^)]*)\)")


def cli_spelling(message: str) -> str:
    """A library message as the command line's user needs it: every hint written in both spellings,
    ``units='uV' (CLI: --units uV)``, keeps only the option (``--units uV``)."""
    return _CLI_HINT.sub(r"\1", message)


@app.command()
def show(
    record: Annotated[str, typer.Argument(help="A recording file (WFDB .hea with or without the extension, .csv, "
                                          ".npy, .npz, .edf) or DATASET:RECORD_ID, e.g. ptbxl:00001 or "
                                          "ecgid:Person_01/rec_1.")],
    data_dir: DataDirOpt = None,
    out_png: Annotated[Optional[Path], typer.Option("--out", "-o", help="PNG to write (default RECORD.png).")] = None,  # noqa: UP045
    seconds: Annotated[Optional[float], typer.Option(help=f"Plot the first SECONDS s (default {SHOW_SECONDS:g} s, or the whole record when shorter).")] = None,  # noqa: UP045,E501
    leads: _LeadsOpt = None,
    fs: _FsOpt = None,
    units: _UnitsOpt = None,
    in_format: Annotated[Optional[str], typer.Option("--format", help="Format of the file when its extension does not say: wfdb, csv, npy, npz or edf.")] = None,  # noqa: UP045,E501
    fill_gaps: _FillGapsOpt = 0.0,
    allow_implausible_amplitude: _AllowAmplitudeOpt = False,
) -> None:
    """Print a recording's summary and write a plot of its first seconds on the standard ECG grid.

    Example: leadlift show ptbxl:00001 -o 00001.png   (or a file: leadlift show rec.edf --seconds 20)
    """
    try:
        _show(record, data_dir, out_png, seconds, leads, fs, units, in_format, fill_gaps, allow_implausible_amplitude)
    except LeadliftError as exc:
        raise type(exc)(cli_spelling(str(exc))) from None


def _show(record: str, data_dir: Path | None, out_png: Path | None, seconds: float | None, leads: str | None,
          fs: float | None, units: str | None, in_format: str | None, fill_gaps: float,
          allow_implausible_amplitude: bool) -> None:
    import math
    from dataclasses import replace

    from leadlift.data.readers import get_reader
    from leadlift.io import read_ecg
    from leadlift.paths import resolve_data_dir
    from leadlift.plotting import plot_ecg

    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise InputError(f"--seconds {seconds:g}; pass a positive number of seconds, e.g. --seconds 10")
    path = Path(record).expanduser()
    base = path.with_suffix("") if path.suffix.lower() in {".hea", ".dat", ".mat"} else path
    wfdb_header = base.with_name(base.name + ".hea")
    if path.is_file() or wfdb_header.is_file() or (in_format is not None and path.exists()):
        ecg = read_ecg(path, fs=fs, leads=leads, units=units, format=in_format, fill_gaps_ms=fill_gaps,
                       allow_implausible_amplitude=allow_implausible_amplitude)
        if wfdb_header.is_file() and (in_format or "wfdb").lower() == "wfdb":
            import wfdb

            from leadlift.data.readers.base import header_fields

            try:
                comments = wfdb.rdheader(str(base)).comments or []
            except Exception:  # the record was read; its comments are only shown
                comments = []
            shown_fields = header_fields([c for c in comments if not c.strip().startswith("leadlift ")])
            ecg = replace(ecg, labels={**shown_fields, **ecg.labels}, check_units=False)  # marks kept
        name = base.name
    elif ":" in record:
        given = [opt for opt, value in (("--fs", fs), ("--units", units), ("--format", in_format),
                                        ("--fill-gaps", fill_gaps or None),
                                        ("--allow-implausible-amplitude", allow_implausible_amplitude or None))
                 if value is not None]
        if given:
            raise InputError(f"{', '.join(given)}: only for recording files; a dataset record ({record}) is read "
                             "by its dataset's reader (--leads selects its leads)")
        dataset, rid = record.split(":", 1)
        ecg = get_reader(dataset, resolve_data_dir(data_dir)).read(rid)
        if leads is not None:
            ecg = ecg.select(leads)
        name = ecg.record_id or rid
    else:
        raise InputError(f"{record!r} is neither a WFDB record path nor a recording file (.csv, .npy, .npz, .edf) "
                         "that exists, nor DATASET:RECORD_ID (e.g. ptbxl:00001); check the path")
    shown = min(seconds if seconds is not None else SHOW_SECONDS, ecg.duration_s)
    out.print(ecg.summary(), highlight=False, markup=False)
    if shown < ecg.duration_s:
        hint = "" if seconds is not None else "; pass --seconds to plot more"
        out.print(f"shown    : first {shown:g} s of {ecg.duration_s:.2f} s{hint}", highlight=False, markup=False)
    else:
        out.print(f"shown    : whole record ({ecg.duration_s:.2f} s)", highlight=False, markup=False)
    target = out_png or Path(f"{(ecg.record_id or name).replace('/', '_')}.png")
    plot_ecg(ecg, path=target, title=ecg.record_id, seconds=shown)
    out.print(f"plot: {target}", highlight=False, markup=False)


# --------------------------------------------------------------------------------------- pretrain
def _config_help(prefix: str, example: str) -> str:
    """Help of a ``--config`` option: a YAML path or the name of a shipped config starting with ``prefix``."""
    from leadlift.configs import available_configs

    names = ", ".join(n.replace("_", "-") for n in available_configs(prefix))
    return f"Config: a shipped name ({example}) or a path to a YAML file. Shipped: {names}."


@app.command()
def pretrain(
    config: Annotated[str, typer.Option("--config", "-c", metavar="NAME|PATH",
                                                   help=_config_help("mae_", "-c mae-cpu"))],
    data_dir: DataDirOpt = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder (default runs/NAME).")] = None,  # noqa: UP045
    max_epochs: Annotated[Optional[int], typer.Option(help="Override trainer.max_epochs.")] = None,  # noqa: UP045
    devices: Annotated[Optional[str], typer.Option(help="Devices per node (e.g. 1, 4, auto).")] = None,  # noqa: UP045
    num_nodes: _NumNodesOpt = None,
    strategy: _StrategyOpt = None,
    precision: _PrecisionOpt = None,
    compile_net: _CompileOpt = False,
    accelerator: Annotated[Optional[str], typer.Option(help="cpu, gpu or auto.")] = None,  # noqa: UP045
    batch_size: Annotated[Optional[int], typer.Option(help="Override data.batch_size (per device).")] = None,  # noqa: UP045
    limit_train_batches: Annotated[Optional[float], typer.Option(help="Fraction (<=1) or number of batches per epoch.")] = None,  # noqa: UP045,E501
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Resume from OUT/checkpoints/last.")] = True,
    store_dir: Annotated[Optional[Path], typer.Option(help="Prepared-store folder.")] = None,  # noqa: UP045
    threads: _CommonThreadsOpt = None,
    progress: _ProgressOpt = True,
) -> None:
    """Pretrain the aligned per-lead MAE (or a baseline) from a config on the PTB-XL training folds.

    Example: leadlift pretrain -c mae-cpu -o runs/mae_cpu (GPUs: --devices 4 --strategy ddp)
    """
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
    if precision is not None:
        overrides["trainer.precision"] = precision
    if compile_net:
        overrides["trainer.compile"] = True
    if batch_size is not None:
        overrides["data.batch_size"] = batch_size
    if limit_train_batches is not None:
        overrides["trainer.limit_train_batches"] = (int(limit_train_batches) if limit_train_batches > 1
                                                    else limit_train_batches)
    _set_threads(threads)
    cfg = load_config(config, overrides)
    target = out_dir or Path("runs") / cfg.name
    summary = run(cfg, resolve_data_dir(data_dir), target, resume=resume, store_dir=store_dir, progress=progress)
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
    checkpoint: Annotated[Path, typer.Argument(help="Aligned per-lead MAE: bundled name (mae-cpu), folder or "
                                               "org/name.")],
    baseline: Annotated[Optional[list[Path]], typer.Option(help="More checkpoints to compare (e.g. no-alignment).")] = None,  # noqa: UP045,E501
    inputs: Annotated[str, typer.Option("--leads", "--inputs", help="Input lead(s), e.g. I or I,II.")] = "I",
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for results.json / results.md.")] = Path("cross_recon"),  # noqa: E501
    data_dir: DataDirOpt = None,
    store_dir: Annotated[Optional[Path], typer.Option(help="Prepared-store folder.")] = None,  # noqa: UP045
    threads: _CommonThreadsOpt = None,
) -> None:
    """Reconstruct all 12 leads from the input leads on PTB-XL fold 10 with MAE checkpoints; per-lead r and RMSE.

    Example: leadlift cross-recon mae-cpu --baseline runs/mae_cpu_noalign --leads I -o cross_recon
    """
    from leadlift.ecg import parse_leads
    from leadlift.evaluation.cross_lead import cross_lead_report
    from leadlift.paths import resolve_data_dir

    _set_threads(threads)
    checkpoint = _resolve(checkpoint)
    ckpts = {checkpoint.name or str(checkpoint): str(checkpoint)}
    for b in baseline or []:
        b = _resolve(b)
        ckpts[b.name if b.name not in ckpts else str(b)] = str(b)
    res = cross_lead_report(ckpts, resolve_data_dir(data_dir), parse_leads(inputs), out_dir, store_dir=store_dir)
    out.print((out_dir / "results.md").read_text(), highlight=False)
    out.print(f"wrote {out_dir / 'results.json'} and results.md in {res['seconds']} s")


# --------------------------------------------------------------------------------------- info
@app.command()
def info(checkpoint: Annotated[Path, typer.Argument(help="Bundled model name (mae-cpu, recon-i, ...), checkpoint "
                                                      "folder (or its model.safetensors) or org/name.")]) -> None:
    """Print a checkpoint's config, preprocessing and parameter counts.

    Example: leadlift info recon-i
    """
    import yaml

    from leadlift.inference.checkpoint import load_checkpoint

    if checkpoint.name != "model.safetensors":
        checkpoint = _resolve(checkpoint)
    state, typed = load_checkpoint(checkpoint)
    cfg = typed.to_dict()
    total = sum(t.numel() for t in state.values())
    groups: dict[str, int] = {}
    for name, t in state.items():
        top = name.split(".")[0]
        groups[top] = groups.get(top, 0) + t.numel()
    model = cfg["model"]
    kwargs = model.get("kwargs", {})
    n_leads = len(kwargs.get("leads", [])) or 1
    out.print(f"model: {model.get('class')}  format: {cfg['format']}  epoch: {cfg.get('epoch')}  "
              f"steps: {cfg.get('global_step')}")
    out.print(f"parameters: {total:,} total"
              + (f" ({total / n_leads:,.0f} per lead)" if model.get("class") == "LeadBankMAE" else ""))
    table = Table("tensor group", "parameters")
    for k, v in groups.items():
        table.add_row(k, f"{v:,}")
    out.print(table)
    out.print("preprocessing:")
    out.print(yaml.safe_dump(cfg["preprocessing"], sort_keys=False, default_flow_style=None).rstrip(),
              highlight=False)
    out.print("architecture:")
    out.print(yaml.safe_dump(kwargs, sort_keys=False, default_flow_style=None).rstrip(), highlight=False)
    if cfg.get("metrics"):
        shown = {k: round(v, 4) for k, v in cfg["metrics"].items() if k.startswith("val/") and isinstance(v, float)}
        out.print(f"last validation: {shown}")
    out.print(f"weights sha256: {cfg.get('weights_sha256')}")


# --------------------------------------------------------------------------------------- on-device export
@app.command("export")
def export_cmd(
    model: Annotated[str, typer.Argument(help="Bundled model name (recon-i, recon-i-ii-v2, mae-cpu), checkpoint "
                                              "folder or org/name.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="The ONNX file to write.")],
    out_format: Annotated[str, typer.Option("--format", help="Export format: onnx.")] = "onnx",
    quantize: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--quantize", help="int8: dynamic int8 weights of the network (preprocessing and stitching stay "
                           "float32). Default: float32.")] = None,
    fs_in: Annotated[Optional[float], typer.Option(  # noqa: UP045
        "--fs-in", metavar="HZ", help="Fixed input sampling rate in Hz (default: the model's rate).")] = None,
    duration: Annotated[float, typer.Option("--duration", metavar="S", help="Fixed input duration in seconds.")] = 10.0,
    leads: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--leads", help="Input leads, in the order of the graph input's rows (default: a reconstructor's own "
                        "inputs; I for an aligned MAE).")] = None,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Run the written graph (onnxruntime) on a "
                                        "synthetic strip against the Python path and print the difference.")] = True,
    threads: _CommonThreadsOpt = None,
) -> None:
    """Export a model with its whole preprocessing as ONE ONNX graph: raw mV at a fixed rate and duration in,
    the 12-lead reconstruction in mV out (see docs/on-device.md).

    Example: leadlift export recon-i --format onnx --quantize int8 --fs-in 500 --duration 10 -o recon-i.onnx
    """
    from leadlift.inference.export import EXPORT_FORMATS, export_onnx

    if out_format.lower() not in EXPORT_FORMATS:
        raise InputError(f"--format {out_format!r} is not supported; use {', '.join(EXPORT_FORMATS)}")
    _set_threads(threads)
    rep = export_onnx(model, out_path, fs_in=fs_in, duration_s=duration, leads=leads,
                      quantize=quantize.lower() if quantize else None, check=check)
    out.print(f"wrote {rep.path} ({rep.size_bytes / 1e6:.2f} MB, {rep.quantize or 'float32'}): input ecg_mv "
              f"[B, {len(rep.leads)}, {rep.n_samples}] mV at {rep.fs_in:g} Hz ({rep.duration_s:g} s), leads "
              f"{','.join(rep.leads)} -> output twelve_lead_mv [B, 12, {rep.n_samples}] mV", highlight=False)
    if rep.check:
        diffs = ", ".join(f"{k} {v:.2g} mV" for k, v in rep.check.items())
        out.print(f"check on a synthetic {rep.duration_s:g}-s strip, max |difference| from the Python path: {diffs}",
                  highlight=False)


# --------------------------------------------------------------------------------------- use on your own recordings
_LeadsOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--leads", help="Input lead(s), e.g. I or I,II,V2: selects leads of files that name theirs, names the columns "
                    "of files that do not (.npy, CSV without header).")]
_FsOpt = Annotated[Optional[float], typer.Option(  # noqa: UP045
    "--fs", help="Sampling rate in Hz, for files that store none (.npy, CSV without time column).")]
_UnitsOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--units", help="mV, uV or V, for files that do not declare units (default: mV after a plausibility check).")]
_FillGapsOpt = Annotated[float, typer.Option(
    "--fill-gaps", metavar="MS", help="Interpolate runs of invalid (NaN) samples up to MS milliseconds "
                                      "(default 0: a file with invalid samples is refused).")]
_AllowAmplitudeOpt = Annotated[bool, typer.Option(
    "--allow-implausible-amplitude", help="Read amplitudes that are implausible for an ECG in the file's declared "
                                          "unit (e.g. a WFDB gain of 1 adu/mV: raw counts) as they are, instead of "
                                          "refusing the file.")]
_ModelOpt = Annotated[str, typer.Option(
    "--model", "-m", help="Bundled model name, checkpoint folder, or org/name repo id.")]


SKIPPED_EXIT = 3
"""Exit status when ``--skip-errors`` skipped at least one file (the others were written)."""


def _skip(message: str, skipped: list[str]) -> None:
    skipped.append(message)
    console.print("[yellow]skipped:[/yellow] ", end="")
    console.print(message, markup=False, highlight=False)


def _skip_summary(skipped: list[str], total: int) -> None:
    """After a batch: a summary line, and exit status 3 when any file was skipped."""
    if skipped:
        console.print(f"{len(skipped)} of {total} file(s) skipped (listed above); the others were written",
                      markup=False, highlight=False)
        raise typer.Exit(SKIPPED_EXIT)


_SkipOpt = Annotated[bool, typer.Option(
    "--skip-errors", help="Report bad files and go on; exit status 3 when any was skipped.")]
_DeviceOpt = Annotated[str, typer.Option("--device", help="Where the model runs: cpu, cuda, cuda:N, mps or auto.")]
_InferThreadsOpt = Annotated[int, typer.Option(
    "--threads", help="Torch threads (default 1: one 10-s file needs ~30 ms of compute, and more threads on a busy "
                      "machine were 20x slower; 0 = torch's default).")]


def _inference_setup(threads: int) -> None:
    import torch

    if threads < 0:
        raise InputError(f"--threads {threads}; pass a positive number, or 0 for torch's default")
    if threads:
        torch.set_num_threads(threads)


@app.command("reconstruct")
def reconstruct_cmd(
    files: Annotated[list[Path], typer.Argument(help="Recording(s): WFDB (.hea), .csv, .npy, .npz or .edf.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Output: OUT.csv, OUT.npz, OUT.edf or a WFDB record "
                                           "path without extension; a folder when several files are given.")],
    leads: _LeadsOpt = None,
    fs: _FsOpt = None,
    units: _UnitsOpt = None,
    fill_gaps: _FillGapsOpt = 0.0,
    allow_implausible_amplitude: _AllowAmplitudeOpt = False,
    model: Annotated[str, typer.Option(
        "--model", "-m", help="auto (recon-any, the any-subset reconstructor, for any input leads when installed; else "
        "the reconstructor trained for exactly those leads: recon-i for I, recon-i-ii-v2 for I,II,V2; else mae-cpu "
        "with a warning: weaker, no spread), a bundled name, a checkpoint folder or org/name. A model below its "
        "measured quality floor for the inputs gets a warning (also stored in the output).")] = "auto",
    plot: Annotated[Optional[Path], typer.Option("--plot", help="PNG of the result (a folder for several files).")] = None,  # noqa: UP045,E501
    plot_seconds: Annotated[float, typer.Option(help="Seconds shown in the plot.")] = 10.0,
    out_format: Annotated[str, typer.Option("--format", help="Output format with several files: csv, npz, edf, wfdb.")] = "csv",  # noqa: E501
    skip_errors: _SkipOpt = False,
    device: _DeviceOpt = "cpu",
    threads: _InferThreadsOpt = 1,
) -> None:
    """Reconstruct the 12-lead ECG (mV, at the input's sampling rate) from the lead(s) of each recording.

    Example: leadlift reconstruct watch.csv --leads I --fs 512 -o watch_12lead.csv --plot watch.png
    """
    import warnings
    from typing import TextIO

    from leadlift.api import LeadLift, recommended_model
    from leadlift.errors import LowQualityWarning
    from leadlift.inference.files import read_input, reconstruct_files

    if model == "auto":
        first, _ = (read_input(files[0], fs, leads, units, fill_gaps_ms=fill_gaps,
                               allow_implausible_amplitude=allow_implausible_amplitude)
                    if files else (None, None))
        model = recommended_model(first.leads if first is not None else ())
        out.print(f"model: {model}", highlight=False)
    _inference_setup(threads)
    lift = LeadLift.from_pretrained(model, device=device)
    skipped: list[str] = []
    shown: set[str] = set()
    show = warnings.showwarning

    def _warn(message: Warning | str, category: type[Warning], filename: str, lineno: int,
              file: TextIO | None = None, line: str | None = None) -> None:
        if not issubclass(category, LowQualityWarning):
            show(message, category, filename, lineno, file, line)
            return
        text = " ".join(str(message).split())  # one line, each distinct warning once
        if text not in shown:
            shown.add(text)
            console.print("[yellow]warning:[/yellow] ", end="", highlight=False)
            console.print(text, markup=False, highlight=False)

    with warnings.catch_warnings():  # a LowQualityWarning is one line on stderr; the output is still written
        warnings.simplefilter("always", LowQualityWarning)
        warnings.showwarning = _warn
        written = reconstruct_files(files, out_path, lift, leads=leads, fs=fs, units=units, fill_gaps_ms=fill_gaps,
                                    allow_implausible_amplitude=allow_implausible_amplitude, plot=plot,
                                    plot_seconds=plot_seconds, out_format=out_format, skip_errors=skip_errors,
                                    on_skip=lambda msg: _skip(msg, skipped))
    for p in written:
        out.print(f"wrote {p}", highlight=False)
    _skip_summary(skipped, len(files))


@app.command("embed")
def embed_cmd(
    files: Annotated[list[Path], typer.Argument(help="Recording(s): WFDB (.hea), .csv, .npy, .npz or .edf.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Parquet file: one row per file and window.")],
    leads: _LeadsOpt = None,
    fs: _FsOpt = None,
    units: _UnitsOpt = None,
    fill_gaps: _FillGapsOpt = 0.0,
    allow_implausible_amplitude: _AllowAmplitudeOpt = False,
    model: _ModelOpt = "mae-cpu",
    hop_s: Annotated[Optional[float], typer.Option(help="Step between windows in s (default: one window).")] = None,  # noqa: UP045
    pooled: Annotated[bool, typer.Option("--pooled", help="One row per file (mean over windows).")] = False,
    skip_errors: _SkipOpt = False,
    device: _DeviceOpt = "cpu",
    threads: _InferThreadsOpt = 1,
) -> None:
    """Embed recordings with an aligned MAE: a Parquet table with one row per file and window (emb_0...).

    Example: leadlift embed watch.csv --leads I --fs 512 -o watch_embeddings.parquet
    """
    from leadlift.api import LeadLift
    from leadlift.inference.files import embed_files

    _inference_setup(threads)
    lift = LeadLift.from_pretrained(model, device=device)
    skipped: list[str] = []
    path, rows = embed_files(files, out_path, lift, leads=leads, fs=fs, units=units, fill_gaps_ms=fill_gaps,
                             allow_implausible_amplitude=allow_implausible_amplitude, hop_s=hop_s, pooled=pooled,
                             skip_errors=skip_errors, on_skip=lambda msg: _skip(msg, skipped))
    out.print(f"wrote {path} ({rows} rows)", highlight=False)
    _skip_summary(skipped, len(files))


@app.command("model-card")
def model_card_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint folder (aligned MAE or reconstructor).")],
    data_dir: DataDirOpt = None,
    inputs: Annotated[Optional[list[str]], typer.Option("--leads", "--inputs", help="Input lead set(s) to evaluate (repeat; MAE only; default I and I,II,V2).")] = None,  # noqa: UP045,E501
    name: Annotated[Optional[str], typer.Option(help="Model name in the card (default: folder name).")] = None,  # noqa: UP045
    latency: Annotated[Optional[Path], typer.Option(help="inference_latency.json to include.")] = None,  # noqa: UP045
    subsets_results: Annotated[Optional[Path], typer.Option(help="benchmarks/results/anysubset.json measured on this checkpoint, to include.")] = None,  # noqa: UP045,E501
    diagnostic_results: Annotated[Optional[Path], typer.Option(help="benchmarks/results/diagnostic_fidelity.json measured on this checkpoint, to include.")] = None,  # noqa: UP045,E501
    store_dir: Annotated[Optional[Path], typer.Option(help="Prepared-store folder.")] = None,  # noqa: UP045
    threads: _CommonThreadsOpt = None,
) -> None:
    """Measure a checkpoint on PTB-XL fold 10 through the API's own path and write MODEL_CARD.md next to it.

    An MAE is first calibrated (amplitudes, PTB-XL folds 1-8); a reconstructor is evaluated on its own inputs.

    Example: leadlift model-card runs/mae_cpu --leads I --leads I,II,V2
    """
    from leadlift.ecg import parse_leads
    from leadlift.inference.checkpoint import read_config
    from leadlift.paths import resolve_data_dir
    from leadlift.workflows.release import (
        attach_benchmarks,
        calibrate_mae_checkpoint,
        command_line,
        evaluate_checkpoint,
        summary_metrics,
        write_model_card,
    )

    _set_threads(threads)
    root = resolve_data_dir(data_dir)
    sets = [parse_leads(s) for s in inputs] if inputs else None
    if read_config(checkpoint).kind == "mae":
        calibrate_mae_checkpoint(checkpoint, root, store_dir=store_dir)
    elif sets:
        raise InputError("--leads applies to MAE checkpoints; a reconstructor is evaluated on its own input leads")
    ev = evaluate_checkpoint(checkpoint, root, input_sets=sets, store_dir=store_dir, command=command_line())
    for key, res in ev["inputs"].items():
        m = summary_metrics(res)
        out.print(f"inputs {key}: mean r {m['pearson_r']:.3f}, RMSE {m['rmse']:.3f} mV over reconstructed leads")
    if subsets_results is not None or diagnostic_results is not None:
        attach_benchmarks(checkpoint, anysubset=subsets_results, diagnostic=diagnostic_results)
    card = write_model_card(checkpoint, name=name, latency=latency)
    out.print(f"wrote {card}", highlight=False)


# --------------------------------------------------------------------------------------- evaluate / quickstart
def _headline_table(headline: dict[str, dict[str, object]], labels: dict[str, str]) -> Table:
    rows = [("lead-I probe macro AUROC (PTB-XL)", "lead_I_probe_macro_auroc"),
            ("12-lead probe macro AUROC (PTB-XL)", "twelve_lead_probe_macro_auroc"),
            ("ECG-ID cross-record top-1, window (NN)", "ecgid_cross_record_nn_top1"),
            ("ECG-ID cross-record top-1, window (linear)", "ecgid_cross_record_linear_top1"),
            ("ECG-ID cross-record top-1, record (NN)", "ecgid_cross_record_record_nn_top1"),
            ("ECG-ID cross-record top-1, record, shifted crops (NN)", "ecgid_cross_record_shifted_record_nn_top1"),
            ("ECG-ID cross-record top-1, record: median-beat template", "ecgid_template_cross_record_top1"),
            ("lead agreement gap (cosine)", "agreement_gap"),
            ("lead I -> 12 mean r", "lead_I_to_12_mean_r")]
    table = Table("metric", *labels.values())
    for name, key in rows:
        vals = [headline.get(role, {}).get(key) for role in labels]
        table.add_row(name, *("-" if v is None else f"{v:.3f}" for v in vals))
    return table


@app.command("evaluate")
def evaluate_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="Aligned MAE: bundled name (mae-cpu), folder written by "
                                               "`leadlift pretrain`, or org/name.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for results.json, report.html and PNGs.")] = Path("evaluation"),  # noqa: E501
    baseline: Annotated[Optional[Path], typer.Option(help="Baseline checkpoint shown beside it (e.g. no-alignment).")] = None,  # noqa: UP045,E501
    data_dir: DataDirOpt = None,
    store_dir: Annotated[Optional[Path], typer.Option(help="Prepared-store folder.")] = None,  # noqa: UP045
    sections: Annotated[str, typer.Option(help="Comma-separated subset of agreement,probes,mi,ecgid,reconstruction.")] = "all",  # noqa: E501
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the 95% intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the random-init encoder and the bootstrap.")] = 0,
    benchmark_dir: Annotated[Optional[Path], typer.Option(help="A reconstruct-benchmark output folder to include.")] = None,  # noqa: UP045,E501
    threads: Annotated[int, typer.Option(help="Torch/BLAS threads (0 = library default; 1 is fastest on a busy machine).")] = 1,  # noqa: E501
    ecgid_shift_ms: Annotated[float, typer.Option(help="ECG-ID: step of the time-shifted crops averaged per window, ms (0 = off).")] = 50.0,  # noqa: E501
    ecgid_shift_span_s: Annotated[float, typer.Option(help="ECG-ID: span of the shifted crops around each window, s.")] = 2.0,  # noqa: E501
) -> None:
    """Evaluate frozen embeddings of a checkpoint (agreement, probes, MI, ECG-ID, reconstruction) beside a
    random-initialised encoder; write results.json and a self-contained report.html.

    Example: leadlift evaluate mae-cpu --sections probes,ecgid -o evaluation
    """
    from leadlift.evaluation.evaluate import SECTIONS, benchmark_block, evaluate
    from leadlift.paths import resolve_data_dir

    chosen = SECTIONS if sections == "all" else tuple(s.strip() for s in sections.split(",") if s.strip())
    if n_boot < 0:
        raise InputError(f"--n-boot {n_boot} must be >= 0")
    bench = benchmark_block(benchmark_dir) if benchmark_dir is not None else None
    checkpoint = _resolve(checkpoint)
    baseline = _resolve(baseline) if baseline is not None else None
    res = evaluate(checkpoint, resolve_data_dir(data_dir), out_dir, baseline=baseline, store_dir=store_dir,
                   sections=chosen, seed=seed, n_boot=n_boot, benchmark=bench, threads=threads or None,
                   ecgid_shift_ms=ecgid_shift_ms or None, ecgid_shift_span_s=ecgid_shift_span_s,
                   say=lambda m: console.print(m, markup=False, highlight=False))
    out.print(_headline_table(res["headline"], {r: m["label"] for r, m in res["models"].items()}))
    out.print(f"report: {out_dir / 'report.html'}", highlight=False)


@app.command("quickstart")
def quickstart_cmd(
    data_dir: DataDirOpt = None,
    minutes: Annotated[float, typer.Option(help="Pretraining time limit in minutes (the full mae-cpu schedule took ~25 min on 2 idle cores; less stops it early).")] = 30.0,  # noqa: E501
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("quickstart"),
    store_dir: Annotated[Optional[Path], typer.Option(help="Prepared-store folder.")] = None,  # noqa: UP045
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="Also pretrain the no-alignment baseline (shares --minutes).")] = False,  # noqa: E501
    benchmark: Annotated[bool, typer.Option("--benchmark/--no-benchmark", help="Run the I,II,V2 reconstruction benchmark if available.")] = True,  # noqa: E501
    benchmark_minutes: Annotated[float, typer.Option(help="Time limit of the reconstruction benchmark.")] = 12.0,
    threads: _CommonThreadsOpt = None,
    progress: _ProgressOpt = True,
) -> None:
    """Prepare the data, pretrain the CPU-default aligned MAE for a bounded time, benchmark, evaluate, report.

    Example: leadlift quickstart --minutes 30 -o quickstart
    """
    from leadlift.paths import resolve_data_dir
    from leadlift.workflows.quickstart import quickstart

    if minutes <= 0 or benchmark_minutes <= 0:
        raise InputError("--minutes and --benchmark-minutes must be positive")
    _set_threads(threads)
    res = quickstart(resolve_data_dir(data_dir), out_dir, minutes=minutes, store_dir=store_dir, baseline=baseline,
                     benchmark=benchmark, benchmark_minutes=benchmark_minutes, progress=progress,
                     say=lambda m: console.print(m, markup=False, highlight=False))
    labels = {"checkpoint": "aligned MAE", "baseline": "no alignment", "random": "random init"}
    out.print(_headline_table(res["headline"], {r: labels[r] for r in res["headline"]}))
    out.print(f"done in {res['seconds'] / 60:.1f} min; open the report: {res['report']}", highlight=False)


# --------------------------------------------------------------------------------------- reconstruction (paper 2)
_ReconConfigOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045
    "--config", "-c", metavar="NAME|PATH",
    help=_config_help("recon_", "-c recon-paper") + " Default: recon-cpu (the CPU default).")]
_ThreadsOpt = Annotated[Optional[int], typer.Option(  # noqa: UP045
    "--threads", help="torch CPU threads (default: torch's choice; 1 is often faster on a busy shared machine).")]
# the trainer options shared by `pretrain` and `train-recon`
_NumNodesOpt = Annotated[Optional[int], typer.Option(help="Number of nodes (multi-node DDP).")]  # noqa: UP045
_StrategyOpt = Annotated[Optional[str], typer.Option(help="Lightning strategy (auto, ddp, ...).")]  # noqa: UP045
_PrecisionOpt = Annotated[Optional[str], typer.Option(  # noqa: UP045
    help="32-true, bf16-mixed, or auto (bf16 on GPUs that have it).")]
_CompileOpt = Annotated[bool, typer.Option("--compile", help="torch.compile the training forward.")]


def _recon_setup(config: str | None, inputs: str | None, max_epochs: int | None, threads: int | None,
                 extra: dict[str, object] | None = None) -> tuple[object, list[str]]:
    """Load the reconstruction config with CLI overrides; returns (config, the options as given)."""
    import torch

    from leadlift.ecg import parse_leads
    from leadlift.recon_config import load_recon_config

    overrides: dict[str, object] = dict(extra or {})
    given: list[str] = []
    if config is not None:
        given += ["--config", str(config)]
    if inputs is not None:
        overrides["data.inputs"] = list(parse_leads(inputs))
        given += ["--leads", inputs]
    if max_epochs is not None:
        overrides["train.max_epochs"] = max_epochs
        given += ["--max-epochs", str(max_epochs)]
    if threads is not None:
        if threads < 1:
            raise InputError(f"--threads {threads}; pass a positive number of threads")
        torch.set_num_threads(threads)
        given += ["--threads", str(threads)]
    return load_recon_config(config, overrides), given


@app.command("reconstruct-benchmark")
def reconstruct_benchmark_cmd(
    inputs: Annotated[str, typer.Option("--leads", "--inputs", help="Input leads, e.g. I,II,V2 (paper), I,II or I.")] = "I,II,V2",  # noqa: E501
    config: _ReconConfigOpt = None,
    folds: Annotated[Optional[int], typer.Option("--folds", help="Patient-grouped CV folds on train+val (0 = none; default from the config).")] = None,  # noqa: UP045,E501
    mae: Annotated[Optional[str], typer.Option("--mae", help="Aligned per-lead MAE (bundled name such as mae-cpu, or a folder): scored as method 'mae'.")] = None,  # noqa: UP045,E501
    checkpoint: Annotated[Optional[list[str]], typer.Option("--checkpoint", help="NAME=CHECKPOINT (repeat): any leadlift checkpoint (bundled name or folder) scored beside the trained methods through the API's path.")] = None,  # noqa: UP045,E501
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder (results.json, results.md, figures).")] = Path("recon_benchmark"),  # noqa: E501
    data_dir: DataDirOpt = None,
    store_dir: Annotated[Optional[Path], typer.Option(help="Prepared-store folder.")] = None,  # noqa: UP045
    max_epochs: Annotated[Optional[int], typer.Option(help="Override train.max_epochs.")] = None,  # noqa: UP045
    threads: _ThreadsOpt = None,
    progress: _ProgressOpt = True,
) -> None:
    """Train every reconstruction method on the same PTB-XL split and score all of them on the same
    windows: zero predictor, instantaneous and FIR least squares, U-Net, fusion without embedding, with a
    random frozen encoder and with the SupCon encoder, plus any checkpoint given; learned-lead means with
    paired-bootstrap CIs; zero-shot on PTB Diagnostic and Brugada-HUCA.

    Example: leadlift reconstruct-benchmark --leads I --threads 1 --mae mae-cpu -o recon_I
    """
    import time

    from leadlift.inference.hub import resolve_model
    from leadlift.paths import resolve_data_dir
    from leadlift.workflows.recon_benchmark import run_benchmark

    extra: dict[str, object] = {}
    if folds is not None:
        if folds == 1 or folds < 0:
            raise InputError(f"--folds {folds}; pass 0 (no cross-validation) or at least 2 folds")
        extra["benchmark.cv_folds"] = folds
    cfg, given = _recon_setup(config, inputs, max_epochs, threads, extra)
    if folds is not None:
        given += ["--folds", str(folds)]
    extra_ckpts: dict[str, str] = {}
    if mae is not None:
        extra_ckpts["mae"] = str(resolve_model(mae)[0])
        given += ["--mae", str(mae)]
    for item in checkpoint or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--checkpoint {item!r}; pass NAME=CHECKPOINT, e.g. --checkpoint recon-i=recon-i")
        extra_ckpts[name] = str(resolve_model(path)[0])
        given += ["--checkpoint", item]
    command = " ".join(["leadlift reconstruct-benchmark", *given, "--out", str(out_dir)])
    t0 = time.perf_counter()
    res = run_benchmark(cfg, resolve_data_dir(data_dir), out_dir, checkpoints=extra_ckpts,
                        store_dir=store_dir, progress=progress,  # type: ignore[arg-type]
                        say=lambda m: console.print(m, highlight=False, markup=False), command=command)
    md = (out_dir / "results.md").read_text()
    head = md.split("\nPer learned lead")[0]
    out.print(head, highlight=False, markup=False)
    out.print(f"wrote {out_dir / 'results.json'}, results.md and {len(res.get('figures', []))} figures in "
              f"{time.perf_counter() - t0:.0f} s", highlight=False, markup=False)


@app.command("train-recon")
def train_recon_cmd(
    config: _ReconConfigOpt = None,
    inputs: Annotated[Optional[str], typer.Option("--leads", "--inputs", help="Input leads (default: from the config, I,II,V2).")] = None,  # noqa: UP045,E501
    method: Annotated[str, typer.Option(help="anysubset (one model for any input subset, with a spread; --leads "
                                            "is ignored), fusion (pathology-aware), fusion_noemb, unet or linear."
                                            )] = "fusion",
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder (default runs/recon-METHOD).")] = None,  # noqa: UP045,E501
    data_dir: DataDirOpt = None,
    store_dir: Annotated[Optional[Path], typer.Option(help="Prepared-store folder.")] = None,  # noqa: UP045
    max_epochs: Annotated[Optional[int], typer.Option(help="Override train.max_epochs.")] = None,  # noqa: UP045
    threads: _ThreadsOpt = None,
    progress: _ProgressOpt = True,
    accelerator: Annotated[Optional[str], typer.Option(help="cpu, gpu, mps or auto (default from the config).")] = None,  # noqa: UP045
    devices: Annotated[Optional[str], typer.Option(help="Devices per node (e.g. 1, 2, auto).")] = None,  # noqa: UP045
    num_nodes: _NumNodesOpt = None,
    strategy: _StrategyOpt = None,
    precision: _PrecisionOpt = None,
    compile_net: _CompileOpt = False,
) -> None:
    """Train one reconstructor on PTB-XL folds 1-8 (early stopping on fold 9), export it
    (model.safetensors + config.yaml with the preprocessing) and measure it on fold 10 through the API's path.

    Example: leadlift train-recon --leads I,II -o runs/recon-i-ii (several devices: --devices 2 --strategy ddp)
    """
    from leadlift.paths import resolve_data_dir
    from leadlift.training.recon import train_recon
    from leadlift.workflows.release import command_line, evaluate_checkpoint, summary_metrics

    extra: dict[str, object] = {}
    for key, value in (("accelerator", accelerator), ("num_nodes", num_nodes), ("strategy", strategy),
                       ("precision", precision)):
        if value is not None:
            extra[f"trainer.{key}"] = value
    if devices is not None:
        extra["trainer.devices"] = int(devices) if devices.isdigit() else devices
    if compile_net:
        extra["trainer.compile"] = True
    cfg, _ = _recon_setup(config, inputs, max_epochs, threads, extra)
    target = out_dir or Path("runs") / f"recon-{method}"
    root = resolve_data_dir(data_dir)
    res = train_recon(cfg, root, target, method=method, store_dir=store_dir,  # type: ignore[arg-type]
                      progress=progress, say=lambda m: console.print(m, highlight=False, markup=False))
    if not res["is_global_zero"]:  # the other DDP processes stop here; rank 0 exports and evaluates
        return
    ev = evaluate_checkpoint(target, root, store_dir=store_dir, command=command_line())
    for key, r in ev["inputs"].items():
        m = summary_metrics(r)
        out.print(f"done in {res['seconds']} s: test fold (inputs {key}) mean over reconstructed leads r "
                  f"{m['pearson_r']:.3f}, RMSE {m['rmse']:.4f} mV (as LeadLift.reconstruct delivers it)",
                  highlight=False)
    out.print(f"checkpoint: {target}  (inspect with `leadlift info {target}`)", highlight=False)


def _error(message: str) -> None:
    """One line on stderr; the message is plain text (never parsed as rich markup, so ``[n_leads,
    n_samples]`` or a path with brackets prints as written)."""
    console.print("[red]error:[/red] ", end="")
    console.print(message, markup=False, highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turn leadlift errors into one-line messages."""
    _setup_logging()
    try:
        app(args=argv, prog_name="leadlift")
    except LeadliftError as exc:
        _error(str(exc))
        sys.exit(2)
    except OSError as exc:  # the environment: read-only or full disk, missing permissions, device files
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        _error(f"{exc.strerror or exc}{where}; check that the path exists, is writable and has free space")
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
        sys.exit(130)


if __name__ == "__main__":
    main()
