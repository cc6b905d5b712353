"""Patient-independent splits.

Every split here works on a vector of *group* (patient) ids and returns integer index arrays;
no patient ever appears in two parts (:func:`assert_patient_disjoint` checks it and the tests
use it on real data).

* :func:`ptbxl_folds` — PTB-XL's ``strat_fold`` (1–8 train / 9 val / 10 test by default);
  PTB-XL already keeps each patient in one fold.
* :func:`patient_kfold` — k folds grouped by patient (seeded shuffle of patients).
* :func:`patient_split` — patient-wise train/val/test with target fractions of *segments*
  (e.g. 70/15/15 as in the reconstruction paper), balanced greedily by segment count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from leadlift.conventions import PTBXL_TEST_FOLDS, PTBXL_TRAIN_FOLDS, PTBXL_VAL_FOLDS
from leadlift.errors import InputError


def ptbxl_folds(
    strat_fold: Sequence[int] | np.ndarray,
    train: Sequence[int] = PTBXL_TRAIN_FOLDS,
    val: Sequence[int] = PTBXL_VAL_FOLDS,
    test: Sequence[int] = PTBXL_TEST_FOLDS,
) -> dict[str, np.ndarray]:
    """Indices of the train/val/test parts from PTB-XL's ``strat_fold`` column."""
    folds = np.asarray(strat_fold, dtype=int)
    parts = {"train": train, "val": val, "test": test}
    used = [f for p in parts.values() for f in p]
    if len(used) != len(set(used)):
        raise InputError(f"a fold is used in two parts ({parts}); each fold may belong to one part only")
    return {name: np.flatnonzero(np.isin(folds, list(fs))) for name, fs in parts.items()}


def patient_kfold(groups: Sequence[object] | np.ndarray, n_splits: int = 5,
                  seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold cross-validation with whole patients in each fold.

    Patients are shuffled with ``seed`` and dealt to the fold that currently holds the fewest
    items (largest patients first), so folds have similar sizes.

    Returns:
        ``[(train_idx, test_idx), ...]`` of length ``n_splits``.
    """
    groups = np.asarray(groups)
    uniq, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if n_splits < 2:
        raise InputError(f"n_splits={n_splits}; cross-validation needs at least 2 folds")
    if len(uniq) < n_splits:
        raise InputError(f"only {len(uniq)} patients for {n_splits} folds; use fewer folds")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of = np.empty(len(uniq), dtype=int)
    load = np.zeros(n_splits)
    for g in order:
        k = int(np.argmin(load))
        fold_of[g] = k
        load[k] += counts[g]
    item_fold = fold_of[inverse]
    return [(np.flatnonzero(item_fold != k), np.flatnonzero(item_fold == k)) for k in range(n_splits)]


def patient_split(
    groups: Sequence[object] | np.ndarray,
    fractions: Sequence[float] = (0.70, 0.15, 0.15),
    names: Sequence[str] = ("train", "val", "test"),
    weights: Sequence[float] | np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Split items into parts by patient, with target fractions of the total *weight*.

    Args:
        groups: patient id of every item (e.g. of every segment).
        fractions: target share of each part (normalised to sum 1).
        names: part names.
        weights: weight of every item (default 1: fractions of the item count, i.e. of the
            segment count when items are segments).
        seed: seed of the patient shuffle.

    Patients are visited in a seeded random order and each is given to the part that is
    furthest below its target, so every part gets close to its share while whole patients
    stay together.
    """
    groups = np.asarray(groups)
    fr = np.asarray(fractions, dtype=float)
    if len(fr) != len(names) or np.any(fr < 0) or fr.sum() <= 0:
        raise InputError(f"fractions {tuple(fractions)} do not fit parts {tuple(names)}")
    fr = fr / fr.sum()
    w = np.ones(len(groups)) if weights is None else np.asarray(weights, dtype=float)
    uniq, inverse = np.unique(groups, return_inverse=True)
    gw = np.bincount(inverse, weights=w, minlength=len(uniq))
    total = gw.sum()
    rng = np.random.default_rng(seed)
    filled = np.zeros(len(fr))
    part_of = np.empty(len(uniq), dtype=int)
    for g in rng.permutation(len(uniq)):
        deficit = fr * total - filled
        k = int(np.argmax(deficit))
        part_of[g] = k
        filled[k] += gw[g]
    item_part = part_of[inverse]
    return {name: np.flatnonzero(item_part == k) for k, name in enumerate(names)}


def assert_patient_disjoint(groups: Sequence[object] | np.ndarray, parts: dict[str, np.ndarray]) -> None:
    """Raise ``AssertionError`` naming a patient that occurs in two parts."""
    groups = np.asarray(groups)
    seen: dict[object, str] = {}
    for name, idx in parts.items():
        for g in np.unique(groups[np.asarray(idx, dtype=int)]):
            if g in seen and seen[g] != name:
                raise AssertionError(f"patient {g!r} is in both {seen[g]!r} and {name!r}")
            seen[g] = name
