"""Readers for users' own recordings: WFDB, CSV, NumPy ``.npy``/``.npz`` and EDF/EDF+.

Every reader returns an :class:`~leadlift.ecg.ECG` (signal ``[n_leads, n_samples]`` float32 in
**mV**, ``fs`` in Hz, standard lead names) and follows the same rules:

**Sampling rate.** Taken from the file when it stores one (WFDB/EDF header, ``fs`` in an
``.npz``, a time column in a CSV); otherwise ``fs=`` is required. When both are given they must
agree (within 0.1 %), so a wrong ``fs`` is refused rather than silently used.

**Leads.** When the file names its channels (WFDB/EDF labels, CSV header, ``leads`` in an
``.npz``), ``leads=`` *selects* (and orders) channels; channels that are not standard ECG leads
(respiration, "ECG I filtered"...) are dropped with a warning. When the file has no names
(``.npy``, a CSV without header), ``leads=`` names the rows and is required.

**Units.** Files that declare their unit (WFDB, EDF, an ``.npz`` with ``units``) are converted
to mV from that declaration, and an explicit ``units=`` must agree with it. Otherwise the values
are taken in ``units=`` (``"mV"``, ``"uV"``/``"µV"`` or ``"V"``) when given, and when it is not,
they are assumed to be mV **after a plausibility check**: an ECG in mV has a robust amplitude
(99.5th percentile of ``|x - median|``, largest lead) between 0.002 and 25 mV, so a larger one
is refused as "looks like µV" and a smaller one as "looks like V" (pass ``units=`` to override).
Declared units are checked by the same rule (:func:`leadlift.ecg.implausible_amplitude`) after
conversion: raw ADC counts behind a WFDB gain of 1 adu/mV, or µV declared as mV, are refused
with a message saying what looks wrong; ``allow_implausible_amplitude=True``
(CLI: ``--allow-implausible-amplitude``) reads such values as they are. Only the selected leads
are converted and checked: other channels (blood pressure in mmHg, respiration...) are ignored.

**Gaps.** Invalid samples (NaN: WFDB's invalid value, empty CSV cells) are refused, with the
longest gap in the message, unless ``fill_gaps_ms=MS`` (CLI: ``--fill-gaps MS``) allows gaps up
to MS milliseconds: those are linearly interpolated (held at the first/last valid value at the
edges of the record).

**Marks.** Files written by :mod:`leadlift.io.writers` for a marked reconstruction read back with
their marks in ``labels`` (``measured``, ``derived_exactly``, ``synthesized``, ``model``, ``model_version``,
``interval``, ``bandpass_hz``) and their sd channels (CSV/WFDB ``<lead>_sd``, EDF ``<lead> sd``,
NPZ ``spread``) as :attr:`~leadlift.ecg.ECG.spread` (mV; 0 for leads without one); sd channels
are never taken for leads.

Bad files raise :class:`~leadlift.errors.DataNotFoundError` (missing),
:class:`~leadlift.errors.CorruptFileError` (unparseable) or :class:`~leadlift.errors.InputError`
(parseable but unusable: NaN, too short, unknown leads, wrong fs, implausible units), each with a
one-line message that names the file and says what to do.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leadlift.ecg import ECG, implausible_amplitude, normalize_lead_name, parse_leads, restrict_marks
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError, LeadliftError
from leadlift.io.marks import (
    SIDECAR_FORMAT,
    marks_from_json,
    parse_mark_lines,
    parse_model,
    sd_lead,
    spread_rows,
)
from leadlift.io.wfdb import common_rate, read_wfdb_channels
from leadlift.preprocessing import _check_rate
from leadlift.units import UNIT_TO_MV, parse_units, unit_to_mv

log = logging.getLogger("leadlift.io")

__all__ = [
    "FORMATS",
    "detect_format",
    "fill_gaps",
    "parse_units",
    "read_csv",
    "read_ecg",
    "read_edf",
    "read_npy",
    "read_npz",
    "read_wfdb",
]

FORMATS: tuple[str, ...] = ("wfdb", "csv", "npy", "npz", "edf")
"""File formats :func:`read_ecg` understands."""

FS_TOLERANCE = 1e-3
"""Relative tolerance when a given ``fs`` is compared with the rate stored in a file."""

_TIME_NAMES = {"time", "t", "seconds", "second", "sec", "secs", "s"}
_MS_NAMES = {"ms", "msec", "milliseconds", "millisecond"}


# --------------------------------------------------------------------------------------- helpers
def _declared_unit(raw: str) -> str | None:
    """Unit of a file's channel declaration, or None when it declares none we know."""
    try:
        return parse_units(raw.strip()) if raw and raw.strip() else None
    except InputError:
        return None


def _check_fs_arg(fs: Any) -> float | None:
    """``None`` (the file must give fs) or a validated positive rate in Hz."""
    return None if fs is None else _check_rate(fs, "fs")


def _agree_fs(given: float | None, stored: float, source: str, where: str) -> float:
    """The file's rate, after checking that a given ``fs`` agrees with it."""
    if given is not None and abs(given - stored) > FS_TOLERANCE * stored:
        raise InputError(
            f"{source}: fs={given:g} Hz contradicts the {stored:g} Hz stored in its {where}; "
            "drop fs/--fs (the file's rate is used) or fix the file"
        )
    return stored


_ALLOW_HINT = "allow_implausible_amplitude=True (CLI: --allow-implausible-amplitude)"


def _plausibility(signal: np.ndarray, source: str) -> None:
    """Refuse undeclared amplitudes that do not look like mV (see the module docstring)."""
    verdict = implausible_amplitude(signal)
    if verdict is not None and verdict[0] == "high":
        raise InputError(
            f"{source}: amplitudes up to {verdict[1]:.4g} look like µV, not mV (an ECG is a few mV); "
            "pass units='uV' (CLI: --units uV), or units='mV' (CLI: --units mV) if they really are mV"
        )
    if verdict is not None:
        raise InputError(
            f"{source}: amplitudes of only {verdict[1]:.3g} look like V, not mV; "
            "pass units='V' (CLI: --units V), or units='mV' (CLI: --units mV) if they really are mV"
        )


def _check_declared(signal: np.ndarray, source: str, declared: str) -> None:
    """Refuse amplitudes that are implausible for an ECG after the file's own unit declaration
    (``declared`` names it: "header gain and units", "physical dimension"...)."""
    verdict = implausible_amplitude(signal)
    if verdict is not None and verdict[0] == "high":
        raise InputError(
            f"{source}: with its {declared} the ECG reaches {verdict[1]:.4g} mV (robust amplitude; an ECG is "
            "a few mV), so the declaration looks wrong (raw ADC counts with a gain of 1, or µV declared as mV); "
            f"fix the {declared} in the file, or pass {_ALLOW_HINT} to read the values as they are"
        )
    if verdict is not None:
        raise InputError(
            f"{source}: with its {declared} the ECG reaches only {verdict[1]:.3g} mV (robust amplitude; an ECG "
            "is a few mV), so the declaration looks wrong (V declared as mV, or a gain 1000x too large); "
            f"fix the {declared} in the file, or pass {_ALLOW_HINT} to read the values as they are"
        )


def _check_gap_arg(fill_gaps_ms: Any) -> float:
    try:
        value = float(fill_gaps_ms)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or value < 0:
        raise InputError(f"fill_gaps_ms={fill_gaps_ms!r} (CLI: --fill-gaps {fill_gaps_ms}) is not a number of "
                         "milliseconds >= 0; pass e.g. 50, or 0 to refuse gaps")
    return value


def _nan_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and lengths of the runs of True in a 1-D boolean mask."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    return starts, np.flatnonzero(edges == -1) - starts


def fill_gaps(signal: np.ndarray, fs: float, leads: Sequence[str], fill_gaps_ms: float,
              source: str) -> np.ndarray:
    """Linearly interpolate runs of NaN up to ``fill_gaps_ms`` ms in each lead ``[n_leads, n_samples]``.

    Runs at the start or end of a lead are held at its first/last valid value.

    Raises:
        InputError: a lead without any valid sample, or a gap longer than ``fill_gaps_ms``
            (the message gives the longest gap and the option that would allow it).
    """
    nan = np.isnan(signal)
    if not nan.any():
        return signal
    limit = _check_gap_arg(fill_gaps_ms)
    worst = (0, 0, 0)  # (length, lead index, start)
    for k in range(signal.shape[0]):
        if nan[k].all():
            raise InputError(f"{source}: lead {leads[k]} has no valid sample (all NaN); select other leads with "
                             "leads= (CLI: --leads)")
        starts, lengths = _nan_runs(nan[k])
        if lengths.size and lengths.max() > worst[0]:
            j = int(np.argmax(lengths))
            worst = (int(lengths[j]), k, int(starts[j]))
    longest_ms = worst[0] / fs * 1000.0
    if longest_ms > limit:
        total = int(nan.sum())
        where = f"lead {leads[worst[1]]} at {worst[2] / fs:.3f} s"
        allowed = (f"longer than the {limit:g} ms allowed by fill_gaps_ms={limit:g} (CLI: --fill-gaps {limit:g})"
                   if limit > 0
                   else "invalid samples are refused by default")
        need = int(np.ceil(longest_ms))
        raise InputError(
            f"{source}: {total} invalid (NaN) sample(s); the longest gap is {worst[0]} sample(s) = "
            f"{longest_ms:.4g} ms ({where}), {allowed}; pass fill_gaps_ms={need} (CLI: --fill-gaps {need}) "
            "to interpolate gaps up to that length, or cut the gaps out"
        )
    out = signal.copy()
    for k in np.flatnonzero(nan.any(axis=1)):
        good = np.flatnonzero(~nan[k])
        bad = np.flatnonzero(nan[k])
        out[k, bad] = np.interp(bad, good, signal[k, good])
    log.info("%s: interpolated %d invalid sample(s) in gaps up to %.4g ms", source, int(nan.sum()), longest_ms)
    return out


def _make_ecg(signal: np.ndarray, fs: float, leads: Sequence[str], *, source: str, declared: str | None,
              explicit_units: bool, fill_gaps_ms: float = 0.0, allow_implausible_amplitude: bool = False,
              record_id: str | None = None, labels: dict[str, Any] | None = None,
              spread: np.ndarray | None = None) -> ECG:
    """Fill short gaps, check the amplitude, build the ECG from a signal already in mV.

    ``declared`` names where the file declared its unit (checked by :func:`_check_declared`);
    without a declaration, values taken as mV without ``units=`` (``explicit_units``) get the
    "looks like µV / V" check. ``spread`` (mV, shaped like ``signal``) is the file's predictive sd.
    """
    signal = np.asarray(signal, dtype=np.float64)
    if fs > 0 and np.isfinite(fs):
        signal = fill_gaps(signal, fs, leads, fill_gaps_ms, source)
    if not allow_implausible_amplitude:
        if declared is not None:
            _check_declared(signal, source, declared)
        elif not explicit_units:
            _plausibility(signal, source)
    try:
        return ECG(signal, fs, tuple(leads), record_id=record_id, labels=restrict_marks(labels or {}, tuple(leads)),
                   check_units=False, spread=spread)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None


def _choose(names: list[str | None], leads: Sequence[str] | str | None, source: str) -> tuple[list[int], list[str]]:
    """Apply the lead rule to channels with (normalised or None) ``names``: ``(indices, lead names)``.

    Channels named None are not standard leads: they are dropped (with a debug note) unless
    ``leads`` selects only named channels anyway.
    """
    if leads is not None:
        wanted = list(parse_leads(leads))
        have = {n: i for i, n in enumerate(names) if n is not None}
        missing = [n for n in wanted if n not in have]
        if missing:
            present = ", ".join(n for n in names if n) or "none"
            raise InputError(
                f"{source}: lead(s) {', '.join(missing)} not in the file (it has {present}); "
                "pass leads that are present"
            )
        return [have[n] for n in wanted], wanted
    keep = [i for i, n in enumerate(names) if n is not None]
    if not keep:
        raise InputError(f"{source}: none of its channels is a standard ECG lead; rename them "
                         "(I, II, ..., V6) or pass leads= (CLI: --leads)")
    if len(keep) < len(names):
        log.debug("%s: ignored %d channel(s) that are not standard leads", source, len(names) - len(keep))
    return keep, [names[i] for i in keep]  # type: ignore[misc]


def _select(signal: np.ndarray, names: list[str | None], leads: Sequence[str] | str | None,
            source: str) -> tuple[np.ndarray, list[str]]:
    """:func:`_choose` applied to the rows of ``signal``."""
    idx, lead_names = _choose(names, leads, source)
    return signal[idx], lead_names


def _in_mv(signal: np.ndarray, units: str | None) -> np.ndarray:
    """Undeclared values in ``units`` (None: taken as mV, to be checked) converted to mV."""
    signal = np.asarray(signal, dtype=np.float64)
    return signal * UNIT_TO_MV[units] if units is not None else signal


def _lead_or_none(name: str) -> str | None:
    try:
        return normalize_lead_name(name)
    except InputError:
        return None


def _dedupe(names: list[str | None], raw: Sequence[str], source: str) -> list[str | None]:
    """Keep the first channel of each lead name (later duplicates become None, with a warning)."""
    seen: set[str] = set()
    out: list[str | None] = []
    for n, r in zip(names, raw, strict=True):
        if n is not None and n in seen:
            log.warning("%s: channel %r repeats lead %s; ignored", source, r, n)
            out.append(None)
            continue
        if n is not None:
            seen.add(n)
        out.append(n)
    return out


def _require_file(path: Path) -> None:
    if not path.exists():
        raise DataNotFoundError(f"{path} not found; check the path")
    if path.is_dir():
        raise InputError(f"{path} is a folder; pass a recording file (.csv, .npy, .npz, .edf, .hea)")


def detect_format(path: str | Path) -> str:
    """The format of ``path`` from its extension (``.hea``/``.dat``/none with a ``.hea`` → WFDB).

    Raises:
        InputError: for an extension leadlift cannot read.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in {".hea", ".dat", ".mat"} or path.with_name(path.name + ".hea").exists():
        return "wfdb"  # also a record name with a dot given without .hea (rec.v2)
    if suffix in {".csv", ".txt", ".tsv"}:
        return "csv"
    if suffix in {".npy", ".npz", ".edf"}:
        return suffix[1:]
    if suffix == ".bdf":
        return "edf"
    raise InputError(
        f"{path}: unknown file type {suffix or '(no extension)'!r}; leadlift reads WFDB (.hea), "
        ".csv, .npy, .npz and .edf (or pass format='csv' (CLI: --format csv))"
    )


# --------------------------------------------------------------------------------------- WFDB
def read_wfdb(path: str | Path, *, fs: float | None = None, leads: Sequence[str] | str | None = None,
              units: str | None = None, fill_gaps_ms: float = 0.0,
              allow_implausible_amplitude: bool = False) -> ECG:
    """Read a WFDB record (``RECORD.hea`` + its signal file) as an :class:`ECG` in mV.

    Every channel is read at its own rate (``samps_per_frame`` × frame rate; never as frame
    averages); the selected leads must share one rate. Channels that are not ECG leads (blood
    pressure in mmHg, respiration...) are dropped before their units are looked at. A
    multi-segment record is read through its master header.

    Args:
        path: the record path with or without ``.hea``/``.dat``.
        fs: optional; must agree with the selected leads' rate.
        leads: optional selection of leads (the header names the channels).
        units: optional; must agree with the header's units (which are applied).
        fill_gaps_ms: interpolate runs of invalid samples up to this many ms (default 0: refuse them).
        allow_implausible_amplitude: read amplitudes that are implausible for an ECG in the declared
            unit (e.g. a header gain of 1 adu/mV) as they are, instead of refusing them.
    """
    path = Path(path)
    if path.suffix.lower() in {".hea", ".dat", ".mat"}:
        path = path.with_suffix("")
    source = str(path)
    fs_arg, units = _check_fs_arg(fs), parse_units(units)
    rec = read_wfdb_channels(path)
    names = _dedupe([_lead_or_none(n) for n in rec.names], rec.names, source)
    idx, lead_names = _choose(names, leads, source)
    factors = []
    for i, lead in zip(idx, lead_names, strict=True):
        try:
            factors.append(unit_to_mv(rec.units[i]))
        except InputError:
            raise InputError(
                f"{source}: lead {lead} (channel {rec.names[i]!r}) is declared in {rec.units[i]!r}, not mV, µV or V; "
                "fix the unit in the header, or select other leads with leads= (CLI: --leads)"
            ) from None
    if units is not None:
        declared = {_declared_unit(rec.units[i]) or "mV" for i in idx}
        if declared != {units}:
            raise InputError(f"{source}: the header declares its units ({', '.join(sorted(declared))}); "
                             "drop units= (CLI: --units)")
    rate = common_rate([rec.rates[i] for i in idx], lead_names, source)
    signal = np.stack([rec.signals[i] * f for i, f in zip(idx, factors, strict=True)])
    sd_values: dict[str, np.ndarray] = {}
    for i, raw in enumerate(rec.names):
        lead = sd_lead(raw) if names[i] is None else None
        if lead is None or lead in sd_values:
            continue
        if rec.rates[i] != rate or len(rec.signals[i]) != signal.shape[1]:
            log.warning("%s: channel %r is not at the leads' rate and length; ignored", source, raw)
            continue
        try:
            sd_values[lead] = rec.signals[i] * unit_to_mv(rec.units[i] or "mV")
        except InputError:
            log.warning("%s: channel %r is in %r, not mV, µV or V; ignored", source, raw, rec.units[i])
    return _make_ecg(signal, _agree_fs(fs_arg, rate, source, "header"), lead_names, source=source,
                     declared="header gain and units", explicit_units=False, fill_gaps_ms=fill_gaps_ms,
                     allow_implausible_amplitude=allow_implausible_amplitude, record_id=path.name,
                     labels=parse_mark_lines(rec.comments),
                     spread=spread_rows(sd_values, lead_names, signal.shape[1]))


# --------------------------------------------------------------------------------------- CSV
def _time_column_scale(name: str) -> float | None:
    """Seconds per unit if ``name`` names a time column (``time``, ``t``, ``seconds``,
    ``time_s``, ``time (s)``, ``time_ms``, ``time [ms]``...), else None."""
    key = name.strip().lower()
    match = re.fullmatch(r"([a-z]+)\s*(?:[_\s]\s*([a-z]+)|[(\[]\s*([a-z]+)\s*[)\]])?", key)
    if not match:
        return None
    base, unit = match.group(1), match.group(2) or match.group(3)
    if unit is None:
        if base in _TIME_NAMES:
            return 1.0
        if base in _MS_NAMES:
            return 1e-3
        return None
    if base not in {"time", "t"}:
        return None
    if unit in {"s", "sec", "secs", "seconds"}:
        return 1.0
    if unit in _MS_NAMES:
        return 1e-3
    return None


def _sniff_delimiter(first_line: str) -> str | None:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else None  # None: whitespace-separated


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _snap_rate(fs: float) -> float:
    """A rate computed as samples / duration, with the float noise removed (499.99999999999994 → 500)."""
    nearest = round(fs)
    if nearest > 0 and abs(fs - nearest) < 1e-6 * fs + 1e-9:
        return float(nearest)
    return round(fs, 6)


def _fs_from_time(t: np.ndarray, source: str) -> float:
    if len(t) < 2 or not np.isfinite(t).all():
        raise InputError(f"{source}: the time column has missing or non-numeric values; fix it or drop it "
                         "and pass fs=")
    dt = np.diff(t)
    if (dt <= 0).any():
        raise InputError(f"{source}: the time column is not increasing; sort the rows or drop the column "
                         "and pass fs=")
    step = float(np.median(dt))
    if np.max(np.abs(dt - step)) > 0.01 * step:
        raise InputError(f"{source}: the time column is not evenly spaced (gaps or jitter); resample to a "
                         "constant rate first")
    return _snap_rate((len(t) - 1) / float(t[-1] - t[0]))


def read_csv(path: str | Path, *, fs: float | None = None, leads: Sequence[str] | str | None = None,
             units: str | None = None, fill_gaps_ms: float = 0.0,
             allow_implausible_amplitude: bool = False) -> ECG:
    """Read a CSV/TSV with one column per lead and one row per sample.

    The delimiter (``,``, ``;``, tab or whitespace) is detected from the first line; lines
    starting with ``#`` are comments. The first line is a header when it is not all numbers:
    lead names (any spelling, e.g. ``I,II,V1`` or ``ECG I``) and optionally a time column named
    ``time``/``t``/``seconds`` (``time_ms`` / ``time (ms)`` for milliseconds), which gives ``fs``.
    Without a header, ``leads=`` names the columns.

    Args:
        path: the ``.csv`` file.
        fs: sampling rate in Hz; required unless a time column gives it (then they must agree).
        leads: names of the columns (no header / header without lead names) or a selection of
            the header's leads.
        units: unit of the values (default: mV after the plausibility check).
        fill_gaps_ms, allow_implausible_amplitude: as in :func:`read_ecg`.
    """
    import pandas as pd

    path = Path(path)
    source = str(path)
    _require_file(path)
    fs_arg, units = _check_fs_arg(fs), parse_units(units)
    try:
        with open(path, encoding="utf-8-sig", errors="strict") as fh:
            first = ""
            for line in fh:
                if line.strip() and not line.lstrip().startswith("#"):
                    first = line.rstrip("\r\n")
                    break
    except UnicodeDecodeError:
        raise CorruptFileError(f"{source} is not a text file; pass a CSV with one column per lead") from None
    if not first:
        raise InputError(f"{source} is empty; pass a CSV with one column per lead and one row per sample")
    delim = _sniff_delimiter(first)
    cells = [c.strip().strip('"').strip("'") for c in (first.split(delim) if delim else first.split())]
    has_header = not all(_is_number(c) for c in cells if c)
    if has_header:
        # pandas renames a repeated column ("I,I" -> "I", "I.1"); say what the file says instead
        seen: dict[str, int] = {}
        for pos, cell in enumerate(cells, start=1):
            if not cell:
                continue
            key = _lead_or_none(cell) or cell.lower()
            if key in seen:
                first_cell = cells[seen[key] - 1]
                raise InputError(
                    f"{source}: duplicate column {cell!r} (columns {seen[key]} and {pos}); remove or rename one of them"
                    if first_cell == cell else
                    f"{source}: columns {first_cell!r} and {cell!r} (columns {seen[key]} and {pos}) are both lead "
                    f"{key}; remove or rename one of them"
                )
            seen[key] = pos
    try:
        frame = pd.read_csv(path, sep=delim if delim else r"\s+", header=0 if has_header else None,
                            comment="#", skipinitialspace=True, encoding="utf-8-sig",
                            engine="c" if delim else "python")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptFileError(f"{source} is not a readable CSV ({msg}); use one column per lead, one row "
                               "per sample") from None
    frame = frame.dropna(axis=1, how="all")  # a trailing delimiter makes an empty column
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(f"{source} has no data rows; pass a CSV with one row per sample")
    columns = [str(c).strip() for c in frame.columns]
    values = frame.apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & frame.notna()
    if bad.any().any():
        col = columns[int(np.flatnonzero(bad.any().to_numpy())[0])]
        row = int(np.flatnonzero(bad[frame.columns[columns.index(col)]].to_numpy())[0])
        raise CorruptFileError(
            f"{source}: non-numeric value {frame.iloc[row][frame.columns[columns.index(col)]]!r} in column "
            f"{col!r} (data row {row + 1}); fix the file (decimal point, not comma)"
        )
    data = values.to_numpy(dtype=np.float64)

    header_columns = list(columns)
    sd_values: dict[str, np.ndarray] = {}
    if has_header:  # <lead>_sd columns hold the predictive sd of a lead, not a lead
        sd_idx = [(i, sd_lead(c)) for i, c in enumerate(columns) if _lead_or_none(c) is None and sd_lead(c)]
        for i, lead in sd_idx:
            sd_values.setdefault(lead, data[:, i])  # type: ignore[arg-type]
        if sd_idx:
            drop = [i for i, _ in sd_idx]
            data = np.delete(data, drop, axis=1)
            columns = [c for i, c in enumerate(columns) if i not in drop]
    time_idx = None
    if has_header:
        for i, c in enumerate(columns):
            if _time_column_scale(c) is not None:
                time_idx = i
                break
    file_fs: float | None = None
    if time_idx is not None:
        file_fs = _fs_from_time(data[:, time_idx] * _time_column_scale(columns[time_idx]), source)  # type: ignore[operator]
        data = np.delete(data, time_idx, axis=1)
        columns.pop(time_idx)
    signal = data.T  # [n_columns, n_samples]

    if has_header:
        names: list[str | None] = [_lead_or_none(c) for c in columns]
        if all(n is None for n in names):  # a header without lead names (ch1, ch2...)
            if leads is None:
                raise InputError(
                    f"{source}: header columns {columns[:4]} are not lead names; rename them (I, II, ..., V6) "
                    "or pass leads= (CLI: --leads I,II)"
                )
            names = list(_named_rows(signal, leads, source))
            leads = None
        names = _dedupe(names, columns, source)
        if leads is None and any(n is None for n in names):
            unknown = [c for c, n in zip(columns, names, strict=True) if n is None]
            raise InputError(
                f"{source}: column(s) {', '.join(map(repr, unknown[:4]))} are neither leads nor a time "
                "column; rename them, remove them, or pass leads= to select columns"
            )
        signal, lead_names = _select(signal, names, leads, source)
    else:
        if leads is None:
            raise InputError(f"{source} has no header; pass leads= (CLI: --leads I,II) naming its "
                             f"{signal.shape[0]} column(s), or add a header line")
        lead_names = list(_named_rows(signal, leads, source))
    side = _csv_sidecar(path, header_columns) if has_header else None
    if file_fs is not None:
        rate = _agree_fs(fs_arg, file_fs, source, "time column")
    elif side is not None and side.get("fs") is not None:
        rate = _agree_fs(fs_arg, float(side["fs"]), source, "sidecar")
    elif fs_arg is not None:
        rate = fs_arg
    else:
        raise InputError(f"{source}: sampling rate unknown; pass fs= (CLI: --fs 500) or add a time column "
                         "named 'time' (seconds)")
    spread = spread_rows(sd_values, lead_names, signal.shape[1])
    return _make_ecg(_in_mv(signal, units), rate, lead_names, source=source, declared=None,
                     explicit_units=units is not None, fill_gaps_ms=fill_gaps_ms,
                     allow_implausible_amplitude=allow_implausible_amplitude, record_id=path.stem,
                     labels=marks_from_json(side) if side is not None else None,
                     spread=None if spread is None else _in_mv(spread, units))


def _csv_sidecar(path: Path, columns: list[str]) -> dict[str, Any] | None:
    """The leadlift sidecar ``<path>.json`` of a CSV when it describes this file (same header
    columns); None when there is none. A sidecar of another file is ignored with a warning."""
    side = path.with_name(path.name + ".json")
    if not side.is_file():
        return None
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        log.warning("%s: sidecar %s is not readable JSON; its marks are ignored", path, side.name)
        return None
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        return None
    if [str(c) for c in data.get("columns", [])] != columns:
        log.warning("%s: sidecar %s describes other columns (%s); its marks are ignored", path, side.name,
                    ",".join(map(str, data.get("columns", []))))
        return None
    return data


def _named_rows(signal: np.ndarray, leads: Sequence[str] | str, source: str) -> tuple[str, ...]:
    names = parse_leads(leads)
    if len(names) != signal.shape[0]:
        raise InputError(f"{source} has {signal.shape[0]} signal column(s) but {len(names)} lead name(s) "
                         f"were given ({', '.join(names)}); pass one name per column")
    return names


# --------------------------------------------------------------------------------------- NumPy
def _orient(arr: np.ndarray, n_leads: int, source: str) -> np.ndarray:
    """``[n_leads, n_samples]`` from a 1-D array or either orientation of a 2-D one."""
    if arr.ndim == 1:
        if n_leads != 1:
            raise InputError(f"{source} holds a 1-D array but {n_leads} leads were named; pass one lead name")
        return arr[None, :]
    if arr.ndim != 2:
        raise InputError(f"{source} holds an array of shape {arr.shape}; expected [n_leads, n_samples] "
                         "or [n_samples, n_leads]")
    if arr.shape[0] == n_leads:
        return arr
    if arr.shape[1] == n_leads:
        return arr.T
    raise InputError(f"{source} holds an array of shape {arr.shape}, which does not fit {n_leads} lead name(s); "
                     "pass one name per row (or column)")


def _numeric(arr: np.ndarray, source: str) -> np.ndarray:
    if arr.dtype == bool:
        raise CorruptFileError(f"{source} holds booleans, not an ECG (0/1 would be read as mV); save the signal "
                               "as a float array in mV")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise CorruptFileError(f"{source} holds {arr.dtype} data, not numbers; save the signal as a float array")
    return arr.astype(np.float64)


def read_npy(path: str | Path, *, fs: float | None = None, leads: Sequence[str] | str | None = None,
             units: str | None = None, fill_gaps_ms: float = 0.0,
             allow_implausible_amplitude: bool = False) -> ECG:
    """Read a ``.npy`` array ``[n_leads, n_samples]`` (or ``[n_samples, n_leads]``, or 1-D for one lead).

    ``fs`` and ``leads`` are required (a ``.npy`` stores neither). Never unpickles.
    """
    path = Path(path)
    source = str(path)
    _require_file(path)
    fs_arg, units = _check_fs_arg(fs), parse_units(units)
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CorruptFileError(f"{source} is not a readable .npy array ({str(exc).splitlines()[0][:80]}); "
                               "save it with numpy.save") from None
    if not isinstance(arr, np.ndarray):
        raise CorruptFileError(f"{source} is an .npz archive, not .npy; rename it to .npz")
    if leads is None:
        raise InputError(f"{source}: a .npy file stores no lead names; pass leads= (CLI: --leads I)")
    if fs_arg is None:
        raise InputError(f"{source}: a .npy file stores no sampling rate; pass fs= (CLI: --fs 500)")
    names = parse_leads(leads)
    signal = _orient(_numeric(arr, source), len(names), source)
    return _make_ecg(_in_mv(signal, units), fs_arg, names, source=source, declared=None,
                     explicit_units=units is not None, fill_gaps_ms=fill_gaps_ms,
                     allow_implausible_amplitude=allow_implausible_amplitude, record_id=path.stem)


def _npz_scalar(archive: Any, key: str, source: str) -> Any:
    value = archive[key]
    if value.ndim != 0 and value.size != 1:
        raise CorruptFileError(f"{source}: '{key}' must be a single value, got shape {value.shape}")
    return value.reshape(()).item()


def read_npz(path: str | Path, *, fs: float | None = None, leads: Sequence[str] | str | None = None,
             units: str | None = None, fill_gaps_ms: float = 0.0,
             allow_implausible_amplitude: bool = False) -> ECG:
    """Read a ``.npz`` archive (as written by :func:`leadlift.io.write_npz`).

    Keys: ``signal`` (``[n_leads, n_samples]``; an archive with a single array may name it
    anything), and optionally ``fs`` (Hz), ``leads`` (strings), ``units`` and ``record_id``.
    ``fs``/``leads`` arguments are required when the archive lacks them, and must agree with
    (``fs``) or select from (``leads``) what it stores. Never unpickles.
    """
    path = Path(path)
    source = str(path)
    _require_file(path)
    fs_arg, units = _check_fs_arg(fs), parse_units(units)
    try:
        archive = np.load(path, allow_pickle=False)
        if not hasattr(archive, "files"):
            raise CorruptFileError(f"{source} is a .npy array, not an .npz archive; rename it to .npy")
        with archive:
            keys = list(archive.files)
            meta_keys = {"fs", "leads", "units", "record_id", *_NPZ_MARK_KEYS}
            if "signal" in keys:
                sig_key = "signal"
            else:
                arrays = [k for k in keys if k not in meta_keys]
                if len(arrays) != 1:
                    raise InputError(f"{source}: archive has arrays {arrays}; name the signal 'signal'")
                sig_key = arrays[0]
            arr = _numeric(archive[sig_key], source)
            stored_fs = float(_npz_scalar(archive, "fs", source)) if "fs" in keys else None
            stored_leads = [str(x) for x in archive["leads"].reshape(-1)] if "leads" in keys else None
            stored_units = str(_npz_scalar(archive, "units", source)) if "units" in keys else None
            record_id = str(_npz_scalar(archive, "record_id", source)) if "record_id" in keys else path.stem
            stored_spread = _numeric(archive["spread"], source) if "spread" in keys else None
            marks = _npz_marks(archive, keys, stored_leads, source)
    except LeadliftError:
        raise
    except (ValueError, OSError, EOFError, KeyError) as exc:
        raise CorruptFileError(f"{source} is not a readable .npz archive ({str(exc).splitlines()[0][:80]}); "
                               "save it with numpy.savez") from None

    if stored_fs is not None:
        rate = _agree_fs(fs_arg, stored_fs, source, "'fs' entry")
    elif fs_arg is not None:
        rate = fs_arg
    else:
        raise InputError(f"{source} stores no 'fs'; pass fs= (CLI: --fs 500)")
    declared = None
    if stored_units is not None:
        file_units = parse_units(stored_units)
        if units is not None and units != file_units:
            raise InputError(f"{source} declares units={stored_units}; drop units= (CLI: --units)")
        arr, units, declared = arr * UNIT_TO_MV[file_units], None, "'units' entry"  # type: ignore[index]
    if stored_spread is not None and stored_spread.shape != arr.shape:
        raise CorruptFileError(f"{source}: 'spread' has shape {stored_spread.shape} but 'signal' has {arr.shape}; "
                               "write the file again")
    spread = None
    if stored_leads is not None:
        raw = stored_leads
        names = _dedupe([_lead_or_none(n) for n in raw], raw, source)
        signal = _orient(arr, len(names), source)
        idx, lead_names = _choose(names, leads, source)
        signal = signal[idx]
        if stored_spread is not None:
            spread = _orient(stored_spread, len(names), source)[idx]
    else:
        if leads is None:
            raise InputError(f"{source} stores no 'leads'; pass leads= (CLI: --leads I)")
        lead_names = list(parse_leads(leads))
        signal = _orient(arr, len(lead_names), source)
        if stored_spread is not None:
            spread = _orient(stored_spread, len(lead_names), source)
    if spread is not None and declared is not None:
        spread = spread * UNIT_TO_MV[parse_units(stored_units)]  # type: ignore[index]
    return _make_ecg(_in_mv(signal, units), rate, lead_names, source=source, declared=declared,
                     explicit_units=units is not None, fill_gaps_ms=fill_gaps_ms,
                     allow_implausible_amplitude=allow_implausible_amplitude, record_id=record_id,
                     labels=marks or None, spread=None if spread is None else _in_mv(spread, units))


_NPZ_MARK_KEYS = ("spread", "measured_mask", "measured", "synthesized", "model", "model_version",
                  "interval_level", "interval_z", "bandpass_hz", "quality_warning")
"""NPZ keys of a marked reconstruction (see :func:`leadlift.io.write_npz`)."""


def _npz_marks(archive: Any, keys: list[str], stored_leads: list[str] | None, source: str) -> dict[str, Any]:
    """The marks (label values) stored in an open NPZ archive; ``{}`` when it has none."""
    data: dict[str, Any] = {}
    for key in ("measured", "derived_exactly", "synthesized"):
        if key in keys:
            data[key] = [str(x) for x in archive[key].reshape(-1)]
    if "measured" not in data and "measured_mask" in keys and stored_leads is not None:
        mask = archive["measured_mask"].reshape(-1)
        if mask.dtype == bool and mask.size == len(stored_leads):
            data["measured"] = [n for n, m in zip(stored_leads, mask, strict=True) if m]
    for key in ("model", "model_version", "quality_warning"):
        if key in keys:
            data[key] = str(_npz_scalar(archive, key, source))
    if "interval_z" in keys:
        level = float(_npz_scalar(archive, "interval_level", source)) if "interval_level" in keys else None
        data["interval"] = {"z": float(_npz_scalar(archive, "interval_z", source)),
                            **({"level": level} if level is not None else {})}
    if "bandpass_hz" in keys:
        band = archive["bandpass_hz"].reshape(-1)
        if band.size == 2 and np.issubdtype(band.dtype, np.number):
            data["bandpass_hz"] = [None if not np.isfinite(v) else float(v) for v in band]
    return marks_from_json(data)


# --------------------------------------------------------------------------------------- EDF
def _edf_declared_records(path: Path) -> int | None:
    """The number of data records an EDF/BDF header declares (None: unknown, ``-1``, unreadable)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
        value = int(head[236:244].decode("ascii").strip())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return value if value >= 0 else None


def read_edf(path: str | Path, *, fs: float | None = None, leads: Sequence[str] | str | None = None,
             units: str | None = None, fill_gaps_ms: float = 0.0,
             allow_implausible_amplitude: bool = False) -> ECG:
    """Read an EDF/EDF+ (continuous) or BDF file with :mod:`edfio`.

    Signal labels are lead names (``ECG I``, ``II``, ``V1``...); other signals (and EDF+
    annotations) are ignored. The physical dimension of each lead (mV, uV/µV, V) converts it to
    mV; leads without a known dimension are taken in ``units=`` or checked for plausibility.
    All selected leads must share one sampling rate.
    """
    import edfio

    path = Path(path)
    source = str(path)
    _require_file(path)
    fs_arg, units = _check_fs_arg(fs), parse_units(units)
    declared = _edf_declared_records(path)
    try:
        # edfio only warns when the file is shorter than its header says ("Updating header"); a
        # truncated recording is refused below, so its warnings are held back until then
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            edf = edfio.read_bdf(path) if path.suffix.lower() == ".bdf" else edfio.read_edf(path)
            signals = list(edf.signals)
    except Exception as exc:  # edfio raises ValueError/... on malformed headers
        msg = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise CorruptFileError(f"{source} is not a readable EDF file ({msg}); re-export it as EDF/EDF+") from None
    have = int(edf.num_data_records)
    if declared is not None and have < declared:
        dur = float(edf.data_record_duration)
        raise CorruptFileError(
            f"{source} is truncated: its header declares {declared} data records ({declared * dur:g} s) but the "
            f"file holds {have} ({have * dur:g} s); copy or export the file again (leadlift does not read a "
            "cut-off recording)"
        )
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not signals:
        raise InputError(f"{source} holds no signals")
    raw = [s.label for s in signals]
    names = _dedupe([_lead_or_none(n.rstrip("*").strip()) for n in raw], raw, source)
    idx, lead_names = _choose(names, leads, source)
    file_fs = _snap_rate(common_rate([float(signals[i].sampling_frequency) for i in idx], lead_names, source))
    lengths = {len(signals[i].data) for i in idx}
    n = min(lengths)
    dims = [_declared_unit(signals[i].physical_dimension) for i in idx]
    if units is not None and any(d is not None and d != units for d in dims):
        raise InputError(f"{source} declares units {sorted({d for d in dims if d})}; drop units= (CLI: --units)")
    rows = []
    for i, d in zip(idx, dims, strict=True):
        data = np.asarray(signals[i].data[:n], dtype=np.float64)
        rows.append(data * UNIT_TO_MV[d] if d is not None else data * (UNIT_TO_MV[units] if units else 1.0))
    signal = np.stack(rows)
    all_declared = all(d is not None for d in dims)
    marks, sd_values = _edf_marks(edf, signals, names, idx, lead_names, file_fs, n, source)
    return _make_ecg(signal, _agree_fs(fs_arg, file_fs, source, "header"), lead_names, source=source,
                     declared="physical dimension" if all_declared else None, explicit_units=units is not None,
                     fill_gaps_ms=fill_gaps_ms, allow_implausible_amplitude=allow_implausible_amplitude,
                     record_id=path.stem, labels=marks or None, spread=spread_rows(sd_values, lead_names, n))


_EDF_BAND = re.compile(r"(HP|LP)\s*:\s*([0-9.]+(?:[eE][-+]?\d+)?)\s*Hz", re.IGNORECASE)


def _edf_marks(edf: Any, signals: list[Any], names: list[str | None], idx: list[int], lead_names: list[str],
               fs: float, n: int, source: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Marks (label values) and sd signals (lead → mV) of an EDF written for a marked ECG: the
    ``leadlift ...`` annotations, each lead's transducer (``measured`` / ``synthesized:...`` /
    ``derived``) and prefilter (``HP:..Hz LP:..Hz``), and the ``<lead> sd`` signals."""
    try:
        texts = [str(a.text) for a in edf.annotations]
    except Exception:  # annotations are optional; a malformed annotation signal only loses the marks
        texts = []
    marks = parse_mark_lines(texts)
    roles = {lead: str(signals[i].transducer_type).strip() for i, lead in zip(idx, lead_names, strict=True)}
    if any(r == "measured" or r == "derived" or r.startswith("synthesized:") for r in roles.values()):
        marks.setdefault("measured", [lead for lead, r in roles.items() if r == "measured"])
        marks.setdefault("derived_exactly", [lead for lead, r in roles.items() if r == "derived"])
        marks.setdefault("synthesized", [lead for lead, r in roles.items() if r.startswith("synthesized:")])
        if "model" not in marks:
            model = next((r.split(":", 1)[1] for r in roles.values() if r.startswith("synthesized:")), "")
            if model:
                marks["model"], marks["model_version"] = parse_model(model)
        if "bandpass_hz" not in marks:
            for i, lead in zip(idx, lead_names, strict=True):
                if lead in marks["synthesized"]:
                    band = dict((k.upper(), float(v)) for k, v in _EDF_BAND.findall(str(signals[i].prefiltering)))
                    if band:
                        marks["bandpass_hz"] = [band.get("HP"), band.get("LP")]
                    break
    sd_values: dict[str, np.ndarray] = {}
    for i, sig in enumerate(signals):
        lead = sd_lead(sig.label) if names[i] is None else None
        if lead is None or lead in sd_values:
            continue
        if _snap_rate(float(sig.sampling_frequency)) != fs or len(sig.data) < n:
            log.warning("%s: signal %r is not at the leads' rate and length; ignored", source, sig.label)
            continue
        unit = _declared_unit(sig.physical_dimension) or "mV"
        sd_values[lead] = np.asarray(sig.data[:n], dtype=np.float64) * UNIT_TO_MV[unit]
    return marks, sd_values


# --------------------------------------------------------------------------------------- dispatch
_READERS = {"wfdb": read_wfdb, "csv": read_csv, "npy": read_npy, "npz": read_npz, "edf": read_edf}


def read_ecg(path: str | Path, *, fs: float | None = None, leads: Sequence[str] | str | None = None,
             units: str | None = None, format: str | None = None, fill_gaps_ms: float = 0.0,
             allow_implausible_amplitude: bool = False) -> ECG:
    """Read a recording in any supported format (chosen by extension, or ``format=``).

    Args:
        path: a WFDB record (``.hea`` or the path without extension), ``.csv``, ``.npy``,
            ``.npz`` or ``.edf``/``.bdf`` file.
        fs: sampling rate in Hz (required where the file stores none; must agree otherwise).
        leads: lead names (``"I"``, ``"I,II,V2"`` or a list): names the columns of files that
            store none, selects leads from files that do.
        units: ``"mV"``, ``"uV"`` or ``"V"`` for files that do not declare their unit
            (default: mV after a plausibility check; see the module docstring).
        format: one of :data:`FORMATS` to override the extension.
        fill_gaps_ms: linearly interpolate runs of invalid (NaN) samples up to this many
            milliseconds (default 0: any NaN is refused, with the longest gap in the message).
        allow_implausible_amplitude: read amplitudes that are implausible for an ECG in the
            file's declared unit (raw ADC counts behind a gain of 1 adu/mV, µV declared as mV) as
            they are, instead of refusing them.

    Returns:
        The recording as an :class:`~leadlift.ecg.ECG` (float32 mV).
    """
    path = Path(path).expanduser()
    if format is None:
        fmt = detect_format(path)
    else:
        fmt = format.lower()
        if fmt not in _READERS:
            raise InputError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    _check_gap_arg(fill_gaps_ms)
    if fmt == "wfdb":
        base = path.with_suffix("") if path.suffix.lower() in {".hea", ".dat", ".mat"} else path
        if not base.with_name(base.name + ".hea").exists():
            raise DataNotFoundError(f"WFDB header {base}.hea not found; check the path")
    return _READERS[fmt](path, fs=fs, leads=leads, units=units, fill_gaps_ms=fill_gaps_ms,  # type: ignore[operator]
                         allow_implausible_amplitude=allow_implausible_amplitude)
