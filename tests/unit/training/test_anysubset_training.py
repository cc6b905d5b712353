"""Training of the any-subset reconstructor: the subset sampler, the target weights, the spread
calibration (on real PTB-XL windows), and a real-data ``recon-tiny`` run exported as a checkpoint
that validates and loads through the one inference path."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import Tensor, nn

from helpers import one_line
from leadlift.api import LeadLift
from leadlift.data.windows import window_index
from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import CorruptFileError, InputError
from leadlift.inference.backends import AnySubsetBackend
from leadlift.inference.checkpoint import Uncertainty, read_config
from leadlift.io import read_ecg
from leadlift.models.anysubset import BASIS_LEADS, CORE_SUBSETS, AnySubsetNet, presence_mask, subset_key
from leadlift.training.anysubset import SubsetSampler, calibrate_spread, target_weights

WINDOW = 256


def _keys(masks: Tensor) -> list[str]:
    return [",".join(n for n, v in zip(STANDARD_LEADS, row, strict=True) if v) for row in masks.tolist()]


def test_subset_sampler_never_draws_an_empty_or_full_subset() -> None:
    masks = SubsetSampler(["I", "I,II,V2"], 0.5, 11, seed=3)(4000)
    assert masks.shape == (4000, 12) and set(masks.unique().tolist()) <= {0.0, 1.0}
    n = masks.sum(dim=1)
    assert int(n.min()) >= 1 and int(n.max()) <= 11
    random_only = SubsetSampler([], 0.0, 4, seed=1)(2000).sum(dim=1)
    assert int(random_only.min()) == 1 and int(random_only.max()) == 4  # 1..max_random, all sizes drawn
    again = SubsetSampler(["I", "I,II,V2"], 0.5, 11, seed=3)(4000)
    assert torch.equal(masks, again)  # seeded


@pytest.mark.parametrize("p_named", [0.0, 0.3, 1.0])
def test_subset_sampler_respects_p_named(p_named: float) -> None:
    named = ["I,II,V2", "II,V1,V5"]  # three leads each; random subsets here hold at most two
    masks = SubsetSampler(named, p_named, 2, seed=0)(4000)
    keys = _keys(masks)
    share = np.mean([k in {subset_key(s) for s in named} for k in keys])
    assert abs(share - p_named) < 0.03
    assert all(k in {subset_key(s) for s in named} or 1 <= len(k.split(",")) <= 2 for k in keys)
    with pytest.raises(InputError):
        SubsetSampler([], 0.5, 2)


def test_target_weights_skip_what_the_subset_determines() -> None:
    def weights(leads: str) -> dict[str, float]:
        w = target_weights(torch.from_numpy(presence_mask(leads))[None])[0]
        return dict(zip(BASIS_LEADS, w.tolist(), strict=True))

    precordial = {n: 1.0 for n in BASIS_LEADS[2:]}
    assert weights("I,II") == {"I": 0.0, "II": 0.0, **precordial}
    for two_limb in ("III,aVF", "aVR,aVL", "I,III", "II,aVL"):  # any two limb leads fix I and II
        assert weights(two_limb) == {"I": 0.0, "II": 0.0, **precordial}, two_limb
    assert weights("III") == {"I": 1.0, "II": 1.0, **precordial}  # one limb lead does not
    assert weights("I") == {"I": 0.0, "II": 1.0, **precordial}
    assert weights("II,V2") == {"I": 1.0, "II": 0.0, **precordial, "V2": 0.0}


class _ScaledSpread(nn.Module):
    """The same network with its spread multiplied by ``c``."""

    def __init__(self, net: AnySubsetNet, c: float) -> None:
        super().__init__()
        self.net, self.c = net, c

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        mean, sd = self.net(x, mask)
        return mean, sd * self.c


def test_calibrate_spread_compensates_a_scaled_spread(data_dir: Path) -> None:
    recs = [read_ecg(data_dir / "ptb-xl" / "records100" / "00000" / f"0000{i}_lr.hea") for i in (1, 2, 3)]
    records = torch.from_numpy(np.stack([r.signal for r in recs]).astype(np.float32))  # [3, 12, 1000] mV
    index = window_index([r.n_samples for r in recs], range(len(recs)), WINDOW, 128)
    torch.manual_seed(0)
    net = AnySubsetNet(None, levels=2, base_channels=4, kernel_size=5, feat_dim=8, head_hidden=4).eval()
    subsets = ["I", "V2", "I,II"]
    base = calibrate_spread(net, records, index, WINDOW, subsets, 0.9, n_random=40, seed=1)
    scaled = calibrate_spread(_ScaledSpread(net, 3.0), records, index, WINDOW, subsets, 0.9, n_random=40, seed=1)
    unc = Uncertainty.model_validate(base)  # the checkpoint's uncertainty section
    assert unc.level == 0.9 and unc.z == pytest.approx(1.644854, abs=1e-6)
    assert set(base["scale"]) == {"I", "V2", "I,II"}
    assert set(base["scale"]["I,II"]) == set(BASIS_LEADS[2:])  # only what the subset does not determine
    for key, factors in base["scale"].items():
        for lead, f in factors.items():
            assert f > 0
            assert 3.0 * scaled["scale"][key][lead] == pytest.approx(f, rel=2e-4, abs=2e-5), (key, lead)
    for lead, f in base["default_scale"].items():
        assert 3.0 * scaled["default_scale"][lead] == pytest.approx(f, rel=2e-4, abs=2e-5)
    # on the windows it was fitted on, the calibrated interval covers the nominal share
    x = torch.stack([records[r, :, s:s + WINDOW] for r, s in zip(index.rows, index.starts, strict=True)])
    m = torch.from_numpy(np.tile(presence_mask("V2"), (len(x), 1)))
    with torch.no_grad():
        mean, sd = net(x * m[:, :, None], m)
    for lead, f in base["scale"]["V2"].items():
        k = BASIS_LEADS.index(lead)
        err = (x[:, STANDARD_LEADS.index(lead)] - mean[:, k]).abs()
        inside = (err <= unc.z * f * sd[:, k]).float().mean().item()
        assert abs(inside - 0.9) < 0.01, (lead, inside)


def test_trained_checkpoint_has_an_uncertainty_section_and_loads(tiny_anysubset_checkpoint: Path) -> None:
    cfg = read_config(tiny_anysubset_checkpoint)  # validates the typed config
    assert cfg.format == "leadlift-recon/1" and cfg.method == "anysubset" and cfg.model.class_name == "AnySubsetNet"
    assert cfg.weights_sha256 and cfg.leads is not None and cfg.leads["any_subset"] is True
    assert cfg.preprocessing.input_leads == list(STANDARD_LEADS)
    unc = cfg.uncertainty
    assert isinstance(unc, Uncertainty) and unc.level == 0.9 and unc.z == pytest.approx(1.644854, abs=1e-6)
    assert {subset_key(s) for s in CORE_SUBSETS} <= set(unc.scale)
    assert set(unc.default_scale) == set(BASIS_LEADS) and all(f > 0 for f in unc.default_scale.values())
    assert all(f > 0 for factors in unc.scale.values() for f in factors.values())
    assert not (tiny_anysubset_checkpoint / "checkpoints").exists()  # the working folder is removed
    lift = LeadLift.from_pretrained(tiny_anysubset_checkpoint)
    assert isinstance(lift.backend, AnySubsetBackend) and lift.kind == "recon"
    assert lift.leads == STANDARD_LEADS and lift.backend.uncertainty_level == 0.9
    net = lift.backend.net
    assert isinstance(net, AnySubsetNet) and net.prior is not None and net.prior.half_taps == 10
    r = net.prior.xcorr  # the fitted lead cross-correlation table travels with the weights
    assert r.shape == (8, 8, 41) and bool((torch.diagonal(r[:, :, 20]) > 0).all())


def test_checkpoint_without_uncertainty_is_refused_in_one_line(tiny_anysubset_checkpoint: Path,
                                                               tmp_path: Path) -> None:
    folder = tmp_path / "no-unc"
    shutil.copytree(tiny_anysubset_checkpoint, folder)
    data = yaml.safe_load((folder / "config.yaml").read_text())
    del data["uncertainty"]
    (folder / "config.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(CorruptFileError, match="uncertainty") as exc:
        LeadLift.from_pretrained(folder)
    one_line(exc)
