"""ECG-ID protocols on the real ECG-ID metadata: what must never be on both sides is not; record-level
aggregation on hand-made embeddings; the median-beat template baseline on the real ECG-ID records."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadlift.data.readers import get_reader
from leadlift.errors import InputError
from leadlift.evaluation.biometrics import (
    LEAKY_PROTOCOLS,
    PROTOCOLS,
    crop_starts,
    evaluate_identification,
    identify,
    median_beat,
    nearest_neighbour_predict,
    protocol_split,
    record_embeddings,
    template_identification,
    window_table,
)


@pytest.fixture(scope="module")
def windows(data_dir) -> pd.DataFrame:
    """4 windows per real ECG-ID record (as a 20-s record cut into 5-s windows)."""
    meta = get_reader("ecgid", data_dir).metadata()
    assert len(meta) == 310 and meta["person"].nunique() == 90
    rows = np.repeat(np.arange(len(meta)), 4)
    starts = np.tile(np.arange(4) * 500, len(meta))
    return window_table(meta, rows, starts)


def _window_key(w: pd.DataFrame, idx: np.ndarray) -> set[tuple[str, int]]:
    return set(zip(w["record_id"].iloc[idx], w["start"].iloc[idx], strict=True))


def test_window_random_never_shares_a_window(windows) -> None:
    enrol, probe = protocol_split(windows, "window-random", seed=0)
    assert not set(enrol) & set(probe)
    assert not _window_key(windows, enrol) & _window_key(windows, probe)
    assert set(windows["person"].iloc[probe]) == set(windows["person"].iloc[enrol])
    # every window of every person used, half on each side
    assert len(enrol) + len(probe) == len(windows)
    e2, _ = protocol_split(windows, "window-random", seed=0)
    np.testing.assert_array_equal(enrol, e2)
    assert not np.array_equal(enrol, protocol_split(windows, "window-random", seed=1)[0])


def test_cross_record_never_shares_a_record(windows) -> None:
    enrol, probe = protocol_split(windows, "cross-record")
    rec_e, rec_p = set(windows["record_id"].iloc[enrol]), set(windows["record_id"].iloc[probe])
    assert not rec_e & rec_p
    assert set(windows["record_no"].iloc[enrol]) == {1} and set(windows["record_no"].iloc[probe]) == {2}
    persons = set(windows["person"].iloc[enrol])
    assert persons == set(windows["person"].iloc[probe]) and len(persons) == 89


def test_cross_session_never_shares_a_day(windows) -> None:
    enrol, probe = protocol_split(windows, "cross-session")
    we, wp = windows.iloc[enrol], windows.iloc[probe]
    assert not set(we["record_id"]) & set(wp["record_id"])
    assert not set(zip(we["person"], we["date"], strict=True)) & set(zip(wp["person"], wp["date"], strict=True))
    first = we.groupby("person")["date"].max()
    later = wp.groupby("person")["date"].min()
    assert (later > first.loc[later.index]).all()  # every probe day is after the enrolment day
    assert we.groupby("person")["date"].nunique().max() == 1
    assert 2 <= we["person"].nunique() == wp["person"].nunique() < 90


def test_identification_on_known_embeddings(windows) -> None:
    # embedding = one-hot person + small noise: both classifiers must be perfect on every protocol
    persons = sorted(set(windows["person"]))
    x = np.eye(len(persons))[[persons.index(p) for p in windows["person"]]]
    x = x + 0.01 * np.random.default_rng(0).normal(size=x.shape)
    res = evaluate_identification(x, windows)
    assert list(res) == list(PROTOCOLS)
    for r in res.values():
        assert r["nn_top1"] == 1.0 and r["linear_top1"] == 1.0
        assert r["chance"] == pytest.approx(1 / r["n_persons"])
    # pure noise: near chance
    noise = identify(np.random.default_rng(1).normal(size=(len(windows), 8)), windows, "cross-record")
    assert noise["nn_top1"] < 0.1


def test_nearest_neighbour_by_cosine_hand_computed() -> None:
    enrol = np.array([[1.0, 0.0], [0.0, 1.0]])
    # [10, 1] is far from [1, 0] in Euclidean terms but closest by angle
    pred = nearest_neighbour_predict(enrol, np.array(["a", "b"]), np.array([[10.0, 1.0], [0.2, 1.0]]))
    assert pred.tolist() == ["a", "b"]


def test_unknown_protocol(windows) -> None:
    with pytest.raises(InputError, match="window-random"):
        protocol_split(windows, "leave-one-out")


# ---------------------------------------------------------------------------------------- record level
def test_record_embeddings_hand_computed() -> None:
    x = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0], [3.0, 4.0]])
    ids, mean = record_embeddings(x, np.array(["b", "b", "a", "a", "c"]), normalise=False)
    assert ids.tolist() == ["b", "a", "c"]  # order of first appearance
    np.testing.assert_allclose(mean, [[2.0, 0.0], [0.0, 3.0], [3.0, 4.0]])
    _, unit = record_embeddings(x, np.array(["b", "b", "a", "a", "c"]))
    np.testing.assert_allclose(unit, [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    with pytest.raises(InputError):
        record_embeddings(x, np.array(["a"]))


def _tiny_table() -> pd.DataFrame:
    """Two persons, rec_1 enrolled / rec_2 probed, two windows per record."""
    rows = [(p, r, s) for p in ("P1", "P2") for r in (1, 2) for s in (0, 1)]
    return pd.DataFrame({"person": [p for p, _, _ in rows], "record_id": [f"{p}/rec_{r}" for p, r, _ in rows],
                         "record_no": [r for _, r, _ in rows], "date": "", "start": [s for _, _, s in rows],
                         "store_row": 0})


def test_record_level_identification_by_hand() -> None:
    """Window by window, one probe window of P1 lies closer to P2's enrolled windows; the mean of the
    record is on P1's side, so the record level is right where the window level is not."""
    w = _tiny_table()
    # windows, in table order: P1 rec_1 (2), P1 rec_2 (2), P2 rec_1 (2), P2 rec_2 (2)
    x = np.array([[1.0, 0.1], [1.0, -0.1],          # P1 enrolled: around +x
                  [0.2, 1.0], [1.0, -0.3],          # P1 probe: the first window points to P2
                  [0.0, 1.0], [0.1, 1.0],           # P2 enrolled: around +y
                  [0.1, 1.0], [-0.1, 1.0]])         # P2 probe
    r = identify(x, w, "cross-record", linear=False)
    assert r["n_probe_windows"] == 4 and r["n_enrol_records"] == r["n_probe_records"] == 2
    assert r["nn_top1"] == 0.75  # 3 of 4 windows
    # record means: P1 rec_2 = [0.6, 0.35] → cosine closer to P1 rec_1's [1, 0] than to P2's [0.05, 1]
    assert r["record_nn_top1"] == 1.0
    assert np.isnan(r["linear_top1"]) and np.isnan(r["record_linear_top1"])
    assert not r["leaky"] and r["label"] == "cross-record"
    # a representation given per record replaces the window mean
    rec = {"P1/rec_1": np.array([1.0, 0.0]), "P1/rec_2": np.array([0.0, 1.0]),
           "P2/rec_1": np.array([0.0, 1.0]), "P2/rec_2": np.array([1.0, 0.0])}
    assert identify(x, w, "cross-record", linear=False, record_x=rec)["record_nn_top1"] == 0.0


def test_window_random_is_flagged_leaky(windows) -> None:
    x = np.random.default_rng(0).normal(size=(len(windows), 4))
    res = evaluate_identification(x, windows, linear=False)
    assert LEAKY_PROTOCOLS == {"window-random"}
    assert res["window-random"]["leaky"] is True and "LEAKY" in res["window-random"]["label"]
    assert "LEAKY" in res["window-random"]["note"]
    # its records are split between the sides: no record level
    assert np.isnan(res["window-random"]["record_nn_top1"]) and res["window-random"]["record_level"].startswith("n/a")
    for p in ("cross-record", "cross-session"):
        assert res[p]["leaky"] is False and "LEAKY" not in res[p]["label"]
        assert np.isfinite(res[p]["record_nn_top1"])


def test_record_level_on_known_embeddings(windows) -> None:
    persons = sorted(set(windows["person"]))
    x = np.eye(len(persons))[[persons.index(p) for p in windows["person"]]]
    x = x + 0.2 * np.random.default_rng(0).normal(size=x.shape)  # noisy windows, cleaner record means
    res = evaluate_identification(x, windows, linear=False)
    for p in ("cross-record", "cross-session"):
        assert res[p]["nn_top1"] < 0.9 and res[p]["record_nn_top1"] == 1.0


# ---------------------------------------------------------------------------------------- shifted crops
def test_crop_starts_stay_inside_the_record() -> None:
    win, start = crop_starts(np.array([0, 500, 1500]), np.array([2000, 2000, 2000]), 500, step=5, half_span=100)
    assert set(win.tolist()) == {0, 1, 2}
    assert (start >= 0).all() and (start + 500 <= 2000).all()
    assert start[win == 0].tolist() == list(range(0, 101, 5))  # first window: only later crops
    assert start[win == 1].tolist() == list(range(400, 601, 5))  # 41 crops, the window itself in the middle
    assert start[win == 2].tolist() == list(range(1400, 1501, 5))  # last window: only earlier crops
    with pytest.raises(InputError):
        crop_starts(np.array([0]), np.array([2000]), 500, step=0, half_span=100)


# ---------------------------------------------------------------------------------------- template
@pytest.fixture(scope="module")
def ecgid_store(data_dir):
    from leadlift.data.store import prepare

    return prepare("ecgid", 100, data_dir, progress=False)


def test_median_beat_of_a_synthetic_train() -> None:
    fs = 100.0
    t = np.arange(1000) / fs
    x = np.zeros_like(t)
    beat = np.exp(-0.5 * ((np.arange(-25, 45)) / 1.5) ** 2)  # narrow R wave at sample 25
    peaks = np.arange(60, 950, 80)  # 75 bpm
    for p in peaks:
        x[p - 25:p + 45] -= beat  # negative QRS: the detector must keep the polarity
    tmpl, n = median_beat(x, fs)
    assert n == len(peaks) and tmpl.shape == (70,)
    assert np.argmin(tmpl) == 25 and abs(tmpl.mean()) < 1e-9 and tmpl.std() == pytest.approx(1.0)
    assert median_beat(x[:30], fs)[1] == 0


def test_r_peaks_agree_with_the_database_annotations(ecgid_store, data_dir) -> None:
    """ECG-ID ships (unaudited) R-peak annotations at 500 Hz: most of them are found at 100 Hz."""
    import wfdb

    from leadlift.preprocessing import r_peaks

    hits, total = 0, 0
    for i in range(0, len(ecgid_store), 5):
        rid = ecgid_store.meta["record_id"].iloc[i]
        ann = wfdb.rdann(str(data_dir / "ecgiddb" / rid), "atr")
        ref = np.array([s for s, c in zip(ann.sample, ann.symbol, strict=True) if c == "N"]) * 100 / ann.fs
        peaks = r_peaks(np.asarray(ecgid_store.signals[i, 0]), 100, polarity="auto")
        assert 10 <= len(peaks) <= 70  # 20 s at 30–210 bpm
        hits += int((np.abs(ref[:, None] - peaks[None, :]).min(axis=1) <= 4).sum())
        total += len(ref)
    assert hits / total > 0.8


def test_template_baseline_identifies_persons_across_records(ecgid_store) -> None:
    from leadlift.evaluation.embeddings import window_index

    rows, starts = window_index(ecgid_store, np.arange(len(ecgid_store)), 500)
    w = window_table(ecgid_store.meta, rows, starts)
    res = template_identification(ecgid_store, w, 500)
    assert res["name"] == "median-beat template" and res["records_without_beat"] == 0
    cr = res["protocols"]["cross-record"]
    assert cr["n_persons"] == 89 and cr["n_probe_records"] == 89
    # chance is 1/89 ≈ 0.011; the template identifies most persons from another recording
    assert cr["record_nn_top1"] > 0.6 and cr["nn_top1"] > 0.6
    assert res["protocols"]["cross-session"]["record_nn_top1"] > 10 * res["protocols"]["cross-session"]["chance"]
    assert np.isnan(cr["linear_top1"])  # nearest neighbour only
    assert res["protocols"]["window-random"]["leaky"]
