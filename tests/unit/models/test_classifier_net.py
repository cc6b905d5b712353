"""The superdiagnostic classifier network: shapes, config validation and crop averaging."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import one_line
from leadlift.errors import InputError
from leadlift.models.classifier import (
    ClassifierConfig,
    ClassifierInput,
    ClassifierNetSpec,
    SuperclassNet,
    crop_starts,
    predict_records,
)


def _net() -> SuperclassNet:
    torch.manual_seed(0)
    return SuperclassNet.from_spec(ClassifierNetSpec(stem_channels=4, widths=[8, 8], strides=[2, 2])).eval()


def test_logits_for_any_length() -> None:
    net = _net()
    for t in (256, 1000, 1200):
        assert net(torch.randn(3, 12, t)).shape == (3, 5)


def test_crop_averaging_matches_a_loop() -> None:
    net = _net()
    x = torch.randn(2, 12, 300)
    starts = crop_starts(300, 256, 64)
    assert starts.tolist() == [0, 44]  # every hop, plus one end-aligned crop
    assert crop_starts(256, 256, 64).tolist() == [0]
    ref = np.stack([torch.sigmoid(net(x[:, :, s:s + 256])).detach().numpy() for s in starts]).mean(axis=0)
    np.testing.assert_allclose(predict_records(net, x, ClassifierInput(mode="crops")), ref, rtol=1e-5)
    full = predict_records(net, x.numpy(), ClassifierInput(mode="full"))
    np.testing.assert_allclose(full, torch.sigmoid(net(x)).detach().numpy(), rtol=1e-5)
    assert predict_records(net, torch.zeros(0, 12, 300), ClassifierInput()).shape == (0, 5)


def test_bad_inputs_and_configs() -> None:
    net = _net()
    with pytest.raises(InputError) as exc:
        predict_records(net, torch.randn(1, 12, 100), ClassifierInput(mode="crops"))
    assert "shorter" in one_line(exc)
    with pytest.raises(InputError) as exc:
        predict_records(net, torch.randn(1, 3, 300), ClassifierInput())
    assert "[N, 12, T]" in one_line(exc)
    with pytest.raises(ValueError):
        ClassifierConfig.model_validate({"classes": ["NORM"]})
    with pytest.raises(ValueError):
        ClassifierNetSpec(widths=[8], strides=[2, 2])
