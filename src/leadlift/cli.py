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
