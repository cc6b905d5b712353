"""Diagnostic fidelity metrics: paired AUROC with bootstrap CIs, ST measurement on hand-built beats,
the Brugada check, and the classifier's own preprocessing of ECGs (identical to the training cache)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from helpers import one_line
from leadlift.data.readers import get_reader
from leadlift.data.windows import preprocess_records
from leadlift.ecg import ECG, STANDARD_LEADS
from leadlift.errors import CorruptFileError, DataNotFoundError, InputError
from leadlift.evaluation.diagnostic import (
    DiagnosticClassifier,
    brugada_st_check,
    fiducials,
    load_classifier,
    paired_auroc,
    st_levels,
)
from leadlift.models.classifier import ClassifierConfig, SuperclassNet
from leadlift.recon_config import ReconDataConfig


def _scores(n: int = 120, c: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, c)) < 0.3).astype(int)
    return y, y + rng.normal(0, 0.8, (n, c))


# ----------------------------------------------------------------------------- paired AUROC
def test_real_against_itself_gives_zero_difference_with_a_zero_interval() -> None:
    y, s = _scores()
    res = paired_auroc(y, s, s.copy(), ["A", "B", "C"], n_boot=200, seed=1)
    for name, e in res["classes"].items():
        j = "ABC".index(name)
        assert e["real"] == pytest.approx(roc_auc_score(y[:, j], s[:, j]))
        assert e["recon"] == e["real"] and e["delta"] == 0.0 and e["delta_ci"] == [0.0, 0.0]
        assert e["real_ci"][0] < e["real"] < e["real_ci"][1]
        assert e["n_pos"] + e["n_neg"] == len(y)
    assert res["macro"]["delta"] == 0.0 and res["macro"]["delta_ci"] == [0.0, 0.0]
    assert res["macro"]["real"] == pytest.approx(np.mean([e["real"] for e in res["classes"].values()]))
    assert res["n"] == 120 and res["n_boot"] == 200


def test_a_degraded_score_loses_auroc_and_the_paired_interval_says_so() -> None:
    y, s = _scores(n=300)
    noisy = s + np.random.default_rng(5).normal(0, 3.0, s.shape)
    res = paired_auroc(y, s, noisy, n_boot=300)
    m = res["macro"]
    assert m["recon"] < m["real"] and m["delta_ci"][1] < 0  # paired: the drop is resolved
    assert m["delta_ci"][0] <= m["delta"] <= m["delta_ci"][1]
    assert paired_auroc(y, s, noisy, n_boot=300) == res  # seeded


def test_paired_auroc_edge_cases() -> None:
    y = np.array([0, 0, 1, 1])
    res = paired_auroc(y, np.array([0.1, 0.2, 0.8, 0.9]), np.array([0.9, 0.8, 0.2, 0.1]), n_boot=0)
    e = res["classes"]["0"]
    assert (e["real"], e["recon"], e["delta"], e["delta_ci"]) == (1.0, 0.0, -1.0, None)
    one_class = paired_auroc(np.zeros((5, 1)), np.arange(5.0)[:, None], np.arange(5.0)[:, None], n_boot=10)
    assert np.isnan(one_class["classes"]["0"]["real"]) and one_class["macro"]["classes"] == []
    with pytest.raises(InputError) as exc:
        paired_auroc(np.zeros((5, 2)), np.zeros((5, 2)), np.zeros((4, 2)))
    assert "must all be [N, C]" in one_line(exc)
    with pytest.raises(InputError):
        paired_auroc(np.zeros((5, 2)), np.zeros((5, 2)), np.zeros((5, 2)), classes=["only one"])


# ----------------------------------------------------------------------------- ST measurement
FS = 100.0


def _smooth_step(t: np.ndarray, start: float, width: float) -> np.ndarray:
    """0 before ``start``, 1 after ``start + width`` (raised cosine in between); seconds."""
    u = np.clip((t - start) / width, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def _beats(st_mv: float, fs: float = FS, seconds: float = 12.0, rr: float = 0.8) -> ECG:
    """12 leads: a Gaussian QRS (σ = 15 ms) every ``rr`` s in every lead; V1 carries an ST plateau
    of ``st_mv`` mV from R + 40 ms to R + 300 ms, V2 half of it; the PR segment is at 0 mV."""
    t = np.arange(int(seconds * fs)) / fs
    qrs = np.zeros_like(t)
    st = np.zeros_like(t)
    for r in np.arange(0.5, seconds - 0.6, rr):
        qrs += 1.5 * np.exp(-0.5 * ((t - r) / 0.015) ** 2)
        st += _smooth_step(t, r + 0.03, 0.02) * (1 - _smooth_step(t, r + 0.28, 0.06))
    sig = np.tile(qrs, (12, 1))
    sig[STANDARD_LEADS.index("V1")] += st_mv * st
    sig[STANDARD_LEADS.index("V2")] += 0.5 * st_mv * st
    return ECG(sig, fs, STANDARD_LEADS)


@pytest.mark.parametrize("fs", [100.0, 500.0])
def test_st_level_of_a_hand_built_beat(fs: float) -> None:
    ecg = _beats(0.2, fs)
    fid = fiducials(ecg, ["II"])
    assert fid.ok and not fid.fallback and len(fid.peaks) == 14
    assert 0.02 <= fid.j_point / fs <= 0.06 and -0.06 <= fid.onset / fs <= -0.02  # QRS ±2.6 σ
    st = st_levels(ecg, fid)
    assert st["st_j60"] == pytest.approx([0.2, 0.1], abs=0.02)
    flat = st_levels(_beats(0.0, fs), fid)
    assert flat["st_j60"] == pytest.approx([0.0, 0.0], abs=0.01)
    assert st_levels(ecg, fid, leads=["II"])["st_j60"] == pytest.approx([0.0], abs=0.01)


def test_same_fiducials_make_the_st_difference_an_amplitude_difference() -> None:
    real = _beats(0.2)
    fid = fiducials(real, ["I", "II"])
    half = real.with_signal(real.signal * np.where(np.arange(12) == STANDARD_LEADS.index("V1"), 0.5, 1.0)[:, None])
    a, b = st_levels(real, fid), st_levels(half, fid)
    assert b["st_j60"][0] == pytest.approx(0.5 * a["st_j60"][0], rel=1e-6)
    assert b["st_j60"][1] == a["st_j60"][1]


def test_too_few_beats_give_nan_not_a_guess() -> None:
    short = _beats(0.2, seconds=1.5)
    fid = fiducials(short, "II")
    assert not fid.ok
    assert np.isnan(st_levels(short, fid)["st_j60"]).all()
    with pytest.raises(InputError) as exc:
        st_levels(_beats(0.2, fs=500.0), fid)
    assert "fiducials" in one_line(exc)


def test_brugada_check_real_against_itself_and_the_uncertain_ones() -> None:
    rng = np.random.default_rng(0)
    code = np.array([0] * 30 + [1] * 10 + [2] * 4)
    st = rng.normal(0.1, 0.05, (44, 2)) + 0.1 * (code == 1)[:, None]
    st[3] = np.nan  # not measurable
    res = brugada_st_check(code, st, st.copy(), n_boot=100)
    assert res["n"] == {"records": 44, "measured": 43, "not_measured": 1, "brugada_1": 10, "brugada_0": 29,
                        "uncertain_excluded_from_auroc": 4}
    a = res["auroc"]
    assert a["delta"] == 0.0 and a["delta_ci"] == [0.0, 0.0] and a["real"] > 0.8
    for g in res["agreement"].values():
        assert g["mean_diff_mv"] == 0.0 and g["pearson_r"] == pytest.approx(1.0) and g["n"] == 43
    shifted = brugada_st_check(code, st, st + 0.05, n_boot=100)
    assert shifted["auroc"]["delta"] == pytest.approx(0.0)  # a constant offset keeps the ranking
    assert shifted["agreement"]["V1"]["mean_diff_mv"] == pytest.approx(0.05)
    assert shifted["agreement"]["V1"]["mean_diff_ci"] == pytest.approx([0.05, 0.05])
    with pytest.raises(InputError):
        brugada_st_check(np.array([0, 3]), np.zeros((2, 2)), np.zeros((2, 2)))


# ----------------------------------------------------------------------------- the classifier's inputs
def _tiny(mode: str = "full") -> DiagnosticClassifier:
    torch.manual_seed(0)
    spec = {"stem_channels": 4, "widths": [8, 8], "strides": [2, 2]}
    cfg = ClassifierConfig.model_validate({"model": spec, "input": {"mode": mode}})
    return DiagnosticClassifier(SuperclassNet.from_spec(cfg.model).eval(), cfg)


def test_classifier_preprocessing_is_the_training_preprocessing(data_dir) -> None:
    """The classifier filters an ECG with the very function the training cache is built from
    (:func:`preprocess_records`; the cache equals it, tests/unit/training/test_recon_training.py)."""
    reader = get_reader("ptbxl", data_dir)
    ecgs = [reader.read(i) for i in range(4)]
    clf = _tiny()
    for ecg in ecgs:
        ref = preprocess_records(ecg.signal[None], [ecg.n_samples], 100.0, ReconDataConfig())[0]
        np.testing.assert_array_equal(clf.preprocess(ecg), ref)
        reordered = ecg.select(list(reversed(STANDARD_LEADS)))  # any lead order: the classifier's own order
        np.testing.assert_array_equal(clf.preprocess(reordered), ref)
    for mode in ("full", "crops"):
        p = _tiny(mode).predict(ecgs)
        assert p.shape == (4, 5) and ((p >= 0) & (p <= 1)).all()
        np.testing.assert_array_equal(p[1:2], _tiny(mode).predict(ecgs[1:2]))  # batching does not matter
    up = ECG(np.repeat(ecgs[0].signal, 5, axis=1), 500.0, ecgs[0].leads)
    assert clf.preprocess(up).shape == (12, 1000)  # resampled to the classifier's rate


def test_classifier_inputs_must_be_12_lead_ecgs() -> None:
    clf = _tiny()
    with pytest.raises(InputError) as exc:
        clf.preprocess(ECG(np.zeros((1, 1000)) + 0.1, 100.0, ["I"]))
    assert "missing" in one_line(exc)
    with pytest.raises(InputError):
        clf.preprocess(np.zeros((12, 1000)))  # type: ignore[arg-type]


def test_load_classifier_errors(tmp_path) -> None:
    with pytest.raises(DataNotFoundError) as exc:
        load_classifier(tmp_path)
    assert "classifier.yaml" in one_line(exc) or "classifier.safetensors" in one_line(exc)
    (tmp_path / "classifier.yaml").write_text("format: something-else/1\n")
    (tmp_path / "classifier.safetensors").write_bytes(b"x")
    with pytest.raises(CorruptFileError) as exc:
        load_classifier(tmp_path)
    one_line(exc)

