"""Lead agreement: are the embeddings of different leads of the same ECG alike?

For embeddings ``E`` ``[N, L, D]`` (N ECGs, L leads) and every lead pair (j, k):

* ``same[j, k]``  — mean cosine similarity of lead j's and lead k's embedding of the *same* ECG;
* ``diff[j, k]``  — mean cosine similarity of lead j of one ECG and lead k of a *different* ECG
  (all N·(N−1) ordered pairs);
* ``gap = same − diff`` — the agreement that is specific to the ECG (a constant offset shared by
  all embeddings makes ``same`` high without meaning anything; ``gap`` removes it);
* ``retrieval[j, k]`` — top-1 accuracy of finding the same ECG's lead-k embedding among all N
  lead-k embeddings by cosine similarity to lead j's embedding (chance 1/N).

The same statistics are also given after centring (each lead's mean embedding over the N ECGs
subtracted), which is the Pearson correlation between embedding vectors across ECGs when D is
large; the headline numbers are the mean over the L·(L−1) off-diagonal pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from leadlift.errors import InputError


def _unit(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, eps)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` ``[N, D]`` with every row of ``b`` ``[M, D]`` → ``[N, M]``."""
    return _unit(np.asarray(a, dtype=np.float64)) @ _unit(np.asarray(b, dtype=np.float64)).T


def _stats(u: np.ndarray) -> dict[str, np.ndarray]:
    """Same/different means and retrieval for unit vectors ``u`` ``[N, L, D]``."""
    n, n_leads, _ = u.shape
    same = np.einsum("nld,nmd->lm", u, u) / n
    total = u.sum(axis=0)  # [L, D]
    diff = (total @ total.T - same * n) / (n * (n - 1))
    retrieval = np.zeros((n_leads, n_leads))
    for j in range(n_leads):
        for k in range(n_leads):
            s = u[:, j] @ u[:, k].T  # [N, N]
            retrieval[j, k] = float(np.mean(np.argmax(s, axis=1) == np.arange(n)))
    return {"same": same, "diff": diff, "gap": same - diff, "retrieval": retrieval}


def _offdiag_mean(m: np.ndarray) -> float:
    mask = ~np.eye(m.shape[0], dtype=bool)
    return float(m[mask].mean()) if mask.any() else float("nan")


def lead_agreement(emb: np.ndarray, leads: Sequence[str], n_hist: int = 4000, seed: int = 0) -> dict[str, Any]:
    """Agreement statistics of per-lead embeddings (see the module docstring).

    Args:
        emb: ``[N, L, D]`` embeddings of N ECGs (N ≥ 2), one per lead.
        leads: the L lead names.
        n_hist: how many same-ECG and different-ECG cosine values (off-diagonal lead pairs) to
            keep for distribution plots.
        seed: seed of that subsample.

    Returns:
        ``{"leads", "n_ecgs", "chance_retrieval", "cosine": {...}, "centered": {...}}`` where each
        of ``cosine``/``centered`` holds L×L lists ``same``, ``diff``, ``gap``, ``retrieval``
        and their off-diagonal means ``mean_same``, ``mean_diff``, ``mean_gap``,
        ``mean_retrieval``; ``hist`` holds the raw-cosine samples (``same``, ``diff``).
    """
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 3 or emb.shape[1] != len(leads):
        raise InputError(f"embeddings have shape {emb.shape}; expected [N, {len(leads)}, D]")
    n = emb.shape[0]
    if n < 2:
        raise InputError("lead agreement needs at least 2 ECGs")
    out: dict[str, Any] = {"leads": list(leads), "n_ecgs": int(n), "chance_retrieval": 1.0 / n}
    for key, x in (("cosine", emb), ("centered", emb - emb.mean(axis=0, keepdims=True))):
        st = _stats(_unit(x))
        out[key] = {k: v.tolist() for k, v in st.items()}
        for k, v in st.items():
            out[key][f"mean_{k}"] = _offdiag_mean(v)
    # distributions (raw cosine, off-diagonal lead pairs)
    rng = np.random.default_rng(seed)
    u = _unit(emb)
    n_leads = len(leads)
    if n_leads > 1:
        j = rng.integers(0, n_leads, n_hist)
        k = (j + rng.integers(1, n_leads, n_hist)) % n_leads
        a = rng.integers(0, n, n_hist)
        b = (a + rng.integers(1, n, n_hist)) % n
        out["hist"] = {"same": np.einsum("id,id->i", u[a, j], u[a, k]).round(4).tolist(),
                       "diff": np.einsum("id,id->i", u[a, j], u[b, k]).round(4).tolist()}
    return out
