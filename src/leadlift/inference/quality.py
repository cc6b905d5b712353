"""The quality floor: does a model's measured fold-10 quality vouch for reconstructing from these leads?

A checkpoint's ``evaluation`` section (written by
:func:`leadlift.workflows.release.evaluate_checkpoint`) holds, per input-lead set, the per-lead
metrics of its reconstructions on PTB-XL fold 10. :func:`quality_warning` turns that into one
line for :class:`~leadlift.errors.LowQualityWarning` (and ``labels["quality_warning"]`` of the
output) when

* the mean Pearson r over the reconstructed leads is below :data:`MIN_PEARSON_R`, or their mean
  variance ratio (``var_ratio``: predicted / true standard deviation per window, averaged) is
  below :data:`MIN_VAR_RATIO`; or
* the set was never measured and the model is not an any-subset model (a fixed-set model or an
  MAE asked for leads nobody checked).

An any-subset model's unmeasured sets pass: it is trained on random subsets and states its own
per-sample uncertainty (``ECG.spread``). Nothing here loads weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from leadlift.ecg import STANDARD_LEADS
from leadlift.inference.checkpoint import CheckpointConfig, calibration_key
from leadlift.inference.model_card import summary_metrics

__all__ = ["ANY_SUBSET_FIX", "MIN_PEARSON_R", "MIN_VAR_RATIO", "is_any_subset", "measured_quality",
           "quality_warning"]

MIN_PEARSON_R = 0.5
"""Floor of the mean Pearson r over the reconstructed leads (fold 10) below which a reconstruction is flagged."""

MIN_VAR_RATIO = 0.5
"""Floor of the mean variance ratio (predicted / true std, fold 10) below which a reconstruction is flagged."""

ANY_SUBSET_FIX = "use recon-any (--model recon-any), the any-subset reconstructor with a calibrated spread"
"""The fix named in a warning about a fixed-set model or an MAE."""


def is_any_subset(config: CheckpointConfig) -> bool:
    """True for an any-subset reconstructor (``AnySubsetNet``, or ``leads.any_subset`` in its config)."""
    return config.model.class_name == "AnySubsetNet" or bool((config.leads or {}).get("any_subset"))


def measured_quality(config: CheckpointConfig, leads: Sequence[str]) -> tuple[float, float] | None:
    """``(mean Pearson r, mean variance ratio)`` over the reconstructed leads of input set ``leads``
    as measured in the config's ``evaluation`` section; None when that set was not measured (or its
    entry has no per-lead table)."""
    ev = config.evaluation
    entry = ev.inputs.get(calibration_key(leads)) if ev is not None else None
    if not isinstance(entry, dict):
        return None
    try:
        m = summary_metrics(entry)
    except (KeyError, TypeError):
        return None
    return float(m["pearson_r"]), float(m["var_ratio"])


def quality_warning(config: CheckpointConfig, leads: Sequence[str], model: str) -> str | None:
    """One line saying why a reconstruction by ``model`` from ``leads`` should not be trusted, or None.

    Args:
        config: the model's checkpoint config (its ``evaluation`` section is read).
        leads: the input leads the model reconstructed from (any order).
        model: the model's name as the user gave it (for the message).
    Returns:
        The warning (no newline, ASCII) or None when the measured quality clears both floors, when
        nothing is reconstructed (all 12 leads given), or for an any-subset model's unmeasured set.
    """
    key = calibration_key(leads)
    if set(leads) >= set(STANDARD_LEADS):
        return None
    any_subset = is_any_subset(config)
    fix = "record more leads (e.g. I and II and one chest lead)" if any_subset else ANY_SUBSET_FIX
    measured = measured_quality(config, leads)
    if measured is None:
        if any_subset:
            return None
        ev = config.evaluation
        sets = "; ".join(ev.inputs) if ev is not None and ev.inputs else "no input set"
        return (f"model {model} was never measured reconstructing from {key} (its evaluation covers: {sets}), so the "
                f"quality of the synthesized leads is unknown; {fix}")
    r, ratio = measured
    if not (math.isnan(r) or r < MIN_PEARSON_R or math.isnan(ratio) or ratio < MIN_VAR_RATIO):
        return None
    return (f"model {model} reconstructing from {key} measured mean Pearson r {r:.2f} and variance ratio {ratio:.2f} "
            f"over the reconstructed leads on PTB-XL fold 10 (floor {MIN_PEARSON_R:g} each), so the synthesized "
            f"leads are unreliable; {fix}")

