"""Running a model over users' files: what ``leadlift reconstruct`` and ``leadlift embed`` do.

Both functions read each file with :func:`leadlift.io.read_ecg`, run the model, and write their
outputs atomically (each output is either its old version or the complete new one, never half
written). On a bad file they stop with a one-line error naming the file, the outputs already
written and the ``--skip-errors`` option; those earlier outputs are kept (a rollback would also
delete files that had replaced older good ones). With ``skip_errors`` the bad file is reported
through ``on_skip`` and the others go on; the caller learns how many were skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leadlift.ecg import ECG
from leadlift.errors import InputError, LeadliftError

__all__ = ["embed_files", "output_names", "read_input", "reconstruct_files"]


def _tag(path: Path, exc: LeadliftError) -> LeadliftError:
    """The same error type with the file named in the message (once)."""
    msg = str(exc)
    if str(path) in msg or path.name in msg:
        return exc
    return type(exc)(f"{path}: {msg}")


def read_input(path: str | Path, fs: float | None, leads: str | Sequence[str] | None,
               units: str | None, *, fill_gaps_ms: float = 0.0,
               allow_implausible_amplitude: bool = False) -> tuple[ECG, ECG | None]:
    """Read a file: ``(the input leads, the whole recording when it names more leads, else None)``.

    ``leads`` selects the input leads of files that name theirs, and names the columns of files
    that do not (see :mod:`leadlift.io.readers`); ``fill_gaps_ms`` and
    ``allow_implausible_amplitude`` go to :func:`leadlift.io.read_ecg`.
    """
    from leadlift.io import read_ecg

    path = Path(path)
    options = {"fill_gaps_ms": fill_gaps_ms, "allow_implausible_amplitude": allow_implausible_amplitude}
    if leads is None:
        ecg = read_ecg(path, fs=fs, units=units, **options)  # type: ignore[arg-type]
        return ecg, None
    try:
        full = read_ecg(path, fs=fs, units=units, **options)  # type: ignore[arg-type]
    except InputError:
        full = None  # the file does not name its leads (leads= names them), or only the selected leads are usable
    if full is not None:
        ecg = full.select(leads)
        return ecg, (full if set(full.leads) - set(ecg.leads) else None)
    return read_ecg(path, fs=fs, leads=leads, units=units, **options), None  # type: ignore[arg-type]


def _stopped(path: Path, exc: LeadliftError, index: int, total: int, written: list[Path]) -> LeadliftError:
    """The error of a batch stopped at file ``index``: names the file, what was kept, the remedy."""
    if total == 1:
        return _tag(path, exc)
    kept = (f"; the {len(written)} output(s) of the {index} file(s) before it were kept" if written else "")
    return type(exc)(f"{_tag(path, exc)} (file {index + 1} of {total}){kept}; pass --skip-errors to go on past "
                     "bad files")


def output_names(paths: Sequence[Path]) -> list[str]:
    """Distinct output stems for input files (``rec_1``; ``Person_01_rec_1`` when stems repeat)."""
    stems = [p.stem if p.suffix.lower() != ".hea" else p.with_suffix("").name for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    names = []
    for p, s in zip(paths, stems, strict=True):
        parent = p.resolve().parent.name
        names.append(f"{parent}_{s}" if parent else s)
    return names


def reconstruct_files(
    files: Sequence[str | Path],
    out: str | Path,
    model: Any,
    *,
    leads: str | Sequence[str] | None = None,
    fs: float | None = None,
    units: str | None = None,
    fill_gaps_ms: float = 0.0,
    allow_implausible_amplitude: bool = False,
    plot: str | Path | None = None,
    plot_seconds: float | None = 10.0,
    out_format: str = "csv",
    skip_errors: bool = False,
    progress: bool = True,
    on_skip: Callable[[str], None] | None = None,
) -> list[Path]:
    """Reconstruct the 12 leads of each file and write them.

    Args:
        files: input recordings (any format :func:`leadlift.io.read_ecg` reads).
        out: with one file, the output path (``.csv``, ``.npz``, ``.edf`` or a WFDB record path
            without extension); with several, a folder receiving ``<name>.<out_format>``.
        model: a :class:`leadlift.api.LeadLift`.
        leads, fs, units, fill_gaps_ms, allow_implausible_amplitude: passed to the reader
            (``leads`` = the input leads; see :func:`read_input`).
        plot: PNG path (one file) or folder (several) for plots of the first ``plot_seconds``
            seconds (the recorded leads, when the file has more than the inputs, are overlaid).
        out_format: format of the outputs when ``out`` is a folder (csv, npz, edf, wfdb).
        skip_errors: report bad files through ``on_skip`` and go on, instead of stopping.
        progress: show a progress bar (only with several files).
    Returns:
        The files written (data files and plots).
    """
    from tqdm.auto import tqdm

    from leadlift.io import OUTPUT_FORMATS, output_paths, write_ecg

    paths = [Path(f) for f in files]
    if not paths:
        raise InputError("no input file given")
    out = Path(out)
    many = len(paths) > 1
    if many:
        if out_format not in OUTPUT_FORMATS:
            raise InputError(f"--format {out_format!r} is not one of {', '.join(OUTPUT_FORMATS)}")
        if out.suffix:
            raise InputError(f"--out {out} looks like a file, but {len(paths)} inputs need a folder; pass a folder")
        if plot is not None and Path(plot).suffix:
            raise InputError(f"--plot {plot} looks like a file, but {len(paths)} inputs need a folder")
        ext = {"csv": ".csv", "npz": ".npz", "edf": ".edf", "wfdb": ""}[out_format]
        targets = [out / f"{n}{ext}" for n in output_names(paths)]
        plots = [Path(plot) / f"{n}.png" for n in output_names(paths)] if plot is not None else [None] * len(paths)
    else:
        targets = [out]
        plots = [Path(plot) if plot is not None else None]
        if plots[0] is not None and plots[0].suffix.lower() != ".png":
            raise InputError(f"--plot {plot} must end in .png")
    inputs = {p.resolve() for p in paths} | {p.with_suffix(".dat").resolve() for p in paths
                                              if p.suffix.lower() == ".hea"}
    for t in targets:
        for o in output_paths(t):  # validates the output type/name before any work
            if o.resolve() in inputs:
                raise InputError(f"--out {o} is one of the input files; write the reconstruction elsewhere")
            if o.exists() and not o.is_file():
                raise InputError(f"--out {o} exists and is not a regular file (a folder or a device); pass a file "
                                 "path")
    written: list[Path] = []
    bar = tqdm(list(zip(paths, targets, plots, strict=True)), desc="reconstruct", unit="file",
               disable=not (progress and many))
    for k, (path, target, png) in enumerate(bar):
        try:
            ecg, full = read_input(path, fs, leads, units, fill_gaps_ms=fill_gaps_ms,
                                   allow_implausible_amplitude=allow_implausible_amplitude)
            rec = model.reconstruct(ecg)
        except LeadliftError as exc:
            if not skip_errors:
                raise _stopped(path, exc, k, len(paths), written) from None
            if on_skip:
                on_skip(str(_tag(path, exc)))
            continue
        pending = output_paths(target, rec)  # a marked CSV also writes its .json sidecar
        write_ecg(rec, target)
        written.extend(pending)
        if png is not None:
            seconds = None if plot_seconds is None else min(float(plot_seconds), rec.duration_s)
            title = (f"{path.name}: 12 leads reconstructed from {','.join(ecg.leads)} by {model.name}")
            from leadlift.plotting import plot_ecg  # matplotlib only when a plot is asked for

            plot_ecg(rec, path=png, title=title, reference=full, seconds=seconds,
                     label="reconstructed", reference_label="recorded")
            written.append(png)
    return written


def embed_files(
    files: Sequence[str | Path],
    out: str | Path,
    model: Any,
    *,
    leads: str | Sequence[str] | None = None,
    fs: float | None = None,
    units: str | None = None,
    fill_gaps_ms: float = 0.0,
    allow_implausible_amplitude: bool = False,
    hop_s: float | None = None,
    pooled: bool = False,
    skip_errors: bool = False,
    progress: bool = True,
    on_skip: Callable[[str], None] | None = None,
) -> tuple[Path, int]:
    """Embed each file and write one Parquet table (one row per file and window).

    Columns: ``file``, ``record_id``, ``window`` (0, 1, ...; -1 for the pooled row with
    ``pooled=True``), ``start_s``, ``end_s`` (seconds from the recording start), ``fs`` (input
    rate, Hz), ``leads`` (input leads, comma-separated), ``model``, then ``emb_0 … emb_{D-1}``
    (float32; the mean over the input leads of their CLS embeddings).

    Args:
        leads, fs, units, fill_gaps_ms, allow_implausible_amplitude: passed to the reader
            (see :func:`read_input`).
        pooled: write one row per file (the pooled embedding) instead of one per window.
    Returns:
        ``(the Parquet path, number of rows)``.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from leadlift.io import atomic_path

    paths = [Path(f) for f in files]
    if not paths:
        raise InputError("no input file given")
    out = Path(out)
    if out.suffix.lower() != ".parquet":
        raise InputError(f"--out {out} must end in .parquet")
    meta: list[dict[str, Any]] = []
    vectors: list[np.ndarray] = []
    for k, path in enumerate(tqdm(paths, desc="embed", unit="file", disable=not (progress and len(paths) > 1))):
        try:
            ecg, _ = read_input(path, fs, leads, units, fill_gaps_ms=fill_gaps_ms,
                                allow_implausible_amplitude=allow_implausible_amplitude)
            emb = model.embed(ecg, hop_s=hop_s)
        except LeadliftError as exc:
            if not skip_errors:
                raise _stopped(path, exc, k, len(paths), []) from None
            if on_skip:
                on_skip(str(_tag(path, exc)))
            continue
        common = {"file": str(path), "record_id": ecg.record_id or path.stem, "fs": float(ecg.fs),
                  "leads": ",".join(ecg.leads), "model": model.name}
        if pooled:
            meta.append({**common, "window": -1, "start_s": 0.0, "end_s": ecg.duration_s})
            vectors.append(emb.pooled[None, :])
        else:
            for w, start in enumerate(emb.starts_s):
                meta.append({**common, "window": w, "start_s": float(start),
                             "end_s": float(min(start + emb.window_s, ecg.duration_s))})
            vectors.append(emb.windows)
    if not meta:
        raise InputError("no file could be embedded; nothing written")
    mat = np.concatenate(vectors).astype(np.float32)
    table = pd.DataFrame(meta, columns=["file", "record_id", "window", "start_s", "end_s", "fs", "leads", "model"])
    emb_cols = pd.DataFrame(mat, columns=[f"emb_{i}" for i in range(mat.shape[1])])
    table = pd.concat([table, emb_cols], axis=1)
    with atomic_path(out) as tmp:
        table.to_parquet(tmp, index=False)
    return out, len(table)
