"""Conventions of the public ECG databases that configs, data, training and evaluation share."""

from __future__ import annotations

__all__ = ["PTBXL_TEST_FOLDS", "PTBXL_TRAIN_FOLDS", "PTBXL_VAL_FOLDS", "SUPERCLASSES"]

PTBXL_TRAIN_FOLDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
"""PTB-XL ``strat_fold`` values used for training (and for fitting anything: calibration, probes)."""

PTBXL_VAL_FOLDS: tuple[int, ...] = (9,)
"""PTB-XL validation fold (model selection, early stopping)."""

PTBXL_TEST_FOLDS: tuple[int, ...] = (10,)
"""PTB-XL test fold: nothing is ever trained or tuned on it."""

SUPERCLASSES: tuple[str, ...] = ("NORM", "MI", "STTC", "CD", "HYP")
"""PTB-XL diagnostic superclasses (``diagnostic_class`` of ``scp_statements.csv``), in label order."""

MIN_FS_HZ: float = 50.0
"""Lowest input sampling rate accepted (Hz): below it an ECG loses its QRS complexes, and such a
value is almost always a wrong ``fs``."""
