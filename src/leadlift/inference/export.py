"""On-device export: ONE ONNX graph from raw mV at a fixed rate and duration to the 12-lead ECG in mV.

The exported graph is a copy of the Python path (:func:`leadlift.inference.pipeline.reconstruct_records`
with its defaults: measured leads kept, default hop) for one fixed input rate ``fs_in`` (Hz) and one
fixed duration (``n_in`` samples)::

    x [B, n_input_leads, n_in] mV @ fs_in
      → polyphase resampling to the model rate        (PolyphaseResample: a strided Conv, if fs_in != fs)
      → zero-phase Butterworth band-pass               (FiltFilt: sosfiltfilt as two long convolutions)
      → running-median baseline removal                (RunningMedian: reflect-padded slices + TopK)
      → end-aligned model windows                      (Windows: slices)
      → network (+ z-scoring, amplitude calibration)   (ReconCore / MAECore: the checkpoint's network)
      → Hann-weighted overlap-add                      (OverlapAdd: pads + sums)
      → resampling back to fs_in, measured leads passed through, exact limb leads
    y [B, 12, n_in] mV @ fs_in (standard lead order)

Every constant of the graph (filter coefficients, edge padding lengths, median kernel, window starts,
Hann weights, calibration ratios, lead plan) is computed by the same functions the Python path calls
(:mod:`leadlift.preprocessing`, :mod:`leadlift.inference.backends`), so the two paths share their
parameters; the torch modules below re-express the NumPy/SciPy operations as tensor operations that
the ONNX exporter understands, and the tests check the graph against the Python path on real records.

What the graph does not do (the Python path does): refuse a flat input lead, check units or NaNs,
accept another rate or duration. A device must feed exactly ``[B, n_input_leads, n_in]`` finite mV.

Nothing here imports Lightning or training code; :mod:`onnx`/:mod:`onnxruntime` are imported only
when exporting/quantizing/running (``pip install "leadlift[export]"``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from leadlift.ecg import ECG, LIMB_LEADS, STANDARD_LEADS, limb_rank, parse_leads, solve_limb_leads
from leadlift.errors import InputError, LeadliftError
from leadlift.inference.backends import Backend, MAEBackend, ReconBackend
from leadlift.preprocessing import (
    _baseline_kernel,
    _butter_sos,
    _poly_filter,
    _resampling_ratio,
    _sos_padlen,
    filtfilt_min_samples,
    hann_weights,
    window_index,
)

log = logging.getLogger("leadlift.inference")

__all__ = [
    "DEFAULT_DURATION_S",
    "EXPORT_FORMATS",
    "MAX_DURATION_S",
    "QUANTIZE_MODES",
    "ExportReport",
    "FiltFilt",
    "OverlapAdd",
    "PolyphaseResample",
    "RunningMedian",
    "Windows",
    "build_pipeline",
    "export_onnx",
    "onnx_session",
    "quantize_int8",
    "run_onnx",
]

EXPORT_FORMATS: tuple[str, ...] = ("onnx",)
"""Formats ``leadlift export --format`` writes."""

QUANTIZE_MODES: tuple[str, ...] = ("int8",)
"""Quantisations ``leadlift export --quantize`` applies (dynamic int8 weights of the network)."""

DEFAULT_DURATION_S = 10.0
"""Default fixed input duration of an exported graph (seconds)."""

MAX_DURATION_S = 60.0
"""Longest fixed input duration an exported graph accepts (seconds): the band-pass is a convolution
over the whole strip, so its cost grows with the square of the duration."""

OPSET = 17
"""ONNX opset of exported graphs (LayerNormalization needs 17)."""

INPUT_NAME = "ecg_mv"
OUTPUT_NAME = "twelve_lead_mv"

FILTER_TAIL_TOL = 1e-9
"""The band-pass impulse response is cut where the sum of its remaining |taps| falls below this
(a gain: at most 1e-9 × the signal's amplitude in mV is lost)."""

NET_SCOPE = "core"
"""Name of the network's submodule in the pipeline: ONNX nodes under ``/core/`` are the network (the
only ones int8 quantisation touches; preprocessing and stitching stay float32)."""


# ============================================================================ preprocessing as tensor ops
class PolyphaseResample(nn.Module):
    """:func:`leadlift.preprocessing.resample` (``scipy.signal.resample_poly``, ``padtype="line"``) for
    a fixed input length, as a strided convolution.

    The input is extended on both sides along the line through its first and last samples (what
    ``padtype="line"`` does), zero-stuffed by ``up`` and filtered by the same Kaiser FIR
    (:func:`~leadlift.preprocessing._poly_filter`) with stride ``down``.

    Args:
        n_in: input samples; fs_in, fs_out: rates in Hz.
    Input ``[..., n_in]`` mV → ``[..., n_out]`` mV with ``n_out = round(n_in · fs_out / fs_in)``.
    """

    def __init__(self, n_in: int, fs_in: float, fs_out: float) -> None:
        super().__init__()
        up, down = _resampling_ratio(fs_in, fs_out)
        g = math.gcd(up, down)
        up, down = up // g, down // g
        h = np.asarray(_poly_filter(up, down), dtype=np.float64) * up
        half_len = (len(h) - 1) // 2
        n_pre_pad = down - half_len % down
        pre_remove = (half_len + n_pre_pad) // down
        hh = np.concatenate([np.zeros(n_pre_pad), h])
        k = len(hh)
        n_sp = n_in * up // down + bool(n_in * up % down)  # scipy's output length
        self.n_in, self.up, self.down = int(n_in), up, down
        self.n_out = max(1, math.floor(n_in * fs_out / fs_in + 0.5))
        self.n_conv = min(self.n_out, n_sp)
        self.ext = math.ceil(k / up) + down + 1  # line-extension samples on each side
        self.start = pre_remove * down + self.ext * up - (k - 1)
        if self.start < 0 or self.start + (self.n_conv - 1) * down + k > (n_in + 2 * self.ext) * up:
            raise InputError(f"cannot resample {n_in} samples from {fs_in:g} Hz to {fs_out:g} Hz in the graph")
        self.register_buffer("kernel", torch.tensor(hh[::-1].copy(), dtype=torch.float32).view(1, 1, k))
        steps = np.arange(1, self.ext + 1, dtype=np.float64)
        self.register_buffer("left_steps", torch.tensor(steps[::-1].copy(), dtype=torch.float32))
        self.register_buffer("right_steps", torch.tensor(steps, dtype=torch.float32))

    def forward(self, x: Tensor) -> Tensor:
        lead_shape = x.shape[:-1]
        n = self.n_in
        x = x.reshape(-1, 1, n)
        first, last = x[..., :1], x[..., n - 1:]
        slope = (last - first) / (n - 1)
        ext = torch.cat([first - slope * self.left_steps, x, last + slope * self.right_steps], dim=-1)
        if self.up > 1:  # zero-stuffing: [.., N] → [.., N, up] → [.., N·up]
            ext = F.pad(ext.unsqueeze(-1), (0, self.up - 1)).reshape(ext.shape[0], 1, -1)
        k = self.kernel.shape[-1]
        seg = ext[..., self.start:self.start + (self.n_conv - 1) * self.down + k]
        y = F.conv1d(seg, self.kernel, stride=self.down)
        if self.n_conv < self.n_out:  # only when up/down approximates the ratio: repeat the last sample
            y = torch.cat([y, y[..., -1:].expand(-1, -1, self.n_out - self.n_conv)], dim=-1)
        return y.reshape(*lead_shape, self.n_out)


class FiltFilt(nn.Module):
    """:func:`leadlift.preprocessing.bandpass` (``scipy.signal.sosfiltfilt`` of a Butterworth SOS with odd
    edge padding) for a fixed length, as two long convolutions.

    ``sosfiltfilt`` is linear: extend by odd reflection (``padlen`` samples per side), filter forwards
    from the steady state of the first sample, filter backwards from the steady state of the last
    sample, crop. Each pass is the causal (resp. anti-causal) convolution with the filter's impulse
    response ``h`` plus the first (last) sample times the response ``g`` to the steady-state initial
    conditions: exact, since ``h`` is taken as long as the padded signal (or until its remaining
    taps sum to less than :data:`FILTER_TAIL_TOL`). The signal's first sample is subtracted first
    (the band-pass maps a constant to zero), which keeps float32 rounding independent of the offset.

    Input ``[..., n]`` mV → ``[..., n]`` mV.
    """

    def __init__(self, n: int, fs: float, low_hz: float | None, high_hz: float | None, order: int) -> None:
        super().__init__()
        from scipy import signal

        sos = _butter_sos(fs, low_hz, high_hz, order)
        p = _sos_padlen(sos)
        if n <= p:
            raise InputError(f"the strip is too short for the model's band-pass: it needs at least "
                             f"{(p + 1) / fs:.3g} s; pass a longer --duration")
        big_n = n + 2 * p
        impulse = np.zeros(big_n)
        impulse[0] = 1.0
        h = signal.sosfilt(sos, impulse)
        tail = np.cumsum(np.abs(h)[::-1])[::-1]  # tail[k] = Σ_{j≥k} |h_j|
        k = int(min(big_n, max(1, np.argmax(tail < FILTER_TAIL_TOL) if (tail < FILTER_TAIL_TOL).any() else big_n)))
        g = signal.sosfilt(sos, np.zeros(big_n), zi=signal.sosfilt_zi(sos))[0]
        self.n, self.pad, self.taps = int(n), int(p), k
        self.register_buffer("h_causal", torch.tensor(h[:k][::-1].copy(), dtype=torch.float32).view(1, 1, k))
        self.register_buffer("h_anti", torch.tensor(h[:k].copy(), dtype=torch.float32).view(1, 1, k))
        self.register_buffer("g", torch.tensor(g, dtype=torch.float32))
        self.register_buffer("g_back", torch.tensor(g[::-1][p:p + n].copy(), dtype=torch.float32))
        self.register_buffer("left", torch.arange(p, 0, -1))  # x[p], ..., x[1]
        self.register_buffer("right", torch.arange(n - 2, n - p - 2, -1))  # x[n-2], ..., x[n-p-1]

    def forward(self, x: Tensor) -> Tensor:
        lead_shape = x.shape[:-1]
        n, p, k = self.n, self.pad, self.taps
        x = x.reshape(-1, 1, n)
        x = x - x[..., :1]  # the band-pass maps a constant to 0: filter the deviations only
        first, last = x[..., :1], x[..., n - 1:]
        ext = torch.cat([2 * first - x.index_select(-1, self.left), x,
                         2 * last - x.index_select(-1, self.right)], dim=-1)  # [M, 1, n + 2p]
        fwd = F.conv1d(F.pad(ext, (k - 1, 0)), self.h_causal) + ext[..., :1] * self.g
        # backward pass (time-reversed causal filter = anti-causal), only at the kept samples p..p+n-1
        seg = F.pad(fwd, (0, k - 1))[..., p:p + n + k - 1]
        out = F.conv1d(seg, self.h_anti) + fwd[..., -1:] * self.g_back
        return out.reshape(*lead_shape, n)


class RunningMedian(nn.Module):
    """:func:`leadlift.preprocessing.remove_baseline` (``scipy.ndimage.median_filter``, ``mode="reflect"``)
    for a fixed length: ``x`` minus its running median over ``kernel`` samples.

    The signal is padded by half-sample-symmetric reflection (SciPy's ``reflect``), the ``kernel``
    shifted copies are stacked and the median is the ``kernel // 2 + 1``-th smallest (ONNX TopK).

    Input ``[..., n]`` mV → ``[..., n]`` mV.
    """

    def __init__(self, n: int, kernel: int) -> None:
        super().__init__()
        r = kernel // 2
        if n <= r:
            raise InputError(f"the strip ({n} samples) is shorter than half the baseline window ({r} samples); "
                             "pass a longer --duration")
        self.n, self.kernel = int(n), int(kernel)
        self.register_buffer("left", torch.arange(r - 1, -1, -1))  # x[r-1], ..., x[0]
        self.register_buffer("right", torch.arange(n - 1, n - r - 1, -1))  # x[n-1], ..., x[n-r]

    def forward(self, x: Tensor) -> Tensor:
        n, kernel = self.n, self.kernel
        padded = torch.cat([x.index_select(-1, self.left), x, x.index_select(-1, self.right)], dim=-1)
        shifted = torch.stack([padded[..., j:j + n] for j in range(kernel)], dim=-1)  # [..., n, kernel]
        median = torch.topk(shifted, kernel // 2 + 1, dim=-1, largest=False, sorted=True).values[..., -1]
        return x - median


class Windows(nn.Module):
    """Model windows of a fixed-length signal, as :func:`leadlift.preprocessing.window_index` cuts them
    (hop ``hop``, last window aligned to the end; a signal shorter than a window repeated to fill it).

    Input ``[B, L, n]`` → ``[B·n_windows, L, window]`` (windows of one recording consecutive).
    """

    def __init__(self, n: int, window: int, hop: int) -> None:
        super().__init__()
        self.index = window_index(n, window, hop)
        self.n, self.window = int(n), int(window)
        self.starts = [int(s) for s in self.index[:, 0]] if n > window else [0]
        self.n_windows = len(self.index)

    def forward(self, x: Tensor) -> Tensor:
        b, n_leads = x.shape[0], x.shape[1]
        w = self.window
        if self.n <= w:
            reps = math.ceil(w / self.n)
            return x.repeat(1, 1, reps)[..., :w]
        stacked = torch.stack([x[..., s:s + w] for s in self.starts], dim=1)  # [B, N, L, W]
        return stacked.reshape(b * self.n_windows, n_leads, w)


class OverlapAdd(nn.Module):
    """Weighted overlap-add of model windows (:func:`leadlift.preprocessing.overlap_add` with Hann
    weights, as the Python path stitches them).

    Input ``[B·n_windows, C, window]`` → ``[B, C, n]``.
    """

    def __init__(self, windows: Windows, weight: np.ndarray) -> None:
        super().__init__()
        self.n, self.window, self.starts = windows.n, windows.window, windows.starts
        self.n_windows = windows.n_windows
        flat = windows.index.reshape(-1)
        wsum = np.bincount(flat, weights=np.broadcast_to(weight, windows.index.shape).reshape(-1),
                           minlength=self.n)
        self.register_buffer("weight", torch.tensor(weight, dtype=torch.float32))
        self.register_buffer("wsum", torch.tensor(wsum, dtype=torch.float32))

    def forward(self, y: Tensor) -> Tensor:
        c, w, n = y.shape[1], self.window, self.n
        y = (y * self.weight).reshape(-1, self.n_windows, c, w)
        if n <= w:  # one window wrapping around a short signal: fold it onto n samples
            reps = math.ceil(w / n)
            folded = F.pad(y[:, 0], (0, reps * n - w)).reshape(-1, c, reps, n).sum(dim=2)
            return folded / self.wsum
        acc = F.pad(y[:, 0], (self.starts[0], n - self.starts[0] - w))
        for i, s in enumerate(self.starts[1:], start=1):
            acc = acc + F.pad(y[:, i], (s, n - s - w))
        return acc / self.wsum


# ============================================================================ the networks with their scaling
class ReconCore(nn.Module):
    """:meth:`ReconBackend.reconstruct_windows`: filtered mV windows ``[M, n_inputs, W]`` (model lead
    order) → the ``targets`` rows ``[M, len(targets), W]`` mV (network + lead plan)."""

    def __init__(self, backend: ReconBackend, targets: tuple[str, ...]) -> None:
        super().__init__()
        self.net = backend.net
        self.plan = backend.plan
        self.register_buffer("rows", torch.tensor([STANDARD_LEADS.index(t) for t in targets]))

    def forward(self, x: Tensor) -> Tensor:
        full = self.plan.assemble(x, self.net(x))  # [M, 12, W]
        return full.index_select(1, self.rows)


class MAECore(nn.Module):
    """:meth:`MAEBackend.reconstruct_windows`: mV windows ``[M, L, W]`` → ``[M, len(targets), W]`` mV
    (per-lead z-score, aligned cross-reconstruction, amplitude calibration)."""

    def __init__(self, backend: MAEBackend, leads: tuple[str, ...], targets: tuple[str, ...]) -> None:
        super().__init__()
        self.net = backend.model
        self.leads, self.targets = leads, targets
        self.eps, self.n_views = float(backend.eps), int(backend.n_views)
        ratio, mean = backend.calibration(leads, targets)
        self.register_buffer("ratio", torch.tensor(np.asarray(ratio), dtype=torch.float32).view(1, -1, 1))
        self.register_buffer("mean", torch.tensor(np.asarray(mean), dtype=torch.float32).view(1, -1, 1))

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, correction=0, keepdim=True)
        z = torch.where(std < self.eps, torch.zeros_like(x), (x - mean) / (std + self.eps))
        pred = self.net.cross_reconstruct(z, self.leads, self.targets, n_views=self.n_views)
        ref = std.mean(dim=1, keepdim=True)  # [M, 1, 1] mean std of the input leads (mV)
        return pred * ref * self.ratio + self.mean


# ============================================================================ the whole path
class ExportPipeline(nn.Module):
    """Raw mV ``[B, n_input_leads, n_in]`` at ``fs_in`` → 12 leads ``[B, 12, n_in]`` mV at ``fs_in``:
    :func:`leadlift.inference.pipeline.reconstruct_records` (``keep_inputs=True``, the backend's hop)
    for one fixed rate and length. Build it with :func:`build_pipeline`."""

    def __init__(self, backend: Backend, leads: tuple[str, ...], fs_in: float, n_in: int) -> None:
        super().__init__()
        self.leads, self.fs_in, self.n_in = leads, float(fs_in), int(n_in)
        self.fs, self.model_leads = float(backend.fs), tuple(backend.leads if backend.kind == "recon" else leads)
        derive = limb_rank(leads) >= 2  # as the Python path: two measured limb leads fix the other four
        skip = set(leads) | ({n for n in LIMB_LEADS if n not in leads} if derive else set())
        self.targets = tuple(n for n in STANDARD_LEADS if n not in skip)
        self.derive = derive
        self.derived_in_output = () if derive else tuple(backend.derived_leads(tuple(leads)))
        n_model = self.n_in if fs_in == backend.fs else max(1, math.floor(n_in * backend.fs / fs_in + 0.5))
        self.n_model = n_model
        order = [leads.index(n) for n in self.model_leads]
        self.register_buffer("order", torch.tensor(order))
        self.reorder = order != list(range(len(leads)))
        self.to_model = PolyphaseResample(n_in, fs_in, backend.fs) if fs_in != backend.fs else None
        self.bandpass: FiltFilt | None = None
        self.baseline: RunningMedian | None = None
        if isinstance(backend, ReconBackend):
            if backend.band:
                low, high = backend.band
                need = filtfilt_min_samples(backend.fs, low, high, backend.order)
                if n_model < need:
                    raise InputError(f"--duration is too short for this model's filter: it needs at least "
                                     f"{need / backend.fs:.2g} s")
                self.bandpass = FiltFilt(n_model, backend.fs, low, high, backend.order)
            if backend.baseline_s:
                self.baseline = RunningMedian(n_model, _baseline_kernel(backend.fs, float(backend.baseline_s)))
            self.core: nn.Module = ReconCore(backend, self.targets)
        else:
            assert isinstance(backend, MAEBackend)
            self.core = MAECore(backend, leads, self.targets)
        self.windows = Windows(n_model, backend.window, backend.hop)
        self.stitch = OverlapAdd(self.windows, hann_weights(backend.window))
        self.from_model = PolyphaseResample(n_model, backend.fs, fs_in) if fs_in != backend.fs else None

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``[B, n_input_leads, n_in]`` mV (rows in ``self.leads`` order) → ``[B, 12, n_in]`` mV."""
        b = x.shape[0]
        s = x.index_select(1, self.order) if self.reorder else x
        if self.to_model is not None:
            s = self.to_model(s)
        if self.bandpass is not None:
            s = self.bandpass(s)
        if self.baseline is not None:
            s = self.baseline(s)
        rows: dict[str, Tensor] = {}
        if self.targets:
            y = self.core(self.windows(s))  # [B·N, T, W]
            back = self.stitch(y)  # [B, T, n_model]
            if self.from_model is not None:
                back = self.from_model(back)
                if back.shape[-1] < self.n_in:  # _fit_length: repeat the last sample
                    back = torch.cat([back, back[..., -1:].expand(-1, -1, self.n_in - back.shape[-1])], dim=-1)
                back = back[..., :self.n_in]
            rows.update({t: back[:, i] for i, t in enumerate(self.targets)})
        rows.update({name: x[:, i] for i, name in enumerate(self.leads)})  # measured leads as they came
        if self.derive:
            solved = solve_limb_leads({n: rows[n] for n in self.leads if n in LIMB_LEADS})
            rows.update({n: solved[n] for n in LIMB_LEADS if n not in self.leads})
        elif self.derived_in_output:
            solved = solve_limb_leads({n: rows[n] for n in LIMB_LEADS if n in rows and n not in self.derived_in_output})
            rows.update({n: solved[n] for n in self.derived_in_output})
        return torch.stack([rows[n] for n in STANDARD_LEADS], dim=1).reshape(b, len(STANDARD_LEADS), self.n_in)


def _samples(fs_in: float, duration_s: float) -> int:
    n = fs_in * duration_s
    if abs(n - round(n)) > 1e-6 * max(1.0, n):
        raise InputError(f"--duration {duration_s:g} s at --fs-in {fs_in:g} Hz is {n:g} samples, not a whole "
                         "number; pick a duration that is")
    return round(n)


def _check_options(backend: Backend, fs_in: float | None, duration_s: float | None,
                   leads: Sequence[str] | str | None) -> tuple[float, float, int, tuple[str, ...]]:
    from leadlift.conventions import MIN_FS_HZ

    fs = float(backend.fs) if fs_in is None else fs_in
    if not isinstance(fs, (int, float)) or not math.isfinite(fs) or fs < MIN_FS_HZ:
        raise InputError(f"--fs-in {fs_in}: pass a sampling rate of at least {MIN_FS_HZ:g} Hz, e.g. --fs-in 500")
    dur = DEFAULT_DURATION_S if duration_s is None else duration_s
    if not isinstance(dur, (int, float)) or not math.isfinite(dur) or not 0 < dur <= MAX_DURATION_S:
        raise InputError(f"--duration {duration_s}: pass a number of seconds in (0, {MAX_DURATION_S:g}], e.g. 10")
    n_in = _samples(float(fs), float(dur))
    if n_in < ECG.MIN_DURATION_S * fs:
        raise InputError(f"--duration {dur:g} s is too short; the Python path needs at least {ECG.MIN_DURATION_S:g} s")
    if leads is None:
        names = tuple(backend.leads) if backend.kind == "recon" else ("I",)
    else:
        names = parse_leads(leads if isinstance(leads, str) else list(leads))
    # the Python path's own checks (lead set, calibration), on a placeholder recording
    probe = ECG(np.zeros((len(names), max(n_in, 1)), dtype=np.float32), float(fs), names, check_units=False)
    backend.inputs(probe, "reconstruct", leads is not None)
    return float(fs), float(dur), n_in, tuple(names)


def build_pipeline(backend: Backend, fs_in: float | None = None, duration_s: float | None = None,
                   leads: Sequence[str] | str | None = None) -> ExportPipeline:
    """The export graph of a loaded backend as a torch module (eval mode, float32; the backend's
    network is moved to the CPU).

    Args:
        backend: a loaded backend (:func:`leadlift.inference.backends.load_backend`).
        fs_in: the fixed input rate in Hz (default: the model's rate).
        duration_s: the fixed input duration in seconds (default :data:`DEFAULT_DURATION_S`).
        leads: the input leads, in the order of the graph input's rows (default: a reconstructor's own
            inputs; lead I for an aligned MAE).
    Raises:
        InputError: leads the model cannot take, an MAE without calibration, a rate below
            :data:`leadlift.conventions.MIN_FS_HZ`, a duration that is not a whole number of samples or too short
            for the model's filter.
    """
    fs, _, n_in, names = _check_options(backend, fs_in, duration_s, leads)
    backend.to("cpu")
    return ExportPipeline(backend, names, fs, n_in).eval()


# ============================================================================ ONNX
def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{module} is not installed; install the export extra: python -m pip install "
                         "\"leadlift[export]\" (or pip install onnx onnxruntime)") from None


@dataclass
class ExportReport:
    """What :func:`export_onnx` wrote.

    Attributes:
        path: the ONNX file; size_bytes: its size.
        model: how the model was asked for; kind: ``"mae"`` or ``"recon"``.
        leads: input leads (rows of the input); fs_in: input rate (Hz); n_samples: input (and output)
            samples; duration_s: ``n_samples / fs_in``.
        input_shape, output_shape: ``["B", n_leads, n_samples]`` and ``["B", 12, n_samples]``.
        quantize: ``"int8"`` or None.
        check: max |Δ| (mV) of this graph vs the Python path on a synthetic test strip, per variant
            (``"fp32"``, and ``"int8"`` for a quantised graph); empty when not checked.
    """

    path: Path
    size_bytes: int
    model: str
    kind: str
    leads: tuple[str, ...]
    fs_in: float
    n_samples: int
    duration_s: float
    input_shape: list[Any]
    output_shape: list[Any]
    quantize: str | None = None
    check: dict[str, float] = field(default_factory=dict)


def _metadata(pipe: ExportPipeline, backend: Backend, model: str, quantize: str | None) -> dict[str, str]:
    import leadlift

    return {
        "leadlift_version": leadlift.__version__,
        "model": model,
        "model_kind": backend.kind,
        "weights_sha256": str(backend.config.weights_sha256 or ""),
        "input": f"{INPUT_NAME} [B, {len(pipe.leads)}, {pipe.n_in}] float32 mV, leads {','.join(pipe.leads)}",
        "output": f"{OUTPUT_NAME} [B, 12, {pipe.n_in}] float32 mV, leads {','.join(STANDARD_LEADS)}",
        "input_leads": ",".join(pipe.leads),
        "output_leads": ",".join(STANDARD_LEADS),
        "fs_hz": f"{pipe.fs_in:g}",
        "n_samples": str(pipe.n_in),
        "duration_s": f"{pipe.n_in / pipe.fs_in:g}",
        "model_fs_hz": f"{pipe.fs:g}",
        "units": "mV",
        "quantize": quantize or "none",
    }


def _torch_export(pipe: ExportPipeline, path: Path) -> None:
    x = torch.zeros(2, len(pipe.leads), pipe.n_in)
    buf = io.StringIO()
    with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(buf):
        warnings.simplefilter("ignore")
        torch.onnx.export(pipe, (x,), str(path), dynamo=False, opset_version=OPSET, input_names=[INPUT_NAME],
                          output_names=[OUTPUT_NAME], dynamic_axes={INPUT_NAME: {0: "B"}, OUTPUT_NAME: {0: "B"}},
                          do_constant_folding=True)


def compact_graph(model: Any) -> Any:
    """Short tensor names and no ``value_info`` (shape annotations the runtime re-infers): the
    exporter's long tensor names are a large share of a small reconstructor's file, more than its
    int8 weights. Node names (their ``/scope/`` says which stage a node belongs to) and the graph's
    input and output names are kept. Modifies and returns ``model``."""
    g = model.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output} | {""}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if name in keep:
            return name
        return names.setdefault(name, f"t{len(names):x}")

    for t in g.initializer:
        t.name = short(t.name)
    for node in g.node:
        node.doc_string = ""
        for j, name in enumerate(node.input):
            node.input[j] = short(name)
        for j, name in enumerate(node.output):
            node.output[j] = short(name)
    del g.value_info[:]
    return model


def optimize_graph(path: str | os.PathLike[str]) -> None:
    """Rewrite an ONNX file in place with onnxruntime's *basic* graph optimisations (constant
    folding, redundant-node elimination; standard ONNX operators only, so the graph stays portable).
    It folds the exporter's shape arithmetic: a reconstructor's graph goes from ~1,200 to ~460 nodes."""
    ort = _require("onnxruntime")
    path = Path(path)
    out = path.with_name(path.name + ".opt")
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(out)
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    os.replace(out, path)


def quantize_int8(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Dynamic int8 quantisation (``onnxruntime.quantization.quantize_dynamic``) of the network's
    MatMul/Gemm/Conv weights; the preprocessing, stitching and calibration nodes (outside ``/core/``)
    and their long filters stay float32."""
    onnx = _require("onnx")
    quant = _require("onnxruntime.quantization")
    model = onnx.load(str(src))
    keep_float = [n.name for n in model.graph.node if not n.name.startswith(f"/{NET_SCOPE}/")]
    root = logging.getLogger()
    quiet = logging.NullHandler()  # the quantiser logs advice through logging.warning: keep the root logger
    root.addHandler(quiet)  # configured as it was (no basicConfig) and silent meanwhile
    was_disabled, root.disabled = root.disabled, True
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            quant.quantize_dynamic(str(src), str(dst), weight_type=quant.QuantType.QInt8,
                                   op_types_to_quantize=["MatMul", "Gemm", "Conv"], nodes_to_exclude=keep_float,
                                   extra_options={"MatMulConstBOnly": True})
    finally:
        root.disabled = was_disabled
        root.removeHandler(quiet)


def onnx_session(path: str | os.PathLike[str], threads: int = 1) -> Any:
    """An onnxruntime CPU session for an exported graph (``threads`` intra-op threads)."""
    ort = _require("onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def run_onnx(session: Any, x: np.ndarray) -> np.ndarray:
    """Run an exported graph: ``x`` ``[B, n_input_leads, n_samples]`` (or one strip without B) mV →
    ``[B, 12, n_samples]`` (or ``[12, n_samples]``) float32 mV."""
    arr = np.asarray(x, dtype=np.float32)
    one = arr.ndim == 2
    out = session.run([OUTPUT_NAME], {INPUT_NAME: arr[None] if one else arr})[0]
    return out[0] if one else out


def synthetic_strip(n_leads: int, n: int, fs: float, seed: int = 0) -> np.ndarray:
    """A deterministic ECG-like test strip ``[n_leads, n]`` mV (Gaussian P-QRS-T beats at ~70 bpm,
    baseline wander, noise): what :func:`export_onnx` checks an exported graph on when no recording
    is given. Real-record parity is in the tests and ``benchmarks/export_latency.py``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    out = np.zeros((n_leads, n))
    for lead in range(n_leads):
        gain = 0.6 + 0.4 * rng.random()
        sig = 0.15 * np.sin(2 * np.pi * 0.2 * t + rng.random() * 6)
        for beat in np.arange(0.3, t[-1] + 1, 0.86):
            for off, amp, width in ((-0.2, 0.12, 0.025), (0.0, 1.0, 0.01), (-0.02, -0.15, 0.008),
                                    (0.25, 0.3, 0.04)):
                sig = sig + gain * amp * np.exp(-0.5 * ((t - beat - off) / width) ** 2)
        out[lead] = sig + 0.01 * rng.standard_normal(n)
    return out.astype(np.float32)


def export_onnx(model: str | os.PathLike[str], out: str | os.PathLike[str], *, fs_in: float | None = None,
                duration_s: float | None = None, leads: Sequence[str] | str | None = None,
                quantize: str | None = None, check: bool = True, verify: bool = True) -> ExportReport:
    """Export a model's whole reconstruction path (preprocessing, network, stitching, calibration) as one
    ONNX graph: raw mV ``[B, n_leads, fs_in · duration_s]`` in, 12 leads ``[B, 12, same]`` mV out.

    Args:
        model: a bundled name (``recon-i``, ``recon-i-ii-v2``, ``mae-cpu``), a checkpoint folder or org/name.
        out: the ONNX file to write (atomically).
        fs_in: fixed input rate in Hz (default: the model's rate).
        duration_s: fixed input duration in seconds (default 10).
        leads: input leads in row order (default: a reconstructor's own; ``I`` for an MAE).
        quantize: None or ``"int8"`` (dynamic int8 weights of the network).
        check: run the written graph with onnxruntime on :func:`synthetic_strip` and record its max |Δ|
            (mV) against the Python path (for int8 also the float32 graph's).
        verify: check the checkpoint's weights checksum.
    Returns:
        An :class:`ExportReport`.
    Raises:
        InputError: unknown format/quantisation, options the model cannot take, onnx not installed.
    """
    from leadlift.atomic import atomic_path, temp_sibling
    from leadlift.inference.backends import load_backend
    from leadlift.inference.hub import resolve_model
    from leadlift.inference.pipeline import reconstruct_records

    if quantize is not None and quantize not in QUANTIZE_MODES:
        raise InputError(f"--quantize {quantize!r} is not supported; use {', '.join(QUANTIZE_MODES)} (or leave it "
                         "out for float32)")
    onnx = _require("onnx")
    if check:
        _require("onnxruntime")
    folder, source = resolve_model(model)
    backend = load_backend(folder, str(model), verify=verify, require_checksum=verify and source != "local")
    if backend.config.model.class_name == "AnySubsetNet":
        raise InputError(f"ONNX export of the any-subset reconstructor {model} (mask input, spread output) is not "
                         "supported yet; export a fixed-input reconstructor such as recon-i or recon-i-ii-v2")
    pipe = build_pipeline(backend, fs_in, duration_s, leads)
    out = Path(out)
    report_check: dict[str, float] = {}
    with atomic_path(out) as tmp:
        fp32 = temp_sibling(out, ".fp32.onnx") if quantize else tmp
        try:
            _torch_export(pipe, fp32)
            meta = _metadata(pipe, backend, str(model), quantize)
            graph = onnx.load(str(fp32))
            onnx.helper.set_model_props(graph, meta)
            graph.doc_string = (f"leadlift {backend.kind} model {model}: {meta['input']} at {meta['fs_hz']} Hz "
                                f"-> {meta['output']}")
            onnx.save(compact_graph(graph), str(fp32))
            optimize_graph(fp32)
            if quantize:
                quantize_int8(fp32, tmp)
                graph = onnx.load(str(tmp))
                onnx.helper.set_model_props(graph, meta)
                onnx.save(compact_graph(graph), str(tmp))
                optimize_graph(tmp)
            if check:
                strip = synthetic_strip(len(pipe.leads), pipe.n_in, pipe.fs_in)
                ecg = ECG(strip, pipe.fs_in, pipe.leads, check_units=False)
                ref = reconstruct_records(backend, [ecg], backend.hop, refuse_flat=False,
                                          explicit=leads is not None)[0].signal
                variants = {"fp32": fp32} if not quantize else {"fp32": fp32, "int8": tmp}
                for name, path in variants.items():
                    got = run_onnx(onnx_session(path), strip)
                    report_check[name] = float(np.abs(got - ref).max())
        except LeadliftError:
            raise
        except (RuntimeError, ValueError, TypeError) as exc:  # exporter/quantiser refusing the network
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{model}: its network could not be exported to ONNX ({first})") from None
        finally:
            if quantize:
                with contextlib.suppress(FileNotFoundError):
                    fp32.unlink()
    return ExportReport(
        path=out, size_bytes=out.stat().st_size, model=str(model), kind=backend.kind, leads=pipe.leads,
        fs_in=pipe.fs_in, n_samples=pipe.n_in, duration_s=pipe.n_in / pipe.fs_in,
        input_shape=["B", len(pipe.leads), pipe.n_in], output_shape=["B", len(STANDARD_LEADS), pipe.n_in],
        quantize=quantize, check=report_check,
    )
