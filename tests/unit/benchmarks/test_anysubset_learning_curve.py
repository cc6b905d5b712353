"""``benchmarks/anysubset_learning_curve.py``: nested record draws, the log2 trend line, and the
committed curve is consistent with itself (ratios are RMSE ÷ same-run FIR, the trend is the line
through the committed points, the record counts grow and stay within folds 1–8)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks"))
import anysubset_learning_curve as curve  # noqa: E402
import anysubset_selection as selection  # noqa: E402
from leadlift.models.anysubset import CORE_SUBSETS  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "anysubset_learning_curve.json"


def test_fraction_rows_are_nested_and_sized() -> None:
    rows = np.repeat(np.arange(100, 300), 3)  # 200 records, 3 windows each
    sets = curve.fraction_rows(rows, [0.125, 0.5, 1.0], seed=0)
    assert [len(sets[f]) for f in (0.125, 0.5, 1.0)] == [25, 100, 200]
    assert set(sets[0.125]) <= set(sets[0.5]) <= set(sets[1.0]) == set(range(100, 300))
    again = curve.fraction_rows(rows, [0.125, 0.5, 1.0], seed=0)
    assert all(np.array_equal(sets[f], again[f]) for f in sets)
    assert not np.array_equal(curve.fraction_rows(rows, [0.5], seed=1)[0.5], sets[0.5])


def test_named_arguments_need_a_name_and_a_value() -> None:
    assert selection.parse_named(["a=x+y", "b=c=d"]) == [("a", "x+y"), ("b", "c=d")]
    for bad in ("shipped", "=path", "name="):
        with pytest.raises(SystemExit, match="is not NAME=CHECKPOINT"):
            selection.parse_named([bad])
    with pytest.raises(SystemExit, match="is not a fraction"):
        curve.main(["--reuse", "all=src/leadlift/weights/recon-any"])


def test_trend_recovers_a_line_and_its_crossing() -> None:
    n = [100, 200, 400, 800]
    ratios = [1.0 - 0.02 * np.log2(x / 100) for x in n]
    t = curve.trend(n, ratios)
    assert t["slope_per_doubling"] == pytest.approx(-0.02, abs=1e-4)
    assert t["records_at_0.90"] == pytest.approx(100 * 2 ** 5, rel=1e-3)
    assert "records_at_0.90" not in curve.trend(n, [0.9, 0.91, 0.92, 0.93])


def test_summarise_gives_mean_and_range_per_fraction() -> None:
    def run(f: float, seed: int, r: float) -> dict:
        return {"fraction": f, "train_seed": seed, "n_records": int(f * 100), "n_windows": int(f * 1000),
                "fir_rmse": dict.fromkeys(CORE_SUBSETS, 0.2), "ratio_to_fir": dict.fromkeys(CORE_SUBSETS, r)}
    rows = curve.summarise([run(0.5, 0, 0.9), run(0.5, 1, 1.0), run(1.0, 0, 0.8)])
    assert [r["n_seeds"] for r in rows] == [2, 1]
    first = rows[0]
    assert first["ratio_mean"]["I"] == pytest.approx(0.95)
    assert (first["ratio_min"]["I"], first["ratio_max"]["I"]) == (0.9, 1.0)


@pytest.mark.skipif(not RESULTS.exists(), reason="no committed learning curve")
def test_committed_curve_is_self_consistent() -> None:
    res = json.loads(RESULTS.read_text())
    pts = res["points"]
    assert len(res["by_fraction"]) >= 3
    assert [p["n_records"] for p in pts] == sorted(p["n_records"] for p in pts)
    assert res["by_fraction"][-1]["fraction"] == 1.0
    assert res["by_fraction"] == curve.summarise(pts)
    for p in pts:
        for s in CORE_SUBSETS:
            assert p["ratio_to_fir"][s] == pytest.approx(p["rmse"][s] / p["fir_rmse"][s], abs=1e-3)
    for s in CORE_SUBSETS:
        t = curve.trend([p["n_records"] for p in pts], [p["ratio_to_fir"][s] for p in pts])
        assert t["slope_per_doubling"] == pytest.approx(res["trend"][s]["slope_per_doubling"], abs=1e-4)


ENSEMBLE = REPO / "benchmarks" / "results" / "anysubset_ensemble.json"


@pytest.mark.skipif(not ENSEMBLE.exists(), reason="no committed ensemble check")
def test_committed_ensemble_check_names_its_members() -> None:
    """``anysubset_selection.py NAME=A+B``: each row's member count is its checkpoints', and its
    ratios are its RMSE ÷ the same FIR row."""
    res = json.loads(ENSEMBLE.read_text())
    assert any(m["members"] > 1 for m in res["models"])
    for m in res["models"]:
        assert m["members"] == len(m["checkpoint"].split("+"))
        for s in CORE_SUBSETS:
            assert m["ratio_to_fir"][s] == pytest.approx(m["rmse"][s] / res["fir_rmse"][s], abs=1e-3)
