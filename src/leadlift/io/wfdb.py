"""Reading a WFDB record (``.hea`` + signal file, incl. the CinC ``.mat`` variant) in mV: the one
WFDB reader behind users' files (:func:`leadlift.io.read_ecg`) and the dataset readers.

Records are read with ``smooth_frames=False``, so every channel comes at its own rate
(``samps_per_frame`` × the frame rate): a 500 Hz ECG stored at 4 samples per 125 Hz frame is
read at 500 Hz, never as 125 Hz frame averages. Multi-segment records are read through their
master header (segments joined, gaps as NaN); a multi-segment *layout* header (0 samples) is
refused with a message naming the master header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leadlift.errors import CorruptFileError, DataNotFoundError, InputError
from leadlift.units import unit_to_mv

__all__ = ["WfdbChannels", "common_rate", "read_wfdb", "read_wfdb_channels"]


@dataclass(frozen=True)
class WfdbChannels:
    """A WFDB record as stored: each channel at its own rate, in its declared unit.

    Attributes:
        signals: one float64 array of physical values per channel (NaN = invalid sample).
        rates: sampling rate of each channel in Hz (``samps_per_frame`` × frame rate).
        names: channel names as written in the header.
        units: declared unit of each channel (``""`` when the header gives none).
        comments: the header's comment lines.
    """

    signals: list[np.ndarray]
    rates: list[float]
    names: list[str]
    units: list[str]
    comments: list[str]


def _record_base(record_path: str | Path) -> Path:
    path = Path(record_path)
    if path.suffix in {".hea", ".dat", ".mat"}:
        path = path.with_suffix("")
    return path


def _check_not_layout(path: Path, header: object) -> None:
    """Refuse a header with 0 samples: a multi-segment record's layout header, or an empty record."""
    import wfdb

    if isinstance(header, wfdb.MultiRecord):
        return
    n_sig = int(getattr(header, "n_sig", 0) or 0)
    if n_sig == 0:
        raise InputError(f"WFDB record {path} declares no signals; pass a record with ECG signals")
    if int(getattr(header, "sig_len", 0) or 0) > 0:
        return
    files = set(getattr(header, "file_name", None) or [])
    if files <= {"~"}:  # signal lines without a file: a layout header
        stem = path.name[: -len("_layout")] if path.name.endswith("_layout") else None
        master = path.with_name(stem) if stem else None
        where = (f"read the record through its master header {master}.hea" if master is not None
                 and master.with_suffix(".hea").exists() else
                 "read the record through its master header (the .hea that lists the segments)")
        raise InputError(f"{path}.hea is the layout header of a multi-segment WFDB record (0 samples, no "
                         f"signal data); {where}")
    raise InputError(f"WFDB record {path} holds 0 samples; pass a record with signal data")


def read_wfdb_channels(record_path: str | Path, channels: Sequence[int] | None = None) -> WfdbChannels:
    """Read a WFDB record's channels at their own rates, in their declared units (no conversion).

    Args:
        record_path: path without extension (a trailing ``.hea``/``.dat``/``.mat`` is stripped);
            a single- or multi-segment record.
        channels: optional channel indices to read.

    Raises:
        DataNotFoundError: the header or a signal file does not exist.
        CorruptFileError: the files exist but cannot be parsed.
        InputError: a layout header or a record without samples (one line naming what to read).
    """
    path = _record_base(record_path)
    if not path.with_suffix(".hea").exists():
        raise DataNotFoundError(f"WFDB header {path.with_suffix('.hea')} not found; check the path")
    import wfdb

    try:
        header = wfdb.rdheader(str(path))
    except Exception as exc:  # wfdb raises many types on corrupt input
        raise CorruptFileError(
            f"cannot read WFDB header {path}.hea: {type(exc).__name__}: {exc}; the file is corrupt or not "
            "WFDB — re-download it"
        ) from None
    _check_not_layout(path, header)
    try:
        rec = wfdb.rdrecord(str(path), channels=list(channels) if channels is not None else None,
                            smooth_frames=False)
    except FileNotFoundError as exc:
        raise DataNotFoundError(
            f"signal file of {path.name} missing ({exc.filename or exc}); re-download the record"
        ) from None
    except Exception as exc:  # wfdb raises many types on corrupt input
        raise CorruptFileError(
            f"cannot read WFDB record {path}: {type(exc).__name__}: {exc}; the file is corrupt or "
            "not WFDB — re-download it"
        ) from None
    if rec.e_p_signal is None:
        raise CorruptFileError(f"WFDB record {path} holds no physical signal; re-download it")
    n_sig = len(rec.e_p_signal)
    frames = list(rec.samps_per_frame or [1] * n_sig)
    fs = float(rec.fs)
    return WfdbChannels(
        signals=[np.asarray(x, dtype=np.float64) for x in rec.e_p_signal],
        rates=[fs * int(k) for k in frames],
        names=[str(n) for n in (rec.sig_name or [f"ch{i}" for i in range(n_sig)])],
        units=[str(u) if u is not None else "" for u in (rec.units or [""] * n_sig)],
        comments=list(rec.comments or []),
    )


def common_rate(rates: Sequence[float], names: Sequence[str], source: str) -> float:
    """The one rate the given channels share.

    Raises:
        InputError: naming each channel and its rate when they differ.
    """
    if len(set(rates)) > 1:
        detail = ", ".join(f"{n} {r:g} Hz" for n, r in zip(names, rates, strict=True))
        raise InputError(f"{source}: the selected channels have different sampling rates ({detail}); select "
                         "leads of one rate with leads= (CLI: --leads)")
    return float(rates[0])


def read_wfdb(
    record_path: str | Path,
    channels: Sequence[int] | None = None,
) -> tuple[np.ndarray, float, list[str], list[str], list[str]]:
    """Read a WFDB record (``.hea`` + signal file, incl. the CinC ``.mat`` variant).

    Args:
        record_path: path without extension (a trailing ``.hea`` is stripped).
        channels: optional channel indices to read (only their units are checked).

    Returns:
        ``(signal [n_channels, n_samples] float32 in mV, fs in Hz, raw signal names, units,
        header comment lines)``. The channels are read at their own rate (see the module
        docstring), which they must share.

    Raises:
        DataNotFoundError: the header or signal file does not exist.
        CorruptFileError: the files exist but cannot be parsed, or a channel is not in mV/µV/V.
        InputError: the channels have different rates, or the header is a layout header.
    """
    path = _record_base(record_path)
    rec = read_wfdb_channels(path, channels)
    units = [u or "mV" for u in rec.units]
    try:
        scale = np.array([unit_to_mv(u) for u in units], dtype=np.float64)
    except InputError:
        raise CorruptFileError(f"record {path} has units {units}; leadlift reads mV, µV or V only") from None
    fs = common_rate(rec.rates, rec.names, str(path))
    signal = (np.stack(rec.signals) * scale[:, None]).astype(np.float32)
    return signal, fs, list(rec.names), units, list(rec.comments)
