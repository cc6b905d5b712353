"""Reading a WFDB record (``.hea`` + signal file, incl. the CinC ``.mat`` variant) in mV: the one
WFDB reader behind users' files (:func:`leadlift.io.read_ecg`) and the dataset readers.

Records are read with ``smooth_frames=False``, so every channel comes at its own rate
(``samps_per_frame`` × the frame rate): a 500 Hz ECG stored at 4 samples per 125 Hz frame is
read at 500 Hz, never as 125 Hz frame averages. Multi-segment records are read through their
master header (segments joined, gaps as NaN); a multi-segment *layout* header (0 samples) is
refused with a message naming the master header.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
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
                 and master.with_name(master.name + ".hea").exists() else
                 "read the record through its master header (the .hea that lists the segments)")
        raise InputError(f"{path}.hea is the layout header of a multi-segment WFDB record (0 samples, no "
                         f"signal data); {where}")
    raise InputError(f"WFDB record {path} holds 0 samples; pass a record with signal data")


# bits per sample of the WFDB formats of fixed size (FLAC formats 508/516/524 are not checked)
_FORMAT_BITS = {"8": 8.0, "16": 16.0, "24": 24.0, "32": 32.0, "61": 16.0, "80": 8.0, "160": 16.0,
                "212": 12.0, "310": 32.0 / 3, "311": 32.0 / 3}


def _check_complete(path: Path, header: object, real: dict[str, str] | None = None) -> None:
    """Refuse a signal file shorter than its header declares (one line: bytes and seconds).

    Without this check ``wfdb`` fails with an unrelated reshape error, or — for some formats —
    reads what is there.
    """
    import wfdb

    if isinstance(header, wfdb.MultiRecord):
        return
    sig_len = getattr(header, "sig_len", None)
    fs = float(getattr(header, "fs", 0) or 0)
    files = list(getattr(header, "file_name", None) or [])
    fmts = list(getattr(header, "fmt", None) or [])
    if not sig_len or not files or len(fmts) != len(files):
        return
    spf = list(getattr(header, "samps_per_frame", None) or [1] * len(files))
    offsets = list(getattr(header, "byte_offset", None) or [None] * len(files))
    per_file: dict[str, list[float]] = {}  # file -> [bits per frame, byte offset]
    for name, fmt, k, off in zip(files, fmts, spf, offsets, strict=False):
        bits = _FORMAT_BITS.get(str(fmt))
        if bits is None or name in ("~", "") or (name in per_file and per_file[name][0] < 0):
            per_file[name] = [-1.0, 0.0]  # not checkable
            continue
        entry = per_file.setdefault(name, [0.0, float(off or 0)])
        entry[0] += bits * int(k or 1)
    for name, (bits, off) in per_file.items():
        if bits <= 0:
            continue
        file = path.parent / (real or {}).get(name, name)
        try:
            actual = file.stat().st_size
        except OSError:
            continue  # a missing file is reported by the reader
        expected = int(off + sig_len * bits // 8)
        if actual < expected:
            have_s = max(0.0, (actual - off) * 8 / bits) / fs if fs else 0.0
            want_s = sig_len / fs if fs else 0.0
            raise CorruptFileError(
                f"WFDB signal file {file} is truncated: {actual} of the {expected} bytes its header {path}.hea "
                f"declares ({have_s:.4g} of {want_s:.4g} s); re-download or copy the record again (leadlift does "
                "not read a cut-off recording)"
            )


_SAFE_RECORD = re.compile(r"[-\w]+(/\d+)?")
_SAFE_FILE = re.compile(r"~?[-\w]*\.?\w*")


@contextlib.contextmanager
def _readable_by_wfdb(path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """Yield a record path that ``wfdb`` can parse, and {file name there: real file name}.

    ``wfdb`` refuses a record name with a dot in the header's record line (``rec.v2``) and signal
    file names with more than one dot (``rec.v2.dat``). Such a record is read through a temporary
    folder holding a copy of its header with plain names and links to its signal files; any
    other record is read where it is.
    """
    try:
        lines = path.with_name(path.name + ".hea").read_text(encoding="latin-1").splitlines()
    except OSError:
        lines = []
    body = [i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    first = lines[body[0]].split() if body else []
    if len(first) < 2 or "/" in first[0] or not first[1].isdigit():  # multi-segment or unparsable: as is
        yield path, {}
        return
    signal_rows = body[1:1 + int(first[1])]
    files = [lines[i].split()[0] for i in signal_rows]
    if _SAFE_RECORD.fullmatch(first[0]) and all(_SAFE_FILE.fullmatch(f) for f in files):
        yield path, {}
        return
    mapping: dict[str, str] = {}
    for f in files:
        if f != "~" and f not in mapping.values():
            suffix = Path(f).suffix if re.fullmatch(r"\.\w+", Path(f).suffix) else ""
            mapping[f"signal{len(mapping)}{suffix}"] = f
    safe_of = {real: safe for safe, real in mapping.items()}
    with tempfile.TemporaryDirectory(prefix="leadlift-wfdb-") as tmp:
        out = list(lines)
        out[body[0]] = re.sub(r"^(\s*)\S+", lambda m: m.group(1) + "record", lines[body[0]], count=1)
        for i in signal_rows:
            out[i] = re.sub(r"^(\s*)(\S+)", lambda m: m.group(1) + safe_of.get(m.group(2), m.group(2)),
                            lines[i], count=1)
        Path(tmp, "record.hea").write_text("\n".join(out) + "\n", encoding="latin-1")
        for safe, real in mapping.items():
            target = path.parent / real
            if target.exists():
                try:
                    os.symlink(target.resolve(), Path(tmp, safe))
                except OSError:  # no symlinks here (some Windows setups): copy
                    shutil.copyfile(target, Path(tmp, safe))
        yield Path(tmp, "record"), mapping


def read_wfdb_channels(record_path: str | Path, channels: Sequence[int] | None = None) -> WfdbChannels:
    """Read a WFDB record's channels at their own rates, in their declared units (no conversion).

    Args:
        record_path: path without extension (a trailing ``.hea``/``.dat``/``.mat`` is stripped);
            a single- or multi-segment record.
        channels: optional channel indices to read.

    Raises:
        DataNotFoundError: the header or a signal file does not exist.
        CorruptFileError: the files exist but cannot be parsed, or a signal file is shorter than
            its header declares (truncated).
        InputError: a layout header or a record without samples (one line naming what to read).
    """
    path = _record_base(record_path)
    if not path.with_name(path.name + ".hea").exists():
        raise DataNotFoundError(f"WFDB header {path}.hea not found; check the path")
    with _readable_by_wfdb(path) as (where, real):
        return _read_channels(path, where, real, channels)


def _read_channels(path: Path, where: Path, real: dict[str, str],
                   channels: Sequence[int] | None) -> WfdbChannels:
    """:func:`read_wfdb_channels` of the record at ``where`` (messages name ``path``)."""
    import wfdb

    try:
        header = wfdb.rdheader(str(where))
    except Exception as exc:  # wfdb raises many types on corrupt input
        raise CorruptFileError(
            f"cannot read WFDB header {path}.hea: {type(exc).__name__}: {exc}; the file is corrupt or not "
            "WFDB — re-download it"
        ) from None
    _check_not_layout(path, header)
    _check_complete(path, header, real)
    try:
        rec = wfdb.rdrecord(str(where), channels=list(channels) if channels is not None else None,
                            smooth_frames=False)
    except FileNotFoundError as exc:
        missing = Path(exc.filename) if exc.filename else None
        shown = path.parent / real[missing.name] if missing is not None and missing.name in real else missing
        raise DataNotFoundError(
            f"signal file of {path.name} missing ({shown or exc}); re-download the record"
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
