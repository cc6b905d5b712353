"""Regenerate ``bundled_outputs.npz``: the bundled models' outputs on real records.

Run only when a bundled model's weights or its documented behaviour change on purpose::

    LEADLIFT_DATA=../shared/data python tests/e2e/reference/make_reference_outputs.py --force

The test ``test_bundled_outputs_unchanged`` compares the API's outputs against this file
(within 1e-6 mV), so a refactoring that changes what users get fails loudly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from leadlift import LeadLift
from leadlift.data.readers import ECGIDReader, PTBXLReader

HERE = Path(__file__).resolve().parent
CASES: tuple[tuple[str, str], ...] = (("mae-cpu", "I"), ("mae-cpu", "I,II,V2"), ("recon-i", "I"),
                                      ("recon-i-ii-v2", "I,II,V2"), ("recon-any", "I"), ("recon-any", "I,II"),
                                      ("recon-any", "V2"))
PTBXL_ROWS = (0, 1)  # the first two fold-10 records of the PTB-XL copy at 100 Hz


def reference_inputs(data_dir: str | Path) -> dict[str, object]:
    """The real recordings the reference is computed on: two fold-10 PTB-XL records (100 Hz) and
    the first 7 s of one ECG-ID record (lead I, 500 Hz)."""
    ptbxl = PTBXLReader(data_dir, fs=100)
    meta = ptbxl.metadata()
    test_rows = np.flatnonzero(meta["strat_fold"].to_numpy() == 10)
    out: dict[str, object] = {}
    for k in PTBXL_ROWS:
        ecg = ptbxl.read(int(test_rows[k]))
        out[f"ptbxl-{ecg.record_id}"] = ecg
    ecgid = ECGIDReader(data_dir).read(0)
    ecgid = ecgid.with_signal(ecgid.signal[:, : int(7 * ecgid.fs)])
    out[f"ecgid-{ecgid.record_id}"] = ecgid
    return out


def compute(data_dir: str | Path) -> dict[str, np.ndarray]:
    """Every case on every input: reconstructions (mV), their spread where the model gives one, and,
    for the MAE, window embeddings."""
    inputs = reference_inputs(data_dir)
    arrays: dict[str, np.ndarray] = {}
    for model_name, leads in CASES:
        model = LeadLift.from_pretrained(model_name)
        for key, ecg in inputs.items():
            if not set(leads.split(",")) <= set(ecg.leads):
                continue
            rec = model.reconstruct(ecg, leads=leads.split(","))
            arrays[f"{model_name}|{leads}|{key}|reconstruct"] = rec.signal
            if rec.spread is not None:  # the calibrated predictive SD (mV) is part of what users get
                arrays[f"{model_name}|{leads}|{key}|spread"] = rec.spread
            if model.kind == "mae":
                arrays[f"{model_name}|{leads}|{key}|embed"] = model.embed(ecg, leads=leads.split(",")).windows
    return arrays


if __name__ == "__main__":
    import sys

    target = HERE / "bundled_outputs.npz"
    if target.exists() and "--force" not in sys.argv:
        sys.exit(f"{target} exists; pass --force to replace the reference (only when outputs change on purpose)")
    data = os.environ.get("LEADLIFT_DATA", str(HERE.parents[3] / "shared" / "data"))
    result = compute(data)
    np.savez_compressed(HERE / "bundled_outputs.npz", **result)
    print(f"wrote {len(result)} arrays to {HERE / 'bundled_outputs.npz'}")
