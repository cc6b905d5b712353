"""``benchmarks/anysubset.py``'s summary of the committed per-subset results: every core subset has
a row, each control twin's paired Δ is the difference of the two models' RMSE on the same windows,
and the rendered summary equals the committed one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks"))
import anysubset as bench  # noqa: E402
from leadlift.models.anysubset import CORE_SUBSETS, subset_key  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "anysubset"


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(RESULTS.with_suffix(".json").read_text())


def test_summary_has_every_core_subset_and_paired_controls(committed: dict) -> None:
    controls = committed["controls"]
    assert controls, "the committed summary names its control twins"
    res = bench.summarize(RESULTS, committed["model"], [subset_key(s) for s in CORE_SUBSETS], controls)
    assert [r["subset"] for r in res["subsets"]] == [subset_key(s) for s in CORE_SUBSETS]
    for row in res["subsets"]:
        assert set(row["controls"]) == set(controls)
        for c in controls:
            d = row["controls"][c]["delta_rmse"]
            assert d["diff"] == pytest.approx(row["rmse"][committed["model"]] - row["controls"][c]["rmse"], abs=1e-6)
            lo, hi = d["ci"]
            assert lo <= d["diff"] <= hi
    res = json.loads(json.dumps(res))  # as written (tuples become lists)
    assert {k: v for k, v in res.items() if k != "runs"} == {
        k: v for k, v in committed.items() if k in res and k != "runs"}


def test_rendered_summary_is_the_committed_markdown(committed: dict) -> None:
    text = bench.markdown(committed, committed["command"])
    assert text.rstrip() == RESULTS.with_suffix(".md").read_text().rstrip()
    for c in committed["controls"]:
        assert f"vs the control `{c}`" in text
