"""The ECG record type and lead algebra.

An :class:`ECG` is a signal ``[n_leads, n_samples]`` (float32, **millivolts**) together with its
sampling rate ``fs`` (Hz) and the standard names of its leads. Nothing in leadlift guesses a
sampling rate or a unit: both travel with the signal.

Lead names are always in the standard spelling of :data:`STANDARD_LEADS`; :func:`normalize_lead_name`
maps the spellings found in the wild (``AVR``, ``avr``, ``MLII``, ``ECG I``...) onto it.

The Einthoven/Goldberger relations are exact, so III, aVR, aVL and aVF are *derived* from I and
II (:func:`derive_limb_leads`) rather than learned wherever both are present.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import Any

import numpy as np

from leadlift.errors import InputError

STANDARD_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)
"""The 12 standard leads in the conventional order used everywhere in leadlift."""

LIMB_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF")
DERIVED_LIMB_LEADS: tuple[str, ...] = ("III", "aVR", "aVL", "aVF")
"""Leads that follow exactly from I and II (Einthoven's law and Goldberger's augmented leads)."""

PRECORDIAL_LEADS: tuple[str, ...] = ("V1", "V2", "V3", "V4", "V5", "V6")

UNITS_TO_MV: dict[str, float] = {"mV": 1.0, "uV": 1e-3, "µV": 1e-3, "V": 1e3}
"""Multiplicative factors that convert a unit into millivolts."""

# Amplitude check: a real surface ECG in mV has its 99.5th-percentile absolute deviation from the
# lead median well below this (QRS peaks are a few mV; even noisy leads rarely exceed 10 mV).
MAX_PLAUSIBLE_MV = 25.0
MIN_PLAUSIBLE_MV = 2e-3
"""Robust amplitudes (see :func:`amplitude_scale_mv`) below this look like a signal in V, not mV."""

_CANONICAL = {name.lower(): name for name in STANDARD_LEADS}
_ALIASES = {
    "mli": "I", "mlii": "II", "mliii": "III",
    "d1": "I", "d2": "II", "d3": "III", "di": "I", "dii": "II", "diii": "III",
}
_PREFIX = re.compile(r"^(?:(?:ecg|ekg|lead)[\s_\-:.]*)+", re.IGNORECASE)
"""Prefixes in front of a lead name, possibly several: ``ECG I``, ``Lead II``, ``ECG lead II``, ``EKG-V1``."""


def normalize_lead_name(name: str) -> str:
    """Return the standard spelling of a lead name.

    ``"AVR"``, ``"avr"``, ``"aVR"`` → ``"aVR"``; ``"MLII"`` → ``"II"``; ``"ECG I"`` / ``"Lead I"`` /
    ``"ECG lead I"`` → ``"I"``; ``"v1"`` → ``"V1"``.

    Raises:
        InputError: if the name is not one of the 12 standard leads in any known spelling.
    """
    raw = str(name).strip()
    key = _PREFIX.sub("", raw).strip().replace(" ", "").lower()
    if key in _CANONICAL:
        return _CANONICAL[key]
    if key in _ALIASES:
        return _ALIASES[key]
    raise InputError(
        f"unknown lead name {name!r}; use one of {', '.join(STANDARD_LEADS)} "
        "(case-insensitive; MLII and 'ECG I' style names are accepted too)"
    )


def normalize_lead_names(names: Iterable[str]) -> tuple[str, ...]:
    """Normalise several lead names and reject duplicates (see :func:`normalize_lead_name`)."""
    out = tuple(normalize_lead_name(n) for n in names)
    dupes = sorted({n for n in out if out.count(n) > 1})
    if dupes:
        raise InputError(f"lead(s) {', '.join(dupes)} given more than once; pass each lead once")
    return out


def parse_leads(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Parse ``"I,II,V2"``, ``"all"`` or a list of names into normalised lead names."""
    if isinstance(spec, str):
        if spec.strip().lower() in {"all", "12", "12-lead"}:
            return STANDARD_LEADS
        spec = [s for s in spec.replace(";", ",").split(",") if s.strip()]
    if len(spec) == 0:
        raise InputError("no leads given; pass lead names such as 'I' or 'I,II,V2'")
    return normalize_lead_names(spec)


LIMB_COEFFICIENTS: dict[str, tuple[float, float]] = {
    "I": (1.0, 0.0), "II": (0.0, 1.0), "III": (-1.0, 1.0),
    "aVR": (-0.5, -0.5), "aVL": (1.0, -0.5), "aVF": (-0.5, 1.0),
}
"""Every limb lead as ``a·I + b·II`` (Einthoven and Goldberger): ``lead → (a, b)``; the same rule
as :func:`derive_limb_leads`, as a table (lead plans solve I and II from any two limb leads)."""


def derive_limb_leads(lead_i: Any, lead_ii: Any) -> dict[str, Any]:
    """Derive III, aVR, aVL and aVF exactly from leads I and II.

    Works on NumPy arrays and torch tensors of any (matching) shape, e.g. ``[n_samples]`` or
    ``[batch, n_samples]``; the result has the same type, shape and unit as the inputs.

    III = II − I, aVR = −(I + II)/2, aVL = I − II/2, aVF = II − I/2.
    """
    return {
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2,
        "aVL": lead_i - lead_ii / 2,
        "aVF": lead_ii - lead_i / 2,
    }


def limb_rank(leads: Iterable[str]) -> int:
    """Dimension (0, 1 or 2) of the limb-lead plane spanned by ``leads`` (non-limb names ignored);
    2 means they determine all six limb leads exactly."""
    have = [n for n in leads if n in LIMB_COEFFICIENTS]
    return int(np.linalg.matrix_rank(np.array([LIMB_COEFFICIENTS[n] for n in have]))) if have else 0


def solve_limb_leads(rows: Mapping[str, Any]) -> dict[str, Any]:
    """All six limb leads from any limb leads that span the limb plane (e.g. III and aVF).

    Args:
        rows: ``{limb lead: signal}`` (arrays or tensors of one shape, mV); other names are ignored.
    Returns:
        ``{I, II, III, aVR, aVL, aVF: signal}``: I and II solved by least squares (exact when the
        rows obey Einthoven/Goldberger), the others derived from them.
    Raises:
        InputError: if the rows do not span the plane (fewer than two independent limb leads).
    """
    have = [n for n in LIMB_LEADS if n in rows]
    if limb_rank(have) < 2:
        raise InputError(f"limb leads {', '.join(have) or 'none'} do not determine the others; pass two limb "
                         "leads such as I and II")
    if "I" in rows and "II" in rows:  # the basis itself: no arithmetic (and no extra ops in exported graphs)
        lead_i, lead_ii = rows["I"], rows["II"]
    else:
        p = np.linalg.pinv(np.array([LIMB_COEFFICIENTS[n] for n in have]))  # [2, k]
        lead_i = sum(float(p[0, k]) * rows[n] for k, n in enumerate(have))
        lead_ii = sum(float(p[1, k]) * rows[n] for k, n in enumerate(have))
    out = derive_limb_leads(lead_i, lead_ii)
    out.update({"I": lead_i, "II": lead_ii})
    return out


def amplitude_scale_mv(signal: np.ndarray) -> float:
    """Robust amplitude of a signal in its own unit: the largest per-lead 99.5th percentile of
    ``|x - median(x)|``. Used to tell mV from µV (≈1000× larger) or V (≈1000× smaller)."""
    if signal.size == 0:
        return 0.0
    dev = np.abs(signal - np.median(signal, axis=-1, keepdims=True))
    return float(np.max(np.percentile(dev, 99.5, axis=-1)))


def implausible_amplitude(signal: np.ndarray) -> tuple[str, float] | None:
    """The one amplitude rule for signals said to be in mV: ``("high", scale)`` when the robust
    amplitude (:func:`amplitude_scale_mv`) exceeds :data:`MAX_PLAUSIBLE_MV` (µV, raw ADC counts),
    ``("low", scale)`` when it is below :data:`MIN_PLAUSIBLE_MV` (V), else None. Signals with
    NaN/inf are not judged (None)."""
    if signal.size == 0 or not np.isfinite(signal).all():
        return None
    scale = amplitude_scale_mv(signal)
    if scale > MAX_PLAUSIBLE_MV:
        return "high", scale
    if 0 < scale < MIN_PLAUSIBLE_MV:
        return "low", scale
    return None


MARK_KEYS: tuple[str, ...] = ("measured", "derived_exactly", "synthesized", "model", "model_version", "interval",
                               "bandpass_hz", "quality_warning")
"""Label keys that mark a reconstruction (see :class:`ECG`); the writers store them in every format."""

DEFAULT_INTERVAL_LEVEL = 0.9
"""Coverage of the predictive interval drawn and stored by default (90 %)."""


def gaussian_z(level: float) -> float:
    """The two-sided Gaussian multiplier of a central interval: ``gaussian_z(0.9)`` = 1.6449.

    Raises:
        InputError: unless ``0 < level < 1``.
    """
    try:
        value = float(level)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise InputError(f"interval level {level!r} must lie strictly between 0 and 1, e.g. 0.9 for 90 %")
    return NormalDist().inv_cdf(0.5 + value / 2)


def restrict_marks(labels: Mapping[str, Any], leads: Sequence[str]) -> dict[str, Any]:
    """``labels`` with the ``measured``/``derived_exactly``/``synthesized`` lists cut down to
    ``leads`` (order kept)."""
    out = dict(labels)
    for key in ("measured", "derived_exactly", "synthesized"):
        value = out.get(key)
        if isinstance(value, (list, tuple)):
            out[key] = [n for n in value if n in leads]
    return out


def _derived_spread(spread_i: np.ndarray, spread_ii: np.ndarray) -> dict[str, np.ndarray]:
    """Spread (mV) of each derived limb lead ``a·I + b·II``: the bound ``|a|·sd_I + |b|·sd_II``
    (exact when the errors of I and II are fully correlated, never an under-statement)."""
    return {name: (abs(LIMB_COEFFICIENTS[name][0]) * spread_i + abs(LIMB_COEFFICIENTS[name][1]) * spread_ii)
            .astype(np.float32) for name in DERIVED_LIMB_LEADS}


@dataclass(frozen=True, eq=False)
class ECG:
    """One ECG recording: ``signal`` ``[n_leads, n_samples]`` float32 in mV, ``fs`` in Hz.

    Args:
        signal: array ``[n_leads, n_samples]`` in millivolts (a 1-D array is accepted when one
            lead is named). Converted to C-contiguous float32.
        fs: sampling rate in Hz (> 0). Never guessed.
        leads: lead names, any known spelling; stored in the standard spelling.
        record_id: optional identifier of the recording (e.g. ``"ptbxl/00001"``).
        patient_id: optional identifier of the person (used for patient-wise splits).
        labels: optional free-form labels (diagnoses, fold, dates...).
        check_units: if True (default), reject amplitudes that look like µV or V (see
            :data:`MAX_PLAUSIBLE_MV`). Set to False only for signals known to be in mV.
        spread: optional predictive standard deviation in mV, ``[n_leads, n_samples]`` like
            ``signal`` (float32, finite, >= 0): 0 where a lead is measured or derived exactly
            from measured leads. Stored as C-contiguous float32.

    Marks of a reconstruction (plain JSON-able values in ``labels``; see :data:`MARK_KEYS`):
    ``measured`` (list of the leads recorded by the device), ``synthesized`` (list of the leads
    produced by a model or derived from its outputs), ``model`` and ``model_version`` (str),
    ``interval`` (``{"level": 0.9, "z": 1.6449}``: the 90 % predictive interval is
    ``signal ± z·spread``) and, when known, ``bandpass_hz`` (``[low, high]`` band of the
    synthesized leads). ``derived_exactly`` (optional list) names the leads derived exactly from
    measured ones (III, aVR, aVL, aVF from measured I and II); such a lead is in neither of the
    other lists.

    Raises:
        InputError: with a one-line message for NaN/inf, empty or too-short signals, a
            non-positive ``fs``, unknown/duplicate lead names, a shape that does not match the
            leads, implausible amplitudes, or a ``spread`` of the wrong shape, non-finite or negative.
    """

    signal: np.ndarray
    fs: float
    leads: tuple[str, ...]
    record_id: str | None = None
    patient_id: str | None = None
    labels: Mapping[str, Any] = field(default_factory=dict)
    check_units: bool = field(default=True, repr=False)
    spread: np.ndarray | None = field(default=None, repr=False)

    MIN_DURATION_S = 0.5
    """Shortest signal accepted, in seconds (shorter ones cannot hold a heartbeat)."""

    def __post_init__(self) -> None:
        leads = normalize_lead_names([self.leads] if isinstance(self.leads, str) else self.leads)
        try:
            fs = float(self.fs)
        except (TypeError, ValueError):
            raise InputError(f"fs={self.fs!r} is not a number; pass the sampling rate in Hz") from None
        if not np.isfinite(fs) or fs <= 0:
            raise InputError(f"fs={self.fs!r} Hz is not a positive sampling rate; pass the rate in Hz, e.g. fs=500")
        sig = np.asarray(self.signal)
        if sig.dtype == object or not (np.issubdtype(sig.dtype, np.number) or sig.dtype == bool):
            raise InputError(f"signal has dtype {sig.dtype}; pass a numeric array [n_leads, n_samples] in mV")
        if sig.ndim == 1 and len(leads) == 1:
            sig = sig[None, :]
        if sig.ndim != 2:
            raise InputError(
                f"signal has shape {sig.shape}; expected 2-D [n_leads, n_samples]; pass one row per lead"
            )
        if sig.shape[0] != len(leads):
            if sig.shape[1] == len(leads):
                raise InputError(
                    f"signal has shape {sig.shape} but {len(leads)} leads were named: it looks "
                    "transposed; pass signal.T ([n_leads, n_samples])"
                )
            raise InputError(
                f"signal has {sig.shape[0]} rows but {len(leads)} lead names were given; "
                "pass one name per row"
            )
        if sig.shape[1] == 0:
            raise InputError("signal is empty (0 samples); pass a recording of at least "
                             f"{self.MIN_DURATION_S} s")
        if sig.shape[1] < self.MIN_DURATION_S * fs:
            raise InputError(
                f"signal is too short: {sig.shape[1]} samples = {sig.shape[1] / fs:.3g} s at {fs:g} Hz; "
                f"leadlift needs at least {self.MIN_DURATION_S} s (check fs if the recording is longer)"
            )
        sig = np.ascontiguousarray(sig, dtype=np.float32)
        finite = np.isfinite(sig)
        if not finite.all():
            bad_rows = np.flatnonzero(~finite.all(axis=1))
            names = ", ".join(leads[i] for i in bad_rows)
            raise InputError(
                f"signal has {int((~finite).sum())} NaN/inf samples (lead {names}); "
                "interpolate or cut out the gaps before use"
            )
        verdict = implausible_amplitude(sig) if self.check_units else None
        if verdict is not None and verdict[0] == "high":
            raise InputError(
                f"amplitudes up to {verdict[1]:.4g} look like µV, not mV (ECGs are a few mV); "
                "convert to mV (divide by 1000) or pass units='uV'"
            )
        if verdict is not None:
            raise InputError(
                f"amplitudes of only {verdict[1]:.3g} look like V, not mV; "
                "convert to mV (multiply by 1000) or pass units='V'"
            )
        object.__setattr__(self, "signal", sig)
        object.__setattr__(self, "fs", fs)
        object.__setattr__(self, "leads", leads)
        object.__setattr__(self, "labels", dict(self.labels))
        if self.spread is not None:
            object.__setattr__(self, "spread", self._checked_spread(self.spread, sig.shape))

    @staticmethod
    def _checked_spread(spread: Any, shape: tuple[int, ...]) -> np.ndarray:
        """``spread`` as C-contiguous float32 ``shape``, after the shape/finite/sign checks."""
        if hasattr(spread, "detach"):
            spread = spread.detach().cpu().numpy()
        arr = np.asarray(spread)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"spread has dtype {arr.dtype}; pass a float array [n_leads, n_samples] in mV")
        if arr.ndim == 1 and shape[0] == 1:
            arr = arr[None, :]
        if arr.shape != shape:
            raise InputError(f"spread has shape {arr.shape} but signal has {shape}; pass one predictive sd (mV) "
                             "per sample of every lead")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise InputError(f"spread has {int((~np.isfinite(arr)).sum())} NaN/inf values; pass finite standard "
                             "deviations in mV (0 for measured leads)")
        if (arr < 0).any():
            raise InputError(f"spread has {int((arr < 0).sum())} negative values (min {float(arr.min()):.4g}); "
                             "a standard deviation is >= 0")
        return arr

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_array(
        cls,
        signal: Any,
        fs: float,
        leads: Sequence[str] | str,
        units: str = "mV",
        **kwargs: Any,
    ) -> ECG:
        """Build an ECG from an array in ``units`` (``"mV"``, ``"uV"``/``"µV"`` or ``"V"``).

        ``signal`` may be a NumPy array or a torch tensor ``[n_leads, n_samples]``.
        """
        if units not in UNITS_TO_MV:
            raise InputError(f"unknown unit {units!r}; use one of mV, uV, V")
        if hasattr(signal, "detach"):
            signal = signal.detach().cpu().numpy()
        arr = np.asarray(signal, dtype=np.float64) * UNITS_TO_MV[units]
        leads_t = parse_leads(leads) if isinstance(leads, str) else tuple(leads)
        return cls(arr, fs, leads_t, **kwargs)

    # ------------------------------------------------------------------ properties
    @property
    def n_leads(self) -> int:
        return int(self.signal.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.n_samples / self.fs

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        rid = f" {self.record_id}" if self.record_id else ""
        return (f"ECG({rid.strip() or '?'}: {self.n_leads} leads [{','.join(self.leads)}], "
                f"{self.n_samples} samples @ {self.fs:g} Hz = {self.duration_s:.2f} s, mV)")

    @property
    def synthesized_leads(self) -> tuple[str, ...]:
        """The leads of this ECG that ``labels["synthesized"]`` marks as produced by a model (or
        derived from its outputs), in the ECG's lead order; ``()`` when unmarked."""
        return self._marked("synthesized")

    @property
    def measured_leads(self) -> tuple[str, ...]:
        """The leads of this ECG that ``labels["measured"]`` marks as recorded by the device, in the
        ECG's lead order; ``()`` when unmarked."""
        return self._marked("measured")

    @property
    def is_marked(self) -> bool:
        """True when the record carries reconstruction marks (``measured``/``synthesized`` labels)
        or a ``spread``; the writers then store the marks in every format."""
        return self.spread is not None or "measured" in self.labels or "synthesized" in self.labels

    def _marked(self, key: str) -> tuple[str, ...]:
        value = self.labels.get(key)
        if not isinstance(value, (list, tuple)):
            return ()
        names = set()
        for n in value:
            try:
                names.add(normalize_lead_name(n))
            except InputError:
                continue
        return tuple(n for n in self.leads if n in names)

    def interval(self, level: float = DEFAULT_INTERVAL_LEVEL) -> tuple[np.ndarray, np.ndarray]:
        """The central predictive interval ``signal ± z·spread`` in mV.

        ``z`` is the one stored in ``labels["interval"]`` (it may be calibrated, not Gaussian), which
        then fixes the level; without a stored interval, the Gaussian ``z`` of ``level`` is used.

        Args:
            level: coverage, ``0 < level < 1`` (default 0.9).
        Returns:
            ``(low, high)``, each float32 ``[n_leads, n_samples]`` in mV (equal to ``signal`` where
            the spread is 0).
        Raises:
            InputError: when the ECG has no ``spread``, or asks for another level than the stored one.
        """
        if self.spread is None:
            raise InputError("this ECG has no spread (predictive sd), so it has no interval; reconstruct with a "
                             "model that estimates its uncertainty")
        stored = self.labels.get("interval")
        if isinstance(stored, Mapping) and "z" in stored:
            stored_level = float(stored.get("level", DEFAULT_INTERVAL_LEVEL))
            if not math.isclose(float(level), stored_level, abs_tol=1e-9):
                raise InputError(f"this ECG stores the {stored_level:g} interval only (z={float(stored['z']):g}); "
                                 f"pass level={stored_level:g}")
            z = float(stored["z"])
        else:
            z = gaussian_z(level)
        half = (z * self.spread.astype(np.float64))
        sig = self.signal.astype(np.float64)
        return (sig - half).astype(np.float32), (sig + half).astype(np.float32)

    def __getitem__(self, lead: str) -> np.ndarray:
        """The samples of one lead, ``[n_samples]`` in mV."""
        name = normalize_lead_name(lead)
        if name not in self.leads:
            raise InputError(f"lead {name} is not in this ECG (it has {', '.join(self.leads)})")
        return self.signal[self.leads.index(name)]

    def has_leads(self, leads: Iterable[str]) -> bool:
        return all(normalize_lead_name(n) in self.leads for n in leads)

    # ------------------------------------------------------------------ lead algebra
    def with_derived_limb_leads(self, overwrite: bool = False) -> ECG:
        """Add III, aVR, aVL and aVF computed exactly from I and II.

        Args:
            overwrite: also replace those leads when they are already present.
        Raises:
            InputError: if lead I or II is missing.
        """
        if not self.has_leads(("I", "II")):
            raise InputError(
                f"limb leads can only be derived from I and II, but this ECG has {', '.join(self.leads)}"
            )
        derived = derive_limb_leads(self["I"].astype(np.float64), self["II"].astype(np.float64))
        rows = {name: self.signal[i] for i, name in enumerate(self.leads)}
        new = [name for name in derived if overwrite or name not in rows]
        for name in new:
            rows[name] = derived[name].astype(np.float32)
        order = [n for n in STANDARD_LEADS if n in rows]
        spread = None
        if self.spread is not None:
            sd = {name: self.spread[i] for i, name in enumerate(self.leads)}
            bound = _derived_spread(sd["I"], sd["II"])
            sd.update({name: bound[name] for name in new})
            spread = np.stack([sd[n] for n in order])
        labels = dict(self.labels)
        from_model = bool({"I", "II"} & set(self.synthesized_leads))
        if isinstance(labels.get("synthesized"), (list, tuple)):
            kept = [n for n in labels["synthesized"] if n not in new]
            labels["synthesized"] = kept + (new if from_model else [])
        if isinstance(labels.get("measured"), (list, tuple)):
            labels["measured"] = [n for n in labels["measured"] if n not in new]
            exact = [n for n in labels.get("derived_exactly") or [] if n not in new]
            labels["derived_exactly"] = exact + ([] if from_model else new)
        return replace(self, signal=np.stack([rows[n] for n in order]), leads=tuple(order), labels=labels,
                       spread=spread, check_units=False)

    def select(self, leads: Sequence[str] | str, derive: bool = True) -> ECG:
        """Return the given leads, in the given order.

        Args:
            leads: lead names (any spelling), or ``"all"`` for the 12 standard leads.
            derive: derive missing III/aVR/aVL/aVF from I and II when possible.
        The ``spread`` rows follow the leads (derived leads get the bound of
        :meth:`with_derived_limb_leads`), and the ``measured``/``synthesized`` marks are cut down
        to the returned leads.

        Raises:
            InputError: naming the leads that are missing and cannot be derived.
        """
        wanted = parse_leads(leads)
        src = self
        missing = [n for n in wanted if n not in src.leads]
        if derive and any(n in DERIVED_LIMB_LEADS for n in missing) and src.has_leads(("I", "II")):
            src = src.with_derived_limb_leads()
            missing = [n for n in wanted if n not in src.leads]
        if missing:
            raise InputError(
                f"lead(s) {', '.join(missing)} missing (this ECG has {', '.join(self.leads)}); "
                "select leads that are present or reconstruct the missing ones"
            )
        idx = [src.leads.index(n) for n in wanted]
        spread = None if src.spread is None else src.spread[idx]
        return replace(src, signal=src.signal[idx], leads=wanted, labels=restrict_marks(src.labels, wanted),
                       spread=spread, check_units=False)

    def to_standard12(self) -> ECG:
        """The 12 standard leads in :data:`STANDARD_LEADS` order (deriving limb leads if needed)."""
        return self.select(STANDARD_LEADS)

    def with_signal(self, signal: np.ndarray, fs: float | None = None,
                    leads: Sequence[str] | None = None, spread: np.ndarray | None = None) -> ECG:
        """A copy with a new signal (e.g. after filtering or resampling), same ids and labels.

        The ``spread`` is **dropped** unless a new one (mV, shaped like ``signal``) is passed: the
        predictive sd of a model's output does not describe a filtered or resampled signal.
        """
        return replace(self, signal=signal, fs=self.fs if fs is None else fs,
                       leads=self.leads if leads is None else tuple(leads), spread=spread, check_units=False)

    def summary(self) -> str:
        """A multi-line, human-readable description (shape, fs, duration, per-lead ranges)."""
        lines = [
            f"record   : {self.record_id or '-'}",
            f"patient  : {self.patient_id or '-'}",
            f"fs       : {self.fs:g} Hz",
            f"samples  : {self.n_samples} ({self.duration_s:.2f} s)",
            f"leads    : {self.n_leads} ({', '.join(self.leads)})",
            "amplitude: " + ", ".join(
                f"{n} [{self.signal[i].min():.2f}, {self.signal[i].max():.2f}]" for i, n in enumerate(self.leads)
            ) + " mV",
        ]
        for key, value in self.labels.items():
            text = str(value)
            lines.append(f"{key:<9}: {text if len(text) < 120 else text[:117] + '...'}")
        return "\n".join(lines)
