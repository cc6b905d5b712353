"""Writers for :class:`~leadlift.ecg.ECG` records: CSV, NPZ, WFDB and EDF.

All writers are atomic (temporary file in the same folder, then rename): a failure leaves no
partial output and never damages an existing file of the same name except by replacing it
whole. Everything is written in **mV** with the standard lead names, and reads back with
:func:`leadlift.io.read_ecg` to the same signal (exactly for NPZ; to 1 nV for CSV; to the
16-bit quantisation step for WFDB and EDF).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from leadlift.atomic import atomic_dir_files, atomic_path
from leadlift.ecg import ECG
from leadlift.errors import InputError

__all__ = ["OUTPUT_FORMATS", "output_format", "output_paths", "write_csv", "write_ecg", "write_edf",
           "write_npz", "write_wfdb"]

OUTPUT_FORMATS: tuple[str, ...] = ("csv", "npz", "wfdb", "edf")
"""Formats :func:`write_ecg` writes."""

_WFDB_NAME = re.compile(r"^[-\w]+$")


def _check_ecg(ecg: ECG) -> None:
    if not isinstance(ecg, ECG):
        raise InputError(f"expected an ECG record, got {type(ecg).__name__}; wrap arrays with ECG.from_array")


def write_csv(ecg: ECG, path: str | Path, time_column: bool = True) -> Path:
    """Write ``ecg`` as CSV: a header ``time_s,I,II,...`` and one row per sample (mV, 6 decimals).

    Args:
        ecg: the record.
        path: output ``.csv`` path.
        time_column: include the ``time_s`` column (seconds from the start; it carries ``fs``,
            so the file reads back without ``fs=``).
    """
    _check_ecg(ecg)
    path = Path(path)
    cols = [ecg.signal.T.astype(np.float64)]
    header = list(ecg.leads)
    fmt = ["%.6f"] * ecg.n_leads
    if time_column:
        cols.insert(0, (np.arange(ecg.n_samples, dtype=np.float64) / ecg.fs)[:, None])
        header.insert(0, "time_s")
        fmt.insert(0, "%.9f")
    data = np.hstack(cols)
    with atomic_path(path) as tmp:
        np.savetxt(tmp, data, fmt=fmt, delimiter=",", header=",".join(header), comments="")
    return path


def write_npz(ecg: ECG, path: str | Path) -> Path:
    """Write ``ecg`` as ``.npz`` with keys ``signal`` (float32 ``[n_leads, n_samples]`` mV),
    ``fs`` (Hz), ``leads``, ``units`` (``"mV"``) and ``record_id`` (no pickled objects)."""
    _check_ecg(ecg)
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise InputError(f"{path}: an NPZ output must end in .npz")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, signal=ecg.signal.astype(np.float32), fs=np.float64(ecg.fs),
            leads=np.array(ecg.leads, dtype=str), units=np.array("mV"),
            record_id=np.array(ecg.record_id or path.stem),
        )
    return path


def _wfdb_base(path: Path) -> Path:
    base = path.with_suffix("") if path.suffix.lower() in {".hea", ".dat"} else path
    if not _WFDB_NAME.match(base.name):
        raise InputError(f"{base.name!r} is not a valid WFDB record name; use letters, digits, '_' and '-' "
                         "(no extension), e.g. --out out/rec01")
    return base


def write_wfdb(ecg: ECG, path: str | Path) -> Path:
    """Write ``ecg`` as a WFDB record ``PATH.hea`` + ``PATH.dat`` (format 16, units mV).

    ``path`` is the record path without extension (a ``.hea`` suffix is stripped). The signal
    file is moved into place before the header, so a header never points at a missing file.
    Returns the record path (without extension).
    """
    import wfdb

    _check_ecg(ecg)
    base = _wfdb_base(Path(path))
    name = base.name
    sig = ecg.signal.T.astype(np.float64)
    comments = [f"leadlift: record_id {ecg.record_id}"] if ecg.record_id else []
    with atomic_dir_files(base.parent, [f"{name}.dat", f"{name}.hea"]) as tmp:
        try:
            wfdb.wrsamp(name, fs=float(ecg.fs), units=["mV"] * ecg.n_leads, sig_name=list(ecg.leads),
                        p_signal=sig, fmt=["16"] * ecg.n_leads, comments=comments, write_dir=str(tmp))
        except Exception as exc:  # wfdb raises bare Exceptions on bad arguments
            raise InputError(f"cannot write WFDB record {base}: {exc}") from None
    return base


def _edf_record(fs: float, n: int) -> tuple[float, int]:
    """EDF data-record duration (s, at most 8 characters in the header) holding a whole number of
    samples, and the padded length: the whole recording as one record when its duration can be
    written exactly, else records of the shortest whole number of seconds (padding the tail)."""
    whole = n / fs
    text = f"{whole:.8g}"
    if len(text) <= 8 and abs(float(text) * fs - n) < 1e-6:
        return float(text), n
    for seconds in range(1, 101):
        spr = fs * seconds
        if abs(spr - round(spr)) < 1e-6:
            spr = round(spr)
            return float(seconds), -(-n // spr) * spr
    raise InputError(f"fs={fs:g} Hz cannot be stored in EDF (no data record of <= 100 s holds a whole number "
                     "of samples); write CSV, NPZ or WFDB instead")


def write_edf(ecg: ECG, path: str | Path) -> Path:
    """Write ``ecg`` as EDF+ (one signal per lead, labelled ``ECG <lead>``, physical dimension mV,
    16-bit, physical range per lead from its own minimum/maximum).

    EDF stores whole data records: when the duration cannot be written exactly in the header, the
    signal is padded with its last value to whole seconds (the file is then slightly longer).
    """
    import edfio

    _check_ecg(ecg)
    path = Path(path)
    if path.suffix.lower() != ".edf":
        raise InputError(f"{path}: an EDF output must end in .edf")
    record_s, total = _edf_record(float(ecg.fs), ecg.n_samples)
    signals = []
    for i, lead in enumerate(ecg.leads):
        x = ecg.signal[i].astype(np.float64)
        if total > len(x):
            x = np.concatenate([x, np.full(total - len(x), x[-1])])
        lo, hi = float(x.min()), float(x.max())
        if hi - lo < 1e-6:
            lo, hi = lo - 1.0, hi + 1.0
        signals.append(edfio.EdfSignal(x, sampling_frequency=float(ecg.fs), label=f"ECG {lead}",
                                       physical_dimension="mV", physical_range=(lo, hi)))
    with atomic_path(path) as tmp:
        try:
            edf = edfio.Edf(signals, data_record_duration=record_s)
        except ValueError as exc:
            raise InputError(f"cannot write {path} as EDF ({exc}); write CSV, NPZ or WFDB instead") from None
        edf.write(tmp)
    return path


def output_format(path: str | Path) -> str:
    """The output format implied by ``path``: ``.csv``, ``.npz``, ``.edf``, else WFDB (a record
    path without extension, or ``.hea``).

    Raises:
        InputError: for other extensions.
    """
    suffix = Path(path).suffix.lower()
    if suffix in {".csv", ".npz", ".edf"}:
        return suffix[1:]
    if suffix in {"", ".hea"}:
        return "wfdb"
    raise InputError(f"{path}: unknown output type {suffix!r}; use .csv, .npz, .edf or a WFDB record path "
                     "without extension")


def output_paths(path: str | Path) -> list[Path]:
    """The files :func:`write_ecg` creates for ``path`` (two for WFDB)."""
    path = Path(path)
    if output_format(path) == "wfdb":
        base = _wfdb_base(path)
        return [base.with_name(base.name + ".hea"), base.with_name(base.name + ".dat")]
    return [path]


def write_ecg(ecg: ECG, path: str | Path) -> Path:
    """Write ``ecg`` in the format implied by ``path`` (see :func:`output_format`)."""
    fmt = output_format(path)
    writer = {"csv": write_csv, "npz": write_npz, "edf": write_edf, "wfdb": write_wfdb}[fmt]
    return writer(ecg, path)
