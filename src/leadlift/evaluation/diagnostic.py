"""Diagnostic fidelity of reconstructed ECGs: does a reconstruction keep what a reader diagnoses?

Two checks, both paired (the same records, real and reconstructed, the same bootstrap resamples):

1. **Superdiagnostic classifier** (PTB-XL fold 10). A 12-lead classifier trained on real ECGs
   (:mod:`leadlift.training.classifier`; loaded here with :func:`load_classifier`) scores each
   real record and its reconstruction from an input subset. :meth:`DiagnosticClassifier.predict`
   gives every ECG the classifier's own preprocessing (resampling to its rate, its band-pass and
   baseline removal, its crops), identically for real and reconstructed ones.
   :func:`paired_auroc` reports per-class AUROC on real and on reconstructed ECGs, the difference
   (reconstructed − real) and the macro AUROC, with 95 % percentile CIs from a paired bootstrap over
   records (1000 resamples by default, :func:`leadlift.evaluation.metrics.bootstrap_weights`).

2. **Brugada-HUCA ST check**. The Brugada pattern is an ST elevation in V1–V2, so
   :func:`st_levels` measures it on real and reconstructed ECGs and :func:`brugada_st_check`
   reports (a) the AUROC of max(ST V1, ST V2) for Brugada syndrome (``brugada == 1``) against
   none (``0``), real vs reconstructed, with a paired bootstrap CI of the difference, and (b) the
   agreement of the ST values (mean difference with its CI, SD of the difference, Pearson r).
   Uncertain diagnoses (``brugada == 2``) are left out of the AUROC and kept in the agreement.

ST measurement (:func:`st_levels`; amplitudes in mV, times relative to the R peak):

* every lead is band-passed 0.5–40 Hz (zero-phase Butterworth, order 2 per edge), real and
  reconstructed alike;
* **fiducials** come from the *reference leads* — in the benchmark the measured input leads,
  which a reconstruction returns unchanged, so real and reconstructed ECGs are measured at the
  same instants and the ST difference is the reconstruction's amplitude error alone (and a user
  holding only those leads could place them the same way). :func:`fiducials` detects R peaks on
  the spatial magnitude of the reference leads (:func:`leadlift.preprocessing.r_peaks`,
  ``polarity="auto"``), takes the median beat over beats whose window [R − 250 ms, R + 450 ms]
  lies inside the record (at least 3), and finds QRS onset and offset (the J point) on the median
  beat's spatial slope ``sqrt(Σ (dx/dt)²)`` over the reference leads: the J point is the first
  sample after R + 20 ms from which the slope stays below 20 % of its QRS maximum for 20 ms
  (searched up to R + 200 ms; R + 100 ms when none is found), the onset the same backwards from
  R − 20 ms (up to R − 150 ms; R − 60 ms when none is found);
* the **PR baseline** of a lead is the mean of its median beat over the 30 ms before QRS onset;
  **ST at J + 60 ms** (and at J) is the median beat there minus that baseline (linear
  interpolation between samples).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from leadlift.data.windows import preprocess_records
from leadlift.ecg import ECG, normalize_lead_names
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError
from leadlift.evaluation.metrics import bootstrap_weights, percentile_ci
from leadlift.evaluation.probes import auroc
from leadlift.models.classifier import (
    CLASSIFIER_CONFIG_FILE,
    CLASSIFIER_WEIGHTS_FILE,
    ClassifierConfig,
    SuperclassNet,
    predict_records,
)
from leadlift.preprocessing import bandpass, r_peaks, resample

__all__ = [
    "ST_BANDPASS_HZ",
    "DiagnosticClassifier",
    "Fiducials",
    "brugada_st_check",
    "fiducials",
    "load_classifier",
    "paired_auroc",
    "st_levels",
]

ST_BANDPASS_HZ: tuple[float, float] = (0.5, 40.0)
"""Band-pass (Hz) applied to every lead before ST measurement."""
ST_BANDPASS_ORDER = 2
BEAT_WINDOW_S: tuple[float, float] = (0.25, 0.45)
"""Median-beat window: seconds before and after the R peak."""
MIN_BEATS = 3


# ======================================================================================= classifier
@dataclass
class DiagnosticClassifier:
    """A trained superdiagnostic classifier with its preprocessing (see :func:`load_classifier`).

    Attributes:
        net: the network (eval mode).
        config: its ``classifier.yaml`` (classes, leads, preprocessing, input feed, training record).
        path: the folder it was loaded from (None when built in memory).
    """

    net: SuperclassNet
    config: ClassifierConfig
    path: Path | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.config.classes)

    def preprocess(self, ecg: ECG) -> np.ndarray:
        """The classifier's input for one ECG: its leads in the classifier's order, resampled to the
        classifier's rate, band-passed and baseline-corrected exactly as the training records were
        (:func:`leadlift.data.windows.preprocess_records`). ``[n_leads, T]`` float32 mV."""
        if not isinstance(ecg, ECG):
            raise InputError(f"the classifier takes ECG records, not {type(ecg).__name__}")
        p = self.config.preprocessing
        sig = ecg.select(self.config.leads).signal.astype(np.float64)
        if abs(ecg.fs - p.fs) > 1e-6 * p.fs:
            sig = np.asarray(resample(sig, ecg.fs, p.fs))
        return preprocess_records(sig[None], [sig.shape[-1]], p.fs, p.data_config())[0]

    def predict(self, ecgs: Sequence[ECG], batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``[N, n_classes]`` (float64, order of :attr:`classes`) of ECGs of any
        rate and length (records of equal length are batched together)."""
        x = [self.preprocess(e) for e in ecgs]
        out = np.zeros((len(x), len(self.classes)))
        lengths = np.array([a.shape[-1] for a in x], dtype=int)
        for n in np.unique(lengths):
            idx = np.flatnonzero(lengths == n)
            out[idx] = predict_records(self.net, np.stack([x[i] for i in idx]), self.config.input, batch_size)
        return out


def load_classifier(folder: str | Path, verify: bool = True) -> DiagnosticClassifier:
    """Load ``classifier.safetensors`` + ``classifier.yaml`` from ``folder`` (never unpickles).

    Raises:
        DataNotFoundError: a file is missing.
        CorruptFileError: an invalid config, a SHA256 mismatch (``verify``) or weights that do not fit.
    """
    from pydantic import ValidationError
    from safetensors.torch import load_file

    from leadlift.config import format_validation_errors
    from leadlift.inference.checkpoint import file_sha256

    folder = Path(folder)
    cfg_path, w_path = folder / CLASSIFIER_CONFIG_FILE, folder / CLASSIFIER_WEIGHTS_FILE
    for p in (cfg_path, w_path):
        if not p.exists():
            raise DataNotFoundError(f"{p} not found; pass a folder written by the classifier training")
    try:
        config = ClassifierConfig.model_validate(yaml.safe_load(cfg_path.read_text()) or {})
    except ValidationError as exc:
        raise CorruptFileError(f"{cfg_path} is invalid: {format_validation_errors(exc)}") from None
    except yaml.YAMLError:
        raise CorruptFileError(f"{cfg_path} is not valid YAML; retrain the classifier") from None
    if verify and config.weights_sha256 and file_sha256(w_path) != config.weights_sha256:
        raise CorruptFileError(f"{w_path} does not match the SHA256 in {cfg_path.name}; retrain or restore it")
    net = SuperclassNet.from_spec(config.model)
    try:
        net.load_state_dict(load_file(str(w_path)), strict=True)
    except RuntimeError as exc:
        raise CorruptFileError(f"{w_path} does not fit its config ({str(exc).splitlines()[0]})") from None
    return DiagnosticClassifier(net.eval(), config, folder)


# ======================================================================================= paired AUROC
def _ci(values: np.ndarray, level: float) -> list[float] | None:
    lo, hi = percentile_ci(values, level)
    return None if not np.isfinite(lo) else [lo, hi]


def paired_auroc(y: np.ndarray, real: np.ndarray, recon: np.ndarray, classes: Sequence[str] | None = None,
                 n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """Per-class AUROC of scores on real and on reconstructed ECGs, and their paired difference.

    Args:
        y: ``[N, C]`` binary labels (or ``[N]`` for one class).
        real, recon: ``[N, C]`` scores (higher = more likely) of the same N records, real and
            reconstructed.
        classes: C class names (default ``"0"``, ``"1"``...).
        n_boot: bootstrap resamples of the records, the same for real, reconstructed and every
            class (0: no CIs).
        seed: seed of the resamples.
        level: CI coverage.
    Returns:
        ``{"classes": {name: {"real", "recon", "delta", "real_ci", "recon_ci", "delta_ci",
        "n_pos", "n_neg"}}, "macro": {same keys}, "n": N, "n_boot", "level"}``; ``delta`` =
        recon − real; the macro is the mean over classes with both labels present, per resample.
    """
    y2 = np.asarray(y)
    a, b = np.asarray(real, dtype=np.float64), np.asarray(recon, dtype=np.float64)
    if y2.ndim == 1:
        y2, a, b = y2[:, None], a.reshape(-1, 1), b.reshape(-1, 1)
    if not (y2.shape == a.shape == b.shape) or y2.ndim != 2:
        raise InputError(f"labels {y2.shape}, real scores {a.shape} and reconstructed scores {b.shape} must all be "
                         "[N, C]")
    n, c = y2.shape
    names = [str(i) for i in range(c)] if classes is None else list(classes)
    if len(names) != c:
        raise InputError(f"{len(names)} class names given for {c} label columns")
    w = bootstrap_weights(n, n_boot, seed) if n_boot > 0 and n > 1 else None
    point = np.full((2, c), np.nan)
    boots = np.full((2, n_boot if w is not None else 0, c), np.nan)
    for j in range(c):
        for k, s in enumerate((a, b)):
            point[k, j] = auroc(y2[:, j], s[:, j])
            if w is not None:
                boots[k, :, j] = auroc(y2[:, j], s[:, j], w)

    def entry(p_real: float, p_rec: float, br: np.ndarray, bb: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {"real": p_real, "recon": p_rec, "delta": p_rec - p_real,
                               "real_ci": None, "recon_ci": None, "delta_ci": None}
        if w is not None:
            out.update(real_ci=_ci(br, level), recon_ci=_ci(bb, level), delta_ci=_ci(bb - br, level))
        return out

    res: dict[str, Any] = {"classes": {}, "n": int(n), "n_boot": int(n_boot if w is not None else 0), "level": level}
    for j, name in enumerate(names):
        res["classes"][name] = {**entry(float(point[0, j]), float(point[1, j]), boots[0, :, j], boots[1, :, j]),
                                "n_pos": int(y2[:, j].astype(bool).sum()), "n_neg": int((~y2[:, j].astype(bool)).sum())}
    ok = np.isfinite(point[0]) & np.isfinite(point[1])
    with warnings.catch_warnings():  # a resample without positives of a class: NaN, left out of that mean
        warnings.simplefilter("ignore", RuntimeWarning)
        macro_b = [np.nanmean(boots[k][:, ok], axis=1) if w is not None and ok.any() else np.zeros(0) for k in (0, 1)]
    res["macro"] = entry(float(point[0, ok].mean()) if ok.any() else float("nan"),
                         float(point[1, ok].mean()) if ok.any() else float("nan"), macro_b[0], macro_b[1])
    res["macro"]["classes"] = [names[j] for j in np.flatnonzero(ok)]
    return res


# ======================================================================================= ST levels
@dataclass(frozen=True)
class Fiducials:
    """Beat positions of one ECG from its reference leads (sample indices at ``fs``).

    Attributes:
        peaks: R peaks ``[n_beats]`` whose beat window lies inside the record.
        onset, j_point: QRS onset and J point as offsets (samples) from the R peak within the
            median beat (negative and positive).
        fs: sampling rate in Hz.
        fallback: True when onset or J point was not found and the default offset was used.
    """

    peaks: np.ndarray
    onset: int
    j_point: int
    fs: float
    fallback: bool

    @property
    def ok(self) -> bool:
        return len(self.peaks) >= MIN_BEATS


def _filtered(signal: np.ndarray, fs: float) -> np.ndarray:
    return np.asarray(bandpass(np.asarray(signal, dtype=np.float64), fs, ST_BANDPASS_HZ[0], ST_BANDPASS_HZ[1],
                               order=ST_BANDPASS_ORDER))


def _beat_offsets(fs: float) -> tuple[int, int]:
    return round(BEAT_WINDOW_S[0] * fs), round(BEAT_WINDOW_S[1] * fs)


def median_beat(signal: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """Median beat ``[n_leads, W]`` (mV) of ``signal`` ``[n_leads, T]`` over the beats at ``peaks``
    (window [R − 250 ms, R + 450 ms]; the R peak sits at index ``round(0.25 · fs)``)."""
    before, after = _beat_offsets(fs)
    idx = np.asarray(peaks, dtype=np.int64)[:, None] + np.arange(-before, after + 1)[None, :]
    return np.median(np.asarray(signal)[:, idx], axis=1)


def fiducials(ecg: ECG, reference: Sequence[str] | str) -> Fiducials:
    """R peaks, QRS onset and J point of ``ecg`` from its ``reference`` leads (see the module text).

    Args:
        ecg: the ECG (any rate; mV).
        reference: the leads to place the beats with (e.g. the measured input leads).
    Returns:
        :class:`Fiducials`; ``ok`` is False when fewer than 3 full beats were found.
    """
    leads = normalize_lead_names([reference] if isinstance(reference, str) else reference)
    fs = ecg.fs
    x = _filtered(ecg.select(leads).signal, fs)
    mag = np.sqrt((x**2).sum(axis=0))
    before, after = _beat_offsets(fs)
    peaks = r_peaks(mag, fs, polarity="auto")
    peaks = peaks[(peaks >= before) & (peaks + after < x.shape[-1])]
    if len(peaks) < MIN_BEATS:
        return Fiducials(peaks, -round(0.06 * fs), round(0.1 * fs), fs, True)
    beat = median_beat(x, peaks, fs)
    slope = np.sqrt((np.diff(beat, axis=-1) ** 2).sum(axis=0)) * fs  # mV/s; slope[k] between k and k + 1
    r = before
    near = slope[max(r - round(0.08 * fs), 0): r + round(0.08 * fs)]
    thr = 0.2 * float(near.max()) if near.size else 0.0
    hold = max(round(0.02 * fs), 1)
    fallback = False
    j = None
    for k in range(r + max(round(0.02 * fs), 1), min(r + round(0.2 * fs), len(slope) - hold) + 1):
        if np.all(slope[k:k + hold] < thr):
            j = k
            break
    if j is None:
        j, fallback = r + round(0.1 * fs), True
    q = None
    for k in range(r - max(round(0.02 * fs), 1), max(r - round(0.15 * fs), hold) - 1, -1):
        if np.all(slope[k - hold:k] < thr):
            q = k
            break
    if q is None:
        q, fallback = r - round(0.06 * fs), True
    return Fiducials(peaks, int(q - r), int(j - r), fs, fallback)


def _at(beat: np.ndarray, pos: float) -> np.ndarray:
    """Linear interpolation of ``beat`` ``[L, W]`` at fractional index ``pos`` → ``[L]``."""
    i = int(np.floor(pos))
    f = pos - i
    i = min(max(i, 0), beat.shape[-1] - 2)
    return beat[:, i] * (1 - f) + beat[:, i + 1] * f


def st_levels(ecg: ECG, fid: Fiducials, leads: Sequence[str] = ("V1", "V2"),
              offset_s: float = 0.06) -> dict[str, np.ndarray]:
    """ST levels of ``leads`` in mV, relative to the PR baseline, on the median beat.

    Args:
        ecg: the ECG to measure (real or reconstructed, at ``fid.fs``).
        fid: its beats (:func:`fiducials`; use the same ones for a real ECG and its reconstruction).
        leads: the leads to measure.
        offset_s: the ST point after the J point in seconds (60 ms).
    Returns:
        ``{"st_j60": [n_leads], "st_j": [n_leads]}`` in mV (NaN when ``fid`` is not ``ok``).
    """
    if abs(ecg.fs - fid.fs) > 1e-6 * fid.fs:
        raise InputError(f"the ECG is at {ecg.fs:g} Hz but its fiducials at {fid.fs:g} Hz; use the same rate")
    names = normalize_lead_names(leads)
    if not fid.ok:
        nan = np.full(len(names), np.nan)
        return {"st_j60": nan, "st_j": nan.copy()}
    x = _filtered(ecg.select(names).signal, ecg.fs)
    beat = median_beat(x, fid.peaks, ecg.fs)
    r = _beat_offsets(ecg.fs)[0]
    q = r + fid.onset
    pr_n = max(round(0.03 * ecg.fs), 1)
    base = beat[:, max(q - pr_n, 0):max(q, 1)].mean(axis=-1)
    j = r + fid.j_point
    return {"st_j60": _at(beat, j + offset_s * ecg.fs) - base, "st_j": _at(beat, float(j)) - base}


# ======================================================================================= Brugada check
def brugada_st_check(brugada: np.ndarray, st_real: np.ndarray, st_recon: np.ndarray, n_boot: int = 1000,
                     seed: int = 0, level: float = 0.95, leads: Sequence[str] = ("V1", "V2")) -> dict[str, Any]:
    """The Brugada-HUCA check for one ST measure.

    Args:
        brugada: ``[N]`` codes 0 (no Brugada syndrome), 1 (Brugada syndrome), 2 (uncertain).
        st_real, st_recon: ``[N, n_leads]`` ST levels (mV) of the real and reconstructed ECGs
            (NaN where not measurable; such records are left out and counted).
        n_boot, seed, level: the paired bootstrap over records (the same resamples for real,
            reconstructed and the agreement statistics).
    Returns:
        ``{"auroc": paired_auroc(...) of max over leads, brugada 1 vs 0,
        "agreement": {"max" and each lead: {"mean_diff_mv", "mean_diff_ci", "sd_diff_mv", "pearson_r",
        "pearson_r_ci", "mean_real_mv", "mean_recon_mv", "n"}}, "n": {...counts}}``; differences are
        reconstructed − real.
    """
    code = np.asarray(brugada).astype(int)
    a, b = np.asarray(st_real, dtype=np.float64), np.asarray(st_recon, dtype=np.float64)
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    if a.shape != b.shape or a.shape[0] != len(code) or a.shape[1] != len(leads):
        raise InputError(f"ST arrays {a.shape} and {b.shape} must be [{len(code)}, {len(leads)}] like the labels")
    bad = sorted(set(code.tolist()) - {0, 1, 2})
    if bad:
        raise InputError(f"Brugada codes {bad} unknown; expected 0, 1 or 2")
    measured = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    mx_a, mx_b = a.max(axis=1), b.max(axis=1)
    lab = measured & (code != 2)
    res: dict[str, Any] = {"n": {"records": len(code), "measured": int(measured.sum()),
                                 "not_measured": int((~measured).sum()),
                                 "brugada_1": int((lab & (code == 1)).sum()),
                                 "brugada_0": int((lab & (code == 0)).sum()),
                                 "uncertain_excluded_from_auroc": int((measured & (code == 2)).sum())}}
    res["auroc"] = paired_auroc((code[lab] == 1).astype(int), mx_a[lab], mx_b[lab], ["brugada"], n_boot, seed,
                                level)["classes"]["brugada"]
    cols = {"max": (mx_a, mx_b), **{ld: (a[:, i], b[:, i]) for i, ld in enumerate(leads)}}
    m = int(measured.sum())
    w = bootstrap_weights(m, n_boot, seed + 1) if n_boot > 0 and m > 1 else None
    res["agreement"] = {name: _agreement(u[measured], v[measured], w, level) for name, (u, v) in cols.items()}
    return res


def _weighted_r(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pearson r of ``u`` and ``v`` ``[n]`` under each row of weights ``w`` ``[B, n]`` → ``[B]``."""
    tot = w.sum(axis=1, keepdims=True)
    mu, mv = (w * u).sum(axis=1, keepdims=True) / tot, (w * v).sum(axis=1, keepdims=True) / tot
    cov = (w * (u - mu) * (v - mv)).sum(axis=1)
    den = np.sqrt((w * (u - mu) ** 2).sum(axis=1) * (w * (v - mv) ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, cov / den, np.nan)


def _agreement(u: np.ndarray, v: np.ndarray, w: np.ndarray | None, level: float) -> dict[str, Any]:
    d = v - u
    n = len(d)
    out: dict[str, Any] = {"n": n, "mean_real_mv": float(u.mean()) if n else float("nan"),
                           "mean_recon_mv": float(v.mean()) if n else float("nan"),
                           "mean_diff_mv": float(d.mean()) if n else float("nan"),
                           "sd_diff_mv": float(d.std(ddof=1)) if n > 1 else float("nan"),
                           "pearson_r": float(_weighted_r(u, v, np.ones((1, n)))[0]) if n > 1 else float("nan"),
                           "mean_diff_ci": None, "pearson_r_ci": None}
    if w is not None:
        out["mean_diff_ci"] = _ci((w * d).sum(axis=1) / w.sum(axis=1), level)
        out["pearson_r_ci"] = _ci(_weighted_r(u, v, w), level)
    return out

