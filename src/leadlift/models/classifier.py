"""A small 12-lead superdiagnostic classifier (the judge of diagnostic fidelity).

:class:`SuperclassNet` is a 1-D ResNet backbone (:class:`leadlift.models.recon.ResNet1dEncoder`,
global mean pool) with dropout and a linear head giving one logit per PTB-XL diagnostic
superclass (NORM, MI, STTC, CD, HYP; multi-label). It takes band-passed, baseline-free 12-lead
signals in **mV** as they are (no per-record normalisation, so amplitudes — voltage criteria of
HYP, ST levels — stay visible to it).

:class:`ClassifierConfig` is the typed ``classifier.yaml`` that travels with the weights: the
architecture, the preprocessing every input must get, how a record is fed (whole record, or
crops averaged) and the training record. :func:`predict_records` turns preprocessed records into
class probabilities exactly as training selected the model (same crops, same averaging).

Models never read files: writing and loading the pair live in :mod:`leadlift.training.classifier`
and :mod:`leadlift.evaluation.diagnostic`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from leadlift.config import StrictModel
from leadlift.conventions import SUPERCLASSES
from leadlift.ecg import STANDARD_LEADS
from leadlift.errors import InputError
from leadlift.models.recon import ResNet1dEncoder
from leadlift.recon_config import ReconDataConfig

__all__ = [
    "CLASSIFIER_CONFIG_FILE",
    "CLASSIFIER_FORMAT",
    "CLASSIFIER_WEIGHTS_FILE",
    "ClassifierConfig",
    "ClassifierInput",
    "ClassifierNetSpec",
    "ClassifierPreprocessing",
    "SuperclassNet",
    "crop_starts",
    "predict_records",
]

CLASSIFIER_FORMAT = "leadlift-diagnostic-classifier/1"
"""``format`` of a classifier's ``classifier.yaml``."""
CLASSIFIER_WEIGHTS_FILE = "classifier.safetensors"
CLASSIFIER_CONFIG_FILE = "classifier.yaml"
"""File names of a trained classifier's folder (weights, typed config)."""


class ClassifierNetSpec(StrictModel):
    """Constructor arguments of :class:`SuperclassNet`."""

    n_leads: int = Field(12, gt=0)
    n_classes: int = Field(5, gt=0)
    stem_channels: int = Field(16, gt=0)
    widths: list[int] = Field(default_factory=lambda: [32, 64, 64, 128])
    strides: list[int] = Field(default_factory=lambda: [2, 2, 2, 1])
    stem_kernel: int = Field(7, gt=0)
    block_kernel: int = Field(5, gt=0)
    dropout: float = Field(0.3, ge=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> ClassifierNetSpec:
        if len(self.widths) != len(self.strides) or not self.widths:
            raise ValueError("model.widths and model.strides need one entry per residual block")
        if self.stem_kernel % 2 == 0 or self.block_kernel % 2 == 0:
            raise ValueError("model kernel sizes must be odd")
        return self


class ClassifierPreprocessing(StrictModel):
    """What every input gets before the network (the same as the training records got):
    resampling to ``fs``, zero-phase Butterworth band-pass, then a running-median baseline removal."""

    fs: float = Field(100.0, gt=0, description="model rate in Hz")
    bandpass_low_hz: float = Field(0.5, gt=0)
    bandpass_high_hz: float = Field(45.0, gt=0)
    bandpass_order: int = Field(4, gt=0)
    baseline_window_s: float | None = Field(0.6, gt=0)

    def data_config(self) -> ReconDataConfig:
        """These settings as the store-preprocessing config (:func:`leadlift.data.windows.preprocess_records`
        and its training cache run exactly these filters)."""
        return ReconDataConfig(fs=self.fs, bandpass_low_hz=self.bandpass_low_hz,
                               bandpass_high_hz=self.bandpass_high_hz, bandpass_order=self.bandpass_order,
                               baseline_window_s=self.baseline_window_s)


class ClassifierInput(StrictModel):
    """How a record is fed: ``full`` (the whole record, any length of at least ``crop_samples``)
    or ``crops`` (random ``crop_samples`` crops in training; at test the class probabilities of
    crops every ``crop_hop`` samples, the last one end-aligned, are averaged)."""

    mode: Literal["full", "crops"] = "full"
    crop_samples: int = Field(256, gt=0, description="crop length in samples (2.56 s at 100 Hz)")
    crop_hop: int = Field(64, gt=0, description="step between test crops in samples")


class ClassifierConfig(StrictModel):
    """The typed ``classifier.yaml`` written beside ``classifier.safetensors``."""

    format: Literal["leadlift-diagnostic-classifier/1"] = CLASSIFIER_FORMAT
    classes: list[str] = Field(default_factory=lambda: list(SUPERCLASSES))
    leads: list[str] = Field(default_factory=lambda: list(STANDARD_LEADS))
    model: ClassifierNetSpec = Field(default_factory=ClassifierNetSpec)
    preprocessing: ClassifierPreprocessing = Field(default_factory=ClassifierPreprocessing)
    input: ClassifierInput = Field(default_factory=ClassifierInput)
    training: dict[str, Any] = Field(default_factory=dict, description="training settings and record")
    metrics: dict[str, Any] = Field(default_factory=dict, description="validation (fold 9) metrics")
    weights_sha256: str | None = None
    leadlift_version: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ClassifierConfig:
        if len(self.classes) != self.model.n_classes or len(self.leads) != self.model.n_leads:
            raise ValueError("classes and leads must match model.n_classes and model.n_leads")
        return self


class SuperclassNet(nn.Module):
    """ResNet backbone + dropout + linear head: ``[B, n_leads, T]`` mV → logits ``[B, n_classes]``.

    Any ``T`` large enough for the strided backbone works (global mean pooling).
    """

    def __init__(self, n_leads: int = 12, n_classes: int = 5, stem_channels: int = 16,
                 widths: Sequence[int] = (32, 64, 64, 128), strides: Sequence[int] = (2, 2, 2, 1),
                 stem_kernel: int = 7, block_kernel: int = 5, dropout: float = 0.3) -> None:
        super().__init__()
        self.spec = ClassifierNetSpec(n_leads=n_leads, n_classes=n_classes, stem_channels=stem_channels,
                                      widths=list(widths), strides=list(strides), stem_kernel=stem_kernel,
                                      block_kernel=block_kernel, dropout=dropout)
        self.backbone = ResNet1dEncoder(n_leads, stem_channels, widths, strides, stem_kernel, block_kernel)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(self.backbone.embed_dim, n_classes)

    @classmethod
    def from_spec(cls, spec: ClassifierNetSpec) -> SuperclassNet:
        return cls(**spec.model_dump())

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.drop(self.backbone(x)))


def crop_starts(n_samples: int, crop: int, hop: int) -> np.ndarray:
    """Start samples of the test crops of a record: every ``hop`` samples, plus an end-aligned last
    crop. ``[n_crops]`` int64; raises :class:`InputError` when the record is shorter than a crop."""
    if n_samples < crop:
        raise InputError(f"a record of {n_samples} samples is shorter than the classifier's {crop}-sample crop")
    starts = list(range(0, n_samples - crop + 1, hop))
    if starts[-1] != n_samples - crop:
        starts.append(n_samples - crop)
    return np.asarray(starts, dtype=np.int64)


@torch.no_grad()
def predict_records(net: SuperclassNet, records: Tensor | np.ndarray, feed: ClassifierInput,
                    batch_size: int = 64) -> np.ndarray:
    """Class probabilities of preprocessed records.

    Args:
        net: the classifier (put in eval mode here).
        records: ``[N, n_leads, T]`` preprocessed signals in mV (all of one length ``T``).
        feed: ``full`` — one pass per record; ``crops`` — the mean of the crops' sigmoid outputs.
        batch_size: records (or crops) per forward pass.
    Returns:
        ``[N, n_classes]`` float64 probabilities in [0, 1].
    """
    x = torch.as_tensor(np.asarray(records, dtype=np.float32) if isinstance(records, np.ndarray) else records,
                        dtype=torch.float32)
    if x.dim() != 3 or x.shape[1] != net.spec.n_leads:
        raise InputError(f"records have shape {tuple(x.shape)}; expected [N, {net.spec.n_leads}, T]")
    net.eval()
    n, t = int(x.shape[0]), int(x.shape[-1])
    if n == 0:
        return np.zeros((0, net.spec.n_classes))
    if feed.mode == "full":
        if t < feed.crop_samples:
            raise InputError(f"a record of {t} samples is shorter than the classifier's {feed.crop_samples}-sample "
                             "minimum")
        out = [torch.sigmoid(net(x[s:s + batch_size])) for s in range(0, n, batch_size)]
        return torch.cat(out).double().numpy()
    starts = crop_starts(t, feed.crop_samples, feed.crop_hop)
    crops = x.unfold(-1, feed.crop_samples, 1)[:, :, starts]  # [N, L, C, crop]
    crops = crops.permute(0, 2, 1, 3).reshape(n * len(starts), x.shape[1], feed.crop_samples)
    probs = torch.cat([torch.sigmoid(net(crops[s:s + batch_size])) for s in range(0, len(crops), batch_size)])
    return probs.reshape(n, len(starts), -1).mean(dim=1).double().numpy()
