"""ECG-ID protocols on the real ECG-ID metadata: what must never be on both sides is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadlift.data.readers import get_reader
from leadlift.errors import InputError
from leadlift.evaluation.biometrics import (
    PROTOCOLS,
    evaluate_identification,
    identify,
    nearest_neighbour_predict,
    protocol_split,
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
