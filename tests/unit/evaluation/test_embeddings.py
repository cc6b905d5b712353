"""Frozen embeddings of real prepared stores: windows, per-record means, random-init twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from leadlift.data.store import prepare
from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.evaluation.embeddings import TWELVE_LEAD, embed_store, random_encoder, window_index
from leadlift.preprocessing import zscore

KW = dict(leads=list(STANDARD_LEADS), n_times=200, fs=100.0, patch_size=20, embed_dim=16, depth=1, num_heads=2,
          decoder_embed_dim=16, decoder_depth=1, decoder_heads=2)
PRE = {"fs": 100.0, "window_samples": 200, "zscore_eps": 1e-6}


def _config(cls: str = "LeadBankMAE") -> dict:
    kw = dict(KW)
    if cls == "MultiChannelMAE":
        kw.pop("leads")
    return {"format": "leadlift-mae/1", "model": {"class": cls, "kwargs": kw}, "preprocessing": PRE}


@pytest.fixture(scope="module")
def ptbxl(data_dir):
    return prepare("ptbxl", 100, data_dir, progress=False)


def test_random_encoder_is_seeded_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = random_encoder(_config(), seed=5)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = random_encoder(_config(), seed=5)
    c = random_encoder(_config(), seed=6)
    sa, sb, sc = a.model.state_dict(), b.model.state_dict(), c.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_embed_store_windows_and_record_means(ptbxl) -> None:
    enc = random_encoder(_config())
    rows = np.array([5, 0, 17])
    emb = embed_store(enc, ptbxl, rows)
    n_win = ptbxl.meta["n_valid"].to_numpy()[rows] // 200  # non-overlapping 2-s windows of 10-s records
    assert emb.views == STANDARD_LEADS
    assert emb.window.shape == (n_win.sum(), 12, 16) and emb.record.shape == (3, 12, 16)
    np.testing.assert_array_equal(emb.rows, rows)  # caller's order kept
    for i, r in enumerate(rows):
        np.testing.assert_allclose(emb.record[i], emb.window[emb.window_row == r].mean(axis=0), rtol=1e-5, atol=1e-6)
    # the first window of record 5 equals a direct forward pass on the z-scored signal
    x = np.asarray(ptbxl.signals[5, :, :200], dtype=np.float32)[None]
    with torch.no_grad():
        direct = enc.model.embed(torch.from_numpy(zscore(x)), leads=STANDARD_LEADS).numpy()
    np.testing.assert_allclose(emb.window[0], direct[0], rtol=1e-5, atol=1e-5)
    assert emb.view(TWELVE_LEAD).shape == (3, 12 * 16)
    assert emb.view("V2").shape == (3, 16)
    with pytest.raises(InputError):
        emb.view("Q")


def test_multichannel_model_has_one_view(ptbxl) -> None:
    enc = random_encoder(_config("MultiChannelMAE"))
    emb = embed_store(enc, ptbxl, [0, 1])
    assert emb.views == (TWELVE_LEAD,) and emb.record.shape == (2, 1, 16)
    assert not enc.per_lead


def test_windows_never_use_padding_and_rates_must_match(ptbxl) -> None:
    rows, starts = window_index(ptbxl, [0], 300)
    assert rows.tolist() == [0, 0, 0]
    assert starts.tolist() == [0, 300, 600]  # 1000 valid samples: the 4th window would need padding
    cfg = _config()
    cfg["preprocessing"] = {**PRE, "fs": 500.0}
    with pytest.raises(InputError, match="--fs 500"):
        embed_store(random_encoder(cfg), ptbxl, [0])


def test_api_embeddings_are_the_inference_pipeline_and_match_the_window_protocol_at_its_hop(ptbxl) -> None:
    from leadlift.ecg import ECG
    from leadlift.evaluation.embeddings import api_embeddings
    from leadlift.inference.backends import backend_from_network
    from leadlift.inference.pipeline import embed_records

    enc = random_encoder(_config(), seed=1)
    rows = np.arange(3)
    # at a hop of one window the API's windows are the evaluation's non-overlapping ones
    same = api_embeddings(enc, ptbxl, rows, hop_s=enc.n_times / enc.fs)
    ref = embed_store(enc, ptbxl, rows)
    np.testing.assert_allclose(same, ref.record, rtol=1e-4, atol=1e-5)
    # at 0.5 s it is exactly what the pipeline returns for that recording (per lead, window mean)
    fine = api_embeddings(enc, ptbxl, rows[:1], leads=("I", "V2"), hop_s=0.5)
    n = int(ptbxl.meta["n_valid"].iloc[0])
    ecg = ECG(np.asarray(ptbxl.signals[0, [0, 7], :n], dtype=np.float64), ptbxl.fs, ("I", "V2"))
    backend = backend_from_network(enc.model, enc.config, enc.name)
    e = embed_records(backend, [ecg], 50, refuse_flat=False)[0]
    np.testing.assert_allclose(fine[0], e.per_lead.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(fine[0], same[0, [0, 7]], atol=1e-3)  # pooling over more crops changes it
