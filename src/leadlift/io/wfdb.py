"""Reading a WFDB record (``.hea`` + signal file, incl. the CinC ``.mat`` variant) in mV: the one
WFDB reader behind users' files (:func:`leadlift.io.read_ecg`) and the dataset readers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from leadlift.errors import CorruptFileError, DataNotFoundError, InputError
from leadlift.units import unit_to_mv

__all__ = ["read_wfdb"]


def read_wfdb(
    record_path: str | Path,
    channels: Sequence[int] | None = None,
) -> tuple[np.ndarray, float, list[str], list[str], list[str]]:
    """Read a WFDB record (``.hea`` + signal file, incl. the CinC ``.mat`` variant).

    Args:
        record_path: path without extension (a trailing ``.hea`` is stripped).
        channels: optional channel indices to read.

    Returns:
        ``(signal [n_channels, n_samples] float32 in mV, fs in Hz, raw signal names, units,
        header comment lines)``.

    Raises:
        DataNotFoundError: the header or signal file does not exist.
        CorruptFileError: the files exist but cannot be parsed.
    """
    path = Path(record_path)
    if path.suffix in {".hea", ".dat", ".mat"}:
        path = path.with_suffix("")
    if not path.with_suffix(".hea").exists():
        raise DataNotFoundError(f"WFDB header {path.with_suffix('.hea')} not found; check the path")
    import wfdb

    try:
        rec = wfdb.rdrecord(str(path), channels=list(channels) if channels is not None else None)
    except FileNotFoundError as exc:
        raise DataNotFoundError(
            f"signal file of {path.name} missing ({exc.filename or exc}); re-download the record"
        ) from None
    except Exception as exc:  # wfdb raises many types on corrupt input
        raise CorruptFileError(
            f"cannot read WFDB record {path}: {type(exc).__name__}: {exc}; the file is corrupt or "
            "not WFDB — re-download it"
        ) from None
    if rec.p_signal is None:
        raise CorruptFileError(f"WFDB record {path} holds no physical signal; re-download it")
    units = [str(u) for u in (rec.units or ["mV"] * rec.n_sig)]
    try:
        scale = np.array([unit_to_mv(u) for u in units], dtype=np.float64)
    except InputError:
        raise CorruptFileError(f"record {path} has units {units}; leadlift reads mV, µV or V only") from None
    signal = (rec.p_signal.T * scale[:, None]).astype(np.float32)
    return signal, float(rec.fs), list(rec.sig_name), units, list(rec.comments or [])
