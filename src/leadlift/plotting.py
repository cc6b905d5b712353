"""ECG plots on standard ECG paper.

:func:`plot_ecg` draws each lead on its own row of ECG paper at the clinical scale: **25 mm/s**
horizontally and **10 mm/mV** vertically, on a grid of 1 mm minor squares (0.04 s × 0.1 mV,
light red) and 5 mm major squares (0.2 s × 0.5 mV, darker red). The figure is sized so that
these millimetres are real millimetres on the page (and ``dpi / 25.4`` pixels in the PNG).

Layout choice: **one row per lead**, in the order of ``ecg.leads``, all rows sharing the same
time axis. Unlike the classic 3×4 printout (which shows only 2.5 s of each lead) this works for
any set of leads and shows every lead over the whole plotted interval, which is what a "true vs
reconstructed" comparison needs.

**Marked reconstructions.** Leads that ``ecg.labels["synthesized"]`` marks as produced by a
model are drawn in :data:`SYNTHESIZED_COLOR` and labelled with a ``*`` (``V1*``); a legend says
"measured" vs "synthesized (model NAME)". When the ECG has a ``spread`` (predictive sd, mV), the
predictive interval ``signal ± z·spread`` (90 % unless the labels store another level) is shaded
around the synthesized leads.

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
from matplotlib.patches import Patch

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
SYNTHESIZED_COLOR = "#6a3d9a"
"""Trace colour of synthesized leads (purple: apart from the red grid and the blue reference)."""
BAND_ALPHA = 0.25
"""Opacity of the shaded predictive interval around synthesized leads."""
SYNTHESIZED_MARK = "*"
"""Appended to the row label of a synthesized lead (``V1*``)."""

_MARGIN_MM = {"left": 8.0, "right": 8.0, "bottom": 8.0, "top": 14.0}
_TITLE_ROW_MM = _MARGIN_MM["top"] / 2  # the title's line, from the top edge
_LEGEND_ROW_MM = 4.5  # height of one legend row below the title
_MIN_ROW_MV = 2.0  # every row is at least 2 mV (20 mm) tall
_MAX_PIXELS = 30000  # Agg cannot render much larger images


def _row_values(ecg: ECG, start_s: float, end_s: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per lead: (time in s, samples in mV) restricted to [start_s, end_s)."""
    i0 = max(0, math.floor(start_s * ecg.fs + 1e-9))
    i1 = min(ecg.n_samples, math.ceil(end_s * ecg.fs - 1e-9))
    t = np.arange(i0, i1) / ecg.fs
    return {lead: (t, ecg.signal[k, i0:i1].astype(np.float64)) for k, lead in enumerate(ecg.leads)}


def _band_rows(ecg: ECG, synthesized: set[str], start_s: float,
               end_s: float) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float]:
    """Per synthesized lead with a non-zero spread: (low, high) of its predictive interval in mV over
    [start_s, end_s), and the interval's level (0.9 unless the labels store another)."""
    spread = getattr(ecg, "spread", None)
    if spread is None or not synthesized:
        return {}, 0.9
    stored = ecg.labels.get("interval") if isinstance(getattr(ecg, "labels", None), dict) else None
    level = float(stored.get("level", 0.9)) if isinstance(stored, dict) and "z" in stored else 0.9
    low, high = ecg.interval(level)
    i0 = max(0, math.floor(start_s * ecg.fs + 1e-9))
    i1 = min(ecg.n_samples, math.ceil(end_s * ecg.fs - 1e-9))
    bands = {}
    for k, lead in enumerate(ecg.leads):
        if lead in synthesized and np.any(spread[k, i0:i1] > 0):
            bands[lead] = (low[k, i0:i1].astype(np.float64), high[k, i0:i1].astype(np.float64))
    return bands, level


def _legend_layout(texts: Sequence[str], heading: str, width_mm: float) -> tuple[int, int]:
    """``(columns, rows)`` of the legend: ``(n, 0)`` when it fits beside the title on one line,
    else the most columns whose entries fit ``width_mm`` below the title, and their row count.

    Widths are estimates in mm (8-pt legend text ≈ 1.7 mm a character plus ≈ 13.5 mm of handle and
    spacing per entry; the 10-pt title ≈ 2.1 mm a character).
    """
    if not texts:
        return 0, 0
    entries = [1.7 * len(t) + 13.5 for t in texts]
    title_mm = 2.1 * len(heading) + 5 if heading else 0.0
    if title_mm + sum(entries) <= width_mm:
        return len(texts), 0
    for cols in range(len(texts), 0, -1):
        rows = math.ceil(len(texts) / cols)
        columns = [entries[j * rows:(j + 1) * rows] for j in range(cols)]  # filled column by column
        if sum(max(c) for c in columns if c) <= width_mm or cols == 1:
            return cols, rows
    return 1, len(texts)


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
            ``"true"``); the legend is only drawn when a reference is given. For a marked ECG
            (leads in ``labels["synthesized"]``) the legend always shows "measured" and
            "synthesized (model NAME)" (and the shaded interval) in place of ``label``.
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

    synthesized = set(getattr(ecg, "synthesized_leads", ()))
    bands, level = _band_rows(ecg, synthesized, start_s, end_s)

    # vertical layout: row height in whole major squares (0.5 mV), at least _MIN_ROW_MV
    offsets: dict[str, float] = {}
    extent = 0.0
    for lead, (_, values) in rows.items():
        finite = values[np.isfinite(values)]
        centre = float(np.median(finite)) if finite.size else 0.0
        offsets[lead] = centre
        for series in (values, ref_rows.get(lead, (None, None))[1], *bands.get(lead, ())):
            if series is not None and np.isfinite(series).any():
                extent = max(extent, float(np.nanmax(np.abs(series[np.isfinite(series)] - centre))))
    row_mv = max(_MIN_ROW_MV, math.ceil((2 * extent + 0.2) / 0.5) * 0.5)
    n_rows = len(rows)
    y_top, y_bottom = 0.0, -n_rows * row_mv

    # legend: measured / synthesized / interval for a marked ECG, the two traces with a reference
    handles: list[Line2D | Patch] = []
    if synthesized & set(rows):
        if set(rows) - synthesized:
            handles.append(Line2D([], [], color=TRACE_COLOR, linewidth=1.0, label="measured"))
        model = str(ecg.labels.get("model") or "").strip()
        handles.append(Line2D([], [], color=SYNTHESIZED_COLOR, linewidth=1.0,
                              label=f"synthesized (model {model})" if model else "synthesized"))
        if bands:
            handles.append(Patch(facecolor=SYNTHESIZED_COLOR, alpha=BAND_ALPHA, edgecolor="none",
                                 label=f"{level:.0%} interval"))
    elif reference is not None:
        handles.append(Line2D([], [], color=TRACE_COLOR, linewidth=1.0, label=label))
    if reference is not None:
        handles.append(Line2D([], [], color=REFERENCE_COLOR, linewidth=1.5, label=reference_label))
    heading = title if title is not None else (ecg.record_id or "")

    # figure geometry in real millimetres
    width_mm = (end_s - start_s) * MM_PER_S
    height_mm = n_rows * row_mv * MM_PER_MV
    legend_cols, legend_rows = _legend_layout([str(h.get_label()) for h in handles], heading, width_mm)
    top_mm = _MARGIN_MM["top"] + legend_rows * _LEGEND_ROW_MM
    fig_w_mm = width_mm + _MARGIN_MM["left"] + _MARGIN_MM["right"]
    fig_h_mm = height_mm + _MARGIN_MM["bottom"] + top_mm
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
        synth = lead in synthesized
        if lead in bands:
            low, high = bands[lead]
            ax.fill_between(t, low - centre + base, high - centre + base, color=SYNTHESIZED_COLOR,
                            alpha=BAND_ALPHA, linewidth=0, zorder=1.5, gid="interval-band")
        ax.plot(t, values - centre + base, color=SYNTHESIZED_COLOR if synth else TRACE_COLOR,
                linewidth=0.7, zorder=3)
        ax.text(start_s + 0.06, base + 0.35 * row_mv, lead + (SYNTHESIZED_MARK if synth else ""), fontsize=9,
                fontweight="bold", va="center", ha="left", zorder=4, gid="lead-label",
                color=SYNTHESIZED_COLOR if synth else "black",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1})

    top_y = 1 - _TITLE_ROW_MM / fig_h_mm
    if heading:
        fig.text(_MARGIN_MM["left"] / fig_w_mm, top_y, heading, fontsize=10, va="center", ha="left")
    fig.text(1 - _MARGIN_MM["right"] / fig_w_mm, _MARGIN_MM["bottom"] / 2 / fig_h_mm,
             f"{MM_PER_S:g} mm/s, {MM_PER_MV:g} mm/mV, {ecg.fs:g} Hz", fontsize=7,
             va="center", ha="right", color="#555555")
    if handles:
        if legend_rows == 0:  # beside the title, as one line
            fig.legend(handles=handles, loc="center right", ncols=len(handles), fontsize=8, frameon=False,
                       bbox_to_anchor=(1 - _MARGIN_MM["right"] / fig_w_mm, top_y))
        else:  # below the title, in rows that fit the width
            fig.legend(handles=handles, loc="upper right", ncols=legend_cols, fontsize=8, frameon=False,
                       borderaxespad=0, borderpad=0,
                       bbox_to_anchor=(1 - _MARGIN_MM["right"] / fig_w_mm, 1 - (_TITLE_ROW_MM + 3) / fig_h_mm))

    if path is not None:
        _save_png_atomic(fig, Path(path), dpi)
    return fig


def _save_png_atomic(fig: Figure, path: Path, dpi: float) -> None:
    if path.suffix.lower() != ".png":
        raise InputError(f"plot path {str(path)!r} must end in .png (plots are saved as PNG)")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi, facecolor="white")


def lead_labels(fig: Figure) -> Sequence[str]:
    """The row labels written on a figure made by :func:`plot_ecg`, top to bottom, as drawn: the
    lead name, with a ``*`` for a synthesized lead (``V1*``)."""
    return [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "lead-label"]
