"""ECG plots on standard ECG paper.

:func:`plot_ecg` draws each lead on its own row of ECG paper at the clinical scale: **25 mm/s**
horizontally and **10 mm/mV** vertically, on a grid of 1 mm minor squares (0.04 s × 0.1 mV,
light red) and 5 mm major squares (0.2 s × 0.5 mV, darker red). The figure is sized so that
these millimetres are real millimetres on the page (and ``dpi / 25.4`` pixels in the PNG).

Layout choice: **one row per lead**, in the order of ``ecg.leads``, all rows sharing the same
time axis. Unlike the classic 3×4 printout (which shows only 2.5 s of each lead) this works for
any set of leads and shows every lead over the whole plotted interval, which is what a "true vs
reconstructed" comparison needs.

The figures are plain :class:`matplotlib.figure.Figure` objects rendered with the Agg canvas:
no pyplot state, no GUI, works headless regardless of ``MPLBACKEND``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from leadlift.atomic import atomic_path
from leadlift.errors import InputError

if TYPE_CHECKING:
    from leadlift.ecg import ECG

__all__ = ["MM_PER_MV", "MM_PER_S", "lead_labels", "plot_ecg"]

MM_PER_S = 25.0
"""Paper speed: millimetres per second."""
MM_PER_MV = 10.0
"""Gain: millimetres per millivolt."""

MINOR_COLOR = "#f6c5c5"
MAJOR_COLOR = "#e07070"
TRACE_COLOR = "black"
REFERENCE_COLOR = "#1f77b4"

_MARGIN_MM = {"left": 8.0, "right": 8.0, "bottom": 8.0, "top": 14.0}
_MIN_ROW_MV = 2.0  # every row is at least 2 mV (20 mm) tall
_MAX_PIXELS = 30000  # Agg cannot render much larger images


def _row_values(ecg: ECG, start_s: float, end_s: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per lead: (time in s, samples in mV) restricted to [start_s, end_s)."""
    i0 = max(0, math.floor(start_s * ecg.fs + 1e-9))
    i1 = min(ecg.n_samples, math.ceil(end_s * ecg.fs - 1e-9))
    t = np.arange(i0, i1) / ecg.fs
    return {lead: (t, ecg.signal[k, i0:i1].astype(np.float64)) for k, lead in enumerate(ecg.leads)}


def _grid(ax: Axes, x0: float, x1: float, y0: float, y1: float, step_x: float, step_y: float,
          color: str, width: float, zorder: float) -> None:
    """Add grid lines every ``step`` (using integer multiples, so no drift) as one collection."""
    xs = np.arange(math.ceil(x0 / step_x - 1e-9), math.floor(x1 / step_x + 1e-9) + 1) * step_x
    ys = np.arange(math.ceil(y0 / step_y - 1e-9), math.floor(y1 / step_y + 1e-9) + 1) * step_y
    segments = [((x, y0), (x, y1)) for x in xs] + [((x0, y), (x1, y)) for y in ys]
    ax.add_collection(LineCollection(segments, colors=color, linewidths=width, zorder=zorder))


def _resolve_interval(ecg: ECG, seconds: float | tuple[float, float] | None) -> tuple[float, float]:
    duration = ecg.duration_s
    if seconds is None:
        return 0.0, duration
    if isinstance(seconds, (tuple, list)):
        if len(seconds) != 2:
            raise InputError(f"seconds={seconds!r} must be a duration or a (start_s, end_s) pair")
        start, end = float(seconds[0]), float(seconds[1])
    else:
        start, end = 0.0, float(seconds)
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
        raise InputError(f"seconds={seconds!r} must give 0 <= start < end (in seconds)")
    if start >= duration:
        raise InputError(f"seconds={seconds!r} starts after the end of the recording ({duration:.3g} s)")
    return start, min(end, duration)


def plot_ecg(
    ecg: ECG,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    reference: ECG | None = None,
    seconds: float | tuple[float, float] | None = None,
    *,
    label: str = "ECG",
    reference_label: str = "reference",
    dpi: float = 100.0,
) -> Figure:
    """Plot an ECG on standard ECG paper, one row per lead (see the module docstring).

    Each row is centred on the median of its lead (the isoelectric level) and is tall enough,
    in whole 0.5 mV major squares (at least 2 mV), for the widest lead. Lead names are written at
    the left of their row; the scale (25 mm/s, 10 mm/mV) is printed in the top margin.

    Args:
        ecg: the record to plot (``signal`` in mV, ``fs`` in Hz).
        path: if given, the figure is saved there as PNG (atomically: written to a temporary
            file in the same folder, then renamed over ``path``; missing folders are created).
        title: text above the plot (default: the record id, if any).
        reference: an optional second record drawn *underneath* in another colour, e.g. the true
            ECG under a reconstruction. Leads are matched by name (leads it lacks are simply not
            overlaid); it may have a different ``fs``. It is shifted by the same offset as
            ``ecg`` on each row, so a DC difference stays visible. A legend names both traces.
        seconds: plot only the first ``seconds`` seconds, or a ``(start_s, end_s)`` interval.
        label, reference_label: legend names of the two traces (e.g. ``"reconstructed"`` and
            ``"true"``); the legend is only drawn when a reference is given.
        dpi: resolution of the saved PNG in pixels per inch (the layout is in real millimetres).
    Returns:
        The :class:`~matplotlib.figure.Figure` (Agg canvas, not registered with pyplot, so it
        needs no closing and is freed with its last reference).
    Raises:
        InputError: for an empty/invalid interval, a reference sharing no lead with ``ecg``, a
            path that does not end in ``.png``, or a plot too long to render (pass ``seconds``).
    """
    if not (hasattr(ecg, "signal") and hasattr(ecg, "fs") and hasattr(ecg, "leads")):
        raise InputError(
            f"plot_ecg expects an ECG record, got {type(ecg).__name__}; "
            "wrap arrays with ECG.from_array(signal, fs=..., leads=...)"
        )
    dpi = float(dpi)
    if not math.isfinite(dpi) or dpi <= 0:
        raise InputError(f"dpi={dpi!r} must be a positive number of pixels per inch")
    start_s, end_s = _resolve_interval(ecg, seconds)
    rows = _row_values(ecg, start_s, end_s)
    ref_rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if reference is not None:
        if not hasattr(reference, "leads"):
            raise InputError(f"reference must be an ECG record, got {type(reference).__name__}")
        ref_rows = {k: v for k, v in _row_values(reference, start_s, end_s).items() if k in rows}
        if not ref_rows:
            raise InputError(
                f"reference has none of the plotted leads ({', '.join(ecg.leads)}); "
                f"it has {', '.join(reference.leads)}"
            )

    # vertical layout: row height in whole major squares (0.5 mV), at least _MIN_ROW_MV
    offsets: dict[str, float] = {}
    extent = 0.0
    for lead, (_, values) in rows.items():
        finite = values[np.isfinite(values)]
        centre = float(np.median(finite)) if finite.size else 0.0
        offsets[lead] = centre
        for series in (values, ref_rows.get(lead, (None, None))[1]):
            if series is not None and np.isfinite(series).any():
                extent = max(extent, float(np.nanmax(np.abs(series[np.isfinite(series)] - centre))))
    row_mv = max(_MIN_ROW_MV, math.ceil((2 * extent + 0.2) / 0.5) * 0.5)
    n_rows = len(rows)
    y_top, y_bottom = 0.0, -n_rows * row_mv

    # figure geometry in real millimetres
    width_mm = (end_s - start_s) * MM_PER_S
    height_mm = n_rows * row_mv * MM_PER_MV
    fig_w_mm = width_mm + _MARGIN_MM["left"] + _MARGIN_MM["right"]
    fig_h_mm = height_mm + _MARGIN_MM["bottom"] + _MARGIN_MM["top"]
    if max(fig_w_mm, fig_h_mm) / 25.4 * dpi > _MAX_PIXELS:
        raise InputError(
            f"a {end_s - start_s:.4g} s plot of {n_rows} leads at 25 mm/s would be "
            f"{fig_w_mm / 25.4 * dpi:.0f}×{fig_h_mm / 25.4 * dpi:.0f} px, too large to render; plot a shorter "
            "interval: pass seconds=10 (CLI: --seconds 10)"
        )
    fig = Figure(figsize=(fig_w_mm / 25.4, fig_h_mm / 25.4), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((
        _MARGIN_MM["left"] / fig_w_mm, _MARGIN_MM["bottom"] / fig_h_mm,
        width_mm / fig_w_mm, height_mm / fig_h_mm,
    ))
    ax.set_xlim(start_s, end_s)
    ax.set_ylim(y_bottom, y_top)
    # 1 mV is drawn MM_PER_MV mm tall and 1 s MM_PER_S mm wide; the axes box already has exactly
    # that size, so this aspect is a consistency check rather than a change
    ax.set_aspect(MM_PER_MV / MM_PER_S, adjustable="box")
    ax.set_axis_off()
    ax.set_facecolor("white")

    _grid(ax, start_s, end_s, y_bottom, y_top, 0.04, 0.1, MINOR_COLOR, 0.4, 0)
    _grid(ax, start_s, end_s, y_bottom, y_top, 0.2, 0.5, MAJOR_COLOR, 0.8, 0.5)

    for k, (lead, (t, values)) in enumerate(rows.items()):
        base = y_top - (k + 0.5) * row_mv
        centre = offsets[lead]
        if lead in ref_rows:
            rt, rv = ref_rows[lead]
            ax.plot(rt, rv - centre + base, color=REFERENCE_COLOR, linewidth=1.2, alpha=0.85, zorder=2)
        ax.plot(t, values - centre + base, color=TRACE_COLOR, linewidth=0.7, zorder=3)
        ax.text(start_s + 0.06, base + 0.35 * row_mv, lead, fontsize=9, fontweight="bold",
                va="center", ha="left", zorder=4, gid="lead-label",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})

    top_y = 1 - (_MARGIN_MM["top"] / 2) / fig_h_mm
    heading = title if title is not None else (ecg.record_id or "")
    if heading:
        fig.text(_MARGIN_MM["left"] / fig_w_mm, top_y, heading, fontsize=10, va="center", ha="left")
    fig.text(1 - _MARGIN_MM["right"] / fig_w_mm, _MARGIN_MM["bottom"] / 2 / fig_h_mm,
             f"{MM_PER_S:g} mm/s, {MM_PER_MV:g} mm/mV, {ecg.fs:g} Hz", fontsize=7,
             va="center", ha="right", color="#555555")
    if reference is not None:
        handles = [Line2D([], [], color=TRACE_COLOR, linewidth=1.0, label=label),
                   Line2D([], [], color=REFERENCE_COLOR, linewidth=1.5, label=reference_label)]
        fig.legend(handles=handles, loc="center right", ncols=2, fontsize=8, frameon=False,
                   bbox_to_anchor=(1 - _MARGIN_MM["right"] / fig_w_mm, top_y))

    if path is not None:
        _save_png_atomic(fig, Path(path), dpi)
    return fig


def _save_png_atomic(fig: Figure, path: Path, dpi: float) -> None:
    if path.suffix.lower() != ".png":
        raise InputError(f"plot path {str(path)!r} must end in .png (plots are saved as PNG)")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi, facecolor="white")


def lead_labels(fig: Figure) -> Sequence[str]:
    """The lead names written on a figure made by :func:`plot_ecg`, top to bottom."""
    return [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "lead-label"]
