"""ECG-ID person identification from frozen lead-I embeddings.

The 20-s ECG-ID records (lead I, resampled to the model's rate by the prepared store) are cut
into non-overlapping windows of the model's length; every window is one sample. Three named
protocols decide which windows are enrolled (the gallery / training set) and which are
identified (probes):

``window-random``
    For every person with ≥ 2 windows, a seeded random half of all their windows (all records
    mixed) is enrolled and the rest identified. Windows of the *same recording* are on both
    sides, so this is the optimistic protocol found in much of the literature.
``cross-record``
    Persons with ``rec_1`` and ``rec_2``: enrol the windows of ``rec_1``, identify those of
    ``rec_2`` (no recording on both sides).
``cross-session``
    Persons with recordings on ≥ 2 different dates: enrol every record of the earliest date,
    identify the records of the later dates (no recording day on both sides).

Identification: nearest neighbour by cosine similarity among enrolled windows, and a linear
classifier (standardised embeddings, multinomial logistic regression with C = 1 fitted on the
enrolled windows). Reported: top-1 accuracy over probe windows, number of persons (classes),
windows on each side and chance level (1 / persons).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from leadlift.errors import InputError

PROTOCOLS: tuple[str, ...] = ("window-random", "cross-record", "cross-session")


def protocol_split(windows: pd.DataFrame, protocol: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Enrol / probe window indices of one protocol.

    Args:
        windows: one row per window with columns ``person``, ``record_id``, ``record_no`` and
            ``date`` (ISO ``YYYY-MM-DD``, empty when unknown).
        protocol: one of :data:`PROTOCOLS`.
        seed: seed of the ``window-random`` draw.

    Returns:
        ``(enrol, probe)`` integer positions into ``windows``; only persons present on both
        sides are kept.
    """
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown ECG-ID protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    person = windows["person"].to_numpy()
    enrol: list[int] = []
    probe: list[int] = []
    if protocol == "window-random":
        rng = np.random.default_rng(seed)
        for p in pd.unique(person):
            pos = np.flatnonzero(person == p)
            if len(pos) < 2:
                continue
            pos = rng.permutation(pos)
            half = len(pos) // 2
            enrol += pos[:half].tolist()
            probe += pos[half:].tolist()
    elif protocol == "cross-record":
        rec = windows["record_no"].to_numpy()
        for p in pd.unique(person):
            a = np.flatnonzero((person == p) & (rec == 1))
            b = np.flatnonzero((person == p) & (rec == 2))
            if len(a) and len(b):
                enrol += a.tolist()
                probe += b.tolist()
    else:
        date = windows["date"].fillna("").astype(str).to_numpy()
        for p in pd.unique(person):
            mine = (person == p) & (date != "")
            days = sorted(set(date[mine]))
            if len(days) < 2:
                continue
            enrol += np.flatnonzero(mine & (date == days[0])).tolist()
            probe += np.flatnonzero(mine & (date != days[0])).tolist()
    return np.asarray(sorted(enrol), dtype=int), np.asarray(sorted(probe), dtype=int)


def nearest_neighbour_predict(enrol_x: np.ndarray, enrol_y: np.ndarray, probe_x: np.ndarray) -> np.ndarray:
    """Label of the enrolled sample with the highest cosine similarity to each probe ``[n_probe]``."""
    def unit(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.float64)
        return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)

    sim = unit(probe_x) @ unit(enrol_x).T
    return np.asarray(enrol_y)[np.argmax(sim, axis=1)]


def linear_predict(enrol_x: np.ndarray, enrol_y: np.ndarray, probe_x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Predictions of a logistic regression (C = 1) fitted on standardised enrolled samples."""
    scaler = StandardScaler().fit(enrol_x)
    clf = LogisticRegression(C=1.0, max_iter=3000, random_state=seed)
    clf.fit(scaler.transform(enrol_x), enrol_y)
    return clf.predict(scaler.transform(probe_x))


def identify(x: np.ndarray, windows: pd.DataFrame, protocol: str, seed: int = 0) -> dict[str, Any]:
    """Top-1 identification accuracy of one protocol from window embeddings ``x`` ``[W, D]``."""
    enrol, probe = protocol_split(windows, protocol, seed=seed)
    person = windows["person"].to_numpy()
    out: dict[str, Any] = {"protocol": protocol, "n_enrol_windows": len(enrol), "n_probe_windows": len(probe)}
    if len(enrol) == 0 or len(probe) == 0:
        out.update(n_persons=0, chance=float("nan"), nn_top1=float("nan"), linear_top1=float("nan"))
        return out
    n_persons = len(set(person[enrol]))
    out.update(n_persons=n_persons, chance=1.0 / n_persons,
               n_enrol_records=int(windows["record_id"].iloc[enrol].nunique()),
               n_probe_records=int(windows["record_id"].iloc[probe].nunique()))
    truth = person[probe]
    out["nn_top1"] = float(np.mean(nearest_neighbour_predict(x[enrol], person[enrol], x[probe]) == truth))
    out["linear_top1"] = (float(np.mean(linear_predict(x[enrol], person[enrol], x[probe], seed) == truth))
                          if n_persons > 1 else float("nan"))
    return out


def window_table(meta: pd.DataFrame, window_row: np.ndarray, window_start: np.ndarray) -> pd.DataFrame:
    """One row per window: the record's ``person``, ``record_id``, ``record_no``, ``date`` + ``start``."""
    m = meta.iloc[np.asarray(window_row, dtype=int)]
    return pd.DataFrame({
        "person": m["person"].to_numpy(), "record_id": m["record_id"].to_numpy(),
        "record_no": m["record_no"].to_numpy().astype(int), "date": m["date"].fillna("").astype(str).to_numpy(),
        "start": np.asarray(window_start, dtype=int), "store_row": np.asarray(window_row, dtype=int),
    })


def evaluate_identification(x: np.ndarray, windows: pd.DataFrame, seed: int = 0) -> dict[str, dict[str, Any]]:
    """All :data:`PROTOCOLS` → ``{protocol: {"n_persons", "nn_top1", "linear_top1", ...}}``."""
    if len(x) != len(windows):
        raise InputError(f"{len(x)} embeddings for {len(windows)} windows")
    return {p: identify(x, windows, p, seed=seed) for p in PROTOCOLS}
