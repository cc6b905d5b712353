"""benchmarks/paper1_pooling.py: R-peak-aligned and beat-synchronous poolings, identity proxies."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks"))
import paper1_pooling as pooling  # noqa: E402


def test_rpeak_starts_put_every_peak_at_the_same_patch_phase() -> None:
    starts = pooling.rpeak_starts(np.array([10, 300, 700, 950]), n_valid=1000, n_times=500, patch=25)
    # middle patch 10, R at sample 12 of it: start = peak - 262; peaks 10 and 950 do not fit
    assert starts.tolist() == [38, 438]


def test_beat_crops_centre_the_r_peak_in_patch_pre() -> None:
    z = np.zeros(200, dtype=np.float32)
    z[[60, 140]] = 1.0
    crops = pooling.beat_crops(z, np.array([5, 60, 140, 190]), patch=10, k=3, pre=1)
    assert crops.shape == (2, 30)  # the beats at 5 and 190 do not fit
    assert (crops.argmax(1) == 15).all()


def test_top1_and_next5s() -> None:
    a = np.eye(3)
    b = np.eye(3) + 0.1
    assert pooling.next5s(a, b) == 1.0
    assert pooling.next5s(a, b[::-1]) < 1.0
    hits = pooling.top1(a, a, np.array([0, 1, 2]), np.array([0, 1, 2]), exclude=np.eye(3, dtype=bool))
    assert hits.tolist() == [0.0, 0.0, 0.0]  # itself excluded, no other match
    lo, hi = pooling.boot_ci(np.array([1.0, 0.0, 1.0, 1.0]))
    assert 0 <= lo <= 0.75 <= hi <= 1


def test_lead_embeddings_on_a_real_record(tiny_mae_checkpoint, data_dir) -> None:
    from leadlift.data.store import prepare
    from leadlift.evaluation.embeddings import load_encoder

    enc = load_encoder(tiny_mae_checkpoint)
    store = prepare("ptbxl", enc.fs, data_dir, progress=False)
    sig = np.asarray(store.signals[0, :, : int(store.meta["n_valid"].iloc[0])], dtype=np.float32)
    leads = list(store.leads)
    for name in ("rpeak", "beat"):
        e = pooling.lead_embeddings(enc, sig, leads, name)
        assert e.shape == (12, enc.embed_dim) and np.isfinite(e).all()
        assert (np.abs(e).sum(1) > 0).sum() >= 10, name  # nearly every lead has usable beats
    flat = pooling.lead_embeddings(enc, np.zeros_like(sig[:1]), ["I"], "beat")
    assert (flat == 0).all()  # no beat, no embedding (zeros), no crash
