"""Writers for :class:`~leadlift.ecg.ECG` records: CSV, NPZ, WFDB and EDF.

All writers are atomic (temporary file in the same folder, then rename): a failure leaves no
partial output and never damages an existing file of the same name except by replacing it
whole. Everything is written in **mV** with the standard lead names, and reads back with
:func:`leadlift.io.read_ecg` to the same signal (exactly for NPZ; to 1 nV for CSV; to the
16-bit quantisation step for WFDB and EDF).

**Marked reconstructions.** An ECG with reconstruction marks (``labels`` ``measured`` /
``synthesized`` / ``model`` / ``model_version`` / ``interval``, see :class:`~leadlift.ecg.ECG`)
or a ``spread`` (predictive sd, mV) is written with its marks in every format, and reads back
with them (:mod:`leadlift.io.marks` has the shared spelling):

* CSV: extra columns ``<lead>_sd`` (mV) for the leads with a spread, and a sidecar
  ``<file>.csv.json`` holding the marks, ``fs``, ``units`` and the column names;
* NPZ: ``spread`` (float32 like ``signal``), ``measured_mask`` (bool ``[n_leads]``),
  ``measured``/``derived_exactly``/``synthesized`` (strings), ``model``, ``model_version``, ``interval_level``,
  ``interval_z`` and, when known, ``bandpass_hz`` (``[low, high]``, NaN for an open edge);
* WFDB: extra channels ``<lead>_sd`` (mV, format 16) and ``# leadlift ...`` header comments;
* EDF: the transducer field of each lead says ``measured``, ``synthesized:<model> <version>`` or
  ``derived`` (exactly from measured leads), the prefilter field of synthesized leads gives the
  band-pass (``HP:0.5Hz LP:45Hz``) when known, extra signals ``<lead> sd`` (mV) hold the spread,
  and EDF+ annotations at 0 s hold the ``leadlift ...`` lines.

An ECG without marks is written exactly as before (no sd channel, no sidecar, no comment).
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from leadlift.atomic import atomic_dir_files, atomic_path
from leadlift.ecg import ECG
from leadlift.errors import InputError
from leadlift.io.marks import SIDECAR_FORMAT, format_model, mark_lines, marks_of, sd_leads

__all__ = ["OUTPUT_FORMATS", "output_format", "output_paths", "sidecar_path", "write_csv", "write_ecg",
           "write_edf", "write_npz", "write_wfdb"]

OUTPUT_FORMATS: tuple[str, ...] = ("csv", "npz", "wfdb", "edf")
"""Formats :func:`write_ecg` writes."""

_WFDB_NAME = re.compile(r"^[-\w]+$")


def _check_ecg(ecg: ECG) -> None:
    if not isinstance(ecg, ECG):
        raise InputError(f"expected an ECG record, got {type(ecg).__name__}; wrap arrays with ECG.from_array")


def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar of a CSV output: ``rec.csv`` → ``rec.csv.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _remove_stale_sidecar(path: Path) -> None:
    """Delete a leadlift sidecar left next to ``path`` by an earlier marked write (a JSON file of
    another origin is left alone)."""
    side = sidecar_path(path)
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and data.get("format") == SIDECAR_FORMAT:
        with contextlib.suppress(FileNotFoundError):
            side.unlink()


def write_csv(ecg: ECG, path: str | Path, time_column: bool = True) -> Path:
    """Write ``ecg`` as CSV: a header ``time_s,I,II,...`` and one row per sample (mV, 6 decimals).

    A marked ECG (see the module docstring) gets, after the lead columns, one ``<lead>_sd`` column
    (predictive sd, mV, 6 decimals) per lead of :func:`leadlift.io.marks.sd_leads`, and a sidecar
    ``<path>.json`` (:func:`sidecar_path`) holding ``format`` (``"leadlift-marks/1"``), ``file``,
    ``columns`` (the header), ``fs`` (Hz), ``units`` (``"mV"``), ``leads``, ``sd_columns``
    (lead → column), ``record_id`` and the marks (``measured``, ``derived_exactly``, ``synthesized``, ``model``,
    ``model_version``, ``interval``, ``bandpass_hz``). The sidecar is moved into place before the
    CSV. Writing an unmarked ECG removes a leadlift sidecar left by an earlier write.

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
    with_sd = sd_leads(ecg)
    if with_sd:
        assert ecg.spread is not None
        cols.append(ecg.spread[[ecg.leads.index(n) for n in with_sd]].T.astype(np.float64))
        header += [f"{n}_sd" for n in with_sd]
        fmt += ["%.6f"] * len(with_sd)
    if time_column:
        cols.insert(0, (np.arange(ecg.n_samples, dtype=np.float64) / ecg.fs)[:, None])
        header.insert(0, "time_s")
        fmt.insert(0, "%.9f")
    data = np.hstack(cols)
    marks = marks_of(ecg)
    if not marks:
        with atomic_path(path) as tmp:
            np.savetxt(tmp, data, fmt=fmt, delimiter=",", header=",".join(header), comments="")
        _remove_stale_sidecar(path)
        return path
    side = sidecar_path(path)
    meta: dict[str, Any] = {
        "format": SIDECAR_FORMAT, "file": path.name, "columns": header, "fs": float(ecg.fs), "units": "mV",
        "leads": list(ecg.leads), "sd_columns": {n: f"{n}_sd" for n in with_sd}, "record_id": ecg.record_id,
        **marks,
    }
    with atomic_dir_files(path.parent, [side.name, path.name]) as tmp:
        np.savetxt(tmp / path.name, data, fmt=fmt, delimiter=",", header=",".join(header), comments="")
        (tmp / side.name).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def _npz_marks(ecg: ECG) -> dict[str, np.ndarray]:
    """The NPZ arrays of a marked ECG (``{}`` when unmarked; see :func:`write_npz`)."""
    marks = marks_of(ecg)
    if not marks:
        return {}
    measured = set(ecg.measured_leads)
    out = {"measured_mask": np.array([n in measured for n in ecg.leads], dtype=bool)}
    if ecg.spread is not None:
        out["spread"] = ecg.spread.astype(np.float32)
    for key in ("measured", "derived_exactly", "synthesized"):
        if key in marks:
            out[key] = np.array(marks[key], dtype=str).reshape(-1)
    for key in ("model", "model_version"):
        if key in marks:
            out[key] = np.array(marks[key], dtype=str)
    if "interval" in marks:
        out["interval_level"] = np.float64(marks["interval"]["level"])
        out["interval_z"] = np.float64(marks["interval"]["z"])
    if "bandpass_hz" in marks:
        out["bandpass_hz"] = np.array([np.nan if v is None else v for v in marks["bandpass_hz"]], dtype=np.float64)
    if "quality_warning" in marks:
        out["quality_warning"] = np.array(marks["quality_warning"], dtype=str)
    return out


def write_npz(ecg: ECG, path: str | Path) -> Path:
    """Write ``ecg`` as ``.npz`` with keys ``signal`` (float32 ``[n_leads, n_samples]`` mV),
    ``fs`` (Hz), ``leads``, ``units`` (``"mV"``) and ``record_id`` (no pickled objects).

    A marked ECG adds ``spread`` (float32 ``[n_leads, n_samples]`` mV, when present),
    ``measured_mask`` (bool ``[n_leads]``), ``measured``, ``derived_exactly`` and ``synthesized``
    (string arrays),
    ``model`` and ``model_version`` (strings), ``interval_level`` and ``interval_z`` (float64),
    when known, ``bandpass_hz`` (float64 ``[2]``, NaN for an open edge) and, when the model is
    below its quality floor, ``quality_warning`` (string).
    """
    _check_ecg(ecg)
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise InputError(f"{path}: an NPZ output must end in .npz")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, signal=ecg.signal.astype(np.float32), fs=np.float64(ecg.fs),
            leads=np.array(ecg.leads, dtype=str), units=np.array("mV"),
            record_id=np.array(ecg.record_id or path.stem), **_npz_marks(ecg),
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
    A marked ECG adds one channel ``<lead>_sd`` (predictive sd, mV) per lead of
    :func:`leadlift.io.marks.sd_leads` after the leads, and the header comments
    ``# leadlift measured: I,II``, ``# leadlift synthesized: ...``, ``# leadlift model: NAME
    VERSION`` and ``# leadlift interval: 0.9 z=1.6449`` (see :mod:`leadlift.io.marks`).
    Returns the record path (without extension).
    """
    import wfdb

    _check_ecg(ecg)
    base = _wfdb_base(Path(path))
    name = base.name
    with_sd = sd_leads(ecg)
    names = list(ecg.leads) + [f"{n}_sd" for n in with_sd]
    rows = [ecg.signal]
    if with_sd:
        assert ecg.spread is not None
        rows.append(ecg.spread[[ecg.leads.index(n) for n in with_sd]])
    sig = np.concatenate(rows).T.astype(np.float64)
    comments = [f"leadlift: record_id {ecg.record_id}"] if ecg.record_id else []
    comments += mark_lines(marks_of(ecg))
    with atomic_dir_files(base.parent, [f"{name}.dat", f"{name}.hea"]) as tmp:
        try:
            wfdb.wrsamp(name, fs=float(ecg.fs), units=["mV"] * len(names), sig_name=names,
                        p_signal=sig, fmt=["16"] * len(names), comments=comments, write_dir=str(tmp))
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


def _edf_text(text: str, limit: int = 80) -> str:
    """``text`` as printable ASCII of at most ``limit`` characters (an EDF header field)."""
    ascii_text = "".join(c if 32 <= ord(c) < 127 else "?" for c in " ".join(str(text).split()))
    return ascii_text[:limit]


def _edf_prefilter(band: Any) -> str:
    """EDF prefilter text of a band-pass ``[low_hz, high_hz]`` (either may be None): ``HP:0.5Hz LP:45Hz``."""
    if not band:
        return ""
    lo, hi = band
    parts = ([f"HP:{lo:g}Hz"] if lo is not None else []) + ([f"LP:{hi:g}Hz"] if hi is not None else [])
    return " ".join(parts)


def write_edf(ecg: ECG, path: str | Path) -> Path:
    """Write ``ecg`` as EDF (one signal per lead, labelled ``ECG <lead>``, physical dimension mV,
    16-bit, physical range per lead from its own minimum/maximum).

    EDF stores whole data records: when the duration cannot be written exactly in the header, the
    signal is padded with its last value to whole seconds (the file is then slightly longer).

    A marked ECG is written as EDF+: each lead's transducer field says ``measured``,
    ``synthesized:<model> <version>`` (cut to the field's 80 characters) or ``derived`` (exactly
    from measured leads); synthesized leads carry the band-pass in their prefilter field
    (``HP:0.5Hz LP:45Hz``) when ``labels["bandpass_hz"]`` gives it; one extra signal
    ``<lead> sd`` (predictive sd, mV, physical range from 0, transducer ``predictive sd``) per lead
    of :func:`leadlift.io.marks.sd_leads` follows the leads; the ``leadlift ...`` mark lines are
    EDF+ annotations at 0 s.
    """
    import edfio

    _check_ecg(ecg)
    path = Path(path)
    if path.suffix.lower() != ".edf":
        raise InputError(f"{path}: an EDF output must end in .edf")
    record_s, total = _edf_record(float(ecg.fs), ecg.n_samples)
    marks = marks_of(ecg)
    synth, measured = set(ecg.synthesized_leads), set(ecg.measured_leads)
    model = format_model(marks.get("model", ""), marks.get("model_version", ""))
    band = _edf_prefilter(marks.get("bandpass_hz"))

    def padded(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        return np.concatenate([x, np.full(total - len(x), x[-1])]) if total > len(x) else x

    signals = []
    for i, lead in enumerate(ecg.leads):
        x = padded(ecg.signal[i])
        lo, hi = float(x.min()), float(x.max())
        if hi - lo < 1e-6:
            lo, hi = lo - 1.0, hi + 1.0
        fields = {}
        if marks:
            role = "measured" if lead in measured else (f"synthesized:{model}" if lead in synth else "derived")
            fields = {"transducer_type": _edf_text(role), "prefiltering": _edf_text(band if lead in synth else "")}
        signals.append(edfio.EdfSignal(x, sampling_frequency=float(ecg.fs), label=f"ECG {lead}",
                                       physical_dimension="mV", physical_range=(lo, hi), **fields))
    for lead in sd_leads(ecg):
        assert ecg.spread is not None
        x = padded(ecg.spread[ecg.leads.index(lead)])
        hi = float(x.max())
        signals.append(edfio.EdfSignal(x, sampling_frequency=float(ecg.fs), label=f"{lead} sd",
                                       transducer_type="predictive sd", physical_dimension="mV",
                                       physical_range=(0.0, hi if hi > 1e-6 else 1.0)))
    annotations = [edfio.EdfAnnotation(0.0, None, line) for line in mark_lines(marks)]
    with atomic_path(path) as tmp:
        try:
            edf = edfio.Edf(signals, data_record_duration=record_s, annotations=annotations or None)
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


def output_paths(path: str | Path, ecg: ECG | None = None) -> list[Path]:
    """The files :func:`write_ecg` creates for ``path`` (two for WFDB; with ``ecg`` given and
    marked, a CSV also gets its sidecar ``<path>.json``)."""
    path = Path(path)
    fmt = output_format(path)
    if fmt == "wfdb":
        base = _wfdb_base(path)
        return [base.with_name(base.name + ".hea"), base.with_name(base.name + ".dat")]
    if fmt == "csv" and ecg is not None and marks_of(ecg):
        return [path, sidecar_path(path)]
    return [path]


def write_ecg(ecg: ECG, path: str | Path) -> Path:
    """Write ``ecg`` in the format implied by ``path`` (see :func:`output_format`)."""
    fmt = output_format(path)
    writer = {"csv": write_csv, "npz": write_npz, "edf": write_edf, "wfdb": write_wfdb}[fmt]
    return writer(ecg, path)
