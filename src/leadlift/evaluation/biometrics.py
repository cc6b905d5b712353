"""ECG-ID person identification from frozen lead-I embeddings, beside a classical template.

The 20-s ECG-ID records (lead I, resampled to the model's rate by the prepared store) are cut
into non-overlapping windows of the model's length; every window is one sample. Three named
protocols decide which windows are enrolled (the gallery / training set) and which are
identified (probes):

``window-random`` — **LEAKY**
    For every person with ≥ 2 windows, a seeded random half of all their windows (all records
    mixed) is enrolled and the rest identified. Adjacent windows of the *same recording* are on
    both sides, so the classifier can match a recording rather than a person: the optimistic
    protocol found in much of the literature, kept only as that (flagged ``"leaky": True``).
``cross-record``
    Persons with ``rec_1`` and ``rec_2``: enrol the windows of ``rec_1``, identify those of
    ``rec_2`` (no recording on both sides).
``cross-session``
    Persons with recordings on ≥ 2 different dates: enrol every record of the earliest date,
    identify the records of the later dates (no recording day on both sides).

Two levels of identification:

* **window level** — every probe window is identified on its own: nearest neighbour by cosine
  among the enrolled windows, and a linear classifier (standardised embeddings, multinomial
  logistic regression with C = 1 fitted on the enrolled windows);
* **record level** (not for ``window-random``, whose records are split between the sides) —
  every probe *record* is identified once. A record's embedding is the mean of its window
  embeddings (:func:`record_embeddings`). Nearest neighbour: cosine (the mean, L2-normalised)
  against every enrolled **record** (the gallery holds the enrolled records themselves, not one
  mean per person; in ``cross-record`` each person has one enrolled record, so the two are the
  same). Linear: the window-level classifier applied to the record's mean embedding, which —
  the classifier being affine — equals averaging the logits of the record's windows.

Optionally (``shift_ms``) each window's embedding is the mean over crops shifted in steps of
``shift_ms`` within ±``span_s``/2 around the window (crops stay inside the record's valid
samples, no padding; :func:`shifted_window_embeddings`), so the beat phase at the window start
averages out.

Classical reference (:func:`median_beat_templates`): the median beat of lead I. R peaks are
detected on lead I at the store's rate (:func:`leadlift.preprocessing.r_peaks`, one polarity per
signal), beats are cut from −0.25 s to +0.45 s around each R peak, their sample-wise median is
z-scored. Window level: the median of the beats lying entirely inside the window (detected on
the window alone); record level: the median of all beats of the record. Identified by cosine
1-NN, window and record level, under the same protocols.

Reported: top-1 accuracies, number of persons (classes), windows / records on each side and the
chance level (1 / persons).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from leadlift.errors import InputError
from leadlift.preprocessing import r_peaks

if TYPE_CHECKING:
    from leadlift.data.store import PreparedStore
    from leadlift.evaluation.embeddings import Encoder

PROTOCOLS: tuple[str, ...] = ("window-random", "cross-record", "cross-session")

#: Protocols that put windows of one recording on both sides (optimistic, not a person test).
LEAKY_PROTOCOLS: frozenset[str] = frozenset({"window-random"})

#: One-line description of each protocol, as shown in reports.
PROTOCOL_NOTES: dict[str, str] = {
    "window-random": "LEAKY: random half of each person's windows enrolled, adjacent windows of the same "
                     "recording on both sides (literature-style, optimistic)",
    "cross-record": "enrol rec_1, identify rec_2 (no recording on both sides)",
    "cross-session": "enrol the earliest recording day, identify later days (no day on both sides)",
}

#: Name of the classical baseline in results and reports.
TEMPLATE_NAME = "median-beat template"

#: Beat cut around each R peak for the template, seconds before / after.
TEMPLATE_PRE_S = 0.25
TEMPLATE_POST_S = 0.45


def protocol_label(protocol: str) -> str:
    """``"window-random (LEAKY)"`` for a leaky protocol, the name otherwise."""
    return f"{protocol} (LEAKY)" if protocol in LEAKY_PROTOCOLS else protocol


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


def _unit(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def nearest_neighbour_predict(enrol_x: np.ndarray, enrol_y: np.ndarray, probe_x: np.ndarray) -> np.ndarray:
    """Label of the enrolled sample with the highest cosine similarity to each probe ``[n_probe]``."""
    sim = _unit(probe_x) @ _unit(enrol_x).T
    return np.asarray(enrol_y)[np.argmax(sim, axis=1)]


def fit_linear(enrol_x: np.ndarray, enrol_y: np.ndarray, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """Logistic regression (C = 1) on standardised enrolled samples ``[n, D]``; returns its
    ``predict`` (``[m, D]`` → ``[m]`` labels). Standardisation and classifier are affine up to
    the arg-max, so predicting a mean embedding equals arg-max of the mean logits."""
    scaler = StandardScaler().fit(enrol_x)
    clf = LogisticRegression(C=1.0, max_iter=3000, random_state=seed)
    clf.fit(scaler.transform(enrol_x), enrol_y)
    return lambda x: clf.predict(scaler.transform(np.asarray(x, dtype=np.float64)))


def linear_predict(enrol_x: np.ndarray, enrol_y: np.ndarray, probe_x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Predictions of a logistic regression (C = 1) fitted on standardised enrolled samples."""
    return fit_linear(enrol_x, enrol_y, seed)(probe_x)


def record_embeddings(x: np.ndarray, record_id: np.ndarray | pd.Series,
                      normalise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Record-level embeddings: the mean of each record's window embeddings.

    Args:
        x: ``[W, D]`` window embeddings.
        record_id: ``[W]`` record of each window.
        normalise: L2-normalise each mean (rows of zeros stay zero).

    Returns:
        ``(ids, emb)``: ``[R]`` record ids in order of first appearance and ``[R, D]`` float64
        record embeddings.
    """
    x = np.asarray(x, dtype=np.float64)
    rid = np.asarray(record_id)
    if x.ndim != 2 or len(x) != len(rid):
        raise InputError(f"record_embeddings needs x [W, D] and record_id [W]; got {x.shape} and {rid.shape}")
    ids = np.asarray(list(dict.fromkeys(rid.tolist())), dtype=object)
    pos = {r: i for i, r in enumerate(ids.tolist())}
    inverse = np.asarray([pos[r] for r in rid.tolist()], dtype=int)
    total = np.zeros((len(ids), x.shape[1]), dtype=np.float64)
    np.add.at(total, inverse, x)
    emb = total / np.bincount(inverse, minlength=len(ids))[:, None]
    return ids, (_unit(emb) if normalise else emb)


def identify(x: np.ndarray, windows: pd.DataFrame, protocol: str, seed: int = 0, linear: bool = True,
             record_x: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Top-1 identification of one protocol, window and record level.

    Args:
        x: ``[W, D]`` window embeddings (rows of ``windows``).
        windows: the window table (:func:`window_table`).
        protocol: one of :data:`PROTOCOLS`.
        seed: seed of the ``window-random`` split and of the classifier.
        linear: also fit the linear classifier (else its accuracies are NaN).
        record_x: record id → ``[D]`` record representation; default the mean of the record's
            window embeddings (:func:`record_embeddings`).

    Returns:
        ``protocol``, ``label``, ``leaky``, ``n_persons``, ``chance``, ``n_enrol_windows``,
        ``n_probe_windows``, ``n_enrol_records``, ``n_probe_records``, ``nn_top1``,
        ``linear_top1`` (window level), ``record_nn_top1``, ``record_linear_top1`` (record
        level; NaN for a leaky protocol) and ``record_level`` (how, or why not).
    """
    if len(x) != len(windows):
        raise InputError(f"{len(x)} embeddings for {len(windows)} windows")
    x = np.asarray(x, dtype=np.float64)
    enrol, probe = protocol_split(windows, protocol, seed=seed)
    person = windows["person"].to_numpy()
    nan = float("nan")
    out: dict[str, Any] = {"protocol": protocol, "label": protocol_label(protocol),
                           "leaky": protocol in LEAKY_PROTOCOLS, "note": PROTOCOL_NOTES[protocol],
                           "n_enrol_windows": len(enrol), "n_probe_windows": len(probe)}
    if len(enrol) == 0 or len(probe) == 0:
        out.update(n_persons=0, chance=nan, nn_top1=nan, linear_top1=nan, record_nn_top1=nan,
                   record_linear_top1=nan, record_level="no windows on one side")
        return out
    n_persons = len(set(person[enrol]))
    out.update(n_persons=n_persons, chance=1.0 / n_persons,
               n_enrol_records=int(windows["record_id"].iloc[enrol].nunique()),
               n_probe_records=int(windows["record_id"].iloc[probe].nunique()))
    truth = person[probe]
    out["nn_top1"] = float(np.mean(nearest_neighbour_predict(x[enrol], person[enrol], x[probe]) == truth))
    predict = fit_linear(x[enrol], person[enrol], seed) if linear and n_persons > 1 else None
    out["linear_top1"] = float(np.mean(predict(x[probe]) == truth)) if predict is not None else nan
    shared = set(windows["record_id"].iloc[enrol]) & set(windows["record_id"].iloc[probe])
    if shared:
        out.update(record_nn_top1=nan, record_linear_top1=nan,
                   record_level=f"n/a: {len(shared)} records have windows on both sides")
        return out
    rid = windows["record_id"].to_numpy(dtype=object)
    owner = dict(zip(rid.tolist(), person.tolist(), strict=True))
    if record_x is None:
        e_ids, e_rec = record_embeddings(x[enrol], rid[enrol])
        p_ids, p_mean = record_embeddings(x[probe], rid[probe], normalise=False)
        p_rec = p_mean
        how = "mean of the record's window embeddings; NN over the enrolled records (cosine)"
    else:
        e_ids, p_ids = pd.unique(rid[enrol]), pd.unique(rid[probe])
        e_rec = np.stack([np.asarray(record_x[r], dtype=np.float64) for r in e_ids])
        p_rec = p_mean = np.stack([np.asarray(record_x[r], dtype=np.float64) for r in p_ids])
        how = "one representation per record; NN over the enrolled records (cosine)"
    e_person = np.asarray([owner[r] for r in e_ids])
    p_person = np.asarray([owner[r] for r in p_ids])
    out["record_nn_top1"] = float(np.mean(nearest_neighbour_predict(e_rec, e_person, p_rec) == p_person))
    out["record_linear_top1"] = (float(np.mean(predict(p_mean) == p_person))
                                 if predict is not None and record_x is None else nan)
    out["record_level"] = how
    return out


def window_table(meta: pd.DataFrame, window_row: np.ndarray, window_start: np.ndarray) -> pd.DataFrame:
    """One row per window: the record's ``person``, ``record_id``, ``record_no``, ``date`` + ``start``."""
    m = meta.iloc[np.asarray(window_row, dtype=int)]
    return pd.DataFrame({
        "person": m["person"].to_numpy(), "record_id": m["record_id"].to_numpy(),
        "record_no": m["record_no"].to_numpy().astype(int), "date": m["date"].fillna("").astype(str).to_numpy(),
        "start": np.asarray(window_start, dtype=int), "store_row": np.asarray(window_row, dtype=int),
    })


def evaluate_identification(x: np.ndarray, windows: pd.DataFrame, seed: int = 0, linear: bool = True,
                            record_x: Mapping[str, np.ndarray] | None = None) -> dict[str, dict[str, Any]]:
    """All :data:`PROTOCOLS` → ``{protocol: {"n_persons", "nn_top1", "record_nn_top1", ...}}``
    (see :func:`identify`)."""
    if len(x) != len(windows):
        raise InputError(f"{len(x)} embeddings for {len(windows)} windows")
    return {p: identify(x, windows, p, seed=seed, linear=linear, record_x=record_x) for p in PROTOCOLS}


# ---------------------------------------------------------------------------------------- shifted crops
def crop_starts(window_start: np.ndarray, n_valid: np.ndarray, n_times: int, step: int,
                half_span: int) -> tuple[np.ndarray, np.ndarray]:
    """Crops shifted around each window, inside the valid samples.

    Args:
        window_start: ``[W]`` first sample of each window.
        n_valid: ``[W]`` valid samples of each window's record.
        n_times: crop (= window) length in samples.
        step: shift between crops in samples (≥ 1).
        half_span: largest shift in samples, either way.

    Returns:
        ``(window, start)``: for every crop, the window it belongs to and its first sample; the
        offsets are ``k·step`` for ``|k·step| ≤ half_span``, kept when ``0 ≤ start`` and
        ``start + n_times ≤ n_valid`` (the unshifted window itself is always kept).
    """
    if step < 1:
        raise InputError(f"crop step {step} samples; it must be ≥ 1")
    ws = np.asarray(window_start, dtype=int)
    nv = np.asarray(n_valid, dtype=int)
    m = max(int(half_span), 0) // step
    offsets = np.arange(-m, m + 1) * step
    starts = ws[:, None] + offsets[None, :]
    ok = (starts >= 0) & (starts + n_times <= nv[:, None])
    win = np.broadcast_to(np.arange(len(ws))[:, None], starts.shape)
    return win[ok].astype(int), starts[ok].astype(int)


def shifted_window_embeddings(encoder: Encoder, store: PreparedStore, window_row: np.ndarray,
                              window_start: np.ndarray, view: str = "I", shift_ms: float = 50.0,
                              span_s: float = 1.0, batch_size: int = 256) -> tuple[np.ndarray, int]:
    """Each window's embedding averaged over time-shifted crops (:func:`crop_starts`).

    Args:
        encoder: the frozen encoder (store at its rate).
        store: the prepared store (``signals`` in mV).
        window_row: ``[W]`` store row of each window.
        window_start: ``[W]`` first sample of each window.
        view: embedding view kept (``"I"`` for ECG-ID).
        shift_ms: shift between crops in milliseconds (rounded to whole samples, ≥ 1).
        span_s: total span of the shifts in seconds (crops from −span/2 to +span/2).
        batch_size: crops per forward pass.

    Returns:
        ``([W, D] float32 mean crop embeddings, number of crops embedded)``.
    """
    if shift_ms <= 0 or span_s < 0:
        raise InputError(f"shift_ms={shift_ms:g} must be > 0 and span_s={span_s:g} ≥ 0")
    fs, n = encoder.fs, encoder.n_times
    step = max(round(shift_ms / 1000.0 * fs), 1)
    rows = np.asarray(window_row, dtype=int)
    n_valid = store.meta["n_valid"].to_numpy()[rows]
    win, starts = crop_starts(window_start, n_valid, n, step, round(span_s * fs / 2))
    views = encoder.views(store.leads)
    if view not in views:
        raise InputError(f"no embedding view {view!r}; available: {', '.join(views)}")
    k = views.index(view)
    total = np.zeros((len(rows), encoder.embed_dim), dtype=np.float64)
    for s in range(0, len(win), batch_size):
        w, st = win[s:s + batch_size], starts[s:s + batch_size]
        block = np.stack([np.asarray(store.signals[rows[i], :, a:a + n], dtype=np.float32)
                          for i, a in zip(w, st, strict=True)])
        np.add.at(total, w, encoder.embed_windows(block.astype(np.float32), store.leads,
                                                  batch_size=batch_size)[:, k])
    counts = np.bincount(win, minlength=len(rows)).astype(np.float64)
    return (total / counts[:, None]).astype(np.float32), len(win)


# ---------------------------------------------------------------------------------------- template
def median_beat(x: np.ndarray, fs: float, peaks: np.ndarray | None = None, pre_s: float = TEMPLATE_PRE_S,
                post_s: float = TEMPLATE_POST_S) -> tuple[np.ndarray, int]:
    """Z-scored median beat of one lead ``[T]`` (mV).

    Args:
        x: one lead in mV.
        fs: sampling rate in Hz.
        peaks: R peaks (samples); default :func:`~leadlift.preprocessing.r_peaks` with
            ``polarity="auto"`` on ``x``.
        pre_s, post_s: beat cut before / after the R peak in seconds.

    Returns:
        ``([round(pre_s·fs) + round(post_s·fs)] template, beats used)``; zeros when no beat
        lies entirely inside ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    pre, post = round(pre_s * fs), round(post_s * fs)
    if peaks is None:
        peaks = r_peaks(x, fs, polarity="auto")
    p = np.asarray(peaks, dtype=int)
    p = p[(p >= pre) & (p + post <= len(x))]
    if len(p) == 0:
        return np.zeros(pre + post), 0
    t = np.median(np.stack([x[q - pre:q + post] for q in p]), axis=0)
    return (t - t.mean()) / max(float(t.std()), 1e-6), len(p)


def median_beat_templates(store: PreparedStore, window_row: np.ndarray, window_start: np.ndarray, n_times: int,
                          lead: str = "I") -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """Window-level and record-level median-beat templates of ``lead``.

    Args:
        store: the prepared store (signals in mV at ``store.fs``).
        window_row: ``[W]`` store row of each window.
        window_start: ``[W]`` first sample of each window.
        n_times: window length in samples.
        lead: the lead used.

    Returns:
        ``(window_templates [W, L], {record_id: [L] whole-record template}, info)`` where info
        counts the windows / records without a complete beat and the beats per record.
    """
    if lead not in store.leads:
        raise InputError(f"the {store.dataset} store has no lead {lead}")
    k = store.leads.index(lead)
    fs = store.fs
    rows = np.asarray(window_row, dtype=int)
    meta = store.meta
    rec: dict[str, np.ndarray] = {}
    beats: list[int] = []
    for r in pd.unique(rows):
        sig = np.asarray(store.signals[r, k, :int(meta["n_valid"].iloc[r])], dtype=np.float64)
        rec[str(meta["record_id"].iloc[r])], nb = median_beat(sig, fs)
        beats.append(nb)
    win = []
    empty = 0
    for r, s in zip(rows, np.asarray(window_start, dtype=int), strict=True):
        t, nb = median_beat(np.asarray(store.signals[r, k, s:s + n_times], dtype=np.float64), fs)
        win.append(t)
        empty += nb == 0
    info = {"lead": lead, "fs": fs, "pre_s": TEMPLATE_PRE_S, "post_s": TEMPLATE_POST_S,
            "detector": "leadlift.preprocessing.r_peaks(polarity='auto')",
            "windows_without_beat": int(empty), "records_without_beat": int(sum(b == 0 for b in beats)),
            "median_beats_per_record": float(np.median(beats)) if beats else float("nan")}
    return np.stack(win), rec, info


def template_identification(store: PreparedStore, windows: pd.DataFrame, n_times: int,
                            seed: int = 0) -> dict[str, Any]:
    """The median-beat template baseline under every protocol (cosine 1-NN, window and record level).

    Returns:
        ``{"name", "protocols": {protocol: identify(...)}, **template info}``; its ``linear``
        accuracies are NaN (the baseline is nearest neighbour only).
    """
    win, rec, info = median_beat_templates(store, windows["store_row"].to_numpy(), windows["start"].to_numpy(),
                                           n_times)
    return {"name": TEMPLATE_NAME, **info,
            "protocols": evaluate_identification(win, windows, seed=seed, linear=False, record_x=rec)}
