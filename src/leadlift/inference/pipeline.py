"""Recordings in, 12-lead ECGs and embeddings out: the record-level pipeline around a backend.

For any duration and sampling rate:

1. the input leads are resampled (polyphase) to the model rate, then cleaned as in training
   (:meth:`Backend.filter`: band-pass + baseline removal for the reconstructor, nothing for the MAE);
2. the signal is cut into model windows (:func:`leadlift.preprocessing.window_index`): the last
   window is aligned to the end of the recording, so every sample is covered and nothing is
   padded; a recording shorter than one window is repeated periodically to fill it;
3. the backend runs on batches of windows (windows of many recordings with the same leads are
   batched together);
4. reconstructions are stitched with Hann-weighted overlap-add
   (:func:`leadlift.preprocessing.overlap_add`) and resampled back to the input rate; the measured
   input leads are returned as they came, and III/aVR/aVL/aVF are derived exactly when I and II
   are inputs; embeddings are kept per window and averaged into one pooled embedding.

:class:`leadlift.api.LeadLift` calls these functions; so do evaluation and the model cards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from leadlift.ecg import ECG, LIMB_LEADS, STANDARD_LEADS, limb_rank, solve_limb_leads
from leadlift.errors import InputError
from leadlift.inference.backends import Backend
from leadlift.preprocessing import hann_weights, overlap_add, resample, window_index

__all__ = ["Embeddings", "embed_records", "reconstruct_records"]


@dataclass(frozen=True)
class Embeddings:
    """Embeddings of one recording.

    Attributes:
        windows: ``[n_windows, D]`` one embedding per window (the mean over the input leads of
            each lead's CLS embedding: with an aligned MAE every lead maps into the same space).
        per_lead: ``[n_windows, n_leads, D]`` the CLS embedding of each input lead.
        pooled: ``[D]`` the mean of ``windows`` (one vector for the whole recording).
        starts_s: ``[n_windows]`` start time of each window in seconds from the recording start.
        window_s: window length in seconds (shorter recordings: the recording's length).
        leads: the input leads, in the order of ``per_lead``'s second axis.
        record_id: the recording's id, if any.
    """

    windows: np.ndarray
    per_lead: np.ndarray
    pooled: np.ndarray
    starts_s: np.ndarray
    window_s: float
    leads: tuple[str, ...]
    record_id: str | None = None
    model: str = field(default="", repr=False)

    @property
    def dim(self) -> int:
        """Embedding width D."""
        return int(self.pooled.shape[-1])

    def __len__(self) -> int:
        return int(self.windows.shape[0])


def model_rate(backend: Backend, ecg: ECG) -> np.ndarray:
    """The leads of ``ecg`` resampled to the model rate and cleaned: ``[L, n_model]`` float64 mV."""
    return backend.filter(np.asarray(resample(ecg.signal.astype(np.float64), ecg.fs, backend.fs)))


FLAT_LEAD_MV = 0.005
"""An input lead whose standard deviation over the whole recording is below this (mV) is flat: a dead
electrode or an all-zero column. Reconstructing from it would give confident nonsense."""


def check_input_leads(ecg: ECG) -> None:
    """Refuse a recording with a flat input lead (one line naming the lead and the remedy)."""
    std = ecg.signal.astype(np.float64).std(axis=-1)
    flat = [name for name, s in zip(ecg.leads, std, strict=True) if not s >= FLAT_LEAD_MV]
    if flat:
        raise InputError(f"{ecg.record_id or 'the recording'}: input lead(s) {', '.join(flat)} are flat (std < "
                         f"{FLAT_LEAD_MV * 1000:g} µV: a dead electrode or an empty column); pass only leads that "
                         "were recorded, e.g. --leads without them")


def _windows(backend: Backend, ecg: ECG, hop: int) -> tuple[np.ndarray, np.ndarray, int]:
    sig = model_rate(backend, ecg)
    n = sig.shape[-1]
    index = window_index(n, backend.window, hop)
    return sig[:, index].transpose(1, 0, 2), index, n  # [N, L, W]


def _run(fn: Callable[..., np.ndarray], x: np.ndarray, batch_size: int, *args: object) -> np.ndarray:
    return np.concatenate([fn(x[s:s + batch_size], *args) for s in range(0, len(x), batch_size)])


def _run_spread(backend: Backend, x: np.ndarray, batch_size: int, leads: tuple[str, ...],
                targets: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    """:meth:`Backend.reconstruct_windows_spread` over batches of windows."""
    means, sds = [], []
    for s in range(0, len(x), batch_size):
        m, sd = backend.reconstruct_windows_spread(x[s:s + batch_size], leads, targets)
        means.append(m)
        sds.append(sd)
    if not means:
        return np.zeros((0, len(targets), backend.window)), None
    return np.concatenate(means), None if any(v is None for v in sds) else np.concatenate(sds)  # type: ignore[arg-type]


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[-1] >= n:
        return x[..., :n]
    return np.concatenate([x, np.repeat(x[..., -1:], n - x.shape[-1], axis=-1)], axis=-1)


def embed_records(backend: Backend, ecgs: Sequence[ECG], hop: int, batch_size: int = 256,
                  explicit: bool = False, model_name: str = "", refuse_flat: bool = True) -> list[Embeddings]:
    """Embed recordings: one :class:`Embeddings` per input, windows of recordings with the same
    leads batched together.

    Args:
        backend: a loaded backend (an aligned MAE).
        ecgs: recordings in mV (any fs, any duration).
        hop: step between windows in samples at the model rate.
        batch_size: windows per forward pass.
        explicit: the caller chose the input leads (checked strictly by the backend).
        refuse_flat: refuse a recording with a flat input lead (:func:`check_input_leads`); dataset
            evaluations pass False to score every record as their protocol says.
    """
    items, chunks = [], []
    for x in ecgs:
        ecg = backend.inputs(x, "embed", explicit)
        if refuse_flat:
            check_input_leads(ecg)
        win, index, n = _windows(backend, ecg, hop)
        items.append((ecg, index, n))
        chunks.append(win)
    by_leads: dict[tuple[str, ...], list[int]] = {}
    for i, (ecg, _, _) in enumerate(items):
        by_leads.setdefault(ecg.leads, []).append(i)
    outputs: list[np.ndarray | None] = [None] * len(items)
    for lead_set, members in by_leads.items():
        stacked = np.concatenate([chunks[i] for i in members])
        emb = _run(backend.embed_windows, stacked, batch_size, lead_set)
        pos = 0
        for i in members:
            k = len(chunks[i])
            outputs[i] = emb[pos:pos + k]
            pos += k
    result = []
    for (ecg, index, n), per_lead in zip(items, outputs, strict=True):
        assert per_lead is not None
        per_lead = per_lead.astype(np.float32)
        windows = per_lead.mean(axis=1)
        result.append(Embeddings(
            windows=windows, per_lead=per_lead, pooled=windows.mean(axis=0),
            starts_s=index[:, 0].astype(np.float64) / backend.fs,
            window_s=min(n, backend.window) / backend.fs, leads=ecg.leads,
            record_id=ecg.record_id, model=model_name,
        ))
    return result


def reconstruct_records(backend: Backend, ecgs: Sequence[ECG], hop: int, keep_inputs: bool = True,
                        batch_size: int = 256, explicit: bool = False, model_name: str = "",
                        refuse_flat: bool = True) -> list[ECG]:
    """Reconstruct the 12 standard leads of each recording from its leads, at its own rate.

    Args:
        backend: a loaded backend.
        ecgs: recordings in mV holding the input leads (any fs, any duration).
        hop: step between model windows in samples at the model rate.
        keep_inputs: return the input leads as measured rather than as the model re-synthesises them.
        batch_size: windows per forward pass.
        explicit: the caller chose the input leads (checked strictly by the backend).
        refuse_flat: refuse a recording with a flat input lead (:func:`check_input_leads`); dataset
            evaluations pass False to score every record as their protocol says (the outputs of
            non-flat recordings are the same either way).
    Returns:
        One 12-lead :class:`ECG` per input (standard order, input fs and length, mV);
        ``labels`` mark the output: ``reconstructed_from`` (the inputs), ``measured`` (leads passed
        through as recorded), ``derived_exactly`` (limb leads computed from two measured limb leads),
        ``synthesized`` (every other lead: predicted, or derived from a predicted lead), ``model``
        and ``model_version``; models with an uncertainty also give ``spread`` (the calibrated
        predictive SD in mV, 0 for measured and exactly derived leads) and ``labels["interval"]``
        (``{"level": 0.9, "z": 1.645}``: ``signal ± z·spread`` is the nominal interval).
    """
    weight = hann_weights(backend.window)
    plans = []
    for x in ecgs:
        ecg = backend.inputs(x, "reconstruct", explicit)
        if refuse_flat:
            check_input_leads(ecg)
        # two measured limb leads fix all six: the others are derived exactly, never predicted
        derive = limb_rank(ecg.leads) >= 2
        skip = set(ecg.leads) if keep_inputs else set()
        if derive:
            skip |= {n for n in LIMB_LEADS if n not in ecg.leads}
        targets = tuple(n for n in STANDARD_LEADS if n not in skip)
        win, index, n = _windows(backend, ecg, hop)
        plans.append((ecg, targets, derive, win, index, n))
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[int]] = {}
    for i, p in enumerate(plans):
        groups.setdefault((p[0].leads, p[1]), []).append(i)
    preds: list[np.ndarray | None] = [None] * len(plans)
    spreads: list[np.ndarray | None] = [None] * len(plans)
    for (lead_set, targets), members in groups.items():
        if not targets:
            for i in members:
                preds[i] = np.zeros((len(plans[i][3]), 0, backend.window))
            continue
        stacked = np.concatenate([plans[i][3] for i in members])
        y, sd = _run_spread(backend, stacked, batch_size, lead_set, targets)
        pos = 0
        for i in members:
            k = len(plans[i][3])
            preds[i] = y[pos:pos + k]
            spreads[i] = None if sd is None else sd[pos:pos + k]
            pos += k
    out = []
    level, z = backend.uncertainty_level, backend.uncertainty_z
    version = str(backend.config.leadlift_version or "")
    for (ecg, targets, derive, _win, index, n), pred, sd in zip(plans, preds, spreads, strict=True):
        assert pred is not None
        rows: dict[str, np.ndarray] = {}
        sd_rows: dict[str, np.ndarray] = {}
        if targets:
            stitched = overlap_add(pred.transpose(1, 0, 2), index, n, weight=weight)  # [T, n] at the model rate
            back = _fit_length(np.asarray(resample(stitched, backend.fs, ecg.fs)), ecg.n_samples)
            rows.update(zip(targets, back, strict=True))
            if sd is not None:  # windows overlap: average the variances with the same weights
                var = overlap_add((sd ** 2).transpose(1, 0, 2), index, n, weight=weight)
                sd_back = np.sqrt(np.clip(_fit_length(np.asarray(resample(var, backend.fs, ecg.fs)),
                                                      ecg.n_samples), 0.0, None))
                sd_rows.update(zip(targets, sd_back, strict=True))
        if keep_inputs:
            rows.update({name: ecg.signal[i].astype(np.float64) for i, name in enumerate(ecg.leads)})
            sd_rows.update({name: np.zeros(ecg.n_samples) for name in ecg.leads})
        exact = [n_ for n_ in LIMB_LEADS if n_ not in ecg.leads] if derive else []
        if derive:  # from the measured limb leads as recorded
            solved = solve_limb_leads({n_: ecg.signal[i].astype(np.float64) for i, n_ in enumerate(ecg.leads)})
            rows.update({n_: solved[n_] for n_ in exact})
            sd_rows.update({n_: np.zeros(ecg.n_samples) for n_ in exact})
        else:
            again = backend.derived_leads(ecg.leads)
            if again:  # derived from a learned I or II: recomputed from the output rows (measured ones as
                # recorded), so the output obeys Einthoven/Goldberger exactly; their spread is the backend's
                solved = solve_limb_leads({n_: rows[n_] for n_ in LIMB_LEADS if n_ in rows and n_ not in again})
                rows.update({n_: solved[n_] for n_ in again})
        signal = np.stack([rows[name] for name in STANDARD_LEADS]).astype(np.float32)
        measured = [name for name in STANDARD_LEADS if name in ecg.leads] if keep_inputs else []
        synthesized = [name for name in STANDARD_LEADS if name not in measured and name not in exact]
        labels = dict(ecg.labels, reconstructed_from=list(ecg.leads), model=model_name, model_version=version,
                      measured=measured, derived_exactly=exact, synthesized=synthesized)
        spread = None
        if sd is not None and len(sd_rows) == len(STANDARD_LEADS):
            spread = np.stack([sd_rows[name] for name in STANDARD_LEADS]).astype(np.float32)
            labels["interval"] = {"level": level, "z": z}
        out.append(ECG(signal, ecg.fs, STANDARD_LEADS, record_id=ecg.record_id, patient_id=ecg.patient_id,
                       labels=labels, check_units=False, spread=spread))
    return out
