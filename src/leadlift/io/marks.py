"""Reconstruction marks in files: which leads are measured, which synthesized, by which model, with
which predictive interval.

The marks live in :attr:`leadlift.ecg.ECG.labels` (keys :data:`leadlift.ecg.MARK_KEYS`) and the
per-sample uncertainty in :attr:`leadlift.ecg.ECG.spread` (predictive sd in mV). This module holds
the one spelling of both in files, shared by the writers and the readers:

* text lines (WFDB header comments, EDF+ annotations)::

      leadlift measured: I,II
      leadlift derived_exactly: III,aVR,aVL,aVF   (derived exactly from measured leads)
      leadlift synthesized: III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6
      leadlift model: recon-i-ii 1.0        (NAME VERSION; the version is the last word, "-" = none)
      leadlift interval: 0.9 z=1.6449       (the 90 % interval is signal ± 1.6449·spread)
      leadlift bandpass_hz: 0.5,45          (only when known)
      leadlift quality_warning: model ... (only when the model is below its quality floor)

* a JSON object (the CSV sidecar) with the same keys as ``labels``;
* the spread of lead ``X`` as an extra channel/column named ``X_sd`` (WFDB, CSV) or ``X sd`` (EDF).

Only leads in ``synthesized`` or with a non-zero spread get an sd channel (:func:`sd_leads`); the
readers give the other leads a spread of 0, so an all-zero spread is not stored.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from leadlift.ecg import DEFAULT_INTERVAL_LEVEL, ECG, gaussian_z, normalize_lead_name
from leadlift.errors import InputError

log = logging.getLogger("leadlift.io")

__all__ = [
    "MARK_PREFIX",
    "SIDECAR_FORMAT",
    "format_model",
    "mark_lines",
    "marks_from_json",
    "marks_of",
    "parse_mark_lines",
    "parse_model",
    "sd_lead",
    "sd_leads",
    "spread_rows",
]

MARK_PREFIX = "leadlift "
"""Start of every mark line (``leadlift measured: I,II``)."""

SIDECAR_FORMAT = "leadlift-marks/1"
"""Value of the ``format`` key of a CSV sidecar (``<file>.csv.json``)."""

_SD_NAME = re.compile(r"^(?P<lead>.+?)(?:_|\s+)sd$", re.IGNORECASE)
_INTERVAL = re.compile(r"^\s*(?P<level>[-+0-9.eE]+)\s+z\s*=\s*(?P<z>[-+0-9.eE]+)\s*$")


def _lead_list(value: Any) -> list[str]:
    """Normalised lead names of a list (or comma-separated text); unknown names are skipped."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    out = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            out.append(normalize_lead_name(text))
        except InputError:
            log.debug("mark names unknown lead %r; ignored", text)
    return out


def _interval(value: Any) -> dict[str, float] | None:
    """``{"level": float, "z": float}`` from a label value, or None when it is not one."""
    if not isinstance(value, Mapping) or "z" not in value:
        return None
    try:
        level = float(value.get("level", DEFAULT_INTERVAL_LEVEL))
        z = float(value["z"])
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(level) and math.isfinite(z)) or not 0 < level < 1 or z <= 0:
        return None
    return {"level": level, "z": z}


def _one_line(value: Any) -> str | None:
    """A label value as one line of text (whitespace runs, newlines included, become one space), or
    None when it is not a non-empty string."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None


def _bandpass(value: Any) -> list[float | None] | None:
    """``[low_hz, high_hz]`` (either may be None) from a label value, or None."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    out: list[float | None] = []
    for v in value:
        if v is None:
            out.append(None)
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        out.append(f if math.isfinite(f) and f > 0 else None)
    return out if any(v is not None for v in out) else None


def sd_leads(ecg: ECG) -> tuple[str, ...]:
    """The leads whose spread a file stores: those marked synthesized plus any with a non-zero
    spread, in the ECG's lead order; ``()`` without a spread."""
    if ecg.spread is None:
        return ()
    synth = set(ecg.synthesized_leads)
    return tuple(n for i, n in enumerate(ecg.leads) if n in synth or bool(np.any(ecg.spread[i] > 0)))


def sd_lead(name: str) -> str | None:
    """The lead whose spread a channel named ``name`` holds (``V1_sd``, ``V1 sd``, ``ECG V1 sd``),
    else None."""
    match = _SD_NAME.match(str(name).strip())
    if not match:
        return None
    try:
        return normalize_lead_name(match.group("lead").strip())
    except InputError:
        return None


def marks_of(ecg: ECG) -> dict[str, Any]:
    """The marks of ``ecg`` as plain JSON values, only for keys it has (``{}`` when unmarked).

    ``measured``/``synthesized`` are cut down to the ECG's leads (lead order); ``interval``
    defaults to the Gaussian 90 % one (``z`` = 1.6449) when the ECG has a spread but no interval.
    """
    if not ecg.is_marked:
        return {}
    labels = ecg.labels
    out: dict[str, Any] = {}
    if "measured" in labels:
        out["measured"] = list(ecg.measured_leads)
    if isinstance(labels.get("derived_exactly"), (list, tuple)):
        exact = set(_lead_list(labels["derived_exactly"]))
        out["derived_exactly"] = [n for n in ecg.leads if n in exact]
    if "synthesized" in labels:
        out["synthesized"] = list(ecg.synthesized_leads)
    out.update(_scalar_marks(labels))
    if "interval" not in out and ecg.spread is not None:
        out["interval"] = {"level": DEFAULT_INTERVAL_LEVEL, "z": round(gaussian_z(DEFAULT_INTERVAL_LEVEL), 4)}
    return out


def marks_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Marks (label values) from a JSON object such as a CSV sidecar; other keys are ignored."""
    out: dict[str, Any] = {}
    for key in ("measured", "derived_exactly", "synthesized"):
        if key in data:
            out[key] = _lead_list(data[key])
    out.update(_scalar_marks(data))
    return out


def _scalar_marks(src: Mapping[str, Any]) -> dict[str, Any]:
    """The marks that are not lead lists (model, version, interval, band, quality warning), validated."""
    out: dict[str, Any] = {}
    for key in ("model", "model_version"):
        if src.get(key) not in (None, ""):
            out[key] = str(src[key])
    for key, value in (("interval", _interval(src.get("interval"))), ("bandpass_hz", _bandpass(src.get("bandpass_hz"))),
                       ("quality_warning", _one_line(src.get("quality_warning")))):
        if value is not None:
            out[key] = value
    return out


def format_model(model: str, version: str) -> str:
    """``"NAME VERSION"``, with ``-`` for a missing version (so the version is always the last word)."""
    return f"{' '.join(str(model).split())} {str(version).strip() or '-'}".strip()


def parse_model(text: str) -> tuple[str, str]:
    """``(model, version)`` from ``"NAME VERSION"`` (:func:`format_model`); a lone word is a name."""
    parts = str(text).strip().rsplit(None, 1)
    if len(parts) < 2:
        return (parts[0] if parts else ""), ""
    return parts[0], "" if parts[1] == "-" else parts[1]


def mark_lines(marks: Mapping[str, Any]) -> list[str]:
    """The marks as ``leadlift KEY: VALUE`` lines (see the module docstring), for keys present."""
    lines = []
    for key in ("measured", "derived_exactly", "synthesized"):
        if key in marks:
            lines.append(f"{MARK_PREFIX}{key}: {','.join(marks[key])}")
    if "model" in marks or "model_version" in marks:
        lines.append(f"{MARK_PREFIX}model: {format_model(marks.get('model', ''), marks.get('model_version', ''))}")
    if "interval" in marks:
        iv = marks["interval"]
        lines.append(f"{MARK_PREFIX}interval: {iv['level']:g} z={iv['z']:.6g}")
    if "bandpass_hz" in marks:
        lo, hi = marks["bandpass_hz"]
        lines.append(f"{MARK_PREFIX}bandpass_hz: {'' if lo is None else f'{lo:g}'},{'' if hi is None else f'{hi:g}'}")
    if "quality_warning" in marks:
        lines.append(f"{MARK_PREFIX}quality_warning: {marks['quality_warning']}")
    return lines


def parse_mark_lines(lines: Iterable[str]) -> dict[str, Any]:
    """Marks (label values) from ``leadlift KEY: VALUE`` lines; other lines are ignored."""
    out: dict[str, Any] = {}
    for raw in lines:
        line = str(raw).strip().lstrip("#").strip()
        if not line.startswith(MARK_PREFIX):
            continue
        key, sep, value = line[len(MARK_PREFIX):].partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            continue
        if key in ("measured", "derived_exactly", "synthesized"):
            out[key] = _lead_list(value)
        elif key == "model":
            model, version = parse_model(value)
            out["model"], out["model_version"] = model, version
        elif key == "interval":
            match = _INTERVAL.match(value)
            interval = _interval({"level": match.group("level"), "z": match.group("z")}) if match else None
            if interval is not None:
                out["interval"] = interval
        elif key == "bandpass_hz":
            parts = [p.strip() for p in value.split(",")]
            band = _bandpass([p or None for p in parts]) if len(parts) == 2 else None
            if band is not None:
                out["bandpass_hz"] = band
        elif key == "quality_warning":
            warning = _one_line(value)
            if warning is not None:
                out["quality_warning"] = warning
    return out


def spread_rows(values: Mapping[str, np.ndarray], leads: Sequence[str], n: int) -> np.ndarray | None:
    """``[len(leads), n]`` float64 spread from the sd channels ``values`` (lead → samples), 0 for
    leads without one; None when there is no sd channel for any of ``leads``. Values below 0 (the
    rounding of a 16-bit sd channel at its floor) are clipped to 0."""
    if not any(lead in values for lead in leads):
        return None
    rows = [np.asarray(values[lead], dtype=np.float64)[:n] if lead in values else np.zeros(n) for lead in leads]
    return np.maximum(np.stack(rows), 0.0)
