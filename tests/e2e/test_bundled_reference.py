"""The bundled models' outputs on real records equal the stored reference (what users get does
not change under refactoring). Regenerate the reference only on purpose:
``python tests/e2e/reference/make_reference_outputs.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "reference"))
from make_reference_outputs import HERE, compute


def test_bundled_outputs_unchanged(data_dir) -> None:
    stored = np.load(HERE / "bundled_outputs.npz")
    now = compute(data_dir)
    assert sorted(now) == sorted(stored.files)
    for key in stored.files:
        unit = "mV" if key.endswith("reconstruct") else "embedding units"
        err = float(np.abs(now[key].astype(np.float64) - stored[key]).max())
        assert err <= 1e-6, f"{key}: max |difference| {err:.3g} {unit}"
