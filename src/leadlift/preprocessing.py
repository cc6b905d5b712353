"""Signal preprocessing: resampling, filtering, normalisation, windowing and quality control.

Every function takes a NumPy array **or** a torch tensor whose **last axis is time**
(``[..., n_samples]``; the leading axes are leads and/or batch) and returns the same type:
a tensor comes back on the same device with the same dtype. Floating inputs keep their dtype;
integer inputs come back as float64 (NumPy) or torch's default float dtype (torch).

Conventions:

* amplitudes are in **millivolts (mV)**, sampling rates in **Hz**, durations in **seconds**;
* the sampling rate ``fs`` is always an explicit, required argument: nothing here assumes one;
* the SciPy-based operations (:func:`resample`, :func:`bandpass`, :func:`remove_baseline`) run
  in float64 through NumPy, so on torch tensors they are *not* differentiable; :func:`zscore`,
  :func:`windows` and :func:`overlap_add` use native torch operations and are.

Bad arguments raise :class:`~leadlift.errors.InputError` with a one-line message.
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from leadlift.errors import InputError

if TYPE_CHECKING:
    from leadlift.ecg import ECG

__all__ = [
    "PAD_MODES",
    "QualityReport",
    "bandpass",
    "denormalize",
    "filtfilt_min_samples",
    "overlap_add",
    "percentile_outlier_mask",
    "preprocess_ecg",
    "quality_check",
    "quality_ok",
    "r_peaks",
    "remove_baseline",
    "resample",
    "window_starts",
    "windows",
    "zscore",
    "zscore_stats",
]

ArrayT = TypeVar("ArrayT")
"""A NumPy array or a torch tensor; functions return the type they were given."""

PadMode = Literal["none", "zero", "reflect", "edge"]
PAD_MODES: tuple[str, ...] = ("none", "zero", "reflect", "edge")
"""Tail policies of :func:`windows`: drop the incomplete tail, or pad it with zeros, a mirror
image of the signal (without repeating the last sample) or copies of the last sample."""

MAX_DENOMINATOR = 1000
"""Largest denominator of the rational resampling ratio ``up/down`` used by :func:`resample`."""


# ---------------------------------------------------------------------------------------- helpers
def _is_torch(x: Any) -> bool:
    torch = sys.modules.get("torch")  # a tensor can only exist if torch was imported
    return torch is not None and isinstance(x, torch.Tensor)


def _check_array(x: Any, name: str = "x", min_ndim: int = 1) -> Any:
    """Validate a signal and return it (NumPy arrays and tensors as is, array-likes as arrays)."""
    if hasattr(x, "signal") and hasattr(x, "fs") and hasattr(x, "leads"):
        raise InputError(
            f"{name} is an ECG record; pass its samples ({name}.signal) with fs={name}.fs, "
            "or use preprocess_ecg()"
        )
    if _is_torch(x):
        if x.is_complex() or x.dtype.is_complex:
            raise InputError(f"{name} is a complex tensor; pass real-valued samples in mV")
        shape = tuple(x.shape)
    else:
        if not isinstance(x, np.ndarray):
            try:
                x = np.asarray(x)
            except (TypeError, ValueError):
                raise InputError(
                    f"{name} of type {type(x).__name__} is not an array; pass a NumPy array or "
                    "a torch tensor [..., n_samples]"
                ) from None
        if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)
                or x.dtype == bool):
            raise InputError(
                f"{name} has dtype {x.dtype}; pass a real-valued numeric array [..., n_samples] in mV"
            )
        shape = x.shape
    if len(shape) < min_ndim:
        expected = "[..., n_samples]" if min_ndim == 1 else "[..., n_leads, n_samples]"
        raise InputError(f"{name} has shape {shape}; expected at least {min_ndim}-D {expected}")
    if shape[-1] == 0:
        raise InputError(f"{name} is empty (0 samples along the last axis, which is time)")
    return x


def _check_rate(value: Any, name: str = "fs") -> float:
    """Return a sampling rate in Hz as a positive finite float, or raise InputError."""
    if value is None:
        raise InputError(
            f"{name} is required: pass the sampling rate in Hz explicitly (e.g. {name}=500); "
            "leadlift never assumes one"
        )
    if isinstance(value, bool):
        raise InputError(f"{name}={value!r} is not a sampling rate; pass the rate in Hz, e.g. {name}=500")
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}={value!r} is not a number; pass the sampling rate in Hz") from None
    if not math.isfinite(rate) or rate <= 0:
        raise InputError(f"{name}={value!r} is not a positive sampling rate; pass the rate in Hz, e.g. 500")
    return rate


def _check_positive(value: Any, name: str, unit: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}={value!r} is not a number; pass a positive value in {unit}") from None
    if not math.isfinite(out) or out <= 0:
        raise InputError(f"{name}={value!r} must be a positive number of {unit}")
    return out


def _check_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise InputError(f"{name}={value!r} must be a whole number of samples (>= {minimum})")
    if value < minimum:
        raise InputError(f"{name}={value} must be at least {minimum}")
    return int(value)


def _to_numpy64(x: Any) -> np.ndarray:
    """Float64 NumPy copy/view of a validated array or tensor (detached, on CPU)."""
    if _is_torch(x):
        import torch

        return x.detach().to(device="cpu", dtype=torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _restore(result: np.ndarray, like: Any) -> Any:
    """Convert a float64 NumPy result back to the type, device and (float) dtype of ``like``."""
    if _is_torch(like):
        import torch

        dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
        return torch.from_numpy(np.ascontiguousarray(result)).to(device=like.device, dtype=dtype)
    dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.float64
    return np.ascontiguousarray(result, dtype=dtype)


def _float_like(x: Any) -> Any:
    """``x`` as a floating array/tensor (no copy when it already is one)."""
    if _is_torch(x):
        import torch

        return x if x.is_floating_point() else x.to(torch.get_default_dtype())
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _bool_like(mask: np.ndarray, like: Any) -> Any:
    if _is_torch(like):
        import torch

        return torch.from_numpy(np.ascontiguousarray(mask)).to(device=like.device)
    return mask


# ---------------------------------------------------------------------------------------- resampling
def _resampling_ratio(fs_in: float, fs_out: float) -> tuple[int, int]:
    ratio = Fraction(fs_out / fs_in).limit_denominator(MAX_DENOMINATOR)
    if ratio.numerator == 0:
        raise InputError(
            f"cannot resample from {fs_in:g} Hz to {fs_out:g} Hz (ratio below 1/{MAX_DENOMINATOR}); "
            "resample in several steps"
        )
    return ratio.numerator, ratio.denominator


@functools.lru_cache(maxsize=64)
def _poly_filter(up: int, down: int) -> np.ndarray:
    """The anti-aliasing FIR that :func:`scipy.signal.resample_poly` designs by default (Kaiser
    window, beta 5), cached: designing it costs more than filtering a 10-s ECG."""
    from scipy import signal

    max_rate = max(up, down) // math.gcd(up, down)
    h = signal.firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    h.setflags(write=False)
    return h


def resample(x: ArrayT, fs_in: float, fs_out: float) -> ArrayT:
    """Resample along the last axis from ``fs_in`` to ``fs_out`` (Hz) with a polyphase filter.

    Uses :func:`scipy.signal.resample_poly` (Kaiser-windowed FIR anti-aliasing low-pass, edges
    extended linearly to limit edge ringing) with ``up/down`` the rational approximation of
    ``fs_out / fs_in`` whose denominator is at most :data:`MAX_DENOMINATOR` (exact for all usual
    ECG rates: 100, 125, 128, 250, 257, 360, 400, 500, 1000 Hz...).

    Args:
        x: signal ``[..., n_samples]`` in mV (NumPy array or torch tensor).
        fs_in: sampling rate of ``x`` in Hz.
        fs_out: wanted sampling rate in Hz.
    Returns:
        ``[..., round(n_samples * fs_out / fs_in)]`` (at least 1 sample), same type as ``x``.
        When ``fs_in == fs_out`` a copy of ``x`` is returned unchanged.
    Raises:
        InputError: for a missing/non-positive rate or an empty signal.
    """
    x = _check_array(x)
    fs_in = _check_rate(fs_in, "fs_in")
    fs_out = _check_rate(fs_out, "fs_out")
    if fs_in == fs_out:
        return _float_like(x).detach().clone() if _is_torch(x) else _restore(_to_numpy64(x), x)
    n = int(x.shape[-1])
    n_out = max(1, math.floor(n * fs_out / fs_in + 0.5))
    up, down = _resampling_ratio(fs_in, fs_out)
    from scipy import signal  # lazy: scipy.signal takes ~1 s to import

    y = signal.resample_poly(_to_numpy64(x), up, down, axis=-1, window=_poly_filter(up, down), padtype="line")
    if y.shape[-1] >= n_out:
        y = y[..., :n_out]
    else:  # only possible when up/down approximates the ratio: extend by the last sample
        y = np.concatenate([y, np.repeat(y[..., -1:], n_out - y.shape[-1], axis=-1)], axis=-1)
    return _restore(y, x)


# ---------------------------------------------------------------------------------------- filtering
def _sos_padlen(sos: np.ndarray) -> int:
    """Edge padding used by :func:`scipy.signal.sosfiltfilt` by default (3 × filter order)."""
    n_zeros = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * (2 * len(sos) + 1 - n_zeros)


def _butter_sos(fs: float, low_hz: float | None, high_hz: float | None, order: int) -> np.ndarray:
    from scipy import signal

    nyquist = fs / 2
    if low_hz is not None:
        low_hz = _check_positive(low_hz, "low_hz", "Hz")
        if low_hz >= nyquist:
            raise InputError(
                f"low_hz={low_hz:g} Hz is at or above the Nyquist frequency {nyquist:g} Hz of fs={fs:g} Hz; "
                "lower low_hz or check fs"
            )
    if high_hz is not None:
        high_hz = _check_positive(high_hz, "high_hz", "Hz")
        if high_hz >= nyquist:  # nothing to remove above Nyquist: high-pass only
            high_hz = None
    if low_hz is not None and high_hz is not None and low_hz >= high_hz:
        raise InputError(f"low_hz={low_hz:g} Hz must be below high_hz={high_hz:g} Hz")
    if low_hz is None and high_hz is None:
        raise InputError(
            "no band to filter: low_hz is None and high_hz is None (or at/above Nyquist); "
            "pass a cut-off or skip the filter"
        )
    if low_hz is not None and high_hz is not None:
        return signal.butter(order, [low_hz, high_hz], btype="bandpass", output="sos", fs=fs)
    if low_hz is not None:
        return signal.butter(order, low_hz, btype="highpass", output="sos", fs=fs)
    return signal.butter(order, high_hz, btype="lowpass", output="sos", fs=fs)


def filtfilt_min_samples(fs: float, low_hz: float | None = 0.5, high_hz: float | None = 45.0,
                         order: int = 4) -> int:
    """Smallest signal length (samples) that :func:`bandpass` accepts for these settings."""
    fs = _check_rate(fs)
    order = _check_int(order, "order")
    return _sos_padlen(_butter_sos(fs, low_hz, high_hz, order)) + 1


def bandpass(x: ArrayT, fs: float, low_hz: float | None = 0.5, high_hz: float | None = 45.0,
             order: int = 4) -> ArrayT:
    """Zero-phase Butterworth band-pass along the last axis.

    The filter (:func:`scipy.signal.butter`, second-order sections) runs forwards and backwards
    (:func:`scipy.signal.sosfiltfilt`), so there is no phase shift or delay and the magnitude
    response is the square of the Butterworth one (−6 dB at the cut-offs). The edges are padded
    by odd reflection (SciPy's default length, 3 × the filter order); strong content near the
    ends can still leave transients there for up to ~1–2 s at ``low_hz=0.5``.

    Cut-off policy: if ``high_hz`` is at or above the Nyquist frequency ``fs/2`` there is nothing
    above it to remove, so the filter silently becomes a **high-pass** at ``low_hz`` (e.g. the
    default 45 Hz on a 80 Hz recording). ``high_hz=None`` asks for that explicitly and
    ``low_hz=None`` gives a low-pass. A ``low_hz`` at or above Nyquist is an error.

    Args:
        x: signal ``[..., n_samples]`` in mV (NumPy array or torch tensor).
        fs: sampling rate in Hz (required).
        low_hz: high-pass cut-off in Hz (removes baseline wander/DC), or None.
        high_hz: low-pass cut-off in Hz (removes mains hum, EMG noise), or None.
        order: Butterworth order of each (low/high) edge.
    Returns:
        The filtered signal, same shape and type as ``x``.
    Raises:
        InputError: for a missing/invalid ``fs`` or cut-off, or a signal too short for the
            forward-backward edge padding (the message gives the minimum length).
    """
    x = _check_array(x)
    fs = _check_rate(fs)
    order = _check_int(order, "order")
    sos = _butter_sos(fs, low_hz, high_hz, order)
    padlen = _sos_padlen(sos)
    n = int(x.shape[-1])
    if n <= padlen:
        raise InputError(
            f"signal too short to filter: {n} samples, but this order-{order} filter needs at least "
            f"{padlen + 1} samples ({(padlen + 1) / fs:.3g} s at {fs:g} Hz); pass a longer signal"
        )
    from scipy import signal

    y = signal.sosfiltfilt(sos, _to_numpy64(x), axis=-1, padtype="odd", padlen=padlen)
    return _restore(y, x)


def _baseline_kernel(fs: float, window_s: float) -> int:
    window_s = _check_positive(window_s, "window_s", "seconds")
    kernel = round(window_s * fs)
    kernel += 1 - kernel % 2  # odd, so the median is centred on each sample
    if kernel < 3:
        raise InputError(
            f"window_s={window_s:g} s is only {kernel} sample(s) at {fs:g} Hz; "
            f"use window_s >= {3 / fs:.3g} s"
        )
    return kernel


def remove_baseline(x: ArrayT, fs: float, window_s: float = 0.6) -> ArrayT:
    """Subtract a running-median baseline (baseline wander) along the last axis.

    The baseline is the median over a centred window of ``window_s`` seconds (rounded to an odd
    number of samples; the signal is mirrored at the edges). 0.6 s is longer than a QRS complex
    and a P/T wave, so the median follows the isoelectric line rather than the waves.

    Args:
        x: signal ``[..., n_samples]`` in mV (NumPy array or torch tensor).
        fs: sampling rate in Hz (required).
        window_s: median window in seconds (≥ 3 samples).
    Returns:
        ``x`` minus its baseline, same shape and type as ``x``.
    """
    x = _check_array(x)
    fs = _check_rate(fs)
    kernel = _baseline_kernel(fs, window_s)
    data = _to_numpy64(x)
    size = (1,) * (data.ndim - 1) + (kernel,)
    from scipy import ndimage

    baseline = ndimage.median_filter(data, size=size, mode="reflect")
    return _restore(data - baseline, x)


# ---------------------------------------------------------------------------------------- beats
RPeakPolarity = Literal["abs", "auto"]


def r_peaks(x: np.ndarray, fs: float, polarity: RPeakPolarity = "abs", min_rr_s: float | None = None) -> np.ndarray:
    """R-peak positions (sample indices) of one lead ``[n_samples]`` in mV.

    Two detectors, both local maxima found by :func:`scipy.signal.find_peaks` on the signal minus
    its median, at least ``min_rr_s`` seconds apart:

    * ``"abs"`` (augmentation): peaks of ``|x - median|`` with a prominence of at least
      ``max(0.1 mV, 0.4·std)``; ``min_rr_s`` defaults to 0.25 s. Whichever deflection is
      larger wins beat by beat, so it may mark an S (or tall T) wave: fine for picking "a beat",
      too loose for aligning beats;
    * ``"auto"`` (beat alignment): the peaks of ``+y`` and of ``-y`` (``y = x - median``) are
      found separately with a prominence of at least ``max(0.05 mV, 0.5·P99)`` (99th percentile
      of that sign's deflection), and the polarity whose peaks have the larger median amplitude
      is kept for the whole signal, so every beat is marked on the same wave; ``min_rr_s``
      defaults to 0.3 s (≤ 200 bpm).

    Args:
        x: one lead ``[n_samples]`` in mV (NumPy array; filtered or not).
        fs: sampling rate in Hz.
        polarity: ``"abs"`` or ``"auto"`` (see above).
        min_rr_s: shortest accepted R–R interval in seconds (None: the detector's default).

    Returns:
        ``[n_peaks]`` int64 sample indices, increasing.
    """
    from scipy.signal import find_peaks

    fs = _check_rate(fs)
    if polarity not in ("abs", "auto"):
        raise InputError(f"polarity={polarity!r}; use 'abs' or 'auto'")
    y = np.asarray(x, dtype=np.float64)
    if y.ndim != 1:
        raise InputError(f"r_peaks expects one lead [n_samples], got shape {y.shape}")
    if y.size == 0:
        return np.zeros(0, dtype=np.int64)
    y = y - np.median(y)
    rr = _check_positive(min_rr_s if min_rr_s is not None else (0.25 if polarity == "abs" else 0.3),
                         "min_rr_s", "seconds")
    distance = max(int(rr * fs), 1)
    if polarity == "abs":
        a = np.abs(y)
        peaks, _ = find_peaks(a, distance=distance, prominence=max(0.1, 0.4 * float(a.std())))
        return peaks.astype(np.int64)
    best: tuple[float, np.ndarray] = (-math.inf, np.zeros(0, dtype=np.int64))
    for sign in (1.0, -1.0):
        z = sign * y
        peaks, _ = find_peaks(z, distance=distance, prominence=max(0.05, 0.5 * float(np.percentile(z, 99))))
        amp = float(np.median(z[peaks])) if len(peaks) else -math.inf
        if amp > best[0]:
            best = (amp, peaks.astype(np.int64))
    return best[1]


# ---------------------------------------------------------------------------------------- normalisation
def zscore_stats(x: ArrayT, axis: int = -1) -> tuple[ArrayT, ArrayT]:
    """Mean and (population) standard deviation along ``axis``, kept as a size-1 axis.

    Returns ``(mean, std)``, each shaped like ``x`` with ``axis`` reduced to 1, in the unit of
    ``x`` (mV for signals), so ``x`` can be restored with :func:`denormalize`.
    """
    x = _float_like(_check_array(x))
    if _is_torch(x):
        return x.mean(dim=axis, keepdim=True), x.std(dim=axis, correction=0, keepdim=True)
    return x.mean(axis=axis, keepdims=True), x.std(axis=axis, keepdims=True)


def zscore(x: ArrayT, eps: float = 1e-6, axis: int = -1,
           return_stats: bool = False) -> ArrayT | tuple[ArrayT, ArrayT, ArrayT]:
    """Standardise along ``axis`` (by default per lead over time): ``(x - mean) / (std + eps)``.

    Flat series (``std < eps``, e.g. a disconnected lead) become all zeros instead of noise
    blown up by the division.

    Args:
        x: signal ``[..., n_samples]`` (NumPy array or torch tensor; differentiable for torch).
        eps: added to the std, and the flatness threshold, in the unit of ``x`` (mV).
        axis: axis to standardise over (time by default).
        return_stats: also return the ``mean`` and ``std`` used (see :func:`zscore_stats`).
    Returns:
        The standardised signal (dimensionless, same shape/type as ``x``), or
        ``(z, mean, std)`` when ``return_stats`` is True.
    """
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise InputError(f"eps={eps!r} must be a non-negative number")
    x = _float_like(_check_array(x))
    mean, std = zscore_stats(x, axis=axis)
    z = (x - mean) / (std + eps)
    if _is_torch(x):
        z = z.masked_fill(std < eps, 0.0)
    else:
        z = np.where(std < eps, 0.0, z).astype(x.dtype, copy=False)
    return (z, mean, std) if return_stats else z


def denormalize(z: ArrayT, mean: ArrayT, std: ArrayT, eps: float = 1e-6) -> ArrayT:
    """Invert :func:`zscore`: ``z * (std + eps) + mean`` (flat series come back as their mean)."""
    return z * (std + eps) + mean


# ---------------------------------------------------------------------------------------- windows
def _check_pad(pad: Any) -> str:
    if pad not in PAD_MODES:
        raise InputError(f"pad={pad!r} is not a padding policy; use one of {', '.join(PAD_MODES)}")
    return str(pad)


def window_starts(n_samples: int, window: int, hop: int, pad: PadMode = "none") -> np.ndarray:
    """Start indices of the windows :func:`windows` cuts from ``n_samples`` samples.

    With ``pad="none"`` only complete windows are kept (the incomplete tail is dropped); with any
    other policy there are enough windows to cover every sample, the last one reaching into the
    padded tail.

    Returns:
        int64 array ``[n_windows]``: 0, hop, 2·hop, ...
    Raises:
        InputError: if ``pad="none"`` and ``n_samples < window``, or if ``hop > window`` with
            padding (the windows would leave gaps, so the signal could not be covered).
    """
    n_samples = _check_int(n_samples, "n_samples")
    window = _check_int(window, "window")
    hop = _check_int(hop, "hop")
    pad = _check_pad(pad)
    if pad == "none":
        if n_samples < window:
            raise InputError(
                f"signal of {n_samples} samples is shorter than one window of {window} samples; "
                "pass a longer signal, a shorter window, or pad='zero'/'reflect'/'edge'"
            )
        n_windows = (n_samples - window) // hop + 1
    else:
        if hop > window:
            raise InputError(
                f"hop={hop} is larger than window={window}, so padded windows would leave gaps; "
                "use hop <= window"
            )
        n_windows = 1 if n_samples <= window else -(-(n_samples - window) // hop) + 1
    return np.arange(n_windows, dtype=np.int64) * hop


def _tail_index(n: int, total: int, mode: str) -> np.ndarray:
    """Indices into a length-``n`` signal that extend it to ``total`` samples ("reflect"/"edge")."""
    idx = np.arange(total, dtype=np.int64)
    if mode == "edge" or n == 1:
        return np.minimum(idx, n - 1)
    period = 2 * (n - 1)  # mirror without repeating the edge sample, like np.pad(mode="reflect")
    idx = idx % period
    return np.where(idx > n - 1, period - idx, idx)


def _resolve_samples(fs: float, samples: Any, seconds: Any, name: str) -> int | None:
    if samples is not None and seconds is not None:
        raise InputError(f"pass either {name} (samples) or {name}_s (seconds), not both")
    if seconds is not None:
        seconds = _check_positive(seconds, f"{name}_s", "seconds")
        value = round(seconds * fs)
        if value < 1:
            raise InputError(f"{name}_s={seconds:g} s is less than one sample at {fs:g} Hz")
        return value
    if samples is not None:
        return _check_int(samples, name)
    return None


def windows(x: ArrayT, fs: float, *, window: int | None = None, window_s: float | None = None,
            hop: int | None = None, hop_s: float | None = None, pad: PadMode = "none",
            return_starts: bool = False) -> ArrayT | tuple[ArrayT, np.ndarray]:
    """Cut fixed-length windows along the last axis.

    Args:
        x: signal ``[..., n_samples]`` (NumPy array or torch tensor; differentiable for torch).
        fs: sampling rate in Hz (required; converts the ``*_s`` arguments).
        window: window length in samples; or ``window_s`` in seconds (exactly one of the two).
        hop: step between window starts in samples; or ``hop_s`` in seconds. Defaults to the
            window length (no overlap).
        pad: tail policy (:data:`PAD_MODES`): ``"none"`` drops the incomplete tail; ``"zero"``,
            ``"reflect"`` or ``"edge"`` pad the tail so every sample lies in some window.
        return_starts: also return the start indices (see :func:`window_starts`), which
            :func:`overlap_add` needs to stitch the windows back together.
    Returns:
        ``[..., n_windows, window]`` (a new array/tensor, not a view), and the starts
        ``[n_windows]`` (int64 NumPy) when ``return_starts`` is True.
    Raises:
        InputError: for a missing ``fs``, a missing/ambiguous window or hop, an unknown pad
            policy, or a signal shorter than one window with ``pad="none"``.
    """
    x = _check_array(x)
    fs = _check_rate(fs)
    pad = _check_pad(pad)
    window_n = _resolve_samples(fs, window, window_s, "window")
    if window_n is None:
        raise InputError("no window length: pass window (samples) or window_s (seconds)")
    hop_n = _resolve_samples(fs, hop, hop_s, "hop")
    hop_n = window_n if hop_n is None else hop_n
    n = int(x.shape[-1])
    starts = window_starts(n, window_n, hop_n, pad)
    total = int(starts[-1]) + window_n
    torch_in = _is_torch(x)
    if total > n:  # padded tail
        if pad == "zero":
            if torch_in:
                import torch

                zeros = torch.zeros((*x.shape[:-1], total - n), dtype=x.dtype, device=x.device)
                x = torch.cat([x, zeros], dim=-1)
            else:
                x = np.concatenate([x, np.zeros((*x.shape[:-1], total - n), dtype=x.dtype)], axis=-1)
        else:
            idx = _tail_index(n, total, pad)
            if torch_in:
                import torch

                x = x.index_select(-1, torch.from_numpy(idx).to(x.device))
            else:
                x = x[..., idx]
    if torch_in:
        import torch

        out = x.unfold(-1, window_n, hop_n)[..., : len(starts), :]
        out = out.clone(memory_format=torch.contiguous_format)  # a copy, never a view of x
    else:
        view = np.lib.stride_tricks.sliding_window_view(x, window_n, axis=-1)
        out = np.array(view[..., ::hop_n, :][..., : len(starts), :])
    return (out, starts) if return_starts else out


def window_index(n_samples: int, window: int, hop: int) -> np.ndarray:
    """Sample indices of windows covering ``n_samples`` samples without padding: ``[n_windows, window]``.

    Starts 0, hop, 2·hop, ... with the last window aligned to the end of the signal (so every
    sample is covered and nothing is invented); a signal shorter than one window gives a single
    window that repeats it periodically. This is how inference cuts a user's recording
    (:mod:`leadlift.inference`); :func:`overlap_add` stitches the windows back.
    """
    n_samples = _check_int(n_samples, "n_samples")
    window = _check_int(window, "window")
    hop = _check_int(hop, "hop")
    if n_samples <= window:
        return (np.arange(window) % n_samples)[None, :]
    starts = list(range(0, n_samples - window + 1, hop))
    if starts[-1] != n_samples - window:
        starts.append(n_samples - window)
    return np.asarray(starts)[:, None] + np.arange(window)[None, :]


def hann_weights(window: int) -> np.ndarray:
    """Strictly positive Hann weights ``[window]`` for weighted :func:`overlap_add` (no zero at the
    edges, so a sample covered by one window only keeps its value)."""
    return np.hanning(_check_int(window, "window") + 2)[1:-1]


def overlap_add(windows: ArrayT, starts: Sequence[int] | np.ndarray, n_samples: int,
                fill: float = float("nan"), weight: np.ndarray | None = None) -> ArrayT:
    """Stitch windows back into a signal, averaging where windows overlap (inverse of :func:`windows`).

    Window samples beyond ``n_samples`` (the padded tail) are discarded. Samples covered by no
    window (the dropped tail with ``pad="none"``, or gaps when ``hop > window``) are set to
    ``fill`` (NaN by default, so they cannot be mistaken for data).

    Args:
        windows: ``[..., n_windows, window]`` (NumPy array or torch tensor; differentiable).
        starts: start index of each window, ``[n_windows]`` (as returned by :func:`window_starts`),
            or the sample index of every window sample ``[n_windows, window]`` (as returned by
            :func:`window_index`, which may wrap around a short signal).
        n_samples: length of the signal to rebuild.
        fill: value of uncovered samples.
        weight: optional per-sample weights ``[window]`` (e.g. :func:`hann_weights`): a weighted
            instead of a plain average where windows overlap (NumPy only).
    Returns:
        ``[..., n_samples]``, same type (floating dtype) as ``windows``.
    """
    windows = _float_like(_check_array(windows, "windows", min_ndim=2))
    n_samples = _check_int(n_samples, "n_samples")
    n_windows, window = int(windows.shape[-2]), int(windows.shape[-1])
    index = np.asarray(starts, dtype=np.int64)
    if index.ndim == 2:
        if index.shape != (n_windows, window):
            raise InputError(f"index of shape {index.shape} does not match {n_windows} windows of {window} samples")
        return _weighted_overlap_add(np.asarray(windows), index, n_samples,
                                     np.ones(window) if weight is None else np.asarray(weight))
    starts_np = index.reshape(-1)
    if weight is not None:
        return _weighted_overlap_add(np.asarray(windows), starts_np[:, None] + np.arange(window)[None, :],
                                     n_samples, np.asarray(weight))
    if len(starts_np) != n_windows:
        raise InputError(
            f"got {len(starts_np)} start indices for {n_windows} windows; pass one start per window"
        )
    if (starts_np < 0).any():
        raise InputError("window starts must be non-negative sample indices")
    idx = (starts_np[:, None] + np.arange(window, dtype=np.int64)[None, :]).reshape(-1)
    keep = idx < n_samples
    idx_kept = idx[keep]
    counts = np.bincount(idx_kept, minlength=n_samples)
    lead_shape = tuple(windows.shape[:-2])
    if _is_torch(windows):
        import torch

        device = windows.device
        flat = windows.reshape(*lead_shape, n_windows * window)
        values = flat.index_select(-1, torch.from_numpy(np.flatnonzero(keep)).to(device))
        out = torch.zeros((*lead_shape, n_samples), dtype=windows.dtype, device=device)
        out = out.index_add(-1, torch.from_numpy(idx_kept).to(device), values)
        counts_t = torch.from_numpy(counts).to(device=device, dtype=windows.dtype)
        out = out / counts_t.clamp(min=1)
        return out.masked_fill(counts_t == 0, fill)
    flat = windows.reshape(-1, n_windows * window)[:, keep]
    out = np.zeros((flat.shape[0], n_samples), dtype=np.float64)
    np.add.at(out.T, idx_kept, flat.T)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(counts > 0, out / np.maximum(counts, 1), fill)
    return out.reshape(*lead_shape, n_samples).astype(windows.dtype, copy=False)


def _weighted_overlap_add(pred: np.ndarray, index: np.ndarray, n: int, weight: np.ndarray) -> np.ndarray:
    """Weighted average of ``pred`` ``[..., N, W]`` placed at ``index`` ``[N, W]`` → ``[..., n]`` float64."""
    lead_shape = pred.shape[:-2]
    pred = pred.reshape(-1, *pred.shape[-2:])  # [C, N, W]
    flat = index.reshape(-1)
    if flat.max(initial=0) >= n or flat.min(initial=0) < 0:
        raise InputError(f"window index reaches outside the {n}-sample signal")
    wsum = np.bincount(flat, weights=np.broadcast_to(weight, index.shape).reshape(-1), minlength=n)
    weighted = (pred * weight).reshape(pred.shape[0], -1)  # [C, N*W]
    acc = np.stack([np.bincount(flat, weights=row, minlength=n) for row in weighted])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(wsum > 0, acc / np.where(wsum > 0, wsum, 1.0), np.nan)
    return out.reshape(*lead_shape, n)


# ---------------------------------------------------------------------------------------- quality
@dataclass(frozen=True)
class QualityReport:
    """Outcome of :func:`quality_check` for one window: ``ok`` and the human-readable reasons
    why not (empty when ok). ``bool(report)`` is ``report.ok``."""

    ok: bool
    reasons: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class _QualityFlags:
    nonfinite: np.ndarray  # [..., n_leads] count of NaN/inf samples
    std: np.ndarray  # [..., n_leads] std over finite samples (mV)
    max_abs: np.ndarray  # [..., n_leads] max |x| over finite samples (mV)
    flat: np.ndarray  # [..., n_leads] bool
    outlier: np.ndarray  # [..., n_leads] bool
    too_short: bool


def _quality_flags(x: Any, fs: float, flat_std_mv: float, max_abs_mv: float,
                   min_duration_s: float) -> _QualityFlags:
    data = _to_numpy64(x)
    finite = np.isfinite(data)
    n_finite = finite.sum(axis=-1)
    clean = np.where(finite, data, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = clean.sum(axis=-1) / n_finite
        var = (np.where(finite, clean - mean[..., None], 0.0) ** 2).sum(axis=-1) / n_finite
    std = np.sqrt(var)
    max_abs = np.abs(clean).max(axis=-1)
    nonfinite = data.shape[-1] - n_finite
    flat = (n_finite > 0) & (std < flat_std_mv)
    outlier = max_abs > max_abs_mv
    return _QualityFlags(nonfinite, std, max_abs, flat, outlier, data.shape[-1] < min_duration_s * fs)


def _check_quality_args(x: Any, fs: Any, flat_std_mv: Any, max_abs_mv: Any,
                        min_duration_s: Any) -> tuple[Any, float, float, float, float]:
    x = _check_array(x, min_ndim=2)
    fs = _check_rate(fs)
    flat_std_mv = float(flat_std_mv)
    if not flat_std_mv >= 0:
        raise InputError(f"flat_std_mv={flat_std_mv!r} must be a non-negative amplitude in mV")
    max_abs_mv = _check_positive(max_abs_mv, "max_abs_mv", "mV")
    min_duration_s = float(min_duration_s)
    if not min_duration_s >= 0:
        raise InputError(f"min_duration_s={min_duration_s!r} must be a non-negative duration in s")
    return x, fs, flat_std_mv, max_abs_mv, min_duration_s


def quality_ok(x: ArrayT, fs: float, flat_std_mv: float = 0.005, max_abs_mv: float = 10.0,
               min_duration_s: float = 0.0) -> ArrayT:
    """Vectorised quality mask for a batch of windows ``[..., n_leads, n_samples]`` (mV).

    A window passes (True) when every lead has only finite samples, a standard deviation of at
    least ``flat_std_mv`` mV (not flat/disconnected), no sample with ``|x| > max_abs_mv`` mV, and
    the window lasts at least ``min_duration_s`` seconds at ``fs`` Hz.

    Returns:
        Boolean mask of shape ``x.shape[:-2]`` (a 0-d array/tensor for one window), same type
        (and device) as ``x``; True = ok.
    """
    x, fs, flat_std_mv, max_abs_mv, min_duration_s = _check_quality_args(
        x, fs, flat_std_mv, max_abs_mv, min_duration_s)
    f = _quality_flags(x, fs, flat_std_mv, max_abs_mv, min_duration_s)
    bad_lead = (f.nonfinite > 0) | f.flat | f.outlier
    ok = ~bad_lead.any(axis=-1) & (not f.too_short)
    return _bool_like(np.asarray(ok), x)


def quality_check(x: Any, fs: float, flat_std_mv: float = 0.005, max_abs_mv: float = 10.0,
                  min_duration_s: float = 0.0,
                  leads: Sequence[str] | None = None) -> QualityReport | list[QualityReport]:
    """Check one window ``[n_leads, n_samples]`` (mV) and say what is wrong with it.

    Same criteria as :func:`quality_ok` (non-finite samples, flat leads with std below
    ``flat_std_mv`` mV, amplitude outliers above ``max_abs_mv`` mV, duration below
    ``min_duration_s`` s at ``fs`` Hz), but with one reason per problem, e.g.
    ``"lead V2: flat (std 0.0001 mV < 0.005 mV)"``.

    Args:
        x: one window ``[n_leads, n_samples]`` or a batch ``[..., n_leads, n_samples]``.
        leads: lead names used in the reasons (default ``"lead 0"``, ``"lead 1"``...).
    Returns:
        A :class:`QualityReport` for one window; for a batch, a list of reports, one per window
        in C order of the leading axes (use :func:`quality_ok` for a fast mask).
    """
    x, fs, flat_std_mv, max_abs_mv, min_duration_s = _check_quality_args(
        x, fs, flat_std_mv, max_abs_mv, min_duration_s)
    n_leads = int(x.shape[-2])
    if leads is not None and len(leads) != n_leads:
        raise InputError(f"{len(leads)} lead names given for {n_leads} leads; pass one name per lead")
    names = [f"lead {name}" for name in leads] if leads is not None else [f"lead {i}" for i in range(n_leads)]
    f = _quality_flags(x, fs, flat_std_mv, max_abs_mv, min_duration_s)
    n_samples = int(x.shape[-1])

    def report(pos: tuple[int, ...]) -> QualityReport:
        reasons = []
        if f.too_short:
            reasons.append(f"too short: {n_samples / fs:.3g} s < {min_duration_s:g} s")
        for i, name in enumerate(names):
            at = (*pos, i)
            if f.nonfinite[at] > 0:
                reasons.append(f"{name}: {int(f.nonfinite[at])} NaN/inf sample(s)")
            if f.flat[at]:
                reasons.append(f"{name}: flat (std {f.std[at]:.3g} mV < {flat_std_mv:g} mV)")
            if f.outlier[at]:
                reasons.append(f"{name}: amplitude |x| up to {f.max_abs[at]:.3g} mV > {max_abs_mv:g} mV")
        return QualityReport(ok=not reasons, reasons=reasons)

    batch_shape = tuple(x.shape[:-2])
    if not batch_shape:
        return report(())
    return [report(pos) for pos in np.ndindex(*batch_shape)]


def percentile_outlier_mask(windows: ArrayT, low_pct: float = 0.1, high_pct: float = 99.9,
                            max_bad_leads: int = 3) -> ArrayT:
    """Dataset-relative segment QC: flag windows with too many leads of unusual amplitude.

    For every lead, the amplitude range (max − min, mV) and the RMS (mV) of each window are
    compared with that lead's ``[low_pct, high_pct]`` percentiles **over the given set of
    windows**. A lead is bad in a window when its range or its RMS falls outside those bounds
    (or is not finite); a window is an outlier when **more than** ``max_bad_leads`` of its leads
    are bad.

    Args:
        windows: ``[n_windows, n_leads, n_samples]`` in mV (NumPy array or torch tensor).
        low_pct, high_pct: percentile bounds in percent (0 ≤ low < high ≤ 100).
        max_bad_leads: number of bad leads a window may have and still be kept.
    Returns:
        Boolean ``[n_windows]``, same type as ``windows``; **True = outlier (reject)**.
    """
    windows = _check_array(windows, "windows", min_ndim=3)
    if len(windows.shape) != 3:
        raise InputError(
            f"windows has shape {tuple(windows.shape)}; expected [n_windows, n_leads, n_samples] "
            "(reshape batches to one set of windows)"
        )
    low_pct, high_pct = float(low_pct), float(high_pct)
    if not 0 <= low_pct < high_pct <= 100:
        raise InputError(
            f"percentiles must satisfy 0 <= low_pct < high_pct <= 100, got {low_pct:g}, {high_pct:g}"
        )
    max_bad_leads = _check_int(max_bad_leads, "max_bad_leads", minimum=0)
    data = _to_numpy64(windows)
    with np.errstate(invalid="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN leads: bounds are NaN -> bad
        feats = np.stack([np.ptp(data, axis=-1), np.sqrt(np.mean(data**2, axis=-1))])  # [2, W, L]
        feats[~np.isfinite(feats)] = np.nan
        lo = np.nanpercentile(feats, low_pct, axis=1, keepdims=True)
        hi = np.nanpercentile(feats, high_pct, axis=1, keepdims=True)
        bad = ~((feats >= lo) & (feats <= hi))  # NaN compares False -> bad
    n_bad = bad.any(axis=0).sum(axis=-1)
    return _bool_like(n_bad > max_bad_leads, windows)


# ---------------------------------------------------------------------------------------- ECG level
_bandpass_filter: Callable[..., Any] = bandpass


def preprocess_ecg(ecg: ECG, fs_out: float | None = None,
                   bandpass: tuple[float | None, float | None] | None = (0.5, 45.0),
                   baseline_window_s: float | None = 0.6) -> ECG:
    """Clean (and optionally resample) an :class:`~leadlift.ecg.ECG`; returns a new ECG.

    Steps, each skipped when its argument is None, all at the record's own ``ecg.fs`` first:

    1. baseline removal with a running median of ``baseline_window_s`` seconds
       (:func:`remove_baseline`);
    2. zero-phase Butterworth band-pass ``(low_hz, high_hz)`` in Hz (:func:`bandpass`; either
       bound may be None; a high cut-off at/above Nyquist means high-pass only);
    3. polyphase resampling to ``fs_out`` Hz (:func:`resample`).

    Returns:
        ``ecg.with_signal(...)``: same leads, ids and labels, float32 mV signal, ``fs`` =
        ``fs_out`` when resampled.
    """
    if not (hasattr(ecg, "signal") and hasattr(ecg, "fs") and hasattr(ecg, "with_signal")):
        raise InputError(
            f"preprocess_ecg expects an ECG record, got {type(ecg).__name__}; for arrays use "
            "remove_baseline/bandpass/resample with an explicit fs"
        )
    sig = ecg.signal.astype(np.float64)
    fs = float(ecg.fs)
    if baseline_window_s is not None:
        sig = remove_baseline(sig, fs, window_s=baseline_window_s)
    if bandpass is not None:
        if not isinstance(bandpass, (tuple, list)) or len(bandpass) != 2:
            raise InputError(f"bandpass={bandpass!r} must be a (low_hz, high_hz) pair in Hz, or None")
        sig = _bandpass_filter(sig, fs, low_hz=bandpass[0], high_hz=bandpass[1])
    new_fs = fs
    if fs_out is not None:
        new_fs = _check_rate(fs_out, "fs_out")
        sig = resample(sig, fs, new_fs)
    return ecg.with_signal(sig.astype(np.float32), fs=new_fs)
