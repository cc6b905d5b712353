"""Shared fixtures: the real-data directory.

Tests run on the real recordings of the data directory, found by the project's normal rule
(``$LEADLIFT_DATA``); when unset, the workspace copy at ``<repo>/../shared/data`` is used.
A missing data directory is an error, not a skip: these tests are the project's guarantee.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/helpers.py for every test folder


def _data_dir() -> Path:
    env = os.environ.get("LEADLIFT_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path.resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = _data_dir()
    if not (path / "ptb-xl").is_dir():
        pytest.fail(
            f"real ECG data not found at {path}; set LEADLIFT_DATA to the folder that holds ptb-xl/, "
            "ecgiddb/, ptbdb/ (see README)"
        )
    return path


@pytest.fixture(scope="session")
def tiny_mae_checkpoint(data_dir, tmp_path_factory) -> Path:
    """A tiny aligned MAE trained here on PTB-XL folds 1-8 (the shipped mae-tiny config, ~20 s) and given
    its amplitude calibration: the stand-in for the shipped weights in API/CLI tests. Read-only:
    tests that modify a checkpoint copy it first."""
    from leadlift.config import load_config
    from leadlift.training.pretrain import pretrain
    from leadlift.workflows.release import calibrate_mae_checkpoint

    out = tmp_path_factory.mktemp("tiny_mae")
    pretrain(load_config("mae-tiny"), data_dir, out, progress=False)
    calibrate_mae_checkpoint(out, data_dir)
    return out


@pytest.fixture(scope="session")
def tiny_anysubset_checkpoint(data_dir, tmp_path_factory) -> Path:
    """A tiny any-subset reconstructor trained here on real PTB-XL (the shipped recon-tiny config's
    ``anysubset:`` section, ~40 s on 2 cores: SupCon encoder, 6 steps, fold-9 spread calibration):
    the stand-in for the bundled recon-any in API/CLI tests. Read-only: copy it before modifying."""
    from leadlift.recon_config import load_recon_config
    from leadlift.training.recon import train_recon

    out = tmp_path_factory.mktemp("tiny_anysubset") / "model"
    train_recon(load_recon_config("recon-tiny"), data_dir, out, method="anysubset", progress=False)
    return out
